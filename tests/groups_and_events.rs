//! Groups, broadcasts, channel layers and server-side events, in-process.

mod common;

use chanx::layer::{Kind, Layers, Overflow};
use chanx::prelude::*;
use chanx::testing::{RecordingLayer, Target, TestClient, TestError};
use common::crowd::{Announcement, Crowd, Join, Nudge, Say, say, shout};
use serde_json::{Value, json};

/// An event nobody handles.
#[message(action = "stray")]
pub struct Stray;

fn crowd(layers: &Layers, completion: bool) -> TestClient {
    TestClient::builder().layers(layers.clone()).send_completion(completion).connect::<Crowd>()
}

#[tokio::test]
async fn broadcast_reaches_the_group_and_the_sender_after_its_complete() {
    let layers = Layers::default();
    let mut a = crowd(&layers, true);
    let mut b = crowd(&layers, true);
    a.receive_nothing().await.expect("a is ready");
    b.receive_nothing().await.expect("b is ready");
    a.send_json(&shout(&[], false, "hi")).await.expect("send");
    let frames = [a.receive_json().await, a.receive_json().await, a.receive_json().await];
    let frames: Vec<Value> = frames.into_iter().map(|f| f.expect("frame")).collect();
    assert_eq!(
        frames,
        vec![
            json!({"action": "complete", "payload": null}),
            say("hi"),
            json!({"action": "group_complete", "payload": null})
        ]
    );
    assert_eq!(b.receive_json().await.expect("copy"), say("hi"));
    assert_eq!(b.receive_json().await.expect("done")["action"], "group_complete");
    a.receive_nothing().await.expect("exactly one copy");
    b.receive_nothing().await.expect("exactly one copy");
}

#[tokio::test]
async fn exclude_current_skips_only_the_sender() {
    let layers = Layers::default();
    let mut a = crowd(&layers, false);
    let mut b = crowd(&layers, false);
    b.receive_nothing().await.expect("b is in the group");
    a.send_json(&shout(&[], true, "not me")).await.expect("send");
    assert_eq!(b.receive_json().await.expect("copy"), say("not me"));
    a.receive_nothing().await.expect("the sender got no copy");
}

#[tokio::test]
async fn run_time_join_and_leave() {
    let layers = Layers::default();
    let mut a = crowd(&layers, false);
    let mut b = crowd(&layers, false);
    b.send_json(&json!({"action": "join", "payload": "vip"})).await.expect("join");
    b.receive_nothing().await.expect("joined");
    a.send_json(&shout(&["vip"], false, "to vip")).await.expect("send");
    assert_eq!(b.receive_json().await.expect("vip copy"), say("to vip"));
    // The sender is not in `vip`, so it gets no copy.
    a.receive_nothing().await.expect("no copy for a non-member");

    b.send_json(&json!({"action": "leave", "payload": "vip"})).await.expect("leave");
    b.receive_nothing().await.expect("left");
    a.send_json(&shout(&["vip", "lobby"], false, "both")).await.expect("send");
    assert_eq!(b.receive_json().await.expect("lobby copy"), say("both"));
    b.receive_nothing().await.expect("one copy although two groups were named");
}

#[tokio::test]
async fn groups_are_left_on_disconnect() {
    let layer = chanx::layer::InMemoryLayer::new();
    let layers = Layers::new(layer.clone());
    let mut a = crowd(&layers, false);
    let mut b = crowd(&layers, false);
    a.receive_nothing().await.expect("a joined the lobby");
    b.send_json(&json!({"action": "join", "payload": "vip"})).await.expect("join");
    b.receive_nothing().await.expect("joined");
    let mut both = vec![a.channel_name().to_owned(), b.channel_name().to_owned()];
    both.sort_unstable();
    assert_eq!(layer.members("lobby"), both);
    assert_eq!(layer.members("vip"), [b.channel_name()]);
    // The connection has ended once its queue closes, after it left every group.
    b.close(1000).await.expect("close");
    assert!(matches!(b.receive_json().await, Err(TestError::Ended)));
    assert_eq!(layer.members("lobby"), [a.channel_name()]);
    assert!(layer.members("vip").is_empty());
}

#[tokio::test]
async fn a_thousand_members_each_get_one_copy() {
    let layers = Layers::default();
    let mut clients: Vec<TestClient> = (0..1000).map(|_| crowd(&layers, false)).collect();
    for client in &mut clients {
        client.receive_nothing().await.expect("joined");
    }
    layers.default_layer().broadcast_message(&Say("all".into())).groups(["lobby"]).await.expect("broadcast");
    for client in &mut clients {
        assert_eq!(client.receive_json().await.expect("copy"), say("all"));
        client.receive_nothing().await.expect("exactly once");
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_the_others_keep_receiving() {
    let layers = Layers::default();
    let settings = chanx::Settings::default()
        .layers(layers.clone())
        .outbound_buffer(8 * 32)
        .close_timeout(std::time::Duration::from_millis(100));
    let mut readers: Vec<TestClient> =
        (0..3).map(|_| TestClient::builder().settings(settings.clone()).connect::<Crowd>()).collect();
    let mut stalled = TestClient::builder().settings(settings.clone()).connect::<Crowd>();
    for client in readers.iter_mut().chain([&mut stalled]) {
        client.receive_nothing().await.expect("joined");
    }
    let handle = layers.default_layer();
    for i in 0..100 {
        handle.broadcast_message(&Say(i.to_string())).groups(["lobby"]).await.expect("broadcast never waits");
        for reader in &mut readers {
            assert_eq!(reader.receive_json().await.expect("in order"), say(&i.to_string()));
        }
    }
    // The stalled client gets what fitted, then the connection ends.
    let ended = loop {
        match stalled.receive_json().await {
            Ok(frame) => assert_eq!(frame["action"], "say"),
            Err(error) => break error,
        }
    };
    assert!(matches!(ended, TestError::Ended | TestError::Closed { code: 1013, .. }), "{ended}");
}

#[tokio::test]
async fn with_the_drop_policy_a_slow_client_misses_messages_but_stays() {
    let layers = Layers::default();
    let settings =
        chanx::Settings::default().layers(layers.clone()).outbound_buffer(4 * 32).overflow(Overflow::Drop);
    let mut slow = TestClient::builder().settings(settings).connect::<Crowd>();
    slow.receive_nothing().await.expect("joined");
    let handle = layers.default_layer();
    for i in 0..50 {
        handle.broadcast_message(&Say(i.to_string())).groups(["lobby"]).await.expect("broadcast");
    }
    // Read what was kept, in order; each failed barrier hands over one kept frame.
    let mut kept = Vec::new();
    loop {
        match slow.receive_nothing().await {
            Ok(()) => break,
            Err(TestError::Unexpected(frame)) => kept.push(frame),
            Err(other) => panic!("the connection must stay open: {other}"),
        }
    }
    let expected: Vec<String> = (0..kept.len()).map(|i| say(&i.to_string()).to_string()).collect();
    assert_eq!(kept, expected, "a prefix, in order");
    assert!(!kept.is_empty() && kept.len() < 50, "some kept, the rest dropped: {}", kept.len());
    slow.send_json(&json!({"action": "join", "payload": "x"})).await.expect("still open");
    slow.receive_nothing().await.expect("alive");
}

#[tokio::test]
async fn events_run_their_handler_then_event_complete() {
    let layers = Layers::default();
    let mut client = crowd(&layers, true);
    // The barrier also proves that the connection is registered and in its groups.
    client.receive_nothing().await.expect("ready");
    let handle = layers.default_layer();
    handle.send_event(client.channel_name(), &Nudge("one".into())).await.expect("send event");
    assert_eq!(client.receive_json().await.expect("reply"), say("nudged: one"));
    assert_eq!(client.receive_json().await.expect("done")["action"], "event_complete");

    handle.broadcast_event(&Nudge("all".into())).groups(["lobby"]).await.expect("broadcast event");
    assert_eq!(client.receive_all_messages("say").await.expect("reply"), vec![say("nudged: all")]);
}

#[tokio::test]
async fn passthrough_events_reach_the_client_unchanged() {
    let layers = Layers::default();
    let mut client = crowd(&layers, false);
    client.receive_nothing().await.expect("ready");
    layers
        .default_layer()
        .send_event(client.channel_name(), &Announcement("hear ye".into()))
        .await
        .expect("send");
    assert_eq!(
        client.receive_json().await.expect("forwarded"),
        json!({"action": "announcement", "payload": "hear ye"})
    );
}

#[tokio::test]
async fn unhandled_events_and_unknown_channels_send_nothing() {
    let layers = Layers::default();
    let mut client = crowd(&layers, true);
    client.receive_nothing().await.expect("ready");
    let handle = layers.default_layer();
    handle.send_event(client.channel_name(), &Stray).await.expect("dropped, not an error");
    client.receive_nothing().await.expect("nothing for an unhandled event, not even event_complete");
    handle
        .send_event("chanx.nobody!0", &Nudge("lost".into()))
        .await
        .expect("an unknown name is not an error");
    client.receive_nothing().await.expect("nothing reached anyone else");
    handle.send_event(client.channel_name(), &Nudge("still".into())).await.expect("send");
    assert_eq!(client.receive_json().await.expect("alive"), say("nudged: still"));
}

#[tokio::test]
async fn a_recording_layer_captures_broadcasts_instead_of_sending_them() {
    let recorder = RecordingLayer::new();
    let layers = Layers::new(recorder.clone());
    let mut a = crowd(&layers, false);
    let mut b = crowd(&layers, false);
    b.receive_nothing().await.expect("ready");
    a.send_json(&shout(&[], true, "captured")).await.expect("send");
    a.receive_nothing().await.expect("handled");
    b.receive_nothing().await.expect("nothing delivered");
    let sent = recorder.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, Target::Groups(vec!["lobby".into()]));
    assert_eq!(sent[0].kind, Kind::Broadcast);
    assert_eq!(sent[0].frame, say("captured"));
}

#[tokio::test]
async fn an_unknown_layer_alias_closes_with_1011() {
    #[derive(Default)]
    pub struct Misconfigured;

    #[channel(layer = "missing")]
    impl Misconfigured {
        #[ws_handler]
        async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
            PongMessage
        }
    }

    impl Consumer for Misconfigured {}

    let mut client = TestClient::connect::<Misconfigured>();
    assert_eq!(client.wait_closed().await.expect("closed").0, 1011);
}

#[tokio::test]
async fn served_without_settings_connections_share_the_default_layer() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let addr = common::serve(axum::Router::new().route("/ws/crowd", Crowd::route())).await;
    let url = format!("ws://{addr}/ws/crowd");
    let (mut a, _) = tokio_tungstenite::connect_async(&url).await.expect("connect a");
    let (mut b, _) = tokio_tungstenite::connect_async(&url).await.expect("connect b");
    // Each joins `ready`; the error answering the next (unknown) frame proves it did.
    for socket in [&mut a, &mut b] {
        socket.send(Ws::text(r#"{"action":"join","payload":"ready"}"#)).await.expect("send");
        socket.send(Ws::text(r#"{"action":"barrier"}"#)).await.expect("send");
        let reply = tokio::time::timeout(common::WAIT, socket.next()).await.expect("in time");
        assert!(matches!(reply, Some(Ok(Ws::Text(t))) if t.contains("union_tag_invalid")));
    }
    a.send(Ws::text(shout(&["ready"], true, "across").to_string())).await.expect("send");
    let frame = tokio::time::timeout(common::WAIT, b.next()).await.expect("in time");
    let Some(Ok(Ws::Text(text))) = frame else { panic!("expected a text frame, got {frame:?}") };
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), say("across"));
}

/// A consumer on the named layer `side`, in the static group `lobby` there.
#[derive(Default)]
pub struct SideCrowd;

#[channel(groups("lobby"), layer = "side")]
impl SideCrowd {
    #[ws_handler]
    async fn join(&mut self, cx: &mut Context, msg: Join) -> chanx::Result<()> {
        cx.join_group(msg.0).await
    }
}

impl Consumer for SideCrowd {}

#[tokio::test]
async fn a_consumer_uses_the_layer_its_channel_names() {
    let layers = Layers::default().with("side", chanx::layer::InMemoryLayer::new());
    let mut side = TestClient::builder().layers(layers.clone()).connect::<SideCrowd>();
    let mut main = crowd(&layers, false);
    side.receive_nothing().await.expect("side ready");
    main.receive_nothing().await.expect("main ready");
    let side_layer = layers.get(Some("side")).expect("registered");
    side_layer.broadcast_message(&Say("side".into())).groups(["lobby"]).await.expect("sent");
    assert_eq!(side.receive_json().await.expect("side copy"), say("side"));
    main.receive_nothing().await.expect("the default layer's lobby is another group");
    layers.default_layer().broadcast_message(&Say("main".into())).groups(["lobby"]).await.expect("sent");
    assert_eq!(main.receive_json().await.expect("main copy"), say("main"));
    side.receive_nothing().await.expect("nothing crosses layers");
}

#[tokio::test]
async fn a_burst_of_events_within_the_queue_is_delivered_whole() {
    let layers = Layers::default();
    let mut client = crowd(&layers, false);
    client.receive_nothing().await.expect("ready");
    let handle = layers.default_layer();
    // A worker reporting progress in a tight loop, never yielding in between.
    for i in 0..200 {
        handle.send_event(client.channel_name(), &Nudge(i.to_string())).await.expect("send");
    }
    for i in 0..200 {
        assert_eq!(client.receive_json().await.expect("every reply"), say(&format!("nudged: {i}")));
    }
}

#[tokio::test]
async fn an_event_queued_before_a_client_frame_is_answered_first() {
    let layers = Layers::default();
    let mut client = crowd(&layers, false);
    client.receive_nothing().await.expect("ready");
    for round in 0..20 {
        layers
            .default_layer()
            .send_event(client.channel_name(), &Nudge(round.to_string()))
            .await
            .expect("send");
        // The barrier comes after the event, so the event's reply must come before it.
        assert!(matches!(client.receive_nothing().await, Err(TestError::Unexpected(_))), "round {round}");
        client.receive_nothing().await.expect("nothing more");
    }
}

/// Welcomes with more than a non-reading client can take, and says goodbye on the way out.
#[derive(Default)]
pub struct Chatty;

#[channel]
impl Chatty {
    #[ws_handler]
    async fn say(&mut self, msg: Say) -> Say {
        msg
    }
}

impl Consumer for Chatty {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        for _ in 0..200 {
            cx.send_message(Say("x".repeat(64 * 1024))).await?;
        }
        Ok(())
    }

    async fn on_disconnect(&mut self, cx: &mut Context, _reason: &Disconnect) {
        let _ = cx.send_message(Say("goodbye".into())).await;
    }
}

#[tokio::test]
async fn shutdown_ends_hooks_that_wait_on_a_client_that_does_not_read() {
    let shutdown = chanx::Shutdown::new();
    let settings = chanx::Settings::default()
        .shutdown(shutdown.clone())
        .outbound_buffer(2 * 64 * 1024)
        .close_timeout(std::time::Duration::from_millis(100));
    let app = axum::Router::new().route("/ws/chatty", Chatty::route()).layer(axum::Extension(settings));
    let addr = common::serve(app).await;
    // Connected, never read: the welcome fills the socket and the queue.
    let (_client, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/chatty")).await.expect("connect");
    shutdown.trigger();
    tokio::time::timeout(common::WAIT, shutdown.connections_closed())
        .await
        .expect("the connection ends although its hooks wait on a client that does not read");
}

/// General channels of the in-memory layer: queues that workers receive from, each
/// message once, bounded by a capacity and an expiry.
#[tokio::test]
async fn general_channels_queue_work_for_workers() {
    use chanx::layer::{InMemoryLayer, LayerError};
    use std::time::Duration;

    let handle = Layers::new(InMemoryLayer::new().capacity(3)).default_layer();
    for text in ["one", "two", "three"] {
        handle.send_event("jobs", &Nudge(text.into())).await.expect("room");
    }
    let full = handle.send_event("jobs", &Nudge("four".into())).await;
    assert!(matches!(&full, Err(LayerError::ChannelFull { channel }) if channel == "jobs"), "{full:?}");

    // Two workers: each message reaches one of them, in order.
    let (first, second) =
        tokio::join!(handle.receive_event::<Nudge>("jobs"), handle.receive_event::<Nudge>("jobs"));
    let mut got = [first.expect("a job").0, second.expect("a job").0];
    got.sort();
    assert_eq!(got, ["one", "two"]);
    let wrong = handle.receive_event::<Say>("jobs").await;
    assert!(matches!(&wrong, Err(LayerError::Decode { expected: "say", .. })), "{:?}", wrong.err());

    // A worker waiting before the message arrives gets it.
    let waiting = tokio::spawn({
        let handle = handle.clone();
        async move { handle.receive_event::<Nudge>("later").await }
    });
    handle.send_event("later", &Nudge("late".into())).await.expect("room");
    assert_eq!(waiting.await.expect("joins").expect("a job").0, "late");

    // A byte budget bounds the channel whatever the number of messages: one message
    // larger than the budget goes into an empty channel, alone.
    let bounded = Layers::new(InMemoryLayer::new().max_bytes(100)).default_layer();
    bounded.send_event("jobs", &Nudge("a".repeat(60))).await.expect("room");
    let over = bounded.send_event("jobs", &Nudge("b".repeat(60))).await;
    assert!(matches!(&over, Err(LayerError::ChannelFull { .. })), "{over:?}");
    assert_eq!(bounded.receive_event::<Nudge>("jobs").await.expect("a job").0.len(), 60);
    bounded.send_event("jobs", &Nudge("c".repeat(500))).await.expect("alone in an empty channel");

    // Expired messages are dropped unread, and free their room.
    let expiring = Layers::new(InMemoryLayer::new().capacity(1).expiry(Duration::ZERO)).default_layer();
    expiring.send_event("jobs", &Nudge("stale".into())).await.expect("room");
    expiring.send_event("jobs", &Nudge("stale too".into())).await.expect("the stale one expired");
    let nothing =
        tokio::time::timeout(Duration::from_millis(50), expiring.receive_event::<Nudge>("jobs")).await;
    assert!(nothing.is_err(), "nothing left to receive");
}
