//! The in-process test client (`chanx::testing`): no port, same runtime.

mod common;

use chanx::testing::{TestClient, TestError};
use chanx::{Disconnect, Settings};
use common::probe::{ProbeConsumer, ProbeState};
use common::system_echo::{MessagePayload, SystemEchoMessage, SystemMessageConsumer, UserMessage};
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

fn user_message(text: &str) -> UserMessage {
    UserMessage { payload: MessagePayload { message: text.into() } }
}

#[tokio::test]
async fn connect_send_and_receive_typed_messages() {
    let mut client = TestClient::connect::<SystemMessageConsumer>();
    let welcome: SystemEchoMessage = client.receive_message().await.expect("welcome");
    assert_eq!(welcome.payload.message, "🔧 System: Connection established!");
    client.send_message(&user_message("hi")).await.expect("send");
    let echo: SystemEchoMessage = client.receive_message().await.expect("echo");
    assert_eq!(echo.payload.message, "🔧 System Echo: hi");
    client.receive_nothing().await.expect("nothing more");
}

#[tokio::test]
async fn receive_all_messages_stops_at_complete_and_drops_completions() {
    let mut client = TestClient::builder().send_completion(true).connect::<SystemMessageConsumer>();
    client.receive_json().await.expect("welcome");
    client.send_message(&user_message("a")).await.expect("send");
    client.send_message(&chanx::PingMessage).await.expect("send");
    let first = client.receive_all_messages("complete").await.expect("first reply");
    assert_eq!(first, vec![json!({"action": "system_echo", "payload": {"message": "🔧 System Echo: a"}})]);
    let second = client.receive_all_messages("pong").await.expect("second reply");
    assert_eq!(second, vec![json!({"action": "pong", "payload": null})]);
    // The `complete` after the pong is still queued, so this must fail.
    assert!(matches!(client.receive_nothing().await, Err(TestError::Unexpected(_))));
}

#[tokio::test]
async fn errors_and_raw_frames_in_process() {
    let mut client = TestClient::connect::<SystemMessageConsumer>();
    client.receive_json().await.expect("welcome");
    client.send_text("not json").await.expect("send");
    assert_eq!(client.receive_json().await.expect("error")["payload"][0]["type"], "json_invalid");
    client.send_binary().await.expect("send");
    assert_eq!(client.receive_json().await.expect("error")["payload"][0]["type"], "json_invalid");
    client.send_json(&json!({"action": "user_message", "payload": {"message": 1}})).await.expect("send");
    let error = client.receive_json().await.expect("error");
    assert_eq!(error["payload"][0]["loc"], json!(["user_message", "payload", "message"]));
}

#[tokio::test]
async fn state_path_parameters_and_close_codes() {
    let (disconnects, mut reports) = mpsc::unbounded_channel();
    let mut client = TestClient::builder()
        .state(ProbeState { disconnects })
        .path_param("room", "lobby")
        .query_param("who", "ann")
        .connect::<ProbeConsumer>();
    client.send_json(&json!({"action": "whereami"})).await.expect("send");
    assert_eq!(
        client.receive_json().await.expect("here"),
        json!({"action": "here", "payload": ["lobby", "ann"]})
    );
    client.send_json(&json!({"action": "close_me", "payload": 4100})).await.expect("send");
    assert_eq!(client.wait_closed().await.expect("closed"), (4100, "closing on request".to_owned()));
    assert_eq!(reports.recv().await, Some(Disconnect::ServerClosed { code: 4100 }));
}

#[tokio::test]
async fn refused_authentication_and_client_side_endings() {
    let (disconnects, mut reports) = mpsc::unbounded_channel();
    let state = ProbeState { disconnects };
    let mut refused =
        TestClient::builder().state(state.clone()).query_param("token", "bad").connect::<ProbeConsumer>();
    assert_eq!(refused.receive_json().await.expect("status")["payload"]["status_code"], 403);
    assert_eq!(refused.wait_closed().await.expect("closed").0, 4403);
    assert_eq!(reports.recv().await, Some(Disconnect::ServerClosed { code: 4403 }));

    let client = TestClient::builder().state(state.clone()).connect::<ProbeConsumer>();
    client.close(1000).await.expect("close");
    assert_eq!(reports.recv().await, Some(Disconnect::ClientClosed { code: Some(1000) }));

    TestClient::builder().state(state).connect::<ProbeConsumer>().disconnect();
    assert_eq!(reports.recv().await, Some(Disconnect::Lost));
}

#[tokio::test]
async fn a_timeout_names_what_it_waited_for_and_what_arrived_meanwhile() {
    let timeout = Duration::from_millis(100);
    let mut client =
        TestClient::builder().send_completion(true).timeout(timeout).connect::<SystemMessageConsumer>();
    client.send_message(&chanx::PingMessage).await.expect("send");
    let error = client.receive_all_messages("never_sent").await.expect_err("no such action");
    assert!(matches!(&error, TestError::Timeout { timeout: waited, .. } if *waited == timeout), "{error:?}");
    assert_eq!(
        error.to_string(),
        "waited 100ms in vain for frames up to action `never_sent`; \
         arrived meanwhile: `system_echo`, `pong`, `complete`"
    );
    let error = client.receive_message::<SystemEchoMessage>().await.expect_err("nothing left");
    assert_eq!(
        error.to_string(),
        "waited 100ms in vain for a `system_echo` frame; nothing arrived meanwhile"
    );

    let mut client = TestClient::builder().timeout(timeout).connect::<SystemMessageConsumer>();
    for _ in 0..6 {
        client.send_text("not json").await.expect("send");
    }
    assert_eq!(
        client.wait_closed().await.expect_err("still open").to_string(),
        "waited 100ms in vain for the close frame; \
         arrived meanwhile: `system_echo`, `error`, `error`, `error`, `error` and 2 more"
    );
}

#[tokio::test]
async fn oversized_text_is_refused_with_1009() {
    let settings = Settings::default().max_message_size(16);
    let mut client = TestClient::builder().settings(settings).connect::<SystemMessageConsumer>();
    client.receive_json().await.expect("welcome");
    client.send_message(&user_message("far more than sixteen bytes")).await.expect("send");
    assert_eq!(client.wait_closed().await.expect("closed").0, 1009);
}

/// Completion forced on by the consumer, whatever the app says.
#[derive(Default)]
pub struct AlwaysComplete;

#[chanx::channel]
impl AlwaysComplete {
    #[chanx::ws_handler]
    async fn ping(&mut self, _msg: chanx::PingMessage) -> chanx::PongMessage {
        chanx::PongMessage
    }
}

impl chanx::Consumer for AlwaysComplete {
    const SEND_COMPLETION: Option<bool> = Some(true);
}

#[tokio::test]
async fn a_consumer_overrides_the_app_completion_setting() {
    let mut client = TestClient::builder().send_completion(false).connect::<AlwaysComplete>();
    client.send_message(&chanx::PingMessage).await.expect("send");
    assert_eq!(client.receive_json().await.expect("pong")["action"], "pong");
    assert_eq!(client.receive_json().await.expect("complete")["action"], "complete");
}

/// Waits in its handler until the test lets it go, then answers.
#[derive(Clone)]
struct Gate {
    entered: std::sync::Arc<tokio::sync::Notify>,
    open: std::sync::Arc<tokio::sync::Notify>,
}

struct Slow {
    gate: Gate,
}

impl chanx::FromConnection<Gate> for Slow {
    async fn from_connection(handshake: &mut chanx::Handshake<'_, Gate>) -> Result<Self, chanx::AuthError> {
        Ok(Slow { gate: handshake.state().clone() })
    }
}

#[chanx::channel]
impl Slow {
    #[ws_handler]
    async fn ping(&mut self, _msg: chanx::PingMessage) -> chanx::PongMessage {
        self.gate.entered.notify_one();
        self.gate.open.notified().await;
        chanx::PongMessage
    }
}

impl chanx::Consumer for Slow {}

#[tokio::test]
async fn shutdown_lets_a_running_handler_finish_before_closing() {
    let gate = Gate { entered: Default::default(), open: Default::default() };
    let shutdown = chanx::Shutdown::new();
    let settings = Settings::default().shutdown(shutdown.clone());
    let mut client = TestClient::builder().settings(settings).state(gate.clone()).connect::<Slow>();
    client.send_message(&chanx::PingMessage).await.expect("send");
    gate.entered.notified().await;
    // Shutdown strikes while the handler waits; it is not dropped, and its reply
    // goes out before the close.
    shutdown.trigger();
    gate.open.notify_one();
    assert_eq!(client.receive_json().await.expect("the reply"), json!({"action": "pong", "payload": null}));
    assert_eq!(client.wait_closed().await.expect("then the close").0, 1001);
}

#[tokio::test]
async fn a_connection_opened_after_the_shutdown_is_closed_with_1001() {
    let shutdown = chanx::Shutdown::new();
    shutdown.trigger();
    let settings = Settings::default().shutdown(shutdown.clone());
    let mut client = TestClient::builder().settings(settings).connect::<SystemMessageConsumer>();
    assert_eq!(client.wait_closed().await.expect("a close").0, 1001);
    // Gone: the server stops waiting for the client's close frame.
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), shutdown.connections_closed())
        .await
        .expect("counted, then ended");
}

/// Hands its connection's `Sender` out, for a push from outside the connection's task.
#[derive(Default)]
struct HandsOut;

/// The `Sender` the last `ping` to a `HandsOut` connection handed out.
static HANDED_OUT: std::sync::Mutex<Option<chanx::Sender>> = std::sync::Mutex::new(None);

#[chanx::channel]
impl HandsOut {
    #[ws_handler]
    async fn ping(&mut self, cx: &mut chanx::Context, _msg: chanx::PingMessage) -> chanx::PongMessage {
        *HANDED_OUT.lock().unwrap() = Some(cx.sender());
        chanx::PongMessage
    }
}

impl chanx::Consumer for HandsOut {}

#[tokio::test]
async fn a_push_through_a_handed_out_sender_reaches_an_idle_connection() {
    let mut client = TestClient::connect::<HandsOut>();
    client.send_message(&chanx::PingMessage).await.expect("send");
    assert_eq!(client.receive_json().await.expect("pong")["action"], "pong");
    // The connection is idle now: the push must wake its writer by itself.
    let sender = HANDED_OUT.lock().unwrap().take().expect("handed out");
    let pushed = SystemEchoMessage { payload: MessagePayload { message: "from outside".into() } };
    sender.send_message(pushed).await.expect("push");
    let frame = client.receive_json().await.expect("the push");
    assert_eq!(frame, json!({"action": "system_echo", "payload": {"message": "from outside"}}));
}
