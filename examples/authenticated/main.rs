//! The Authenticated app (with System Echo): a login, and two consumers for logged-in
//! users, one refusing before the upgrade and one after it, as Chanx does.
//!
//! `cargo run --example authenticated`, then open <http://127.0.0.1:8000/> and its
//! Authenticated tab (demo users: alice/wonderland, bob/builder). `POST /login` with
//! `{"username": ..., "password": ...}` sets the session cookie and returns a token;
//! the consumers are at `ws://127.0.0.1:8000/ws/private` (HTTP 401/403 without a valid
//! session cookie or `?token=`) and `ws://127.0.0.1:8000/ws/chanx_auth` (an
//! `authentication` frame and close 4403). Options as for every example app:
//! `--addr HOST:PORT` or `CHANX_ADDR`, `SEND_COMPLETION=1`, `--asyncapi FILE`.

mod app;
#[path = "../common/layers.rs"]
mod layers;
#[path = "../common/serve.rs"]
mod serve;
#[path = "../system_echo/app.rs"]
mod system_echo;

fn main() -> std::process::ExitCode {
    serve::run("Authenticated", app::asyncapi(serve::docs()), |_| Ok(app::router()))
}
