//! What the tests of the Redis layers share: where Redis is, a prefix per test, the
//! Crowd connections and their frames, and a Python Chanx peer process.
//!
//! The tests that need Redis are ignored unless run with `--include-ignored`; they read
//! `REDIS_URL` (default `redis://127.0.0.1:6379`). The Python interop tests also need
//! `CHANX_PYTHON`, a Python with `chanx==2.13.0` and `fast-channels[redis]==1.1.0`.

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chanx::layer::Layers;
use chanx::testing::TestClient;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use super::crowd::{Crowd, Nudge, Say, say, shout};

pub const NEEDS_REDIS: &str = "needs Redis";

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A prefix no other test (or earlier run) uses.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("chanxtest{}x{nanos}x{n}.", std::process::id())
}

/// A Crowd connection, registered and in the lobby.
pub async fn crowd(layers: &Layers) -> TestClient {
    let mut client = TestClient::builder().layers(layers.clone()).connect::<Crowd>();
    client.receive_nothing().await.expect("registered and in the lobby");
    client
}

pub async fn send(client: &TestClient, value: Value) {
    client.send_json(&value).await.expect("send");
}

pub async fn expect(client: &mut TestClient, value: Value) {
    assert_eq!(client.receive_json().await.expect("a frame"), value);
}

/// Everything `client` receives up to and including `last`: a marker sent after the
/// messages under test through the same Redis channel, so that no copy of them can
/// still be on its way.
pub async fn until(client: &mut TestClient, last: &Value) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = client.receive_json().await.expect("a frame");
        let done = &frame == last;
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

/// Polls `condition` until it holds, for at most 5 s.
pub async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Python Chanx process running one of `tests/interop/python/`, which prints one
/// JSON value a line.
pub struct PythonPeer {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl PythonPeer {
    /// Runs `script` (a file of `tests/interop/python/`) with `args` under `CHANX_PYTHON`.
    pub fn spawn(script: &str, args: &[&str]) -> PythonPeer {
        let python = super::python::chanx_python();
        let script = format!("{}/tests/interop/python/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = tokio::process::Command::new(&python)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run CHANX_PYTHON={python}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        PythonPeer { child, lines: BufReader::new(stdout).lines() }
    }

    /// The next line it prints, as JSON.
    pub async fn next_line(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("the Python peer answers within 20 s")
            .expect("reads its output")
            .expect("the Python peer printed a line (see its stderr above)");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"))
    }

    /// Waits (10 s at most) for it to exit successfully.
    pub async fn finish(mut self) {
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        assert!(matches!(status, Ok(Ok(s)) if s.success()), "the Python peer failed: {status:?}");
    }
}

/// Rust and Python Chanx on one layer kind (`pubsub` or `queue`, as
/// `tests/interop/python/layer_peer.py` names them) and prefix, both ways: `layers` is
/// the Rust process's, `hosts` the Redis URLs the Python peer shards over, and
/// `python_name` checks the Python connection's channel name.
pub async fn python_exchange(
    layers: &Layers,
    kind: &str,
    hosts: &[String],
    prefix: &str,
    python_name: impl Fn(&str) -> bool,
) {
    let mut rust = crowd(layers).await;
    let hosts_arg = hosts.join(",");
    let mut peer =
        PythonPeer::spawn("layer_peer.py", &[kind, &hosts_arg, prefix, "lobby", rust.channel_name(), "3"]);

    let ready = peer.next_line().await;
    let python_channel = ready["ready"].as_str().expect("its channel name").to_owned();
    assert!(python_name(&python_channel), "{python_channel}");

    // Rust to Python: a broadcast (the sender excluded), an event to the group and an
    // event to the Python connection's channel.
    send(&rust, shout(&[], true, "hello from rust")).await;
    rust.receive_nothing().await.expect("sent");
    let handle = layers.default_layer();
    handle.broadcast_event(&Nudge("rust, by group".into())).groups(["lobby"]).await.expect("send");
    expect(&mut rust, say("nudged: rust, by group")).await;
    handle.send_event(&python_channel, &Nudge("rust, by channel".into())).await.expect("send");
    let received = [peer.next_line().await, peer.next_line().await, peer.next_line().await];
    assert_eq!(
        received,
        [
            json!({"received": {
                "type": "handle_group_message",
                "message": {"action": "say", "payload": "hello from rust"},
                "exclude_current": true,
                "from_channel": rust.channel_name(),
            }}),
            json!({"received": {
                "type": "handle_channel_event",
                "event_data": {"action": "nudge", "payload": "rust, by group"},
            }}),
            json!({"received": {
                "type": "handle_channel_event",
                "event_data": {"action": "nudge", "payload": "rust, by channel"},
            }}),
        ]
    );

    // Python to Rust: what Chanx's broadcast_message, broadcast_event and send_event put
    // on the layer.
    assert_eq!(peer.next_line().await, json!({"sent": true}));
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(rust.receive_json().await.expect("a frame"));
    }
    let mut expected =
        vec![say("hello from python"), say("nudged: python, by group"), say("nudged: python, by channel")];
    if hosts.len() > 1 {
        // fast-channels picks the host of a send by the whole channel name and that of a
        // group send by the process part: two keys on two hosts, with no order between.
        let key = |v: &Value| v.to_string();
        frames.sort_by_key(key);
        expected.sort_by_key(key);
    }
    assert_eq!(frames, expected);
    rust.receive_nothing().await.expect("nothing more");
    peer.finish().await;
}

/// Two "processes" (layers of one kind and prefix on one Redis) share the lobby: a
/// broadcast reaches every member once, the sender too unless it excluded itself.
pub async fn broadcasts_cross_processes(one: &Layers, two: &Layers) {
    let mut a1 = crowd(one).await;
    let mut a2 = crowd(one).await;
    let mut b1 = crowd(two).await;

    send(&a1, shout(&[], false, "from a1")).await;
    expect(&mut a1, say("from a1")).await;
    expect(&mut a2, say("from a1")).await;
    expect(&mut b1, say("from a1")).await;

    send(&a1, shout(&[], true, "not a1")).await;
    expect(&mut a2, say("not a1")).await;
    expect(&mut b1, say("not a1")).await;
    // A marker sent after the others, by the same route: no copy came before it.
    send(&b1, shout(&[], true, "marker")).await;
    assert_eq!(until(&mut a1, &say("marker")).await, vec![say("marker")], "a1 got no copy");
    assert_eq!(until(&mut a2, &say("marker")).await, vec![say("marker")]);
    b1.receive_nothing().await.expect("b1 excluded itself");
}

/// Events reach a connection of the other process by its channel name and the members
/// of both by group, and so does a broadcast from outside any connection; returns a
/// member of each process, with nothing left to read.
pub async fn events_cross_processes(one: &Layers, two: &Layers) -> (TestClient, TestClient) {
    let mut a1 = crowd(one).await;
    let mut b1 = crowd(two).await;

    two.default_layer().send_event(a1.channel_name(), &Nudge("by name".into())).await.expect("send_event");
    expect(&mut a1, say("nudged: by name")).await;

    one.default_layer().broadcast_event(&Nudge("by group".into())).groups(["lobby"]).await.expect("send");
    expect(&mut a1, say("nudged: by group")).await;
    expect(&mut b1, say("nudged: by group")).await;

    one.default_layer()
        .broadcast_message(&Say("from a worker".into()))
        .groups(["lobby"])
        .await
        .expect("send");
    expect(&mut a1, say("from a worker")).await;
    expect(&mut b1, say("from a worker")).await;
    (a1, b1)
}
