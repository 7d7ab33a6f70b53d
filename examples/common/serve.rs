//! What every example app shares: logging, the address (`--addr HOST:PORT`, else
//! `CHANX_ADDR`, else 127.0.0.1:8000), completion frames from `SEND_COMPLETION=1`,
//! the tutorial's channel layers (in memory, or on Redis with `REDIS_URL`: see
//! `layers.rs`, which every example includes as `mod layers`), serving with `chanx::serve` (header timeouts, a clean stop on Ctrl-C or SIGTERM where
//! open sockets get a 1001 close), and the AsyncAPI document:
//! served at `/asyncapi.json`, `/asyncapi.yaml` and `/asyncapi`, or written to a file
//! with `--asyncapi FILE` (`.json`, `.yaml`). `ASYNCAPI_ASSETS` names the folder of an
//! installed `@asyncapi/react-component` to serve the docs page without internet; so does
//! building with `--features docs-embedded`, which embeds it.

use std::process::ExitCode;

use axum::Router;
use chanx::Settings;
use chanx::asyncapi::{AsyncApi, DocsAssets};
use chanx::layer::LayerError;

use super::layers;

const DEFAULT_ADDR: &str = "127.0.0.1:8000";

/// The document of the tutorial apps, before their consumers are added.
pub fn docs() -> AsyncApi {
    let docs = chanx::asyncapi!().title("Chanx tutorial").description("The Chanx tutorial app, in Rust.");
    match std::env::var_os("ASYNCAPI_ASSETS") {
        Some(dir) => docs.docs_assets(DocsAssets::Local(dir.into())),
        None => docs,
    }
}

/// Serves the router `app` builds from the settings (whose channel layers it may hand
/// to workers), with the AsyncAPI endpoints of `docs`, until Ctrl-C; or writes the
/// document with `--asyncapi FILE`. The exit code tells whether it could: a channel
/// layer that cannot reach Redis, or an app that cannot be built, is a failure.
pub fn run(
    title: &str,
    docs: AsyncApi,
    app: impl FnOnce(&Settings) -> Result<Router, LayerError>,
) -> ExitCode {
    chanx::serve::init_logging();
    let options = match options(std::env::args().skip(1), std::env::var("CHANX_ADDR").ok()) {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = options.export {
        return match docs.write(&path) {
            Ok(()) => {
                tracing::info!(path, "AsyncAPI document written");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(%error, path, "cannot write the AsyncAPI document");
                ExitCode::FAILURE
            }
        };
    }
    let addr = options.addr;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(start(title, docs, app, &addr))
}

/// Sets up the channel layers and the app, then serves it.
async fn start(
    title: &str,
    docs: AsyncApi,
    app: impl FnOnce(&Settings) -> Result<Router, LayerError>,
    addr: &str,
) -> ExitCode {
    let layers = match layers::build(layers::redis_url().as_deref()) {
        Ok(layers) => layers,
        Err(error) => {
            tracing::error!(%error, "cannot start without the channel layers");
            return ExitCode::FAILURE;
        }
    };
    let send_completion =
        std::env::var("SEND_COMPLETION").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let settings = Settings::default().send_completion(send_completion).layers(layers);
    let app = match app(&settings) {
        Ok(app) => app.merge(docs.routes()),
        Err(error) => {
            tracing::error!(%error, "cannot build the app");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, addr, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("{title} (completion frames: {send_completion})");
    match chanx::serve(listener, app).settings(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, addr, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
struct Options {
    /// Where to listen.
    addr: String,
    /// Write the AsyncAPI document here and exit.
    export: Option<String>,
}

/// The options: `--addr HOST:PORT` (or `--addr=...`, else the environment value, else
/// the default) and `--asyncapi FILE`.
fn options(mut args: impl Iterator<Item = String>, env: Option<String>) -> Result<Options, String> {
    let usage = "usage: [--addr HOST:PORT] [--asyncapi FILE.json|FILE.yaml]   (or set CHANX_ADDR)";
    let mut addr = None;
    let mut export = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = Some(args.next().ok_or(usage)?),
            "--asyncapi" => export = Some(args.next().ok_or(usage)?),
            "-h" | "--help" => return Err(usage.into()),
            other => match other.strip_prefix("--addr=") {
                Some(value) => addr = Some(value.to_owned()),
                None => return Err(format!("unknown argument {other:?}\n{usage}")),
            },
        }
    }
    Ok(Options { addr: addr.or(env).unwrap_or_else(|| DEFAULT_ADDR.to_owned()), export })
}

#[cfg(test)]
mod tests {
    use super::options;

    fn parse(args: &[&str], env: Option<&str>) -> Result<String, String> {
        options(args.iter().map(|a| a.to_string()), env.map(str::to_owned)).map(|o| o.addr)
    }

    #[test]
    fn flag_beats_environment_beats_default() {
        assert_eq!(parse(&[], None).as_deref(), Ok("127.0.0.1:8000"));
        assert_eq!(parse(&[], Some("0.0.0.0:9")).as_deref(), Ok("0.0.0.0:9"));
        assert_eq!(parse(&["--addr", "127.0.0.1:1"], Some("0.0.0.0:9")).as_deref(), Ok("127.0.0.1:1"));
        assert_eq!(parse(&["--addr=127.0.0.1:2"], None).as_deref(), Ok("127.0.0.1:2"));
        assert!(parse(&["--addr"], None).is_err());
        assert!(parse(&["--port", "1"], None).is_err());
        let export = options(["--asyncapi", "doc.yaml"].map(String::from).into_iter(), None);
        assert_eq!(export.map(|o| o.export), Ok(Some("doc.yaml".to_owned())));
    }
}
