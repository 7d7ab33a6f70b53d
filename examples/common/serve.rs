//! What every example app shares: logging, the address (`--addr HOST:PORT`, else
//! `CHANX_ADDR`, else 127.0.0.1:8000), completion frames from `SEND_COMPLETION=1`, and
//! a clean stop on Ctrl-C (open sockets get a 1001 close).

use std::process::ExitCode;

use axum::{Extension, Router};
use chanx::{Settings, Shutdown};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:8000";

/// Serves the router `app` builds from the settings (whose channel layers it may hand
/// to workers) until Ctrl-C; the exit code tells whether it could.
pub fn run(title: &str, app: impl FnOnce(&Settings) -> Router) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let addr = match address(std::env::args().skip(1), std::env::var("CHANX_ADDR").ok()) {
        Ok(addr) => addr,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(title, app, &addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, addr, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(title: &str, app: impl FnOnce(&Settings) -> Router, addr: &str) -> std::io::Result<()> {
    let send_completion =
        std::env::var("SEND_COMPLETION").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let shutdown = Shutdown::new();
    let settings = Settings::default().send_completion(send_completion).shutdown(shutdown.clone());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        "{title} listening on http://{}/ (completion frames: {send_completion})",
        listener.local_addr()?
    );
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: closing connections");
        }
        on_ctrl_c.trigger();
    });
    let app = app(&settings).layer(Extension(settings));
    axum::serve(listener, app).with_graceful_shutdown(shutdown.triggered()).await?;
    shutdown.connections_closed().await;
    tracing::info!("stopped");
    Ok(())
}

/// The listen address from `--addr HOST:PORT` (or `--addr=HOST:PORT`), else the
/// environment value, else the default.
fn address(mut args: impl Iterator<Item = String>, env: Option<String>) -> Result<String, String> {
    let usage = "usage: [--addr HOST:PORT]   (or set CHANX_ADDR)";
    let mut addr = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = Some(args.next().ok_or(usage)?),
            "-h" | "--help" => return Err(usage.into()),
            other => match other.strip_prefix("--addr=") {
                Some(value) => addr = Some(value.to_owned()),
                None => return Err(format!("unknown argument {other:?}\n{usage}")),
            },
        }
    }
    Ok(addr.or(env).unwrap_or_else(|| DEFAULT_ADDR.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::address;

    fn parse(args: &[&str], env: Option<&str>) -> Result<String, String> {
        address(args.iter().map(|a| a.to_string()), env.map(str::to_owned))
    }

    #[test]
    fn flag_beats_environment_beats_default() {
        assert_eq!(parse(&[], None).as_deref(), Ok("127.0.0.1:8000"));
        assert_eq!(parse(&[], Some("0.0.0.0:9")).as_deref(), Ok("0.0.0.0:9"));
        assert_eq!(parse(&["--addr", "127.0.0.1:1"], Some("0.0.0.0:9")).as_deref(), Ok("127.0.0.1:1"));
        assert_eq!(parse(&["--addr=127.0.0.1:2"], None).as_deref(), Ok("127.0.0.1:2"));
        assert!(parse(&["--addr"], None).is_err());
        assert!(parse(&["--port", "1"], None).is_err());
    }
}
