//! The System Echo app of tutorial part 1: messages, consumer and router.
//! Shared with the tests, which include this file.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use chanx::asyncapi::AsyncApi;
use chanx::prelude::*;

/// Payload of the chat messages: one line of text.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePayload {
    /// The text.
    pub message: String,
}

/// System message for direct communication.
#[message(action = "user_message")]
#[derive(Debug, Clone)]
pub struct UserMessage {
    /// The text the user sent.
    pub payload: MessagePayload,
}

/// System echo response message.
#[message(action = "system_echo")]
#[derive(Debug, Clone)]
pub struct SystemEchoMessage {
    /// The echoed text.
    pub payload: MessagePayload,
}

impl SystemEchoMessage {
    fn new(message: String) -> Self {
        SystemEchoMessage { payload: MessagePayload { message } }
    }
}

/// Echoes what the user sends, without channel layers.
#[derive(Debug, Default)]
pub struct SystemMessageConsumer;

#[channel(
    name = "system",
    tags("system", "direct"),
    sends(SystemEchoMessage),
    description = "System Messages Consumer - Direct WebSocket without channel layers"
)]
impl SystemMessageConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Handle message user send to system",
        description = "Echo system messages back directly without using channel layers"
    )]
    async fn handle_system(&mut self, msg: UserMessage) -> SystemEchoMessage {
        SystemEchoMessage::new(format!("🔧 System Echo: {}", msg.payload.message))
    }
}

impl Consumer for SystemMessageConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(SystemEchoMessage::new("🔧 System: Connection established!".into())).await
    }
}

/// The tutorial's web page (System Chat), embedded in the binary.
pub const PAGE: &str = include_str!("../common/index.html");

/// The app's consumers in the AsyncAPI document.
pub fn asyncapi(docs: AsyncApi) -> AsyncApi {
    docs.channel::<SystemMessageConsumer>("/ws/system")
}

/// The app: the page at `/`, the consumer at `/ws/system`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .nest("/ws", Router::new().route("/system", SystemMessageConsumer::route()))
}
