use chanx::prelude::*;

#[message(action = "say")]
pub struct Say(pub String);

/// A line of a chat between two users.
pub struct ChatTopic {
    pub room: String,
    pub user: u64,
}

#[topic(pattern = "chat:{room}:{user}", name = "chat", tags("chat"))]
impl ChatTopic {
    #[ws_handler(summary = "Say something")]
    async fn say(&mut self, cx: &mut Context, msg: Say) -> chanx::Result<Say> {
        let topic = cx.topic().unwrap_or_default().to_owned();
        Ok(Say(format!("{topic} {} {}: {}", self.room, self.user, msg.0)))
    }

    #[event_handler]
    async fn said(&mut self, event: Say) -> Say {
        event
    }
}

impl Topic for ChatTopic {}

/// A name without parameters.
pub struct AnnouncementsTopic;

#[topic(pattern = "announcements", passthrough(Say))]
impl AnnouncementsTopic {}

impl Topic for AnnouncementsTopic {
    async fn on_subscribe(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(Say("welcome".into())).await
    }
}

/// Parameters with literal text around them.
pub struct RunTopic {
    pub id: u32,
}

#[topic(pattern = "run-{id}.log")]
impl RunTopic {}

impl Topic for RunTopic {}

#[derive(Default)]
pub struct Hub;

#[channel(topics(ChatTopic, AnnouncementsTopic, RunTopic))]
impl Hub {}

impl Consumer for Hub {}

fn main() {
    let _app: axum::Router = axum::Router::new()
        .route("/ws/hub", Hub::route())
        .route("/ws/chat/{room}/{user}", ChatTopic::route())
        .route("/ws/announcements", AnnouncementsTopic::route_with(RouteOptions::new().max_connections(10)));
    assert_eq!(ChatTopic::from_name("chat:a:7").map(|t| t.user), Some(7));
    assert_eq!(<Hub as chanx::Channel>::TOPICS.len(), 3);
}
