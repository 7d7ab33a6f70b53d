//! What a client that never reads can make the server hold, measured in bytes: the
//! resident memory of this test process (client and server) before and after the
//! attack. The attacks run one after the other in a single test, so that nothing else
//! moves the measurement.

mod common;

use std::time::Duration;

use axum::Extension;
use chanx::Settings;
use common::{raw, serve, system_echo};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const MIB: usize = 1024 * 1024;

/// Writes `frame` up to `times` times, stopping when the server stops reading (a
/// write that waits for a second).
async fn flood(stream: &mut tokio::net::TcpStream, frame: &[u8], times: usize) -> usize {
    for sent in 0..times {
        match tokio::time::timeout(Duration::from_secs(1), stream.write_all(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return sent,
        }
    }
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_costs_bounded_memory() {
    // Without the rate limit and the heartbeat, to see the buffers' own bounds.
    let settings = Settings::default().no_inbound_rate().no_heartbeat();
    let addr = serve(system_echo::router().layer(Extension(settings))).await;

    // Ping flood: 300,000 pings (39 MB) whose pongs the client never reads. Before the
    // write buffer was bounded, every pong stayed in it.
    let mut pinger = raw::connect(addr, "/ws/system").await;
    let before = raw::rss();
    let ping = raw::frame(0x9, &[7u8; 125]);
    let burst: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 1000).collect();
    let sent = flood(&mut pinger, &burst, 300).await;
    assert_eq!(sent, 300, "the server keeps reading pings");
    let grown = raw::rss().saturating_sub(before);
    assert!(grown < 16 * MIB, "a ping flood of 39 MB grew the process by {} MiB", grown / MIB);
    drop(pinger);

    // Big echoes never read: 1 MB messages, each answered with 1 MB. Before the
    // outbound queue was bounded in bytes, 256 answers (about 270 MB) stayed queued.
    let message = json!({"action": "user_message", "payload": {"message": "x".repeat(MIB)}}).to_string();
    let frame = raw::frame(0x1, message.as_bytes());
    let before = raw::rss();
    let mut echoers = Vec::new();
    for _ in 0..2 {
        let mut echoer = raw::connect(addr, "/ws/system").await;
        let sent = flood(&mut echoer, &frame, 300).await;
        assert!(sent < 300, "the server stops reading once its buffers are full ({sent} sent)");
        echoers.push(echoer);
    }
    let grown = raw::rss().saturating_sub(before);
    assert!(grown < 48 * MIB, "two clients that never read pinned {} MiB", grown / MIB);
}
