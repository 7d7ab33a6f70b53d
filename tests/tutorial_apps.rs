//! The Room Chat (part 2) and Background Jobs (part 3) apps, frame for frame as the
//! Chanx tutorial gives them, with completion frames on, on the examples' channel
//! layers (all in memory).

mod common;

use std::sync::Arc;

use axum::Extension;
use chanx::Settings;
use chanx::layer::{InMemoryLayer, Layers};
use chanx::testing::TestClient;
use common::background_jobs::{self, BackgroundJobConsumer};
use common::jobs::Delays;
use common::queue::{JobQueue, LayerQueue, WorkerPool};
use common::room_chat::RoomChatConsumer;
use common::{Client, layers, serve};
use serde_json::{Value, json};

fn notification(text: &str, room: &str) -> Value {
    json!({"action": "room_notification", "payload": {"message": text, "room_name": room, "status": "PENDING"}})
}

fn done(action: &str) -> Value {
    json!({"action": action, "payload": null})
}

/// Workers on the examples' layers.
fn pool(workers: usize, layers: &chanx::layer::Layers) -> WorkerPool {
    WorkerPool::start(workers, Delays { scale: 0.0 }, layers).expect("the examples register the jobs' layers")
}

/// The full app (all three parts) on a real socket, completion on, jobs instant.
async fn full_app(queue: Option<Arc<dyn JobQueue>>) -> std::net::SocketAddr {
    let layers = layers::in_memory();
    let settings = Settings::default().send_completion(true).layers(layers.clone());
    let queue = queue.unwrap_or_else(|| Arc::new(pool(2, &layers)));
    serve(background_jobs::router(queue).layer(Extension(settings))).await
}

#[tokio::test]
async fn room_chat_transcript() {
    let addr = full_app(None).await;
    let mut a = Client::connect(addr, "/ws/room/my-room").await;
    // A gets nothing on its own connect: its first frames answer its own ping.
    a.send_text(r#"{"action":"ping"}"#).await;
    assert_eq!(a.recv_until("complete").await, vec![done("pong"), done("complete")]);

    let mut b = Client::connect(addr, "/ws/room/my-room").await;
    assert_eq!(
        a.recv_until("group_complete").await,
        vec![notification("🚪 Someone joined room 'my-room'", "my-room"), done("group_complete")]
    );
    b.send_text(r#"{"action":"ping"}"#).await;
    assert_eq!(
        b.recv_until("complete").await,
        vec![done("pong"), done("complete")],
        "B gets nothing on connect"
    );

    a.send_json(json!({"action": "room_chat", "payload": {"message": "This is a test message"}})).await;
    let chat = notification("💬 This is a test message", "my-room");
    assert_eq!(
        a.recv_until("group_complete").await,
        vec![done("complete"), chat.clone(), done("group_complete")]
    );
    assert_eq!(b.recv_until("group_complete").await, vec![chat, done("group_complete")]);

    b.close(1000).await;
    assert_eq!(
        a.recv_until("group_complete").await,
        vec![notification("👋 Someone left room 'my-room'", "my-room"), done("group_complete")]
    );
}

#[tokio::test]
async fn rooms_are_isolated() {
    let layers = layers::in_memory();
    let room = |name: &str| {
        TestClient::builder()
            .layers(layers.clone())
            .path_param("room_name", name)
            .connect::<RoomChatConsumer>()
    };
    let mut lobby = room("lobby");
    lobby.receive_nothing().await.expect("lobby ready");
    let mut other = room("other");
    other.receive_nothing().await.expect("other ready");
    lobby.receive_nothing().await.expect("no join notice from another room");

    let chat = json!({"action": "room_chat", "payload": {"message": "only here"}});
    other.send_json(&chat).await.expect("send");
    assert_eq!(other.receive_json().await.expect("own copy"), notification("💬 only here", "other"));
    lobby.receive_nothing().await.expect("nothing crosses rooms");
}

async fn jobs_client(addr: std::net::SocketAddr) -> Client {
    let mut client = Client::connect(addr, "/ws/background_jobs").await;
    assert_eq!(
        client.recv().await,
        json!({"action": "job_status", "payload": {"status": "connected", "message": "🔄 Background Job Processor: Connected!"}})
    );
    client
}

/// Queues a job and returns the frames up to its result's `event_complete`.
async fn run_job(client: &mut Client, kind: Option<&str>, content: &str) -> Vec<Value> {
    let mut payload = json!({"content": content});
    if let Some(kind) = kind {
        payload["type"] = json!(kind);
    }
    client.send_json(json!({"action": "job", "payload": payload})).await;
    let mut frames = client.recv_until("complete").await;
    frames.extend(client.recv_until("event_complete").await);
    frames
}

#[tokio::test]
async fn background_jobs_every_type() {
    let addr = full_app(None).await;
    let mut client = jobs_client(addr).await;
    let cases = [
        (Some("translate"), "hello", "translate", "🌍 Translated: 'hello' → 'hola'".to_owned()),
        (Some("translate"), "Thank You", "translate", "🌍 Translated: 'Thank You' → 'gracias'".to_owned()),
        (
            Some("analyze"),
            "Hi there",
            "analyze",
            "📊 Analysis of 'Hi there':\n• Characters: 8\n• Words: 2\n• Vowels: 3\n• Consonants: 4"
                .to_owned(),
        ),
        (Some("unknown"), "odd", "unknown", "✅ Processed: ODD".to_owned()),
        (None, "plain", "default", "✅ Processed: PLAIN".to_owned()),
    ];
    for (kind, content, shown_kind, result) in cases {
        let frames = run_job(&mut client, kind, content).await;
        assert_eq!(frames.len(), 5, "queuing, queued, complete, result, event_complete: {frames:?}");
        assert_eq!(
            frames[0]["payload"],
            json!({"status": "queuing", "message": format!("⏳ Queuing {shown_kind} job: {content}")})
        );
        let id = frames[1]["payload"]["job_id"].as_str().expect("a job id").to_owned();
        assert_eq!(
            frames[1]["payload"],
            json!({"status": "queued", "job_id": id,
                   "message": format!("📋 Job {id} queued successfully! Worker will process it shortly...")})
        );
        assert_eq!(frames[2], done("complete"));
        assert_eq!(
            frames[3],
            json!({"action": "job_status", "payload": {"status": "result", "message": result}})
        );
        assert_eq!(frames[4], done("event_complete"));
    }
    let generated = run_job(&mut client, Some("generate"), "any food to eat?").await;
    let text = generated[3]["payload"]["message"].as_str().unwrap_or_default();
    assert!(text.starts_with("🤖 AI Response to 'any food to eat?':\n") && text.contains("pasta"), "{text}");
}

/// A client that queues large jobs faster than workers take them (here: none) fills the
/// queue's byte budget and is told so; the server holds at most that budget for it.
#[tokio::test]
async fn a_client_flooding_the_job_queue_hits_its_byte_budget() {
    let jobs = InMemoryLayer::new().capacity(1000).max_bytes(256 * 1024);
    let queue = LayerQueue::new(Layers::new(jobs).default_layer());
    let addr = full_app(Some(Arc::new(queue))).await;
    let mut client = jobs_client(addr).await;
    let content = "x".repeat(60 * 1024);
    let full = json!({"status": "error", "message": "❌ Error queuing job: the job queue is full"});
    for sent in 1.. {
        client.send_json(json!({"action": "job", "payload": {"content": content}})).await;
        let frames = client.recv_until("complete").await;
        if frames[1]["payload"] == full {
            // 256 KiB hold four of these jobs (each a frame of 60 KiB and some), not five.
            assert_eq!(sent, 5, "refused after the budget, not before");
            return;
        }
        assert_eq!(frames[1]["payload"]["status"], "queued", "{sent}");
    }
}

#[tokio::test]
async fn a_job_result_reaches_only_the_connection_that_queued_it() {
    let layers = layers::in_memory();
    let state = background_jobs::AppState { queue: Arc::new(pool(1, &layers)) };
    let connect = || {
        TestClient::builder().layers(layers.clone()).state(state.clone()).connect::<BackgroundJobConsumer>()
    };
    let mut asker = connect();
    let mut bystander = connect();
    asker.receive_json().await.expect("connected");
    bystander.receive_json().await.expect("connected");
    asker.send_json(&json!({"action": "job", "payload": {"content": "mine"}})).await.expect("send");
    let frames = asker.receive_all_messages("job_status").await.expect("queuing");
    assert_eq!(frames[0]["payload"]["status"], "queuing");
    assert_eq!(asker.receive_json().await.expect("queued")["payload"]["status"], "queued");
    assert_eq!(asker.receive_json().await.expect("result")["payload"]["message"], "✅ Processed: MINE");
    bystander.receive_nothing().await.expect("the other connection gets nothing");
}

#[test]
fn each_job_type_gives_the_tutorial_text() {
    use common::jobs::run;
    assert_eq!(run("translate", "Hello"), "🌍 Translated: 'Hello' → 'hola'");
    assert_eq!(run("translate", "good morning"), "🌍 Translated: 'good morning' → 'buenos días'");
    assert_eq!(run("translate", "bye"), "🌍 Translated: 'bye' → '[TRANSLATED: bye]'");
    assert_eq!(
        run("analyze", "Hi there"),
        "📊 Analysis of 'Hi there':\n• Characters: 8\n• Words: 2\n• Vowels: 3\n• Consonants: 4"
    );
    assert!(
        run("generate", "what about the weather")
            .starts_with("🤖 AI Response to 'what about the weather':\n")
    );
    assert!(run("generate", "where to eat").contains("pasta"));
    assert!(run("generate", "help me").contains("help"));
    assert_eq!(run("anything", "shout"), "✅ Processed: SHOUT");
}
