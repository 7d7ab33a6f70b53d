//! The typed client (feature `client`) against chanx servers over real sockets: the
//! methods `#[channel]` generates, requests answered by `ref`, typed frames, errors,
//! topics and reconnection.

#![cfg(feature = "client")]

mod common;

use std::time::Duration;

use chanx::client::{Client, ClientError, RawFrame, Reconnect};
use chanx::layer::Layers;
use chanx::prelude::*;
use chanx::{ErrorPayload, Settings};
use common::crowd::{Announcement, Crowd, CrowdFrame, Join, Nudge, Say, Shout, WhoAmI};

/// A consumer whose handlers fail, answer slowly, or close the connection.
#[derive(Default)]
pub struct Tricky;

/// Asks for a failure.
#[message(action = "fail")]
pub struct Fail;

/// Asks for an answer after this many milliseconds.
#[message(action = "slow")]
pub struct Slow(pub u64);

/// Asks the server to close the connection.
#[message(action = "hang_up")]
pub struct HangUp;

/// A number to double.
#[message(action = "double")]
pub struct Double(pub i64);

/// The double of a number.
#[message(action = "doubled")]
#[derive(Debug)]
pub struct Doubled(pub i64);

/// A number to triple.
#[message(action = "triple")]
pub struct Triple(pub i64);

/// A return type behind an alias: the client still knows its reply.
type Tripled = chanx::Result<Doubled>;

/// A topic with a handler: its typed client's methods carry the topic.
pub struct CounterTopic {
    pub name: String,
}

#[topic(pattern = "counter:{name}")]
impl CounterTopic {
    #[ws_handler]
    async fn double(&mut self, cx: &mut Context, msg: Double) -> Doubled {
        assert_eq!(cx.topic(), Some(format!("counter:{}", self.name).as_str()));
        Doubled(msg.0 * 2)
    }
}

impl Topic for CounterTopic {}

#[channel(topics(common::crowd::RoomTopic, CounterTopic))]
impl Tricky {
    #[ws_handler]
    async fn fail(&mut self, _msg: Fail) -> chanx::Result<Doubled> {
        Err(chanx::Error::ConnectionClosed)
    }

    #[ws_handler]
    async fn slow(&mut self, msg: Slow) -> Doubled {
        tokio::time::sleep(Duration::from_millis(msg.0)).await;
        Doubled(0)
    }

    #[ws_handler]
    async fn double(&mut self, msg: Double) -> Doubled {
        Doubled(msg.0 * 2)
    }

    #[ws_handler]
    async fn triple(&mut self, msg: Triple) -> Tripled {
        Ok(Doubled(msg.0 * 3))
    }

    #[ws_handler]
    async fn hang_up(&mut self, cx: &mut Context, _msg: HangUp) -> chanx::Result<()> {
        cx.close(4000, "bye").await
    }
}

impl Consumer for Tricky {}

/// A profile, with a field of two words.
#[payload]
#[derive(Debug, PartialEq)]
pub struct Profile {
    pub user_name: String,
}

/// Renames the user.
#[message(action = "rename")]
pub struct Rename {
    pub payload: Profile,
}

/// The new profile.
#[message(action = "renamed")]
#[derive(Debug)]
pub struct Renamed {
    pub payload: Profile,
}

/// A consumer that speaks camelCase (`userName` on the wire).
#[derive(Default)]
pub struct Camel;

#[channel(camelize)]
impl Camel {
    #[ws_handler]
    async fn rename(&mut self, msg: Rename) -> Renamed {
        Renamed { payload: msg.payload }
    }
}

impl Consumer for Camel {}

/// Text to shout.
#[message(action = "louder")]
pub struct Louder(pub String);

/// The text, shouted.
#[message(action = "loud")]
#[derive(Debug, PartialEq)]
pub struct Loud(pub String);

/// A mixin: its handlers get a client trait, `LoudenClient`.
#[mixin]
pub trait Louden: Consumer {
    #[ws_handler]
    async fn louder(&mut self, msg: Louder) -> Loud {
        Loud(msg.0.to_uppercase())
    }
}

/// A consumer that includes the mixin.
#[derive(Default)]
pub struct Mixed;

#[channel(mixins(Louden))]
impl Mixed {}

impl Consumer for Mixed {}

impl Louden for Mixed {}

async fn serve(layers: Layers) -> String {
    let app = axum::Router::new()
        .route("/ws/mixed", Mixed::route())
        .route("/ws/crowd", Crowd::route())
        .route("/ws/tricky", Tricky::route())
        .route("/ws/camel", Camel::route())
        .layer(axum::Extension(Settings::default().no_inbound_rate().layers(layers)));
    let addr = common::serve(app).await;
    format!("ws://{addr}")
}

#[tokio::test]
async fn generated_methods_are_typed_by_the_handlers_signatures() {
    let base = serve(Layers::default()).await;
    let mut ann = Crowd::client(format!("{base}/ws/crowd")).connect().await.expect("connect");
    let bob = Crowd::client(format!("{base}/ws/crowd")).connect().await.expect("connect");
    // `whoami` returns `YouAre`: the method returns it, matched by `ref`.
    let name = ann.whoami(WhoAmI).await.expect("an answer").0;
    assert!(name.contains('!'), "a channel name: {name}");
    // `shout` answers nothing: the method sends.
    bob.join(Join("vip".into())).await.expect("sent");
    bob.shout(Shout { payload: (vec![], false, "hello".into()) }).await.expect("sent");
    // What answers no request arrives through `next`, as the consumer's frame enum.
    match ann.next().await {
        Some(Ok(CrowdFrame::Say(Say(text)))) => assert_eq!(text, "hello"),
        other => panic!("expected a `say`, got {other:?}"),
    }
}

#[tokio::test]
async fn frames_from_events_and_passthrough_events_are_typed() {
    let layers = Layers::default();
    let base = serve(layers.clone()).await;
    let mut client = Crowd::client(format!("{base}/ws/crowd")).connect().await.expect("connect");
    let name = client.whoami(WhoAmI).await.expect("an answer").0;
    layers.default_layer().send_event(&name, &Nudge("psst".into())).await.expect("sent");
    layers.default_layer().send_event(&name, &Announcement("news".into())).await.expect("sent");
    assert!(matches!(client.next().await, Some(Ok(CrowdFrame::Say(Say(text)))) if text == "nudged: psst"));
    assert!(
        matches!(client.next().await, Some(Ok(CrowdFrame::Announcement(Announcement(text)))) if text == "news")
    );
}

#[tokio::test]
async fn many_requests_wait_at_once_and_each_gets_its_own_answer() {
    let base = serve(Layers::default()).await;
    let client = Tricky::client(format!("{base}/ws/tricky")).connect().await.expect("connect");
    assert_eq!(client.triple(Triple(2)).await.expect("through an alias").0, 6);
    let answers = futures_util::future::join_all((0..100).map(|n| client.double(Double(n)))).await;
    for (n, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.expect("an answer").0, 2 * n as i64);
    }
}

#[tokio::test]
async fn an_error_frame_answering_a_request_is_a_typed_error() {
    let base = serve(Layers::default()).await;
    let client = Tricky::client(format!("{base}/ws/tricky")).connect().await.expect("connect");
    match client.fail(Fail).await {
        Err(ClientError::Server { action: "fail", payload: ErrorPayload::Failure { detail } }) => {
            assert_eq!(detail, "Failed to process message for fail");
        }
        other => panic!("expected the handler failure, got {other:?}"),
    }
    // A request the server refuses (an action it does not know) fails the same way.
    let refused: Result<Doubled, _> = client.request(&Say("?".into())).await;
    assert!(
        matches!(&refused, Err(ClientError::Server { payload: ErrorPayload::Validation(errors), .. }) if errors[0].kind == "union_tag_invalid"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_request_times_out_and_the_connection_goes_on() {
    let base = serve(Layers::default()).await;
    let client = Tricky::client(format!("{base}/ws/tricky"))
        .request_timeout(Duration::from_millis(50))
        .connect()
        .await
        .expect("connect");
    let late = client.slow(Slow(200)).await;
    assert!(matches!(late, Err(ClientError::Timeout { action: "slow", .. })), "{late:?}");
    // Its late answer is nobody's; the next request gets its own.
    let client = Tricky::client(format!("{base}/ws/tricky")).connect().await.expect("connect");
    assert_eq!(client.double(Double(21)).await.expect("an answer").0, 42);
}

#[tokio::test]
async fn topics_are_subscribed_again_after_a_reconnection() {
    let layers = Layers::default();
    let base = serve(layers.clone()).await;
    let reconnect = Reconnect { initial: Duration::from_millis(10), ..Reconnect::default() };
    let mut client =
        Tricky::client(format!("{base}/ws/tricky")).reconnect(reconnect).connect().await.expect("connect");
    client.subscribe("room:lobby").await.expect("subscribed");
    // The server closes the connection; the client opens a new one and subscribes again.
    client.hang_up(HangUp).await.expect("sent");
    let again: RawFrame = loop {
        match Client::next::<RawFrame>(&mut client).await {
            Some(Ok(frame)) if frame.action().as_deref() == Some("subscribed") => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected the new subscription, got {other:?}"),
        }
    };
    assert_eq!(again.topic().as_deref(), Some("room:lobby"));
    assert_eq!(client.double(Double(4)).await.expect("an answer on the new connection").0, 8);
    let layer = layers.default_layer();
    let topic = layer.topic::<common::crowd::RoomTopic>("room:lobby");
    topic.broadcast(&Nudge("after".into())).seq(3).await.expect("pushed");
    let frame: RawFrame = Client::next(&mut client).await.expect("a frame").expect("a push");
    let expected = common::crowd::room_said("room:lobby", "after", Some(3));
    assert_eq!(serde_json::from_str::<serde_json::Value>(frame.as_str()).expect("JSON"), expected);
    assert_eq!(frame.seq(), Some(3));
}

#[tokio::test]
async fn a_topic_s_typed_client_carries_its_topic() {
    let base = serve(Layers::default()).await;
    let client = Tricky::client(format!("{base}/ws/tricky")).connect().await.expect("connect");
    let counter = CounterTopic::on(&client, "counter:a");
    let early = counter.double(Double(1)).await;
    assert!(
        matches!(&early, Err(ClientError::Server { payload: ErrorPayload::Topic { .. }, .. })),
        "not subscribed yet: {early:?}"
    );
    counter.subscribe().await.expect("subscribed");
    assert_eq!(counter.double(Double(5)).await.expect("the topic's answer").0, 10);
    counter.unsubscribe().await.expect("unsubscribed");
}

#[tokio::test]
async fn without_reconnection_a_close_is_reported_once() {
    let base = serve(Layers::default()).await;
    let mut client = Tricky::client(format!("{base}/ws/tricky")).connect().await.expect("connect");
    client.hang_up(HangUp).await.expect("sent");
    match client.next().await {
        Some(Err(ClientError::Closed { code: Some(4000), reason })) => assert_eq!(reason, "bye"),
        other => panic!("expected the close, got {other:?}"),
    }
    assert!(client.next().await.is_none());
    assert!(matches!(client.double(Double(1)).await, Err(ClientError::Closed { .. })));
}

#[tokio::test]
async fn the_client_of_a_camelizing_consumer_speaks_camel_case() {
    let base = serve(Layers::default()).await;
    let client = Camel::client(format!("{base}/ws/camel")).connect().await.expect("connect");
    let renamed = client.rename(Rename { payload: Profile { user_name: "ann".into() } }).await;
    assert_eq!(renamed.expect("the typed reply").payload, Profile { user_name: "ann".into() });
    // A client that does not know sends snake_case, which the server reads as well, but
    // cannot read the camelCase reply.
    let plain = Client::builder(format!("{base}/ws/camel")).connect().await.expect("connect");
    let unread: Result<Renamed, _> =
        plain.request(&Rename { payload: Profile { user_name: "bob".into() } }).await;
    assert!(matches!(unread, Err(ClientError::Decode { .. })), "{unread:?}");
}

#[tokio::test]
async fn a_mixin_s_handlers_have_typed_methods_too() {
    let base = serve(Layers::default()).await;
    let client = Mixed::client(format!("{base}/ws/mixed")).connect().await.expect("connect");
    assert_eq!(client.louder(Louder("hi".into())).await.expect("the mixin's answer"), Loud("HI".into()));
}

#[tokio::test]
async fn frames_nobody_reads_are_bounded_in_bytes_and_their_loss_reported() {
    let layers = Layers::default();
    let base = serve(layers.clone()).await;
    let mut client = Crowd::client(format!("{base}/ws/crowd")).buffer(300).connect().await.expect("connect");
    let name = client.whoami(WhoAmI).await.expect("an answer").0;
    for n in 0..50 {
        let text = format!("announcement number {n}, long enough to fill the buffer");
        layers.default_layer().send_event(&name, &Announcement(text)).await.expect("sent");
    }
    // Answered after the 50 events were handled and their frames written: the client
    // has routed them all, into its 300 bytes or out.
    client.whoami(WhoAmI).await.expect("the connection goes on, requests too");
    let (mut kept, mut lost) = (0, 0);
    while lost == 0 {
        let next =
            tokio::time::timeout(Duration::from_secs(5), client.next()).await.expect("a frame or a loss");
        match next {
            Some(Ok(CrowdFrame::Announcement(_))) => kept += 1,
            Some(Err(ClientError::Lagged { dropped })) => lost += dropped,
            other => panic!("expected announcements and a loss, got {other:?}"),
        }
    }
    assert!(kept < 10 && kept + lost <= 50, "kept {kept}, lost {lost}: at most 300 bytes are kept");
}

#[tokio::test]
async fn a_refusal_before_the_upgrade_is_its_status() {
    let base = serve(Layers::default()).await;
    let refused = Client::builder(format!("{base}/ws/nowhere")).connect().await;
    assert!(matches!(refused, Err(ClientError::Refused { status: 404, .. })), "{refused:?}");
}

#[tokio::test]
async fn path_and_query_parameters_fill_the_url() {
    let app = axum::Router::new().route("/ws/rooms/{room}", common::crowd::RoomTopic::route());
    let addr = common::serve(app).await;
    let mut client = Client::builder(format!("ws://{addr}/ws/rooms/{{room}}"))
        .path_param("room", "a b")
        .query_param("token", "x y")
        .connect()
        .await
        .expect("connect");
    let ack: RawFrame = client.next().await.expect("a frame").expect("the subscription");
    assert_eq!(ack.topic().as_deref(), Some("room:a b"));
}
