//! The multi-layer showcase (tutorial part 4) and its external sender, on the examples'
//! channel layers all in memory: each consumer's connect message, its handler's
//! broadcast, its events (sent as server code sends them, through a `LayerHandle`),
//! the passthrough events, and the external sender's announcements.

mod common;

use std::sync::Arc;

use axum::Extension;
use chanx::Settings;
use chanx::layer::{LayerHandle, Layers};
use chanx::prelude::*;
use chanx::testing::TestClient;
use common::announcements::{self, ANNOUNCEMENTS};
use common::events::{SystemNotify, SystemPeriodicNotify};
use common::jobs::Delays;
use common::queue::WorkerPool;
use common::showcase::{
    AnalyticsConsumer, ChatConsumer, NotificationConsumer, ReliableChatConsumer, UserJoinedNotification,
    UserLeftNotification,
};
use common::system_echo::MessagePayload;
use common::{Client, layers, serve};
use serde_json::{Value, json};

/// A client of consumer `C` on `layers`.
fn connect<C: Consumer + FromConnection<()>>(layers: &Layers) -> TestClient {
    TestClient::builder().layers(layers.clone()).connect::<C>()
}

/// The layer under `alias`.
fn layer(layers: &Layers, alias: &str) -> LayerHandle {
    layers.get(Some(alias)).unwrap_or_else(|e| panic!("{e}"))
}

fn frame(action: &str, payload: Value) -> Value {
    json!({"action": action, "payload": payload})
}

fn text(action: &str, message: &str) -> Value {
    frame(action, json!({"message": message}))
}

fn notification(kind: &str, message: &str) -> Value {
    frame("notification_broadcast", json!({"type": kind, "message": message}))
}

fn analytics(event: &str, data: Value) -> Value {
    frame("analytics_notification", json!({"event": event, "data": data}))
}

async fn next(client: &mut TestClient) -> Value {
    client.receive_json().await.unwrap_or_else(|e| panic!("a frame: {e}"))
}

async fn nothing_more(client: &mut TestClient) {
    client.receive_nothing().await.unwrap_or_else(|e| panic!("nothing more: {e}"));
}

/// Sends a `system_notify` event to `group` on the layer `alias`, as server code does.
async fn system_notify(layers: &Layers, alias: &str, group: &str, text: &str) {
    let event = SystemNotify { payload: text.to_owned() };
    layer(layers, alias).broadcast_event(&event).groups([group]).await.expect("send the event");
}

/// Both passthrough events reach every one of `clients` (in `group` on `alias`)
/// unchanged.
async fn assert_passthrough(layers: &Layers, alias: &str, group: &str, clients: &mut [&mut TestClient]) {
    let joined = UserJoinedNotification { payload: MessagePayload { message: "alice joined".into() } };
    let left = UserLeftNotification { payload: MessagePayload { message: "alice left".into() } };
    let layer = layer(layers, alias);
    layer.broadcast_event(&joined).groups([group]).await.expect("send the event");
    layer.broadcast_event(&left).groups([group]).await.expect("send the event");
    for client in clients {
        assert_eq!(next(client).await, text("user_joined_notification", "alice joined"));
        assert_eq!(next(client).await, text("user_left_notification", "alice left"));
    }
}

/// The ping handler answers.
async fn assert_ping(client: &mut TestClient) {
    client.send_json(&json!({"action": "ping"})).await.expect("send");
    assert_eq!(next(client).await, frame("pong", Value::Null));
}

#[tokio::test]
async fn the_layer_table_without_redis_registers_every_alias() {
    let layers = layers::build(None).expect("in memory, nothing to set up");
    for alias in ["memory", "chat", "queue", "notifications", "analytics"] {
        assert!(layers.get(Some(alias)).is_ok(), "{alias} is registered");
    }
    assert!(layers.get(Some("redis")).is_err());
}

#[test]
fn redis_urls_are_logged_without_their_password() {
    use layers::without_password;
    assert_eq!(without_password("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    assert_eq!(without_password("redis://:s3cret@cache:6379/1"), "redis://:***@cache:6379/1");
    assert_eq!(without_password("redis://me:s3cret@cache"), "redis://me:***@cache");
    assert_eq!(without_password("redis://s3cret@cache"), "redis://***@cache");
}

#[tokio::test]
async fn chat_joins_lines_announcements_and_leaves() {
    let layers = layers::in_memory();
    let mut a = connect::<ChatConsumer>(&layers);
    let joined = text("chat_notification", "📢 Someone joined the chat");
    assert_eq!(next(&mut a).await, joined, "the newcomer is told too");
    let mut b = connect::<ChatConsumer>(&layers);
    assert_eq!(next(&mut b).await, joined);
    assert_eq!(next(&mut a).await, joined);

    a.send_json(&json!({"action": "chat", "payload": {"message": "hello"}})).await.expect("send");
    let line = text("chat_notification", "💬 hello");
    assert_eq!(next(&mut a).await, line);
    assert_eq!(next(&mut b).await, line);

    system_notify(&layers, "chat", "chat_room", "maintenance at noon").await;
    assert_eq!(next(&mut a).await, text("chat_notification", "maintenance at noon"));
    assert_eq!(next(&mut b).await, text("chat_notification", "maintenance at noon"));
    assert_passthrough(&layers, "chat", "chat_room", &mut [&mut a, &mut b]).await;
    assert_ping(&mut b).await;

    b.close(1000).await.expect("close");
    assert_eq!(next(&mut a).await, text("chat_notification", "❌ Someone left the chat."));
    assert_passthrough(&layers, "chat", "chat_room", &mut [&mut a]).await;
    nothing_more(&mut a).await;
}

#[tokio::test]
async fn reliable_chat_joins_lines_announcements_and_leaves() {
    let layers = layers::in_memory();
    let mut a = connect::<ReliableChatConsumer>(&layers);
    let established = text("reliable_chat_notification", "🔒 Reliable chat connection established!");
    assert_eq!(next(&mut a).await, established);
    let mut b = connect::<ReliableChatConsumer>(&layers);
    assert_eq!(next(&mut b).await, established);
    assert_eq!(next(&mut a).await, established);

    b.send_json(&json!({"action": "reliable_chat", "payload": {"message": "kept"}})).await.expect("send");
    let line = text("reliable_chat_notification", "📨 kept");
    assert_eq!(next(&mut b).await, line);
    assert_eq!(next(&mut a).await, line);

    // The reliable chat shows announcements as plain chat notifications.
    system_notify(&layers, "queue", "reliable_chat", "backup tonight").await;
    assert_eq!(next(&mut a).await, text("chat_notification", "backup tonight"));
    assert_eq!(next(&mut b).await, text("chat_notification", "backup tonight"));
    assert_passthrough(&layers, "queue", "reliable_chat", &mut [&mut a, &mut b]).await;
    assert_ping(&mut a).await;

    a.close(1000).await.expect("close");
    assert_eq!(next(&mut b).await, text("reliable_chat_notification", "🚪 Left reliable chat!"));
    nothing_more(&mut b).await;
}

#[tokio::test]
async fn notifications_from_users_the_system_and_the_clock() {
    let layers = layers::in_memory();
    let mut a = connect::<NotificationConsumer>(&layers);
    let connected = notification("system", "🔔 Connected to notifications!");
    assert_eq!(next(&mut a).await, connected);
    let mut b = connect::<NotificationConsumer>(&layers);
    assert_eq!(next(&mut b).await, connected);
    assert_eq!(next(&mut a).await, connected);

    a.send_json(&json!({"action": "notification", "payload": {"message": "lunch"}})).await.expect("send");
    let user = notification("user", "🔔 Notification: lunch");
    assert_eq!(next(&mut a).await, user);
    assert_eq!(next(&mut b).await, user);

    system_notify(&layers, "notifications", "notifications", "disk almost full").await;
    let periodic = SystemPeriodicNotify { payload: "still here".into() };
    layer(&layers, "notifications").broadcast_event(&periodic).groups(["notifications"]).await.expect("send");
    for client in [&mut a, &mut b] {
        assert_eq!(next(client).await, notification("system", "disk almost full"));
        assert_eq!(next(client).await, notification("periodic", "still here"));
    }
    assert_passthrough(&layers, "notifications", "notifications", &mut [&mut a, &mut b]).await;
    assert_ping(&mut b).await;
    b.close(1000).await.expect("close");
    nothing_more(&mut a).await;
}

#[tokio::test]
async fn analytics_events_with_and_without_data() {
    let layers = layers::in_memory();
    let mut a = connect::<AnalyticsConsumer>(&layers);
    nothing_more(&mut a).await;
    let mut b = connect::<AnalyticsConsumer>(&layers);
    nothing_more(&mut b).await;
    nothing_more(&mut a).await;

    let data = json!({"page": "/dashboard", "ms": 12});
    a.send_json(&json!({"action": "analytics", "payload": {"event": "page_view", "data": data}}))
        .await
        .expect("send");
    assert_eq!(next(&mut a).await, analytics("📊 Analytics: page_view", data.clone()));
    assert_eq!(next(&mut b).await, analytics("📊 Analytics: page_view", data));
    b.send_json(&json!({"action": "analytics", "payload": {"event": "click"}})).await.expect("send");
    assert_eq!(next(&mut a).await, analytics("📊 Analytics: click", Value::Null));
    assert_eq!(next(&mut b).await, analytics("📊 Analytics: click", Value::Null));

    system_notify(&layers, "analytics", "analytics", "user_login:jane").await;
    assert_eq!(next(&mut a).await, analytics("user_login:jane", Value::Null));
    assert_eq!(next(&mut b).await, analytics("user_login:jane", Value::Null));
    assert_passthrough(&layers, "analytics", "analytics", &mut [&mut a, &mut b]).await;
    assert_ping(&mut a).await;
    b.close(1000).await.expect("close");
    nothing_more(&mut a).await;
}

#[tokio::test]
async fn each_consumer_hears_only_its_own_layer() {
    let layers = layers::in_memory();
    let mut chat = connect::<ChatConsumer>(&layers);
    next(&mut chat).await;
    // The group exists on the `chat` layer only.
    system_notify(&layers, "notifications", "chat_room", "wrong layer").await;
    system_notify(&layers, "memory", "chat_room", "wrong layer").await;
    layer(&layers, "chat")
        .broadcast_event(&SystemNotify { payload: "x".into() })
        .groups(["analytics"])
        .await
        .expect("send");
    nothing_more(&mut chat).await;
}

#[tokio::test]
async fn the_external_senders_announcements_reach_every_consumer() {
    let layers = layers::in_memory();
    let mut chat = connect::<ChatConsumer>(&layers);
    let mut reliable = connect::<ReliableChatConsumer>(&layers);
    let mut notifications = connect::<NotificationConsumer>(&layers);
    let mut analytics_client = connect::<AnalyticsConsumer>(&layers);
    next(&mut chat).await;
    next(&mut reliable).await;
    next(&mut notifications).await;
    nothing_more(&mut analytics_client).await;

    for announcement in &ANNOUNCEMENTS {
        announcement.send(&layers).await.expect("send an announcement");
    }
    announcements::send_periodic(&layers, 1).await.expect("send a periodic announcement");

    assert_eq!(
        next(&mut chat).await,
        text("chat_notification", "🔔 System announcement: Welcome to the chat!")
    );
    assert_eq!(
        next(&mut reliable).await,
        text("chat_notification", "🔒 Important: System maintenance scheduled for tonight")
    );
    assert_eq!(
        next(&mut notifications).await,
        notification("system", "🚨 Alert: High CPU usage detected on server")
    );
    assert_eq!(next(&mut notifications).await, notification("periodic", &announcements::periodic_text(1)));
    for event in [
        "user_login:john_doe",
        "page_view:/dashboard",
        "button_click:export_data",
        "session_duration:1234",
        "error:api_timeout",
    ] {
        assert_eq!(next(&mut analytics_client).await, analytics(event, Value::Null));
    }
    for client in [&mut chat, &mut reliable, &mut notifications, &mut analytics_client] {
        nothing_more(client).await;
    }
}

/// The showcase app on a real socket: the four paths, next to the earlier parts.
#[tokio::test]
async fn the_showcase_app_serves_the_four_consumers_and_the_earlier_parts() {
    let layers = layers::in_memory();
    let settings = Settings::default().layers(layers.clone());
    let queue = Arc::new(WorkerPool::start(1, Delays { scale: 0.0 }, &layers).expect("the jobs' layers"));
    let addr = serve(common::showcase::router(queue).layer(Extension(settings))).await;

    let mut chat = Client::connect(addr, "/ws/chat").await;
    assert_eq!(chat.recv().await, text("chat_notification", "📢 Someone joined the chat"));
    let mut reliable = Client::connect(addr, "/ws/reliable").await;
    assert_eq!(
        reliable.recv().await,
        text("reliable_chat_notification", "🔒 Reliable chat connection established!")
    );
    let mut notifications = Client::connect(addr, "/ws/notifications").await;
    assert_eq!(notifications.recv().await, notification("system", "🔔 Connected to notifications!"));
    let mut analytics_client = Client::connect(addr, "/ws/analytics").await;
    analytics_client.send_json(json!({"action": "analytics", "payload": {"event": "open"}})).await;
    assert_eq!(analytics_client.recv().await, analytics("📊 Analytics: open", Value::Null));

    let mut system = Client::connect(addr, "/ws/system").await;
    assert_eq!(
        system.recv().await,
        json!({"action": "system_echo", "payload": {"message": "🔧 System: Connection established!"}})
    );
    let mut jobs = Client::connect(addr, "/ws/background_jobs").await;
    assert_eq!(jobs.recv().await["payload"]["status"], "connected");
}

/// The external sender and the showcase as two processes on Redis, each with the
/// examples' layers of its own: ignored unless run with `--include-ignored`; reads
/// `REDIS_URL` (default `redis://127.0.0.1:6379`). It uses the tutorial's prefixes, so a
/// showcase running on the same Redis sees the announcements too.
#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn the_external_sender_reaches_the_showcase_through_redis() {
    let url = layers::redis_url().unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let build_layers =
        || layers::build(Some(&url)).unwrap_or_else(|e| panic!("a well-formed REDIS_URL: {e}"));
    let showcase = build_layers();
    let sender = build_layers();
    let mut chat = connect::<ChatConsumer>(&showcase);
    let mut reliable = connect::<ReliableChatConsumer>(&showcase);
    let mut notifications = connect::<NotificationConsumer>(&showcase);
    let mut analytics_client = connect::<AnalyticsConsumer>(&showcase);
    next(&mut chat).await;
    next(&mut reliable).await;
    next(&mut notifications).await;
    nothing_more(&mut analytics_client).await;

    for announcement in &ANNOUNCEMENTS {
        announcement.send(&sender).await.expect("send an announcement");
    }
    assert_eq!(next(&mut chat).await, text("chat_notification", ANNOUNCEMENTS[0].text));
    assert_eq!(next(&mut reliable).await, text("chat_notification", ANNOUNCEMENTS[1].text));
    assert_eq!(next(&mut notifications).await, notification("system", ANNOUNCEMENTS[2].text));
    for announcement in &ANNOUNCEMENTS[3..] {
        assert_eq!(next(&mut analytics_client).await, analytics(announcement.text, Value::Null));
    }
}
