//! chanx and a Python Chanx app side by side on one Redis layer, over real WebSockets.
//!
//! A chanx server (the test consumer `Crowd`, in-process on a loopback socket) and a
//! Chanx 2.13 app speaking the same protocol (`tests/interop/python/app.py`: FastAPI,
//! fast-channels, uvicorn, in a process of its own) share a prefix on `REDIS_URL`
//! (default `redis://127.0.0.1:6379`). Real WebSocket clients of both check that group
//! broadcasts (with `exclude_current`) and events cross between them both ways, and
//! that a Python worker can send an event to a chanx connection by its channel name;
//! and that topic pushes (`RoomTopic`, `room:{room}`, on both apps' `/ws/hub`) reach the
//! subscribers of both, with their `topic` and `seq`, whichever side pushes.
//!
//! Ignored unless run with `--include-ignored`: they need Redis and `CHANX_PYTHON`, a
//! Python with `chanx[fast-channels]==2.13.0`, `fast-channels[redis]==1.1.0` and
//! uvicorn (`.ci/run` makes one). Each test uses a prefix of its own.
//!
//! Every test takes the layer [`Kind`]: both apps use the same kind of Redis layer.

mod common;

use std::net::SocketAddr;

use axum::{Extension, Router};
use chanx::layer::redis::{RedisPubSubLayer, RedisQueueLayer};
use chanx::layer::{LayerError, Layers};
use chanx::{Route, Settings};
use common::crowd::{Crowd, Hub, Nudge, RoomTopic, room_said, say, shout};
use common::python::{PYTHON_WAIT, PythonApp, PythonLayer, python_worker};
use common::redis::{redis_url, unique_prefix};
use common::{Client, serve};
use serde_json::json;

/// The kind of Redis layer both apps use.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// chanx's `RedisPubSubLayer`; fast-channels' `RedisPubSubChannelLayer`.
    PubSub,
    /// chanx's `RedisQueueLayer`; fast-channels' `RedisChannelLayer`.
    Queue,
}

impl Kind {
    /// The `--layer` of app.py.
    fn python_name(self) -> &'static str {
        match self {
            Kind::PubSub => "pubsub",
            Kind::Queue => "queue",
        }
    }

    /// chanx's layer of this kind under `prefix`.
    async fn rust_layers(self, prefix: &str) -> Layers {
        fn failed<T>(e: LayerError) -> T {
            panic!("needs Redis at REDIS_URL ({}): {e}", redis_url())
        }
        match self {
            Kind::PubSub => Layers::new(
                RedisPubSubLayer::builder()
                    .host(redis_url())
                    .prefix(prefix)
                    .connect()
                    .await
                    .unwrap_or_else(failed),
            ),
            Kind::Queue => Layers::new(
                RedisQueueLayer::builder()
                    .host(redis_url())
                    .prefix(prefix)
                    .connect()
                    .await
                    .unwrap_or_else(failed),
            ),
        }
    }
}

/// Both apps on one layer kind and prefix.
struct Apps {
    /// The chanx server, serving `Crowd` at `/ws/crowd` and `Hub` at `/ws/hub`.
    rust: SocketAddr,
    /// The chanx server's layers, for sending from "a worker" in its process.
    layers: Layers,
    python: PythonApp,
    kind: Kind,
    prefix: String,
}

impl Apps {
    async fn start(kind: Kind) -> Apps {
        let prefix = unique_prefix();
        let layers = kind.rust_layers(&prefix).await;
        let app = Router::new()
            .route("/ws/crowd", Crowd::route())
            .route("/ws/hub", Hub::route())
            .layer(Extension(Settings::default().layers(layers.clone())));
        let rust = serve(app).await;
        let python = PythonApp::start(PythonLayer { kind: kind.python_name(), prefix: &prefix }).await;
        Apps { rust, layers, python, kind, prefix }
    }

    fn python_layer(&self) -> PythonLayer<'_> {
        PythonLayer { kind: self.kind.python_name(), prefix: &self.prefix }
    }

    /// A connection to the chanx app and its channel name.
    async fn rust_member(&self) -> (Client, String) {
        member(self.rust).await
    }

    /// A connection to the Python app and its channel name.
    async fn python_member(&self) -> (Client, String) {
        member(self.python.addr).await
    }

    /// A connection to the chanx app's hub, subscribed to `topic`.
    async fn rust_subscriber(&self, topic: &str) -> Client {
        subscriber(self.rust, topic).await
    }

    /// A connection to the Python app's hub, subscribed to `topic`.
    async fn python_subscriber(&self, topic: &str) -> Client {
        subscriber(self.python.addr, topic).await
    }

    /// Pushes `Nudge(text)` to `topic`'s subscribers from the chanx app's process.
    async fn rust_push(&self, topic: &str, text: &str, seq: Option<u64>) {
        let layer = self.layers.default_layer();
        let push = layer.topic::<RoomTopic>(topic).broadcast(&Nudge(text.into()));
        match seq {
            Some(seq) => push.seq(seq).await,
            None => push.await,
        }
        .expect("topic broadcast");
    }

    /// Pushes `Nudge(text)` to `topic`'s subscribers with Python Chanx's
    /// `RoomTopic.broadcast`, from a worker process.
    async fn python_push(&self, topic: &str, text: &str, seq: Option<u64>) {
        let seq = seq.map(|seq| seq.to_string());
        let mut args = vec!["topic-broadcast", topic, text];
        if let Some(seq) = &seq {
            args.extend(["--seq", seq]);
        }
        python_worker(self.python_layer(), &args).await;
    }
}

/// Connects to `/ws/crowd` (waiting for the app to answer) and asks the connection's
/// name, which also proves it is in the lobby (both apps answer after joining it).
async fn member(addr: SocketAddr) -> (Client, String) {
    let mut client = tokio::time::timeout(PYTHON_WAIT, Client::connect(addr, "/ws/crowd"))
        .await
        .unwrap_or_else(|_| panic!("{addr} answers within {PYTHON_WAIT:?}"));
    client.send_json(json!({"action": "whoami"})).await;
    let reply = client.recv().await;
    assert_eq!(reply["action"], "you_are", "{reply}");
    let name = reply["payload"].as_str().expect("a channel name").to_owned();
    (client, name)
}

/// Connects to `/ws/hub` (waiting for the app to answer) and subscribes to `topic`: the
/// acknowledgement, the same from both apps, comes once the topic's group is joined.
async fn subscriber(addr: SocketAddr, topic: &str) -> Client {
    let mut client = tokio::time::timeout(PYTHON_WAIT, Client::connect(addr, "/ws/hub"))
        .await
        .unwrap_or_else(|_| panic!("{addr} answers within {PYTHON_WAIT:?}"));
    client.send_json(json!({"topic": topic, "ref": "sub", "action": "subscribe"})).await;
    assert_eq!(
        client.recv().await,
        json!({"action": "subscribed", "payload": null, "version": 1, "topic": topic, "ref": "sub"})
    );
    client
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn pubsub_broadcasts_cross_both_ways_without_the_sender() {
    broadcasts_cross_both_ways_without_the_sender(Kind::PubSub).await;
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn pubsub_events_cross_both_ways() {
    events_cross_both_ways(Kind::PubSub).await;
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn pubsub_topic_pushes_cross_both_ways() {
    topic_pushes_cross_both_ways(Kind::PubSub).await;
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn pubsub_a_topic_push_reaches_the_subscribers_of_both_once() {
    a_topic_push_reaches_the_subscribers_of_both_once(Kind::PubSub).await;
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn queue_broadcasts_cross_both_ways_without_the_sender() {
    broadcasts_cross_both_ways_without_the_sender(Kind::Queue).await;
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn queue_events_cross_both_ways() {
    events_cross_both_ways(Kind::Queue).await;
}

/// Two members on each side of one group: a broadcast with `exclude_current` from either
/// side reaches the three others, not its sender.
async fn broadcasts_cross_both_ways_without_the_sender(kind: Kind) {
    let apps = Apps::start(kind).await;
    let (mut r1, _) = apps.rust_member().await;
    let (mut r2, _) = apps.rust_member().await;
    let (mut p1, _) = apps.python_member().await;
    let (mut p2, _) = apps.python_member().await;

    r1.send_json(shout(&[], true, "from rust")).await;
    for client in [&mut r2, &mut p1, &mut p2] {
        assert_eq!(client.recv().await, say("from rust"));
    }
    p1.send_json(shout(&["lobby"], true, "from python")).await;
    for client in [&mut r1, &mut r2, &mut p2] {
        assert_eq!(client.recv().await, say("from python"));
    }

    // A marker through the same group after both: had a sender got its own copy, it
    // would come first.
    r2.send_json(shout(&[], false, "marker")).await;
    for client in [&mut r1, &mut r2, &mut p1, &mut p2] {
        assert_eq!(client.recv().await, say("marker"));
    }
}

/// Events by channel name and by group, from a worker of either side, reach the event
/// handlers of the other (`nudge` answers `nudged: ...`); a chanx channel name is one
/// Chanx's `send_event` takes.
async fn events_cross_both_ways(kind: Kind) {
    let apps = Apps::start(kind).await;
    let (mut rust, rust_name) = apps.rust_member().await;
    let (mut python, python_name) = apps.python_member().await;

    // chanx to the Python app's handler.
    let layer = apps.layers.default_layer();
    layer.send_event(&python_name, &Nudge("rust to python".into())).await.expect("send_event");
    assert_eq!(python.recv().await, say("nudged: rust to python"));
    layer.broadcast_event(&Nudge("rust to lobby".into())).groups(["lobby"]).await.expect("broadcast_event");
    assert_eq!(rust.recv().await, say("nudged: rust to lobby"));
    assert_eq!(python.recv().await, say("nudged: rust to lobby"));

    // Python Chanx (CrowdConsumer.send_event, .broadcast_event) to chanx's handler.
    python_worker(apps.python_layer(), &["send-event", &rust_name, "python to rust"]).await;
    assert_eq!(rust.recv().await, say("nudged: python to rust"));
    python_worker(apps.python_layer(), &["broadcast-event", "lobby", "python to lobby"]).await;
    assert_eq!(rust.recv().await, say("nudged: python to lobby"));
    assert_eq!(python.recv().await, say("nudged: python to lobby"));

    // Nothing else came: the next frame of each is a later broadcast.
    rust.send_json(shout(&[], false, "marker")).await;
    assert_eq!(rust.recv().await, say("marker"));
    assert_eq!(python.recv().await, say("marker"));
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn queue_topic_pushes_cross_both_ways() {
    topic_pushes_cross_both_ways(Kind::Queue).await;
}

#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn queue_a_topic_push_reaches_the_subscribers_of_both_once() {
    a_topic_push_reaches_the_subscribers_of_both_once(Kind::Queue).await;
}

/// chanx's `layer.topic::<RoomTopic>(..).broadcast(..).seq(5)` reaches a subscriber of
/// the Python app, and Python Chanx's `RoomTopic.broadcast(.., seq=7)` one of the chanx
/// app, each through the other's topic event handler, with `topic` and `seq`; neither
/// reaches the subscriber of another topic.
async fn topic_pushes_cross_both_ways(kind: Kind) {
    let apps = Apps::start(kind).await;
    let mut python = apps.python_subscriber("room:lobby").await;
    let mut rust = apps.rust_subscriber("room:hall").await;

    apps.rust_push("room:lobby", "rust to python", Some(5)).await;
    assert_eq!(python.recv().await, room_said("room:lobby", "rust to python", Some(5)));
    apps.python_push("room:hall", "python to rust", Some(7)).await;
    assert_eq!(rust.recv().await, room_said("room:hall", "python to rust", Some(7)));

    // Nothing else came: the next frame of each is a later push to its own topic.
    apps.rust_push("room:lobby", "marker", None).await;
    apps.rust_push("room:hall", "marker", None).await;
    assert_eq!(python.recv().await, room_said("room:lobby", "marker", None));
    assert_eq!(rust.recv().await, room_said("room:hall", "marker", None));
}

/// A subscriber on each app, of one topic whose group name both sides shorten with a
/// digest (over 99 characters, some of them replaced): a push from either side reaches
/// each once, a push without `seq` (nil on the layer) as a frame without it.
async fn a_topic_push_reaches_the_subscribers_of_both_once(kind: Kind) {
    let topic = format!("room:{}", "Weekly Sync! ".repeat(10));
    let group = chanx::layer::topic_group("RoomTopic", &topic);
    assert!(group.len() == 99 && group.ends_with(".e581a6abf364"), "{group}");
    let apps = Apps::start(kind).await;
    let mut rust = apps.rust_subscriber(&topic).await;
    let mut python = apps.python_subscriber(&topic).await;

    apps.rust_push(&topic, "from rust", Some(1)).await;
    apps.python_push(&topic, "from python", None).await;
    apps.rust_push(&topic, "marker", Some(2)).await;
    for client in [&mut rust, &mut python] {
        assert_eq!(client.recv().await, room_said(&topic, "from rust", Some(1)));
        assert_eq!(client.recv().await, room_said(&topic, "from python", None));
        assert_eq!(client.recv().await, room_said(&topic, "marker", Some(2)));
    }
}

/// chanx's typed client (feature `client`) against the Python Chanx app: the method
/// `#[channel]` generated for `whoami` gets Python's answer by its `ref`, a broadcast
/// arrives through `next` as the consumer's frame enum, and a topic subscription gets
/// Python's pushes.
#[cfg(feature = "client")]
#[tokio::test]
#[ignore = "needs Redis and Python Chanx: set REDIS_URL and CHANX_PYTHON"]
async fn the_typed_client_talks_to_python_chanx() {
    use chanx::client::{Client, RawFrame};
    use common::crowd::{CrowdFrame, Say, Shout, WhoAmI};

    let apps = Apps::start(Kind::PubSub).await;
    let url = format!("ws://{}/ws/crowd", apps.python.addr);
    let mut ann = Crowd::client(&url).connect().await.expect("connect to Python Chanx");
    let bob = Crowd::client(&url).connect().await.expect("connect to Python Chanx");
    let name = ann.whoami(WhoAmI).await.expect("Python's answer, matched by ref").0;
    assert!(!name.is_empty());
    bob.whoami(WhoAmI).await.expect("bob is in the lobby");
    bob.shout(Shout { payload: (vec![], true, "hi from bob".into()) }).await.expect("sent");
    match ann.next().await {
        Some(Ok(CrowdFrame::Say(Say(text)))) => assert_eq!(text, "hi from bob"),
        other => panic!("expected bob's `say`, got {other:?}"),
    }

    let mut hub = Hub::client(format!("ws://{}/ws/hub", apps.python.addr)).connect().await.expect("connect");
    hub.subscribe("room:typed").await.expect("Python acknowledged the subscription");
    apps.python_push("room:typed", "pushed", Some(9)).await;
    let push: RawFrame = Client::next(&mut hub).await.expect("a frame").expect("the push");
    let frame: serde_json::Value = serde_json::from_str(push.as_str()).expect("JSON");
    assert_eq!(frame, room_said("room:typed", "pushed", Some(9)));
}
