//! A client that floods frames without reading and then resets its connection must
//! not flood the server's log: the frames it left behind are not handled once it is
//! gone, and what is logged is rate-limited per cause.

mod common;

use std::time::Duration;

use axum::Extension;
use chanx::Settings;
use common::log::Log;
use common::{WAIT, raw, serve, system_echo};
use serde_json::json;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn clients_that_reset_after_a_flood_do_not_flood_the_log() {
    let log = Log::capture_global();
    let settings = Settings::default().no_inbound_rate();
    let addr = serve(system_echo::router().layer(Extension(settings.clone()))).await;
    let message = json!({"action": "user_message", "payload": {"message": "x".repeat(200)}}).to_string();
    let burst: Vec<u8> = raw::frame(0x1, message.as_bytes()).repeat(5000);
    for _ in 0..10 {
        let mut flooder = raw::connect(addr, "/ws/system").await;
        let _ = tokio::time::timeout(Duration::from_secs(5), flooder.write_all(&burst)).await;
        flooder.set_zero_linger().expect("SO_LINGER 0");
        drop(flooder); // a reset, with frames still unread on both sides
    }
    tokio::time::timeout(WAIT, async {
        while settings.stats().snapshot().open > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every connection ended");
    let text = log.text();
    let loud: Vec<&str> = text.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")).collect();
    assert!(loud.len() <= 2, "{} error and warning lines, e.g. {:?}", loud.len(), loud.first());
}
