//! Tutorial part 4: the external sender, a program apart from the showcase that shares
//! its channel layers on Redis and sends events into the showcase's groups: a fixed set
//! of announcements and analytics events, then a periodic announcement until Ctrl-C.
//!
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example showcase` in one terminal, a
//! client connected to the showcase (its page's Showcase tab), then
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example external_sender` in another.
//! `--once` sends the fixed set and exits; `--every SECS` sets the period of the
//! periodic announcements (default 10). Without `REDIS_URL` it explains why it needs
//! one and exits with code 2.

use std::process::ExitCode;
use std::time::Duration;

mod announcements;
#[path = "../showcase/events.rs"]
mod events;
#[path = "../common/layers.rs"]
mod layers;

const USAGE: &str = "usage: REDIS_URL=redis://HOST:PORT external_sender [--once] [--every SECS]";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
struct Options {
    /// Send the fixed set and exit.
    once: bool,
    /// The period of the periodic announcements.
    every: Duration,
}

/// The options: `--once` and `--every SECS` (or `--every=SECS`), in any order.
fn options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options { once: false, every: Duration::from_secs(10) };
    let seconds = |value: Option<String>| match value.as_deref().map(str::parse::<f64>) {
        Some(Ok(secs)) if secs.is_finite() && secs > 0.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("--every needs a positive number of seconds\n{USAGE}")),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--once" => options.once = true,
            "--every" => options.every = seconds(args.next())?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => match other.strip_prefix("--every=") {
                Some(value) => options.every = seconds(Some(value.to_owned()))?,
                None => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            },
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    chanx::serve::init_logging();
    let options = match options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let Some(url) = layers::redis_url() else {
        eprintln!(
            "external_sender needs REDIS_URL: it reaches the showcase, another process, through the \
             channel layers on Redis (start the showcase with the same REDIS_URL).\n{USAGE}"
        );
        return ExitCode::from(2);
    };
    let layers = match layers::build(Some(&url)) {
        Ok(layers) => layers,
        Err(error) => {
            tracing::error!(%error, "cannot reach the showcase's channel layers");
            return ExitCode::FAILURE;
        }
    };
    for announcement in &announcements::ANNOUNCEMENTS {
        if let Err(error) = announcement.send(&layers).await {
            tracing::error!(%error, group = announcement.group, "cannot send an announcement");
            return ExitCode::FAILURE;
        }
        tracing::info!(group = announcement.group, text = announcement.text, "sent");
    }
    if options.once {
        return ExitCode::SUCCESS;
    }
    periodic(&layers, options.every).await
}

/// Sends a periodic announcement every `every` until Ctrl-C.
async fn periodic(layers: &chanx::layer::Layers, every: Duration) -> ExitCode {
    tracing::info!(?every, "sending periodic announcements; Ctrl-C stops");
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    let mut n = 0;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => return ExitCode::SUCCESS,
        }
        n += 1;
        match announcements::send_periodic(layers, n).await {
            Ok(()) => tracing::info!(n, "periodic announcement sent"),
            Err(error) => tracing::warn!(%error, n, "cannot send a periodic announcement"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Options, options};

    fn parse(args: &[&str]) -> Result<Options, String> {
        options(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn once_and_period() {
        assert_eq!(parse(&[]), Ok(Options { once: false, every: Duration::from_secs(10) }));
        assert_eq!(parse(&["--once"]).map(|o| o.once), Ok(true));
        assert_eq!(parse(&["--every", "2.5"]).map(|o| o.every), Ok(Duration::from_millis(2500)));
        assert_eq!(parse(&["--every=3", "--once"]).map(|o| o.every), Ok(Duration::from_secs(3)));
        for bad in [&["--every"][..], &["--every", "0"], &["--every", "soon"], &["--now"]] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
