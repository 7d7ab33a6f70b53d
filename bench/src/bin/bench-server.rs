//! A server under test: `bench-server chanx|raw|lean|chanx-redis [ADDR] [PREFIX]`
//! (default 127.0.0.1:9000), chanx's apps served by `chanx::serve`. `raw` is the
//! hand-written axum baseline (served by `axum::serve`), `lean` the one on
//! fastwebsockets (`chanx_bench::lean`). `chanx-redis` is the chanx server on the Redis
//! pub/sub layer at `REDIS_URL` (default `redis://127.0.0.1:6379`) under PREFIX (default
//! `asgi`): processes started with the same PREFIX share the fan-out group.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let kind = args.next();
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    if kind.as_deref() == Some("lean") {
        let Some(listener) = listen(&addr).await else { return ExitCode::FAILURE };
        chanx_bench::lean::serve(listener).await;
        return ExitCode::SUCCESS;
    }
    let Some(listener) = listen(&addr).await else { return ExitCode::FAILURE };
    // The baseline is served as its user would serve it, chanx apps by chanx.
    let served = match kind.as_deref() {
        Some("raw") => axum::serve(listener, chanx_bench::servers::raw()).await.map_err(|e| e.to_string()),
        Some("chanx") => {
            let app = chanx_bench::servers::chanx();
            chanx::serve(listener, app.router).settings(app.settings).await.map_err(|e| e.to_string())
        }
        Some("chanx-redis") => {
            let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
            let prefix = args.next().unwrap_or_else(|| "asgi".into());
            match chanx_bench::servers::chanx_redis(&url, &prefix).await {
                Ok(app) => {
                    chanx::serve(listener, app.router).settings(app.settings).await.map_err(|e| e.to_string())
                }
                Err(error) => {
                    // Not the URL: it may hold a password.
                    eprintln!("cannot use Redis at REDIS_URL: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("usage: bench-server chanx|raw|lean|chanx-redis [ADDR] [PREFIX]");
            return ExitCode::from(2);
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn listen(addr: &str) -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            None
        }
    }
}
