//! The per-frame path without a network: decode, dispatch, handler, reply encode,
//! through the in-process test client, for a valid echo and for an invalid frame.
//!
//! `cargo bench -p chanx-core --bench frame_path`

use chanx::prelude::*;
use chanx::testing::TestClient;
use criterion::{Criterion, criterion_group, criterion_main};

#[payload]
pub struct Text {
    pub message: String,
}

#[message(action = "user_message")]
pub struct UserMessage {
    pub payload: Text,
}

#[message(action = "system_echo")]
pub struct SystemEcho {
    pub payload: Text,
}

#[derive(Default)]
pub struct Echo;

#[channel]
impl Echo {
    #[ws_handler]
    async fn echo(&mut self, msg: UserMessage) -> SystemEcho {
        SystemEcho { payload: Text { message: format!("🔧 System Echo: {}", msg.payload.message) } }
    }
}

impl Consumer for Echo {}

fn frame_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    // Without the inbound rate limit (default 500 frames a second, in bursts of 1,000),
    // which would drop the frames of a benchmark's loop after its first burst.
    let settings = chanx::Settings::default().no_inbound_rate();
    let mut client = runtime.block_on(async { TestClient::builder().settings(settings).connect::<Echo>() });
    let cases = [
        ("echo", r#"{"action":"user_message","payload":{"message":"hello"}}"#),
        ("invalid payload", r#"{"action":"user_message","payload":{"message":123}}"#),
        ("malformed json", r#"{"action":"user_message","payload":"#),
    ];
    for (name, frame) in cases {
        c.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    client.send_text(frame).await.expect("send");
                    client.receive_json().await.expect("reply")
                })
            })
        });
    }
}

criterion_group!(benches, frame_path);
criterion_main!(benches);
