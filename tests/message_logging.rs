//! Message logging, as Chanx's `log_websocket_message` and `log_ignored_actions`:
//! `#[channel(log_messages)]` logs each frame in and out with its action (never its
//! payload), `log_ignored_actions(...)` leaves actions out, and a consumer without
//! `log_messages` logs no message at all.

mod common;

use chanx::prelude::*;
use chanx::testing::TestClient;
use common::log::Log;
use serde_json::json;

#[message(action = "say")]
pub struct Say(pub String);

#[message(action = "shout")]
pub struct Shout(pub String);

/// Logs its messages, but not pings and pongs.
#[derive(Default)]
pub struct LoggedConsumer;

#[channel(groups("logged"), log_messages, log_ignored_actions("ping", "pong"))]
impl LoggedConsumer {
    #[ws_handler]
    async fn say(&mut self, msg: Say) -> Say {
        msg
    }

    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler]
    async fn shout(&mut self, cx: &mut Context, msg: Shout) -> chanx::Result<()> {
        cx.broadcast_message(msg).await
    }
}

impl Consumer for LoggedConsumer {}

/// The same handlers, without `log_messages`.
#[derive(Default)]
pub struct QuietConsumer;

#[channel]
impl QuietConsumer {
    #[ws_handler]
    async fn say(&mut self, msg: Say) -> Say {
        msg
    }

    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for QuietConsumer {}

/// The message log lines among what was logged.
fn messages(log: &Log) -> Vec<String> {
    log.text().lines().filter(|l| l.contains("websocket message")).map(Into::into).collect()
}

/// The one line that has all of `fields`.
fn line_with<'a>(lines: &'a [String], fields: &[&str]) -> &'a str {
    let found: Vec<&String> = lines.iter().filter(|l| fields.iter().all(|f| l.contains(f))).collect();
    assert_eq!(found.len(), 1, "one line with {fields:?} in {lines:#?}");
    found[0]
}

#[tokio::test]
async fn messages_in_and_out_are_logged_with_action_and_id_but_not_payload() {
    let (log, _guard) = Log::capture();
    let mut client = TestClient::builder().send_completion(true).connect::<LoggedConsumer>();
    client.send_json(&json!({"action": "say", "payload": "secret", "ref": "r1"})).await.expect("send");
    assert_eq!(client.receive_all_messages("complete").await.expect("echo")[0]["payload"], "secret");
    client.send_message(&PingMessage).await.expect("send");
    client.receive_all_messages("complete").await.expect("pong");
    client.send_json(&json!({"action": "say", "payload": 5})).await.expect("send");
    let error = client.receive_all_messages("complete").await.expect("error");
    assert_eq!(error[0]["action"], "error");

    let lines = messages(&log);
    let channel = format!("channel=\"{}\"", client.channel_name());
    assert!(lines.iter().all(|l| l.contains(" INFO ") && l.contains(&channel)), "{lines:#?}");
    line_with(&lines, &["direction=\"in\"", "message_id=1", "action=\"say\"", "reference=\"r1\""]);
    line_with(&lines, &["direction=\"out\"", "action=\"say\"", "reference=\"r1\""]);
    line_with(&lines, &["direction=\"out\"", "action=\"complete\"", "reference=\"r1\""]);
    // The ping was the second message: counted, not logged.
    line_with(&lines, &["direction=\"in\"", "message_id=3", "action=\"say\""]);
    line_with(&lines, &["direction=\"out\"", "action=\"error\""]);
    assert!(!lines.iter().any(|l| l.contains("message_id=2")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("\"ping\"") || l.contains("\"pong\"")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("secret")), "no payload in the log: {lines:#?}");
    // 2 in; out: the echo, the error and the 3 `complete`s (the ping's too).
    assert_eq!(lines.len(), 7, "{lines:#?}");
    assert!(lines.iter().all(|l| l.contains(" chanx::messages: ")), "one target: {lines:#?}");
}

#[tokio::test]
async fn broadcasts_and_group_completions_delivered_to_the_client_are_logged() {
    let (log, _guard) = Log::capture();
    let mut client = TestClient::builder().send_completion(true).connect::<LoggedConsumer>();
    client.send_message(&Shout("all".into())).await.expect("send");
    let received = client.receive_all_messages("group_complete").await.expect("own copy");
    assert_eq!(received, vec![json!({"action": "shout", "payload": "all"})]);

    let lines = messages(&log);
    line_with(&lines, &["direction=\"in\"", "message_id=1", "action=\"shout\""]);
    line_with(&lines, &["direction=\"out\"", "action=\"shout\""]);
    line_with(&lines, &["direction=\"out\"", "action=\"group_complete\""]);
}

#[tokio::test]
async fn a_consumer_without_log_messages_logs_no_message() {
    let (log, _guard) = Log::capture();
    let mut client = TestClient::builder().send_completion(true).connect::<QuietConsumer>();
    client.send_message(&Say("hello".into())).await.expect("send");
    client.receive_all_messages("complete").await.expect("echo");
    client.send_message(&PingMessage).await.expect("send");
    client.receive_all_messages("complete").await.expect("pong");
    assert_eq!(messages(&log), Vec::<String>::new());
}
