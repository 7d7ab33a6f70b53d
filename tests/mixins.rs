//! Mixins (`#[mixin]` traits included with `#[channel(mixins(...))]`): their actions,
//! groups, events and metadata on a consumer that includes two of them, in-process.

use chanx::Channel;
use chanx::layer::Layers;
use chanx::prelude::*;
use chanx::testing::TestClient;
use serde_json::json;

#[message(action = "who")]
pub struct Who;

#[message(action = "here")]
pub struct Here(pub Vec<String>);

/// Pushed by the server when someone leaves: forwarded to the client as it is.
#[message(action = "user_left")]
pub struct UserLeft(pub String);

#[message(action = "typing")]
pub struct Typing;

#[message(action = "is_typing")]
pub struct IsTyping(pub String);

/// A server-side event: stop showing a user as typing.
#[message(action = "typing_timeout")]
pub struct TypingTimeout(pub String);

#[message(action = "typing_stopped")]
pub struct TypingStopped(pub String);

#[message(action = "say")]
pub struct Say(pub String);

#[message(action = "rename")]
pub struct Rename(pub String);

/// Who is connected: for any consumer that knows its user's name and a roster.
#[mixin(groups("presence"), passthrough(UserLeft))]
pub trait Presence: Consumer {
    /// The consumer's roster.
    fn roster(&mut self) -> &mut Vec<String>;

    /// Lists who is here.
    #[ws_handler(summary = "Who is here", tags("presence"))]
    async fn who(&mut self, _msg: Who) -> Here {
        Here(self.roster().clone())
    }
}

/// Typing indicators, broadcast to the `typing` group.
#[mixin(groups("typing"), sends(TypingStopped))]
pub trait Typer: Consumer {
    /// The name shown to others.
    fn user(&self) -> &str;

    /// Tells the others that this user types.
    #[ws_handler(broadcasts(IsTyping))]
    async fn typing(&mut self, cx: &mut Context, _msg: Typing) -> chanx::Result<()> {
        let user = self.user().to_owned();
        cx.broadcast_message(IsTyping(user)).groups(["typing"]).exclude_current().await
    }

    /// A worker's timeout: the client stops showing the user.
    #[event_handler]
    async fn typing_timeout(&mut self, event: TypingTimeout) -> TypingStopped {
        TypingStopped(event.0)
    }
}

/// A chat room with presence and typing indicators.
pub struct Room {
    user: String,
    roster: Vec<String>,
}

impl Default for Room {
    fn default() -> Self {
        Room { user: "ada".into(), roster: vec!["ada".into()] }
    }
}

#[channel(name = "room", groups("room", "typing"), mixins(Presence, Typer))]
impl Room {
    #[ws_handler]
    async fn say(&mut self, msg: Say) -> Say {
        msg
    }

    /// Renames the user: the mixins see the new name, as they read the consumer's state.
    #[ws_handler]
    async fn rename(&mut self, msg: Rename) {
        self.roster.retain(|name| *name != self.user);
        self.roster.push(msg.0.clone());
        self.user = msg.0;
    }
}

impl Consumer for Room {}

impl Presence for Room {
    fn roster(&mut self) -> &mut Vec<String> {
        &mut self.roster
    }
}

impl Typer for Room {
    fn user(&self) -> &str {
        &self.user
    }
}

fn room(layers: &Layers) -> TestClient {
    TestClient::builder().layers(layers.clone()).connect::<Room>()
}

#[test]
fn actions_and_groups_merge_the_consumers_and_the_mixins_groups_once() {
    assert_eq!(Room::ACTIONS, ["say", "rename", "who", "typing"]);
    // `typing` is the consumer's and `Typer`'s: joined once.
    assert_eq!(Room::GROUPS, ["room", "typing", "presence"]);
}

#[tokio::test]
async fn answers_each_mixins_actions_with_the_consumers_state() {
    let layers = Layers::default();
    let mut client = room(&layers);
    client.send_message(&Say("hi".into())).await.expect("send");
    assert_eq!(client.receive_message::<Say>().await.expect("echo").0, "hi");
    client.send_message(&Who).await.expect("send");
    assert_eq!(client.receive_message::<Here>().await.expect("roster").0, ["ada"]);
    client.send_message(&Rename("grace".into())).await.expect("send");
    client.send_message(&Who).await.expect("send");
    assert_eq!(client.receive_message::<Here>().await.expect("roster").0, ["grace"]);

    let mut other = room(&layers);
    other.receive_nothing().await.expect("connected");
    client.send_message(&Typing).await.expect("send");
    assert_eq!(other.receive_message::<IsTyping>().await.expect("broadcast").0, "grace");
    client.receive_nothing().await.expect("the sender is excluded");
}

#[tokio::test]
async fn joins_the_groups_of_every_mixin() {
    let layers = Layers::default();
    let mut client = room(&layers);
    client.receive_nothing().await.expect("connected");
    for group in ["room", "presence", "typing"] {
        let sent = Say(group.into());
        layers.default_layer().broadcast_message(&sent).groups([group]).await.expect("broadcast");
        assert_eq!(client.receive_message::<Say>().await.expect("a member").0, group);
    }
}

#[tokio::test]
async fn handles_mixin_events_and_passes_their_passthrough_events() {
    let layers = Layers::default();
    let mut client = room(&layers);
    client.receive_nothing().await.expect("connected");
    let worker = layers.default_layer();
    worker.send_event(client.channel_name(), &TypingTimeout("bob".into())).await.expect("sent");
    assert_eq!(client.receive_message::<TypingStopped>().await.expect("handled").0, "bob");
    worker.broadcast_event(&UserLeft("bob".into())).groups(["presence"]).await.expect("sent");
    assert_eq!(client.receive_message::<UserLeft>().await.expect("passed through").0, "bob");
}

#[tokio::test]
async fn an_unknown_action_lists_the_actions_of_the_consumer_and_its_mixins() {
    let mut client = room(&Layers::default());
    client.send_json(&json!({"action": "nope", "payload": null})).await.expect("send");
    let error = client.receive_json().await.expect("an error");
    assert_eq!(error["action"], "error");
    assert_eq!(
        error["payload"][0]["msg"],
        "Input tag 'nope' found using 'action' does not match any of the expected tags: \
         'rename', 'say', 'typing', 'who'"
    );
}

#[test]
fn metadata_includes_the_mixins_operations_and_events() {
    let meta = Room::meta();
    let handlers: Vec<&str> = meta.operations.iter().map(|op| op.handler).collect();
    assert_eq!(handlers, ["say", "rename", "who", "typing"]);
    assert_eq!(meta.operations[2].summary, Some("Who is here"));
    assert_eq!(meta.operations[2].tags, ["presence"]);
    assert_eq!(meta.operations[3].broadcasts[0].action, "is_typing");
    let events: Vec<&str> = meta.events.iter().map(|op| op.handler).collect();
    assert_eq!(events, ["typing_timeout"]);
    let passthrough: Vec<&str> = meta.passthrough.iter().map(|m| m.action).collect();
    assert_eq!(passthrough, ["user_left"]);
    let sends: Vec<&str> = meta.sends.iter().map(|m| m.action).collect();
    assert_eq!(sends, ["typing_stopped"]);
    assert_eq!(meta.groups, ["room", "typing", "presence"]);

    let document = chanx::asyncapi!().channel::<Room>("/ws/room").document().expect("a document");
    let operations = document["operations"].as_object().expect("operations");
    for id in
        ["room.say", "room.rename", "room.who", "room.typing", "room.typing_broadcast", "room.typing_timeout"]
    {
        assert!(operations.contains_key(id), "no operation {id}: {:?}", operations.keys());
    }
    assert_eq!(document["operations"]["room.who"]["action"], "receive");
    assert_eq!(document["operations"]["room.typing_timeout"]["action"], "send");
}
