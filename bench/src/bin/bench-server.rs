//! A server under test: `bench-server chanx|raw [ADDR]` (default 127.0.0.1:9000).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let router = match args.next().as_deref() {
        Some("chanx") => chanx_bench::servers::chanx(),
        Some("raw") => chanx_bench::servers::raw(),
        _ => {
            eprintln!("usage: bench-server chanx|raw [ADDR]");
            return ExitCode::from(2);
        }
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
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
