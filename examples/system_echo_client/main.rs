//! A program that talks to the System Echo app through the typed client `#[channel]`
//! generates (feature `client`): run `cargo run --example system_echo` in one terminal,
//! then `cargo run --example system_echo_client --features client -- hello there` in
//! another. It prints the welcome, pings, then sends each argument and prints its echo.
//! Options: `--url ws://HOST:PORT/ws/system` (default `ws://127.0.0.1:8000/ws/system`).

// The app's messages and consumer; its router and page are the server's business.
#[path = "../system_echo/app.rs"]
#[allow(dead_code)]
mod app;

use std::process::ExitCode;
use std::time::Duration;

use app::{MessagePayload, SystemMessageConsumer, SystemMessageConsumerFrame, UserMessage};
use chanx::PingMessage;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut url = "ws://127.0.0.1:8000/ws/system".to_owned();
    if let Some(at) = args.iter().position(|arg| arg == "--url") {
        args.remove(at);
        if at < args.len() {
            url = args.remove(at);
        }
    }
    match talk(&url, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{url}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn talk(url: &str, lines: Vec<String>) -> Result<(), chanx::client::ClientError> {
    let mut client =
        SystemMessageConsumer::client(url).request_timeout(Duration::from_secs(5)).connect().await?;
    // The welcome answers no request of ours: it comes through `next`, typed.
    if let Some(SystemMessageConsumerFrame::SystemEchoMessage(welcome)) = client.next().await.transpose()? {
        println!("{}", welcome.payload.message);
    }
    client.handle_ping(PingMessage).await?;
    println!("(pong)");
    for line in lines {
        let echo = client.handle_system(UserMessage { payload: MessagePayload { message: line } }).await?;
        println!("{}", echo.payload.message);
    }
    client.close().await;
    Ok(())
}
