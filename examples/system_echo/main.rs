//! Tutorial part 1: the System Echo app.
//!
//! `cargo run --example system_echo` serves the page on <http://127.0.0.1:8000/> and
//! the consumer on `ws://127.0.0.1:8000/ws/system`. Options: `--addr HOST:PORT` or
//! `CHANX_ADDR`; `SEND_COMPLETION=1` turns completion frames on.

mod app;
#[path = "../common/layers.rs"]
mod layers;
#[path = "../common/serve.rs"]
mod serve;

fn main() -> std::process::ExitCode {
    serve::run("System Echo", app::asyncapi(serve::docs()), |_| Ok(app::router()))
}
