//! The Room Chat app of tutorial part 2: rooms as groups on the channel layer, the
//! room name from the path. Serves the System Echo app too (the tutorial's app grows
//! part by part). Shared with the tests, which include this file.

use axum::Router;
use chanx::asyncapi::AsyncApi;
use chanx::prelude::*;

/// Delivery state of a room message.
#[payload]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum MessageStatus {
    /// Not yet confirmed (the default).
    #[default]
    Pending,
    /// Delivered.
    Delivered,
    /// Could not be delivered.
    Failed,
}

/// A room message: text, the room it belongs to and its delivery state.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct RoomMessagePayload {
    /// The text.
    pub message: String,
    /// The room, set by the server on notifications.
    #[serde(default)]
    pub room_name: Option<String>,
    /// Delivery state.
    #[serde(default)]
    pub status: MessageStatus,
}

/// A chat message a client sends to its room.
#[message(action = "room_chat")]
#[derive(Debug, Clone)]
pub struct RoomChatMessage {
    /// The message.
    pub payload: RoomMessagePayload,
}

/// A notification broadcast to a room: chat lines, joins and leaves.
#[message(action = "room_notification")]
#[derive(Debug, Clone)]
pub struct RoomNotificationMessage {
    /// The notification.
    pub payload: RoomMessagePayload,
}

impl RoomNotificationMessage {
    fn new(message: String, room_name: &str) -> Self {
        let payload = RoomMessagePayload {
            message,
            room_name: Some(room_name.to_owned()),
            status: MessageStatus::Pending,
        };
        RoomNotificationMessage { payload }
    }
}

/// Chat rooms: each room is a group, `room_<room_name>`, on the `chat` channel layer.
#[derive(Debug, Default)]
pub struct RoomChatConsumer {
    room_name: String,
}

/// Room Chat Consumer - chat rooms over the channel layer, one group per room
#[channel(name = "room_chat", layer = "chat", tags("chat", "rooms"), sends(RoomNotificationMessage))]
impl RoomChatConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Handle room chat messages",
        description = "Broadcast the message to everyone in the room, the sender included",
        broadcasts(RoomNotificationMessage)
    )]
    async fn handle_room_chat(&mut self, cx: &mut Context, msg: RoomChatMessage) -> chanx::Result<()> {
        let notification =
            RoomNotificationMessage::new(format!("💬 {}", msg.payload.message), &self.room_name);
        cx.broadcast_message(notification).await
    }
}

impl Consumer for RoomChatConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        self.room_name = cx.path_param("room_name").unwrap_or_default().to_owned();
        cx.join_group(format!("room_{}", self.room_name)).await?;
        let joined = format!("🚪 Someone joined room '{}'", self.room_name);
        cx.broadcast_message(RoomNotificationMessage::new(joined, &self.room_name)).exclude_current().await
    }

    async fn on_disconnect(&mut self, cx: &mut Context, _reason: &Disconnect) {
        let left = format!("👋 Someone left room '{}'", self.room_name);
        if let Err(error) =
            cx.broadcast_message(RoomNotificationMessage::new(left, &self.room_name)).exclude_current().await
        {
            tracing::warn!(%error, "could not tell the room");
        }
    }
}

/// The app's consumers so far in the AsyncAPI document.
pub fn asyncapi(docs: AsyncApi) -> AsyncApi {
    super::system_echo::asyncapi(docs).channel::<RoomChatConsumer>("/ws/room/{room_name}")
}

/// The app so far: System Echo, plus the rooms at `/ws/room/{room_name}`.
pub fn router() -> Router {
    super::system_echo::router().route("/ws/room/{room_name}", RoomChatConsumer::route())
}
