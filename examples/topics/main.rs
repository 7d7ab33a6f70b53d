//! Topics: chat rooms and live presence over one socket (with System Echo).
//!
//! `cargo run --example topics`, then open <http://127.0.0.1:8000/> and its Topics tab
//! (in two windows, to see each other). The hub is at `ws://127.0.0.1:8000/ws/topics?name=ann`:
//! subscribe with `{"topic": "room:lobby", "ref": "1", "action": "subscribe"}` (and
//! `presence:lobby`), post with `{"topic": "room:lobby", "action": "post", "payload":
//! {"text": "hi"}}`. One room has a route of its own,
//! `ws://127.0.0.1:8000/ws/rooms/lobby?name=bob`, where frames need no `topic`. The room
//! `staff` is for the user `admin` only. The topics run on the default channel layer,
//! in memory. Options as for every example app: `--addr HOST:PORT` or `CHANX_ADDR`,
//! `SEND_COMPLETION=1`, `--asyncapi FILE`.

mod app;
#[path = "../common/layers.rs"]
mod layers;
mod rooms;
#[path = "../common/serve.rs"]
mod serve;
#[path = "../system_echo/app.rs"]
mod system_echo;

fn main() -> std::process::ExitCode {
    serve::run("Topics", app::asyncapi(serve::docs()), |_| Ok(app::router()))
}
