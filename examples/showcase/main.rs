//! Tutorial part 4: the multi-layer showcase (with Background Jobs, Room Chat and
//! System Echo).
//!
//! `cargo run --example showcase`, then open <http://127.0.0.1:8000/> and its Showcase
//! tab; the consumers are at `ws://127.0.0.1:8000/ws/chat`, `/ws/reliable`,
//! `/ws/notifications` and `/ws/analytics`. Every channel layer is in memory unless
//! `REDIS_URL` is set; with it, `cargo run --example external_sender` (same
//! `REDIS_URL`) sends announcements into the showcase's groups from another process.
//! Options as for the Background Jobs app.

mod app;
#[path = "../background_jobs/app.rs"]
mod background_jobs;
mod events;
#[path = "../background_jobs/jobs.rs"]
mod jobs;
#[path = "../common/layers.rs"]
mod layers;
#[path = "../background_jobs/queue.rs"]
mod queue;
#[path = "../room_chat/app.rs"]
mod room_chat;
#[path = "../common/serve.rs"]
mod serve;
#[path = "../system_echo/app.rs"]
mod system_echo;
#[path = "../background_jobs/workers.rs"]
mod workers;

fn main() -> std::process::ExitCode {
    serve::run("Showcase", app::asyncapi(serve::docs()), |settings| {
        Ok(app::router(workers::start(settings)?))
    })
}
