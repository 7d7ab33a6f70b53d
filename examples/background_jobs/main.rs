//! Tutorial part 3: the Background Jobs app (with Room Chat and System Echo).
//!
//! `cargo run --example background_jobs`, then open <http://127.0.0.1:8000/>; jobs
//! are queued at `ws://127.0.0.1:8000/ws/background_jobs`. Options as for every
//! example app, plus `JOB_WORKERS` (default 2) and `JOB_DELAY_SCALE` (multiplies the
//! demo delays; default 1, 0 for none).

mod app;
mod jobs;
#[path = "../common/layers.rs"]
mod layers;
mod queue;
#[path = "../room_chat/app.rs"]
mod room_chat;
#[path = "../common/serve.rs"]
mod serve;
#[path = "../system_echo/app.rs"]
mod system_echo;
mod workers;

fn main() -> std::process::ExitCode {
    serve::run("Background Jobs", app::asyncapi(serve::docs()), |settings| {
        Ok(app::router(workers::start(settings)?))
    })
}
