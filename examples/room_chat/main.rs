//! Tutorial part 2: the Room Chat app (with System Echo).
//!
//! `cargo run --example room_chat`, then open <http://127.0.0.1:8000/>; rooms are at
//! `ws://127.0.0.1:8000/ws/room/{room_name}`. Options as for every example app:
//! `--addr HOST:PORT` or `CHANX_ADDR`, and `SEND_COMPLETION=1`.

mod app;
#[path = "../common/layers.rs"]
mod layers;
#[path = "../common/serve.rs"]
mod serve;
#[path = "../system_echo/app.rs"]
mod system_echo;

fn main() -> std::process::ExitCode {
    serve::run("Room Chat", app::asyncapi(serve::docs()), |_| Ok(app::router()))
}
