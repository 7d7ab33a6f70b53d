//! The Topics example app, frame for frame: rooms and presence as topics of one hub
//! socket (a post pushed to every subscriber with the room's next `seq`, who is present
//! pushed on every change, the state a newcomer is told), the rooms `authorize`
//! refuses, and one room's own route; in process, then over real sockets.

mod common;

use chanx::Standalone;
use chanx::layer::Layers;
use chanx::testing::TestClient;
use common::topics::{self, RoomTopic, TopicsConsumer};
use common::{Client, http, serve};
use serde_json::{Value, json};

/// A hub connection of `name`.
fn hub(layers: &Layers, name: &str) -> TestClient {
    TestClient::builder().layers(layers.clone()).query_param("name", name).connect::<TopicsConsumer>()
}

/// A connection of `name` to the route of `room` alone.
fn solo(layers: &Layers, room: &str, name: &str) -> TestClient {
    TestClient::builder()
        .layers(layers.clone())
        .path_param("room", room)
        .query_param("name", name)
        .connect::<Standalone<RoomTopic>>()
}

async fn next(client: &mut TestClient) -> Value {
    client.receive_json().await.unwrap_or_else(|e| panic!("a frame: {e}"))
}

async fn nothing_more(client: &mut TestClient) {
    client.receive_nothing().await.unwrap_or_else(|e| panic!("nothing more: {e}"));
}

/// A frame of `topic` without `ref` or `seq`.
fn pushed(topic: &str, action: &str, payload: Value) -> Value {
    json!({"action": action, "payload": payload, "version": 1, "topic": topic})
}

fn presence(room: &str, members: &[&str]) -> Value {
    pushed(&format!("presence:{room}"), "presence", json!({"members": members}))
}

fn state(room: &str, seq: u64, history: Value) -> Value {
    pushed(&format!("room:{room}"), "room_state", json!({"seq": seq, "history": history}))
}

/// The push of a line, with its `seq`.
fn line(room: &str, seq: u64, user: &str, text: &str) -> Value {
    json!({"action": "room_message", "payload": {"user": user, "text": text}, "version": 1, "topic": format!("room:{room}"), "seq": seq})
}

/// Joins `room`, as the page does: both of its topics. Returns what the client is told
/// first: the room's state, and who is present.
async fn join(client: &mut TestClient, room: &str) -> (Value, Value) {
    client.subscribe(&format!("room:{room}")).await.expect("subscribed to the room");
    let state = next(client).await;
    client.subscribe(&format!("presence:{room}")).await.expect("subscribed to its presence");
    (state, next(client).await)
}

/// Posts `text` to `room` with `reference`; returns the answer and the poster's own copy
/// of the push, in that order whichever came first.
async fn post(client: &mut TestClient, room: &str, reference: &str, text: &str) -> (Value, Value) {
    let frame = json!({"topic": format!("room:{room}"), "ref": reference, "action": "post", "payload": {"text": text}});
    client.send_json(&frame).await.expect("send");
    let (first, second) = (next(client).await, next(client).await);
    if first["action"] == "post_accepted" { (first, second) } else { (second, first) }
}

#[tokio::test]
async fn posts_reach_every_subscriber_with_the_room_s_next_seq() {
    let layers = Layers::default();
    let mut ann = hub(&layers, "ann");
    assert_eq!(
        join(&mut ann, "t-lobby").await,
        (state("t-lobby", 0, json!([])), presence("t-lobby", &["ann"]))
    );
    let mut bob = hub(&layers, "bob");
    let (_, present) = join(&mut bob, "t-lobby").await;
    assert_eq!(present, presence("t-lobby", &["ann", "bob"]));
    assert_eq!(next(&mut ann).await, present, "the others are told who came");

    let (accepted, own) = post(&mut ann, "t-lobby", "p1", "hi").await;
    assert_eq!(
        accepted,
        json!({"action": "post_accepted", "payload": {"seq": 1}, "version": 1, "topic": "room:t-lobby", "ref": "p1"})
    );
    assert_eq!(own, line("t-lobby", 1, "ann", "hi"));
    assert_eq!(next(&mut bob).await, line("t-lobby", 1, "ann", "hi"));
    let (accepted, _) = post(&mut bob, "t-lobby", "b1", "yo").await;
    assert_eq!(accepted["payload"]["seq"], 2, "each post takes the room's next seq");
    assert_eq!(next(&mut ann).await, line("t-lobby", 2, "bob", "yo"));

    // A newcomer is told the lines it missed; pushes replay nothing.
    let mut cat = hub(&layers, "cat");
    let history = json!([{"user": "ann", "text": "hi"}, {"user": "bob", "text": "yo"}]);
    let (told, present) = join(&mut cat, "t-lobby").await;
    assert_eq!(
        (told, present.clone()),
        (state("t-lobby", 2, history), presence("t-lobby", &["ann", "bob", "cat"]))
    );
    assert_eq!(next(&mut ann).await, present);
    assert_eq!(next(&mut bob).await, present);

    // Bob leaves: the others are told, and he hears no more of the room.
    bob.unsubscribe("presence:t-lobby").await.expect("left the presence");
    bob.unsubscribe("room:t-lobby").await.expect("left the room");
    for client in [&mut ann, &mut cat] {
        assert_eq!(next(client).await, presence("t-lobby", &["ann", "cat"]));
    }
    post(&mut ann, "t-lobby", "p2", "bye bob").await;
    assert_eq!(next(&mut cat).await, line("t-lobby", 3, "ann", "bye bob"));
    nothing_more(&mut bob).await;

    // A connection that ends leaves every room it was in.
    cat.close(1000).await.expect("close");
    assert_eq!(next(&mut ann).await, presence("t-lobby", &["ann"]));
}

#[tokio::test]
async fn authorize_keeps_odd_names_out_and_staff_for_admin() {
    let layers = Layers::default();
    let mut bob = hub(&layers, "bob");
    for topic in ["room:staff", "presence:staff", "room:no_spaces!", &format!("room:{}", "x".repeat(33))] {
        bob.send_json(&json!({"topic": topic, "ref": "r", "action": "subscribe"})).await.expect("send");
        let refused = next(&mut bob).await;
        assert_eq!(
            refused,
            json!({"action": "error", "payload": {"reason": "unauthorized", "detail": format!("Not allowed to subscribe to '{topic}'")}, "version": 1, "topic": topic, "ref": "r"})
        );
    }
    let mut admin = hub(&layers, "admin");
    let (_, present) = join(&mut admin, "staff").await;
    assert_eq!(present, presence("staff", &["admin"]));
    // One user on two connections is present once.
    let mut again = hub(&layers, "admin");
    assert_eq!(join(&mut again, "staff").await.1, present);
}

#[tokio::test]
async fn a_room_s_own_route_needs_no_envelope_and_shares_the_room() {
    let layers = Layers::default();
    let mut ann = hub(&layers, "ann");
    join(&mut ann, "t-solo").await;
    let mut sol = solo(&layers, "t-solo", "sol");
    assert_eq!(next(&mut sol).await, pushed("room:t-solo", "subscribed", Value::Null));
    assert_eq!(next(&mut sol).await, state("t-solo", 0, json!([])));

    sol.send_json(&json!({"action": "post", "payload": {"text": "from my route"}})).await.expect("send");
    let frames = [next(&mut sol).await, next(&mut sol).await];
    assert!(frames.contains(&pushed("room:t-solo", "post_accepted", json!({"seq": 1}))), "{frames:?}");
    assert!(frames.contains(&line("t-solo", 1, "sol", "from my route")), "{frames:?}");
    assert_eq!(next(&mut ann).await, line("t-solo", 1, "sol", "from my route"));

    post(&mut ann, "t-solo", "a", "and back").await;
    assert_eq!(next(&mut sol).await, line("t-solo", 2, "ann", "and back"));

    let mut refused = solo(&layers, "staff", "sol");
    assert_eq!(next(&mut refused).await["payload"]["reason"], "unauthorized");
    assert_eq!(refused.wait_closed().await.expect("closed"), (4403, "Unauthorized".to_owned()));
}

#[tokio::test]
async fn over_real_sockets_the_page_the_hub_and_the_room_route() {
    let addr = serve(topics::router()).await;
    let page = http(addr, "GET", "/", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"id="panel-topics""#), "the page has the Topics panel");

    let mut ann = Client::connect(addr, "/ws/topics?name=ann").await;
    ann.send_json(json!({"topic": "room:t-real", "ref": "1", "action": "subscribe"})).await;
    assert_eq!(
        ann.recv().await,
        json!({"action": "subscribed", "payload": null, "version": 1, "topic": "room:t-real", "ref": "1"})
    );
    assert_eq!(
        ann.recv().await,
        json!({"action": "room_state", "payload": {"seq": 0, "history": []}, "version": 1, "topic": "room:t-real"})
    );

    let mut bob = Client::connect(addr, "/ws/rooms/t-real?name=bob").await;
    assert_eq!(bob.recv().await["action"], "subscribed");
    assert_eq!(bob.recv().await["action"], "room_state");
    bob.send_json(json!({"action": "post", "payload": {"text": "over the wire"}})).await;
    let pushed = json!({"action": "room_message", "payload": {"user": "bob", "text": "over the wire"}, "version": 1, "topic": "room:t-real", "seq": 1});
    assert_eq!(ann.recv().await, pushed);

    let mut refused = Client::connect(addr, "/ws/rooms/staff?name=bob").await;
    assert_eq!(refused.recv().await["payload"]["reason"], "unauthorized");
    assert_eq!(refused.recv_close().await.0, 4403);
    let mut admin = Client::connect(addr, "/ws/rooms/staff?name=admin").await;
    assert_eq!(admin.recv().await["action"], "subscribed");
}
