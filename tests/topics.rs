//! Topics: the frames of Chanx's topic protocol, in-process and over a real socket.

mod common;

use std::sync::Mutex;

use chanx::layer::{InMemoryLayer, Kind, Layers, TopicStamp};
use chanx::prelude::*;
use chanx::testing::{RecordingLayer, Target, TestClient, TestError, TopicFrame};
use chanx::{Settings, Standalone};
use serde_json::{Value, json};

#[payload]
pub struct Post {
    pub text: String,
    #[serde(default)]
    pub count: i64,
}

/// A post to a room.
#[message(action = "post")]
pub struct PostMessage {
    pub payload: Post,
}

/// The answer to a post.
#[message(action = "echo_reply")]
pub struct EchoReply {
    pub payload: Post,
}

#[payload]
pub struct RoomState {
    pub room: String,
}

/// What a subscriber is told first.
#[message(action = "room_state")]
pub struct RoomStateMessage {
    pub payload: RoomState,
}

#[payload]
pub struct Said {
    pub text: String,
}

/// An event pushed to a room's subscribers.
#[message(action = "room_event")]
pub struct RoomEvent {
    pub payload: Said,
}

/// What a subscriber gets for a room event.
#[message(action = "room_news")]
pub struct RoomNews {
    pub payload: Said,
}

/// A handler that fails.
#[message(action = "explode")]
pub struct Explode;

/// Who is present: forwarded to the client as it is.
#[message(action = "presence")]
pub struct Presence(pub Vec<String>);

/// The topics left, as `on_unsubscribe` saw them.
static LEFT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A chat room.
pub struct RoomTopic {
    pub room: String,
}

#[topic(pattern = "room:{room}")]
impl RoomTopic {
    #[ws_handler]
    async fn post(&mut self, msg: PostMessage) -> EchoReply {
        EchoReply { payload: msg.payload }
    }

    #[ws_handler]
    async fn explode(&mut self, _msg: Explode) -> chanx::Result<()> {
        Err(chanx::Error::ConnectionClosed)
    }

    #[event_handler]
    async fn on_room_event(&mut self, event: RoomEvent) -> RoomNews {
        RoomNews { payload: event.payload }
    }
}

/// Who the hub's `authenticate` says the connection is (`?user=`), for the topics.
#[derive(Clone)]
pub struct User(pub String);

impl Topic for RoomTopic {
    async fn authorize(&self, cx: &Context) -> bool {
        let admin = cx.extensions().get::<User>().is_some_and(|user| user.0 == "admin");
        self.room != "secret" && (self.room != "staff" || admin)
    }

    async fn on_subscribe(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(RoomStateMessage { payload: RoomState { room: self.room.clone() } }).await
    }

    async fn on_unsubscribe(&mut self, cx: &mut Context) {
        let topic = cx.topic().unwrap_or("no topic").to_owned();
        LEFT.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(topic);
    }
}

/// Who is in a room.
pub struct PresenceTopic {
    pub room: String,
}

#[topic(pattern = "presence:{room}", passthrough(Presence))]
impl PresenceTopic {}

impl Topic for PresenceTopic {}

/// A job's progress, by number.
pub struct JobTopic {
    pub id: u64,
}

#[topic(pattern = "job:{id}")]
impl JobTopic {
    #[ws_handler]
    async fn post(&mut self, msg: PostMessage) -> EchoReply {
        EchoReply { payload: Post { text: format!("job {}: {}", self.id, msg.payload.text), count: 0 } }
    }
}

impl Topic for JobTopic {}

#[derive(Default)]
pub struct HubConsumer;

#[channel(name = "hub", topics(RoomTopic, PresenceTopic, JobTopic))]
impl HubConsumer {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for HubConsumer {
    async fn authenticate(&mut self, cx: &mut Context) -> Result<(), AuthError> {
        if let Some(user) = cx.query_param("user").map(str::to_owned) {
            cx.extensions_mut().insert(User(user));
        }
        Ok(())
    }
}

fn hub(layers: &Layers) -> TestClient {
    TestClient::builder().layers(layers.clone()).connect::<HubConsumer>()
}

/// The keys of a frame, in order.
fn keys(frame: &Value) -> Vec<&str> {
    frame.as_object().map(|keys| keys.keys().map(String::as_str).collect()).unwrap_or_default()
}

/// Sends `frame` and returns the next frame, checking that nothing else came.
async fn exchange(client: &mut TestClient, frame: Value) -> Value {
    client.send_json(&frame).await.expect("send");
    client.receive_json().await.expect("an answer")
}

#[tokio::test]
async fn the_frames_of_the_topic_protocol_are_chanx_s() {
    let layers = Layers::default();
    let mut client = hub(&layers);
    let early =
        exchange(&mut client, json!({"topic": "room:lobby", "action": "post", "payload": {"text": "early"}}))
            .await;
    assert_eq!(
        early,
        json!({"action": "error", "payload": {"reason": "not_subscribed", "detail": "Not subscribed to 'room:lobby'"}, "version": 1, "topic": "room:lobby"})
    );
    assert_eq!(keys(&early), ["action", "payload", "version", "topic"]);

    let ack = exchange(&mut client, json!({"topic": "room:lobby", "ref": "1", "action": "subscribe"})).await;
    assert_eq!(
        ack,
        json!({"action": "subscribed", "payload": null, "version": 1, "topic": "room:lobby", "ref": "1"})
    );
    assert_eq!(keys(&ack), ["action", "payload", "version", "topic", "ref"]);
    let state = client.receive_json().await.expect("the state on_subscribe pushes");
    assert_eq!(
        state,
        json!({"action": "room_state", "payload": {"room": "lobby"}, "version": 1, "topic": "room:lobby"})
    );

    // Already subscribed: the ack alone, on_subscribe does not run again.
    let again =
        exchange(&mut client, json!({"topic": "room:lobby", "ref": "1b", "action": "subscribe"})).await;
    assert_eq!(
        again,
        json!({"action": "subscribed", "payload": null, "version": 1, "topic": "room:lobby", "ref": "1b"})
    );
    client.receive_nothing().await.expect("no second state");

    let reply = exchange(
        &mut client,
        json!({"topic": "room:lobby", "ref": "2", "action": "post", "payload": {"text": "hello", "count": 5}}),
    )
    .await;
    assert_eq!(
        reply,
        json!({"action": "echo_reply", "payload": {"text": "hello", "count": 5}, "version": 1, "topic": "room:lobby", "ref": "2"})
    );

    let invalid = exchange(
        &mut client,
        json!({"topic": "room:lobby", "ref": "3", "action": "post", "payload": {"count": "bad"}}),
    )
    .await;
    assert_eq!(invalid["topic"], "room:lobby");
    assert_eq!(invalid["ref"], "3");
    let errors = invalid["payload"].as_array().expect("a validation list");
    assert_eq!(errors[0]["type"], "missing");
    assert_eq!(errors[0]["loc"], json!(["post", "payload", "text"]));
    assert_eq!(errors[1]["type"], "int_parsing");
    assert_eq!(errors[1]["loc"], json!(["post", "payload", "count"]));

    let refused =
        exchange(&mut client, json!({"topic": "room:secret", "ref": "5", "action": "subscribe"})).await;
    assert_eq!(
        refused,
        json!({"action": "error", "payload": {"reason": "unauthorized", "detail": "Not allowed to subscribe to 'room:secret'"}, "version": 1, "topic": "room:secret", "ref": "5"})
    );
    let unknown =
        exchange(&mut client, json!({"topic": "unknown:thing", "ref": "6", "action": "subscribe"})).await;
    assert_eq!(
        unknown,
        json!({"action": "error", "payload": {"reason": "unknown_topic", "detail": "Unknown topic 'unknown:thing'"}, "version": 1, "topic": "unknown:thing", "ref": "6"})
    );
    let never =
        exchange(&mut client, json!({"topic": "room:never", "ref": "8", "action": "unsubscribe"})).await;
    assert_eq!(
        never,
        json!({"action": "unsubscribed", "payload": null, "version": 1, "topic": "room:never", "ref": "8"})
    );
    let bad_topic = exchange(&mut client, json!({"topic": 5, "action": "subscribe"})).await;
    assert_eq!(
        bad_topic,
        json!({"action": "error", "payload": [{"type": "string_type", "loc": ["topic"], "msg": "Input should be a valid string"}]})
    );
    client.receive_nothing().await.expect("one answer per frame");
}

#[tokio::test]
async fn a_topic_answers_with_its_own_actions_and_failures() {
    let mut client = hub(&Layers::default());
    client.subscribe("job:42").await.expect("subscribed");
    let reply =
        exchange(&mut client, json!({"topic": "job:42", "action": "post", "payload": {"text": "go"}})).await;
    assert_eq!(reply["payload"]["text"], "job 42: go", "the parameter reached the topic typed");
    // The same action on another topic type reaches that type's handler.
    client.subscribe("room:a").await.expect("subscribed");
    let state = client.receive_topic_message::<RoomStateMessage>("room:a").await.expect("state");
    assert_eq!(state.message.payload.room, "a");
    let unknown = exchange(&mut client, json!({"topic": "job:42", "ref": "r", "action": "explode"})).await;
    assert_eq!(unknown["payload"][0]["type"], "union_tag_invalid");
    assert!(unknown["payload"][0]["msg"].as_str().unwrap_or_default().contains("expected tags: 'post'"));
    assert_eq!((unknown["topic"].as_str(), unknown["ref"].as_str()), (Some("job:42"), Some("r")));
    let failed = exchange(&mut client, json!({"topic": "room:a", "ref": "x", "action": "explode"})).await;
    assert_eq!(
        failed,
        json!({"action": "error", "payload": {"detail": "Failed to process message for explode"}, "version": 1, "topic": "room:a", "ref": "x"})
    );
    // A name whose parameter does not parse is no name of the type.
    let not_a_job = exchange(&mut client, json!({"topic": "job:abc", "action": "subscribe"})).await;
    assert_eq!(not_a_job["payload"]["reason"], "unknown_topic");
    // The consumer's own handlers still answer frames without a topic.
    assert_eq!(
        exchange(&mut client, json!({"action": "ping"})).await,
        json!({"action": "pong", "payload": null})
    );
}

#[tokio::test]
async fn topic_frames_follow_the_consumer_s_completion_setting_in_arrival_order() {
    let mut client = TestClient::builder().send_completion(true).connect::<HubConsumer>();
    client.send_json(&json!({"topic": "room:c", "ref": "s", "action": "subscribe"})).await.expect("send");
    let frames = client.receive_all_messages("complete").await.expect("subscribe answered");
    assert_eq!(frames.len(), 2, "subscribed, then the state: {frames:?}");
    // The `complete` of a topic frame carries its ref, version and topic.
    client
        .send_json(&json!({"topic": "room:c", "ref": "p", "action": "post", "payload": {"text": "t"}}))
        .await
        .expect("send");
    assert_eq!(client.receive_json().await.expect("reply")["action"], "echo_reply");
    assert_eq!(
        client.receive_json().await.expect("complete"),
        json!({"action": "complete", "payload": null, "version": 1, "topic": "room:c", "ref": "p"})
    );
    // Chanx runs topic frames in tasks of their own; chanx answers in arrival order.
    for n in 0..50 {
        let frame = json!({"topic": "room:c", "ref": n.to_string(), "action": "post", "payload": {"text": "x", "count": n}});
        client.send_json(&frame).await.expect("send");
    }
    for n in 0..50 {
        let reply = client.receive_json().await.expect("reply");
        assert_eq!(reply["ref"], n.to_string());
        assert_eq!(client.receive_json().await.expect("complete")["ref"], n.to_string());
    }
}

#[tokio::test]
async fn a_push_reaches_every_subscriber_with_its_seq_and_no_one_else() {
    let layers = Layers::default();
    let (mut one, mut two, mut other) = (hub(&layers), hub(&layers), hub(&layers));
    for client in [&mut one, &mut two] {
        client.subscribe("room:lobby").await.expect("subscribed");
        client.receive_topic_message::<RoomStateMessage>("room:lobby").await.expect("state");
    }
    other.subscribe("room:elsewhere").await.expect("subscribed");
    other.receive_topic_message::<RoomStateMessage>("room:elsewhere").await.expect("state");

    let event = RoomEvent { payload: Said { text: "hi all".into() } };
    layers.default_layer().topic::<RoomTopic>("room:lobby").broadcast(&event).seq(5).await.expect("pushed");
    for client in [&mut one, &mut two] {
        let news = client.receive_json().await.expect("news");
        assert_eq!(
            news,
            json!({"action": "room_news", "payload": {"text": "hi all"}, "version": 1, "topic": "room:lobby", "seq": 5})
        );
        assert_eq!(keys(&news), ["action", "payload", "version", "topic", "seq"]);
    }
    other.receive_nothing().await.expect("another room hears nothing");

    // A passthrough push is the event itself, stamped; without seq, no seq.
    one.subscribe("presence:lobby").await.expect("subscribed");
    let presence = Presence(vec!["ann".into()]);
    layers
        .default_layer()
        .topic::<PresenceTopic>("presence:lobby")
        .broadcast(&presence)
        .await
        .expect("pushed");
    let frame: TopicFrame<Presence> = one.receive_topic_message("presence:lobby").await.expect("presence");
    assert_eq!((frame.message.0, frame.seq, frame.reference), (vec!["ann".to_owned()], None, None));

    // Left: no more pushes.
    one.unsubscribe("room:lobby").await.expect("left");
    layers.default_layer().topic::<RoomTopic>("room:lobby").broadcast(&event).await.expect("pushed");
    assert_eq!(two.receive_json().await.expect("news")["topic"], "room:lobby");
    one.receive_nothing().await.expect("unsubscribed");

    // A name the type does not match is refused before anything is sent.
    let wrong = layers.default_layer().topic::<RoomTopic>("presence:lobby").broadcast(&event).await;
    assert!(matches!(wrong, Err(chanx::layer::LayerError::InvalidName { what: "topic", .. })), "{wrong:?}");
}

#[tokio::test]
async fn the_recording_layer_captures_topic_pushes() {
    let recorder = RecordingLayer::new();
    let layers = Layers::new(recorder.clone());
    let event = RoomEvent { payload: Said { text: "x".into() } };
    layers
        .default_layer()
        .topic::<RoomTopic>("room:Weekly Sync")
        .broadcast(&event)
        .seq(9)
        .await
        .expect("pushed");
    let sent = recorder.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, Target::Groups(vec!["RoomTopic.room-Weekly-Sync".into()]));
    assert_eq!(sent[0].kind, Kind::Event);
    assert_eq!(sent[0].frame, json!({"action": "room_event", "payload": {"text": "x"}}));
    assert_eq!(sent[0].topic, Some(TopicStamp { name: "room:Weekly Sync".into(), seq: Some(9) }));
}

#[tokio::test]
async fn subscriptions_are_limited_per_connection() {
    let settings = Settings::default().max_subscriptions(2);
    let mut client = TestClient::builder().settings(settings.clone()).connect::<HubConsumer>();
    client.subscribe("presence:a").await.expect("first");
    client.subscribe("presence:b").await.expect("second");
    let refused =
        exchange(&mut client, json!({"topic": "presence:c", "ref": "3", "action": "subscribe"})).await;
    assert_eq!(
        refused,
        json!({"action": "error", "payload": {"reason": "too_many_subscriptions", "detail": "Too many subscriptions: at most 2 per connection"}, "version": 1, "topic": "presence:c", "ref": "3"})
    );
    assert_eq!(settings.stats().snapshot().subscription_limit, 1);
    // Resubscribing to a topic held is no new subscription; leaving one makes room.
    client.subscribe("presence:a").await.expect("held already");
    client.unsubscribe("presence:b").await.expect("left");
    client.subscribe("presence:c").await.expect("room again");
}

#[tokio::test]
async fn every_subscription_is_left_when_the_connection_ends() {
    let memory = InMemoryLayer::new();
    let layers = Layers::new(memory.clone());
    let mut client = hub(&layers);
    for room in ["left-1", "left-2"] {
        client.subscribe(&format!("room:{room}")).await.expect("subscribed");
        client.receive_topic_message::<RoomStateMessage>(&format!("room:{room}")).await.expect("state");
    }
    client.unsubscribe("room:left-1").await.expect("left");
    assert_eq!(memory.members("RoomTopic.room-left-2").len(), 1);
    client.close(1000).await.expect("close");
    // The stream ends once the connection is torn down, hooks and groups included.
    let ended = client.wait_closed().await;
    assert!(matches!(ended, Ok(_) | Err(TestError::Ended)), "{ended:?}");
    assert!(memory.members("RoomTopic.room-left-2").is_empty(), "the group was left");
    let left = LEFT.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert!(left.contains(&"room:left-1".to_owned()) && left.contains(&"room:left-2".to_owned()), "{left:?}");
}

#[tokio::test]
async fn a_standalone_route_subscribes_from_its_path() {
    let mut client = TestClient::builder().path_param("room", "lobby").connect::<Standalone<RoomTopic>>();
    assert_eq!(
        client.receive_json().await.expect("ack"),
        json!({"action": "subscribed", "payload": null, "version": 1, "topic": "room:lobby"})
    );
    assert_eq!(client.receive_json().await.expect("state")["topic"], "room:lobby");
    // No envelope needed; the answer still carries the topic.
    let reply = exchange(&mut client, json!({"action": "post", "payload": {"text": "hi"}})).await;
    assert_eq!(
        reply,
        json!({"action": "echo_reply", "payload": {"text": "hi", "count": 0}, "version": 1, "topic": "room:lobby"})
    );
}

#[tokio::test]
async fn a_standalone_route_that_authorize_refuses_is_closed_with_4403() {
    let mut client = TestClient::builder().path_param("room", "secret").connect::<Standalone<RoomTopic>>();
    assert_eq!(client.receive_json().await.expect("error")["payload"]["reason"], "unauthorized");
    assert_eq!(client.wait_closed().await.expect("closed"), (4403, "Unauthorized".to_owned()));
}

#[tokio::test]
async fn a_topic_reads_what_the_consumer_learned_about_the_connection() {
    let mut guest = hub(&Layers::default());
    let refused = guest.subscribe("room:staff").await;
    assert!(
        matches!(&refused, Err(TestError::Unexpected(frame)) if frame.contains("unauthorized")),
        "{refused:?}"
    );
    let mut admin = TestClient::builder().query_param("user", "admin").connect::<HubConsumer>();
    admin.subscribe("room:staff").await.expect("the admin may");
}

#[tokio::test]
async fn a_consumer_without_topics_knows_none() {
    let mut client = TestClient::connect::<common::crowd::Crowd>();
    client.receive_nothing().await.expect("ready");
    let refused = client.subscribe("room:lobby").await;
    assert!(
        matches!(&refused, Err(TestError::Unexpected(frame)) if frame.contains("unknown_topic")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn over_a_real_socket_a_refused_standalone_route_closes_after_its_error() {
    let app = axum::Router::new()
        .route("/ws/hub", HubConsumer::route())
        .route("/ws/rooms/{room}", RoomTopic::route());
    let addr = common::serve(app).await;
    let mut refused = common::Client::connect(addr, "/ws/rooms/secret").await;
    assert_eq!(refused.recv().await["payload"]["reason"], "unauthorized");
    assert_eq!(refused.recv_close().await.0, 4403);

    let mut hub = common::Client::connect(addr, "/ws/hub").await;
    hub.send_json(json!({"topic": "room:lobby", "ref": "1", "action": "subscribe"})).await;
    assert_eq!(hub.recv().await["action"], "subscribed");
    assert_eq!(hub.recv().await["action"], "room_state");
    let mut room = common::Client::connect(addr, "/ws/rooms/lobby").await;
    assert_eq!(room.recv().await["action"], "subscribed");
    assert_eq!(room.recv().await["action"], "room_state");
}

#[tokio::test]
async fn subscribe_and_leave_bursts_leave_nothing_behind() {
    let memory = InMemoryLayer::new();
    let layers = Layers::new(memory.clone());
    let settings = Settings::default().no_inbound_rate().layers(layers.clone());
    let mut client = TestClient::builder().settings(settings.clone()).connect::<HubConsumer>();
    // Subscribe to 500 rooms and leave them again, all sent at once, twice over.
    for _ in 0..2 {
        for n in 0..500 {
            let topic = format!("presence:{n}");
            client.send_json(&json!({"topic": topic, "action": "subscribe"})).await.expect("send");
            client.send_json(&json!({"topic": topic, "action": "unsubscribe"})).await.expect("send");
        }
        for n in 0..500 {
            let topic = format!("presence:{n}");
            let acks = [client.receive_json().await.expect("ack"), client.receive_json().await.expect("ack")];
            assert_eq!([&acks[0]["action"], &acks[1]["action"]], ["subscribed", "unsubscribed"]);
            assert_eq!(acks[1]["topic"], topic);
        }
    }
    // Past the limit, every subscribe is refused and nothing is kept.
    for n in 0..150 {
        client
            .send_json(&json!({"topic": format!("presence:x{n}"), "action": "subscribe"}))
            .await
            .expect("send");
    }
    let answers: Vec<Value> = {
        let mut answers = Vec::new();
        for _ in 0..150 {
            answers.push(client.receive_json().await.expect("answer"));
        }
        answers
    };
    assert_eq!(answers.iter().filter(|a| a["action"] == "subscribed").count(), 100);
    assert_eq!(answers.iter().filter(|a| a["payload"]["reason"] == "too_many_subscriptions").count(), 50);
    assert_eq!(settings.stats().snapshot().subscription_limit, 50);
    for n in (0..500).step_by(50) {
        assert!(memory.members(&format!("PresenceTopic.presence-{n}")).is_empty(), "presence:{n} was left");
    }
    assert!(
        memory.members("PresenceTopic.presence-x120").is_empty(),
        "a refused subscription joined nothing"
    );
    assert_eq!(memory.members("PresenceTopic.presence-x99").len(), 1);
}
