//! Scale-out over real processes: two `background_jobs` web processes and a `job_worker`
//! process on one Redis (the examples' layers with `REDIS_URL`), driven over real
//! sockets. A room's members on both web processes see each other's joins and
//! messages; a job queued on either web process runs in the worker process and its
//! result comes back to the connection that queued it.
//!
//! Runs the example binaries that `cargo test` builds next to the test binaries
//! (`target/<profile>/examples/`), so it is ignored unless run with `--include-ignored`
//! and `REDIS_URL` (default `redis://127.0.0.1:6379`).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::Client;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The example binary `name`, built by `cargo test` (or `cargo build --examples`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let path =
        exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join("examples").join(name);
    assert!(path.is_file(), "{} is missing: run `cargo build --examples` first", path.display());
    path
}

/// A free port of the loopback (free a moment ago).
async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

/// Runs example `name` with the examples' layers on Redis; killed when dropped. Its
/// log lines are printed by the test's task, so that a failure shows them with its own
/// output.
fn spawn(name: &str, args: &[&str]) -> Child {
    let mut child = Command::new(example(name))
        .args(args)
        .env("REDIS_URL", redis_url())
        .env("JOB_DELAY_SCALE", "0")
        .env("SEND_COMPLETION", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the example {name}: {e}"));
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let name = name.to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{name}] {line}");
        }
    });
    child
}

/// A web process of the `background_jobs` example on a port of its own, once it answers
/// HTTP (a bare TCP connection is not proof: connecting in a loop to a port nobody
/// listens on may connect the socket to itself).
async fn web() -> (Child, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port().await));
    let process = spawn("background_jobs", &["--addr", &addr.to_string()]);
    let answers = || async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(b"GET /asyncapi.json HTTP/1.0\r\n\r\n").await.ok()?;
        let mut status = [0; 12];
        stream.read_exact(&mut status).await.ok()?;
        status.starts_with(b"HTTP/1.").then_some(())
    };
    let accepting = async {
        while answers().await.is_none() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), accepting).await.expect("the web process listens");
    (process, addr)
}

fn done(action: &str) -> Value {
    json!({"action": action, "payload": null})
}

fn notification(text: &str, room: &str) -> Value {
    json!({"action": "room_notification", "payload": {"message": text, "room_name": room, "status": "PENDING"}})
}

/// A room name no other run uses (rooms are Redis pub/sub channels, shared by every
/// database of the server).
fn unique_room() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("scale-{}-{}", std::process::id(), nanos.subsec_nanos())
}

#[tokio::test]
#[ignore = "needs Redis: set REDIS_URL and run with --include-ignored"]
async fn two_web_processes_share_rooms_and_a_worker_process_runs_their_jobs() {
    let (_one, a_addr) = web().await;
    let (_two, b_addr) = web().await;
    let _worker = spawn("job_worker", &[]);
    let room = unique_room();
    let path = format!("/ws/room/{room}");

    // A's own broadcast comes back to it through Redis: its room subscription is in place.
    let mut a = Client::connect(a_addr, &path).await;
    a.send_json(json!({"action": "room_chat", "payload": {"message": "first"}})).await;
    assert_eq!(
        a.recv_until("group_complete").await,
        vec![done("complete"), notification("💬 first", &room), done("group_complete")]
    );

    // B, on the other process, joins: A hears of it, and each hears the other's messages.
    let mut b = Client::connect(b_addr, &path).await;
    let joined = format!("🚪 Someone joined room '{room}'");
    assert_eq!(
        a.recv_until("group_complete").await,
        vec![notification(&joined, &room), done("group_complete")]
    );
    b.send_json(json!({"action": "room_chat", "payload": {"message": "from B"}})).await;
    let from_b = notification("💬 from B", &room);
    assert_eq!(
        b.recv_until("group_complete").await,
        vec![done("complete"), from_b.clone(), done("group_complete")]
    );
    assert_eq!(a.recv_until("group_complete").await, vec![from_b, done("group_complete")]);

    // Jobs queued on either web process run in the worker process; each result reaches
    // the connection that queued it.
    for (addr, text, translated) in [(a_addr, "hello", "hola"), (b_addr, "world", "mundo")] {
        let mut client = Client::connect(addr, "/ws/background_jobs").await;
        assert_eq!(client.recv().await["payload"]["status"], "connected");
        client.send_json(json!({"action": "job", "payload": {"type": "translate", "content": text}})).await;
        let queued = client.recv_until("complete").await;
        assert_eq!(queued[1]["payload"]["status"], "queued", "{queued:?}");
        let result = client.recv_until("event_complete").await;
        assert_eq!(
            result,
            vec![
                json!({"action": "job_status", "payload": {"status": "result",
                       "message": format!("🌍 Translated: '{text}' → '{translated}'")}}),
                done("event_complete"),
            ]
        );
    }

    // B leaves: A hears of it across the processes.
    b.close(1000).await;
    let left = format!("👋 Someone left room '{room}'");
    assert_eq!(
        a.recv_until("group_complete").await,
        vec![notification(&left, &room), done("group_complete")]
    );
}
