//! A server under test: `bench-server chanx|raw|chanx-redis [ADDR] [PREFIX]` (default
//! 127.0.0.1:9000). `chanx-redis` is the chanx server on the Redis pub/sub layer at
//! `REDIS_URL` (default `redis://127.0.0.1:6379`) under PREFIX (default `asgi`):
//! processes started with the same PREFIX share the fan-out group.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let kind = args.next();
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let router = match kind.as_deref() {
        Some("chanx") => chanx_bench::servers::chanx(),
        Some("raw") => chanx_bench::servers::raw(),
        Some("chanx-redis") => {
            let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
            let prefix = args.next().unwrap_or_else(|| "asgi".into());
            match chanx_bench::servers::chanx_redis(&url, &prefix).await {
                Ok(router) => router,
                Err(error) => {
                    // Not the URL: it may hold a password.
                    eprintln!("cannot use Redis at REDIS_URL: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("usage: bench-server chanx|raw|chanx-redis [ADDR] [PREFIX]");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match axum::serve(listener, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
