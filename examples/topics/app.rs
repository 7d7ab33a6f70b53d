//! The Topics app: chat rooms and who is in them, over one socket. Each room is two
//! topics: `room:<room>`, whose posts reach every subscriber as topic pushes with an
//! increasing `seq`, and `presence:<room>`, whose subscribers are told who is present
//! whenever someone comes or goes. A client subscribes to as many as it likes over
//! the hub `/ws/topics`, or to one room over its own route, `/ws/rooms/{room}`,
//! without envelopes. Serves the System Echo app too (the tutorial page's first tab).
//! Shared with the tests, which include this file.

use axum::Router;
use chanx::Standalone;
use chanx::asyncapi::AsyncApi;
use chanx::prelude::*;

use super::rooms::{self, ChatLine, RoomSnapshot};

/// The name a connection goes by: its `?name=`, trimmed, else `guest`.
pub fn user(cx: &Context) -> String {
    match cx.query_param("name").map(str::trim) {
        Some(name) if !name.is_empty() => name.chars().take(24).collect(),
        _ => "guest".to_owned(),
    }
}

/// Whether `user` may enter `room`: a room name of at most 32 letters, digits, `-`
/// and `_`, and the room `staff` for the user `admin` only.
pub fn may_enter(room: &str, user: &str) -> bool {
    let valid = room.len() <= 32 && room.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid && (room != "staff" || user == "admin")
}

/// The text of a post.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct PostText {
    /// The text.
    pub text: String,
}

/// A line a client posts to a room.
#[message(action = "post")]
#[derive(Debug, Clone)]
pub struct PostMessage {
    /// The line.
    pub payload: PostText,
}

/// Where a post went: its `seq` in the room.
#[payload]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The `seq` of the post, as its push carries it.
    pub seq: u64,
}

/// The answer to a post, with the post's `ref`.
#[message(action = "post_accepted")]
#[derive(Debug, Clone)]
pub struct PostAcceptedMessage {
    /// Where it went.
    pub payload: Accepted,
}

/// A line posted to a room: pushed to the room's subscribers with its `seq`.
#[message(action = "room_message")]
#[derive(Debug, Clone)]
pub struct RoomMessage {
    /// The line.
    pub payload: ChatLine,
}

/// What a room's new subscriber is told first: the room's last `seq` and recent lines.
#[message(action = "room_state")]
#[derive(Debug, Clone)]
pub struct RoomStateMessage {
    /// The room's state.
    pub payload: RoomSnapshot,
}

/// Who is present in a room.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct Members {
    /// Their names, sorted.
    pub members: Vec<String>,
}

/// Who is present: pushed to the room's presence subscribers on every change.
#[message(action = "presence")]
#[derive(Debug, Clone)]
pub struct PresenceMessage {
    /// Who is present.
    pub payload: Members,
}

/// The topic name of the room `room`.
pub fn room_topic(room: &str) -> String {
    format!("room:{room}")
}

/// The topic name of who is present in `room`.
pub fn presence_topic(room: &str) -> String {
    format!("presence:{room}")
}

/// A chat room: posts to it reach its subscribers, each with the next `seq`.
#[derive(Debug)]
pub struct RoomTopic {
    /// The room's name.
    pub room: String,
}

/// Room - the lines posted to one chat room
#[topic(pattern = "room:{room}", tags("topics", "chat"), passthrough(RoomMessage), sends(RoomStateMessage))]
impl RoomTopic {
    #[ws_handler(
        summary = "Post a line to the room",
        description = "Pushes the line to every subscriber of the room with the room's next seq, and answers with that seq"
    )]
    async fn post(&mut self, cx: &mut Context, msg: PostMessage) -> chanx::Result<PostAcceptedMessage> {
        let line = ChatLine { user: user(cx), text: msg.payload.text };
        let seq = rooms::post(&self.room, line.clone());
        let push = RoomMessage { payload: line };
        cx.layer().topic::<RoomTopic>(room_topic(&self.room)).broadcast(&push).seq(seq).await?;
        Ok(PostAcceptedMessage { payload: Accepted { seq } })
    }
}

impl Topic for RoomTopic {
    async fn authorize(&self, cx: &Context) -> bool {
        may_enter(&self.room, &user(cx))
    }

    /// Tells the newcomer what it missed: the room's last `seq` and recent lines.
    async fn on_subscribe(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(RoomStateMessage { payload: rooms::snapshot(&self.room) }).await
    }
}

/// Who is present in a chat room: its subscribers are the people present.
#[derive(Debug)]
pub struct PresenceTopic {
    /// The room's name.
    pub room: String,
}

/// Presence - who is present in one chat room
#[topic(pattern = "presence:{room}", tags("topics", "presence"), passthrough(PresenceMessage))]
impl PresenceTopic {}

impl PresenceTopic {
    /// Pushes who is present to every presence subscriber of the room.
    async fn tell(&self, cx: &Context, members: Vec<String>) -> chanx::Result<()> {
        let message = PresenceMessage { payload: Members { members } };
        cx.layer().topic::<PresenceTopic>(presence_topic(&self.room)).broadcast(&message).await?;
        Ok(())
    }
}

impl Topic for PresenceTopic {
    async fn authorize(&self, cx: &Context) -> bool {
        may_enter(&self.room, &user(cx))
    }

    /// Marks the subscriber present and tells everyone, the newcomer included.
    async fn on_subscribe(&mut self, cx: &mut Context) -> chanx::Result<()> {
        let members = rooms::enter(&self.room, cx.channel_name(), &user(cx));
        self.tell(cx, members).await
    }

    /// Marks the subscriber gone and tells those still present.
    async fn on_unsubscribe(&mut self, cx: &mut Context) {
        let members = rooms::leave(&self.room, cx.channel_name());
        if let Err(error) = self.tell(cx, members).await {
            tracing::warn!(%error, room = self.room, "could not tell who is present");
        }
    }
}

/// The hub: one socket for every room and presence topic a client subscribes to.
#[derive(Debug, Default)]
pub struct TopicsConsumer;

/// Topics Consumer - chat rooms and presence as topics, over one socket
#[channel(name = "topics", tags("topics"), topics(RoomTopic, PresenceTopic))]
impl TopicsConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for TopicsConsumer {}

/// The app's consumers in the AsyncAPI document, System Echo's included.
pub fn asyncapi(docs: AsyncApi) -> AsyncApi {
    super::system_echo::asyncapi(docs)
        .channel::<TopicsConsumer>("/ws/topics")
        .channel::<Standalone<RoomTopic>>("/ws/rooms/{room}")
}

/// The app: System Echo (and the page), the hub at `/ws/topics` and one room at
/// `/ws/rooms/{room}`.
pub fn router() -> Router {
    super::system_echo::router()
        .route("/ws/topics", TopicsConsumer::route())
        .route("/ws/rooms/{room}", RoomTopic::route())
}
