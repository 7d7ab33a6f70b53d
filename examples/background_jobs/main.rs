//! Tutorial part 3: the Background Jobs app (with Room Chat and System Echo).
//!
//! `cargo run --example background_jobs`, then open <http://127.0.0.1:8000/>; jobs
//! are queued at `ws://127.0.0.1:8000/ws/background_jobs`. Options as for every
//! example app, plus `JOB_WORKERS` (default 2) and `JOB_DELAY_SCALE` (multiplies the
//! demo delays; default 1, 0 for none).

use std::sync::Arc;

mod app;
mod jobs;
#[path = "../room_chat/app.rs"]
mod room_chat;
#[path = "../common/serve.rs"]
mod serve;
#[path = "../system_echo/app.rs"]
mod system_echo;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> std::process::ExitCode {
    let workers = env_or("JOB_WORKERS", 2);
    let delays = jobs::Delays { scale: env_or("JOB_DELAY_SCALE", 1.0) };
    serve::run("Background Jobs", app::asyncapi(serve::docs()), |settings| {
        let layer = settings.channel_layers().default_layer();
        app::router(Arc::new(jobs::WorkerPool::start(workers, delays, layer)))
    })
}
