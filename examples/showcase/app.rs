//! The multi-layer showcase of tutorial part 4: four consumers, each on its own named
//! channel layer (see `layers.rs`) and in one static group, which server code anywhere
//! (the external sender, in another process with `REDIS_URL`) reaches with events.
//! Serves the Background Jobs, Room Chat and System Echo apps too. Shared with the
//! tests, which include this file.

use std::sync::Arc;

use axum::Router;
use chanx::asyncapi::AsyncApi;
use chanx::prelude::*;
use serde_json::{Map, Value};

use super::background_jobs;
use super::events::{SystemNotify, SystemPeriodicNotify};
use super::queue::JobQueue;
use super::system_echo::MessagePayload;

/// A chat line a client sends to the chat.
#[message(action = "chat")]
#[derive(Debug, Clone)]
pub struct ChatMessage {
    /// The text.
    pub payload: MessagePayload,
}

/// A line for everyone in the chat: chat lines, joins, leaves, announcements.
#[message(action = "chat_notification")]
#[derive(Debug, Clone)]
pub struct ChatNotificationMessage {
    /// The text.
    pub payload: MessagePayload,
}

impl ChatNotificationMessage {
    fn new(message: impl Into<String>) -> Self {
        ChatNotificationMessage { payload: MessagePayload { message: message.into() } }
    }
}

/// A chat line a client sends to the reliable chat.
#[message(action = "reliable_chat")]
#[derive(Debug, Clone)]
pub struct ReliableChatMessage {
    /// The text.
    pub payload: MessagePayload,
}

/// A line for everyone in the reliable chat.
#[message(action = "reliable_chat_notification")]
#[derive(Debug, Clone)]
pub struct ReliableChatNotificationMessage {
    /// The text.
    pub payload: MessagePayload,
}

impl ReliableChatNotificationMessage {
    fn new(message: impl Into<String>) -> Self {
        ReliableChatNotificationMessage { payload: MessagePayload { message: message.into() } }
    }
}

fn user_kind() -> String {
    "user".into()
}

/// A notification: its kind and its text.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationPayload {
    /// `user` (the default), `system` or `periodic`.
    #[serde(rename = "type", default = "user_kind")]
    pub kind: String,
    /// The text.
    pub message: String,
}

/// A notification a client sends to every subscriber.
#[message(action = "notification")]
#[derive(Debug, Clone)]
pub struct NotificationMessage {
    /// The notification.
    pub payload: NotificationPayload,
}

/// A notification for every subscriber.
#[message(action = "notification_broadcast")]
#[derive(Debug, Clone)]
pub struct NotificationBroadcastMessage {
    /// The notification.
    pub payload: NotificationPayload,
}

impl NotificationBroadcastMessage {
    fn new(kind: &str, message: impl Into<String>) -> Self {
        NotificationBroadcastMessage {
            payload: NotificationPayload { kind: kind.into(), message: message.into() },
        }
    }
}

/// An analytics event: its name and any data.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsPayload {
    /// What happened, e.g. `page_view:/dashboard`.
    pub event: String,
    /// Details, if any.
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
}

/// An analytics event a client reports.
#[message(action = "analytics")]
#[derive(Debug, Clone)]
pub struct AnalyticsMessage {
    /// The event.
    pub payload: AnalyticsPayload,
}

/// An analytics event for every dashboard.
#[message(action = "analytics_notification")]
#[derive(Debug, Clone)]
pub struct AnalyticsNotificationMessage {
    /// The event.
    pub payload: AnalyticsPayload,
}

impl AnalyticsNotificationMessage {
    fn new(event: String, data: Option<Map<String, Value>>) -> Self {
        AnalyticsNotificationMessage { payload: AnalyticsPayload { event, data } }
    }
}

/// Someone joined: server code sends it as an event, clients get it unchanged.
#[message(action = "user_joined_notification")]
#[derive(Debug, Clone)]
pub struct UserJoinedNotification {
    /// The text.
    pub payload: MessagePayload,
}

/// Someone left: server code sends it as an event, clients get it unchanged.
#[message(action = "user_left_notification")]
#[derive(Debug, Clone)]
pub struct UserLeftNotification {
    /// The text.
    pub payload: MessagePayload,
}

/// Tells the connection's groups, but not itself, that it is leaving. A failure is
/// only logged: the connection is gone either way.
async fn say_goodbye<M: Message>(cx: &mut Context, message: M) {
    if let Err(error) = cx.broadcast_message(message).exclude_current().await {
        tracing::warn!(%error, "could not tell the group");
    }
}

/// The chat, on the `chat` layer (Redis pub/sub): fast, at most once.
#[derive(Debug, Default)]
pub struct ChatConsumer;

/// Chat Consumer - a chat room on the `chat` channel layer (Redis pub/sub)
#[channel(
    name = "chat",
    layer = "chat",
    tags("showcase", "chat"),
    groups("chat_room"),
    passthrough(UserJoinedNotification, UserLeftNotification),
    sends(ChatNotificationMessage)
)]
impl ChatConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Handle chat messages",
        description = "Broadcast the message to everyone in the chat, the sender included",
        broadcasts(ChatNotificationMessage)
    )]
    async fn handle_chat(&mut self, cx: &mut Context, msg: ChatMessage) -> chanx::Result<()> {
        cx.broadcast_message(ChatNotificationMessage::new(format!("💬 {}", msg.payload.message))).await
    }

    #[event_handler(summary = "Show a system announcement", description = "An announcement for the chat")]
    async fn handle_system_notify(&mut self, event: SystemNotify) -> ChatNotificationMessage {
        ChatNotificationMessage::new(event.payload)
    }
}

impl Consumer for ChatConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.broadcast_message(ChatNotificationMessage::new("📢 Someone joined the chat")).await
    }

    async fn on_disconnect(&mut self, cx: &mut Context, _reason: &Disconnect) {
        say_goodbye(cx, ChatNotificationMessage::new("❌ Someone left the chat.")).await;
    }
}

/// The reliable chat, on the `queue` layer (a Redis queue: stored, expiring).
#[derive(Debug, Default)]
pub struct ReliableChatConsumer;

/// Reliable Chat Consumer - a chat room on the `queue` channel layer (Redis queue)
#[channel(
    name = "reliable_chat",
    layer = "queue",
    tags("showcase", "chat"),
    groups("reliable_chat"),
    passthrough(UserJoinedNotification, UserLeftNotification),
    sends(ReliableChatNotificationMessage)
)]
impl ReliableChatConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Handle reliable chat messages",
        description = "Broadcast the message to everyone in the reliable chat, the sender included",
        broadcasts(ReliableChatNotificationMessage)
    )]
    async fn handle_reliable_chat(
        &mut self,
        cx: &mut Context,
        msg: ReliableChatMessage,
    ) -> chanx::Result<()> {
        let text = format!("📨 {}", msg.payload.message);
        cx.broadcast_message(ReliableChatNotificationMessage::new(text)).await
    }

    #[event_handler(
        summary = "Show a system announcement",
        description = "An announcement for the reliable chat, shown as a chat notification"
    )]
    async fn handle_system_notify(&mut self, event: SystemNotify) -> ChatNotificationMessage {
        ChatNotificationMessage::new(event.payload)
    }
}

impl Consumer for ReliableChatConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        let established = "🔒 Reliable chat connection established!";
        cx.broadcast_message(ReliableChatNotificationMessage::new(established)).await
    }

    async fn on_disconnect(&mut self, cx: &mut Context, _reason: &Disconnect) {
        say_goodbye(cx, ReliableChatNotificationMessage::new("🚪 Left reliable chat!")).await;
    }
}

/// Notifications, on the `notifications` layer (Redis pub/sub).
#[derive(Debug, Default)]
pub struct NotificationConsumer;

/// Notification Consumer - notifications for every subscriber on the `notifications` channel layer
#[channel(
    name = "notifications",
    layer = "notifications",
    tags("showcase", "notifications"),
    groups("notifications"),
    passthrough(UserJoinedNotification, UserLeftNotification),
    sends(NotificationBroadcastMessage)
)]
impl NotificationConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Handle notifications",
        description = "Broadcast the notification to every subscriber, the sender included",
        broadcasts(NotificationBroadcastMessage)
    )]
    async fn handle_notification(&mut self, cx: &mut Context, msg: NotificationMessage) -> chanx::Result<()> {
        let text = format!("🔔 Notification: {}", msg.payload.message);
        cx.broadcast_message(NotificationBroadcastMessage::new("user", text)).await
    }

    #[event_handler(summary = "Show a system announcement", description = "A `system` notification")]
    async fn handle_system_notify(&mut self, event: SystemNotify) -> NotificationBroadcastMessage {
        NotificationBroadcastMessage::new("system", event.payload)
    }

    #[event_handler(summary = "Show a periodic announcement", description = "A `periodic` notification")]
    async fn handle_system_periodic_notify(
        &mut self,
        event: SystemPeriodicNotify,
    ) -> NotificationBroadcastMessage {
        NotificationBroadcastMessage::new("periodic", event.payload)
    }
}

impl Consumer for NotificationConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.broadcast_message(NotificationBroadcastMessage::new("system", "🔔 Connected to notifications!"))
            .await
    }
}

/// Analytics, on the `analytics` layer (a Redis queue: stored, expiring).
#[derive(Debug, Default)]
pub struct AnalyticsConsumer;

/// Analytics Consumer - analytics events for every dashboard on the `analytics` channel layer
#[channel(
    name = "analytics",
    layer = "analytics",
    tags("showcase", "analytics"),
    groups("analytics"),
    passthrough(UserJoinedNotification, UserLeftNotification)
)]
impl AnalyticsConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Handle analytics events",
        description = "Broadcast the event to every dashboard, the sender included",
        broadcasts(AnalyticsNotificationMessage)
    )]
    async fn handle_analytics(&mut self, cx: &mut Context, msg: AnalyticsMessage) -> chanx::Result<()> {
        let AnalyticsPayload { event, data } = msg.payload;
        cx.broadcast_message(AnalyticsNotificationMessage::new(format!("📊 Analytics: {event}"), data)).await
    }

    #[event_handler(summary = "Record a system event", description = "The event's text, without data")]
    async fn handle_system_notify(&mut self, event: SystemNotify) -> AnalyticsNotificationMessage {
        AnalyticsNotificationMessage::new(event.payload, None)
    }
}

impl Consumer for AnalyticsConsumer {}

/// The app's consumers so far in the AsyncAPI document.
pub fn asyncapi(docs: AsyncApi) -> AsyncApi {
    background_jobs::asyncapi(docs)
        .channel::<ChatConsumer>("/ws/chat")
        .channel::<ReliableChatConsumer>("/ws/reliable")
        .channel::<NotificationConsumer>("/ws/notifications")
        .channel::<AnalyticsConsumer>("/ws/analytics")
}

/// The whole tutorial app: System Echo, Room Chat, Background Jobs (queueing to
/// `queue`), plus the showcase at `/ws/chat`, `/ws/reliable`, `/ws/notifications` and
/// `/ws/analytics`.
pub fn router(queue: Arc<dyn JobQueue>) -> Router {
    let showcase = Router::new()
        .route("/ws/chat", ChatConsumer::route())
        .route("/ws/reliable", ReliableChatConsumer::route())
        .route("/ws/notifications", NotificationConsumer::route())
        .route("/ws/analytics", AnalyticsConsumer::route());
    background_jobs::router(queue).merge(showcase)
}
