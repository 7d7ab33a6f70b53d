//! A consumer in the static group `lobby` that joins, leaves and shouts on request, with
//! its messages: shared by the group tests of every layer, and the protocol that the
//! Python Chanx app of the interop tests (`tests/interop/python/app.py`) speaks too; and
//! a hub of room topics, which that app serves too.

use chanx::prelude::*;
use serde_json::{Value, json};

/// Text in and out.
#[message(action = "say")]
pub struct Say(pub String);

/// Joins the named group.
#[message(action = "join")]
pub struct Join(pub String);

/// Leaves the named group.
#[message(action = "leave")]
pub struct Leave(pub String);

/// Broadcasts to these groups, or to the connection's own when empty.
#[message(action = "shout")]
pub struct Shout {
    pub payload: (Vec<String>, bool, String),
}

/// Asks for the connection's channel name.
#[message(action = "whoami")]
pub struct WhoAmI;

/// The connection's channel name, the reply to [`WhoAmI`].
#[message(action = "you_are")]
pub struct YouAre(pub String);

/// An event the consumer handles.
#[message(action = "nudge")]
pub struct Nudge(pub String);

/// An event forwarded to the client as it is.
#[message(action = "announcement")]
pub struct Announcement(pub String);

/// A consumer in the static group `lobby` that joins, leaves and shouts on request.
#[derive(Default)]
pub struct Crowd;

#[channel(groups("lobby"), passthrough(Announcement))]
impl Crowd {
    #[ws_handler]
    async fn join(&mut self, cx: &mut Context, msg: Join) -> chanx::Result<()> {
        cx.join_group(msg.0).await
    }

    #[ws_handler]
    async fn leave(&mut self, cx: &mut Context, msg: Leave) -> chanx::Result<()> {
        cx.leave_group(&msg.0).await
    }

    #[ws_handler(broadcasts(Say))]
    async fn shout(&mut self, cx: &mut Context, msg: Shout) -> chanx::Result<()> {
        let (groups, exclude, text) = msg.payload;
        let mut broadcast = cx.broadcast_message(Say(text));
        if !groups.is_empty() {
            broadcast = broadcast.groups(groups);
        }
        if exclude {
            broadcast = broadcast.exclude_current();
        }
        broadcast.await
    }

    /// Answered after the static groups were joined: the client may rely on them.
    #[ws_handler]
    async fn whoami(&mut self, cx: &mut Context, _msg: WhoAmI) -> YouAre {
        YouAre(cx.channel_name().to_owned())
    }

    #[event_handler]
    async fn nudge(&mut self, event: Nudge) -> Say {
        Say(format!("nudged: {}", event.0))
    }
}

impl Consumer for Crowd {}

pub fn say(text: &str) -> Value {
    json!({"action": "say", "payload": text})
}

pub fn shout(groups: &[&str], exclude: bool, text: &str) -> Value {
    json!({"action": "shout", "payload": [groups, exclude, text]})
}

/// A room (topic `room:{room}`) of [`Hub`]: a push of [`Nudge`] to it reaches the
/// client as `say`, the room first.
pub struct RoomTopic {
    pub room: String,
}

#[topic(pattern = "room:{room}")]
impl RoomTopic {
    #[event_handler]
    async fn nudge(&mut self, event: Nudge) -> Say {
        Say(format!("{}: {}", self.room, event.0))
    }
}

impl Topic for RoomTopic {}

/// A hub of [`RoomTopic`]s.
#[derive(Default)]
pub struct Hub;

#[channel(name = "hub", topics(RoomTopic))]
impl Hub {}

impl Consumer for Hub {}

/// What a subscriber of `topic` (`room:{room}`) receives for a push of `Nudge(text)`.
pub fn room_said(topic: &str, text: &str, seq: Option<u64>) -> Value {
    let room = topic.strip_prefix("room:").expect("a room topic");
    let mut frame =
        json!({"action": "say", "payload": format!("{room}: {text}"), "version": 1, "topic": topic});
    if let Some(seq) = seq {
        frame["seq"] = json!(seq);
    }
    frame
}
