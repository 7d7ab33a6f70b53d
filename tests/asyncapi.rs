//! The AsyncAPI document of the tutorial apps, checked four ways:
//!
//! - the official parser (`@asyncapi/parser`, through `tests/browser/validate_asyncapi.mjs`)
//!   accepts the documents of the four apps and of consumers with credentials, as JSON
//!   and as YAML, with no error or warning;
//! - contract: every frame the apps send and receive in representative traffic matches
//!   the schema of its message in the document (looked up by `action`, on the frame's
//!   channel and in the direction the document gives it);
//! - snapshots of the System Echo document and of a hub with topics and a standalone
//!   topic route (`tests/snapshots/`; `CHANX_UPDATE_SNAPSHOTS=1` rewrites them);
//! - credentials: the security schemes, operation `security` and `ws` channel bindings
//!   that `#[channel(credentials(...))]` gives, as Chanx 2.13 renders them;
//! - topics: one channel per topic type of a hub (`<hub>_<topic>`, with `x-topic`) and
//!   per standalone topic route, their operations, the `subscribe` and `unsubscribe`
//!   frames, the topic error, and hub and standalone traffic against the document;
//! - generation errors (two consumers with one channel name) and apps that mix chanx
//!   routes with a plain axum WebSocket route.
//!
//! The parser test needs `node` and `npm ci --prefix tests/browser`, so it is ignored
//! (with that reason in `cargo test`'s summary) unless run with `--include-ignored`; then
//! a missing piece is a failure that says what to install.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message as Ws, WebSocketUpgrade};
use axum::routing::get;
use axum::{Extension, Router};
use chanx::asyncapi::{AsyncApi, AsyncApiError};
use chanx::layer::Layers;
use chanx::prelude::*;
use common::{
    Client, announcements, authenticated, background_jobs, jobs, layers, probe, queue, room_chat, serve,
    showcase, system_echo,
};
use serde_json::{Map, Value, json};

const PARSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The tutorial document before the apps add their consumers: fixed texts, so that the
/// snapshots do not follow the crate version.
fn tutorial_docs() -> AsyncApi {
    AsyncApi::new().title("Chanx tutorial").version("0.1.0").description("The Chanx tutorial app, in Rust.")
}

fn system_echo_docs() -> AsyncApi {
    system_echo::asyncapi(tutorial_docs())
}

fn room_chat_docs() -> AsyncApi {
    room_chat::asyncapi(tutorial_docs())
}

fn background_jobs_docs() -> AsyncApi {
    background_jobs::asyncapi(tutorial_docs())
}

fn showcase_docs() -> AsyncApi {
    showcase::asyncapi(tutorial_docs())
}

fn authenticated_docs() -> AsyncApi {
    authenticated::asyncapi(tutorial_docs())
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------
// The official parser
// ---------------------------------------------------------------------------------------

/// `node` and the installed parser, or why they cannot be used.
async fn parser_prerequisites() -> Result<(), String> {
    match tokio::process::Command::new("node").arg("--version").stdin(Stdio::null()).output().await {
        Ok(output) if output.status.success() => {}
        Ok(output) => return Err(format!("`node --version` failed: {}", output.status)),
        Err(error) => return Err(format!("cannot run node: {error}")),
    }
    let parser = repo().join("tests/browser/node_modules/@asyncapi/parser");
    if !parser.is_dir() {
        return Err(format!("{} is missing (run `npm ci --prefix tests/browser`)", parser.display()));
    }
    Ok(())
}

/// A fresh folder under the system's temporary directory.
fn temp_dir(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("chanx-{what}-{}-{}", std::process::id(), nanos.as_nanos()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

#[tokio::test]
#[ignore = "needs Node and `npm ci --prefix tests/browser`: run with --include-ignored"]
async fn official_parser_accepts_the_documents() {
    if let Err(reason) = parser_prerequisites().await {
        panic!("the AsyncAPI parser test needs Node and `npm ci --prefix tests/browser`: {reason}");
    }
    let dir = temp_dir("asyncapi");
    let documents = [
        ("system_echo", system_echo_docs()),
        ("room_chat", room_chat_docs()),
        ("background_jobs", background_jobs_docs()),
        ("showcase", showcase_docs()),
        ("authenticated", authenticated_docs()),
        // The servers section appears only with servers.
        (
            "background_jobs_with_servers",
            background_jobs_docs().server("production", "api.example.com", "wss"),
        ),
        ("credentials", credentials_docs()),
        ("topics", topics_docs()),
        // camelCase property names (`AsyncApi::camelize`).
        ("showcase_camelized", showcase_docs().camelize(true)),
        ("topics_camelized", topics_docs().camelize(true)),
    ];
    let mut files = Vec::new();
    for (name, docs) in &documents {
        for extension in ["json", "yaml"] {
            let path = dir.join(format!("{name}.asyncapi.{extension}"));
            docs.write(&path).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            files.push(path);
        }
    }

    let script = repo().join("tests/browser/validate_asyncapi.mjs");
    let mut command = tokio::process::Command::new("node");
    command.arg(&script).args(&files).stdin(Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(PARSER_TIMEOUT, command.output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("run node {}: {e}", script.display())),
        Err(_) => panic!("{} did not finish within {PARSER_TIMEOUT:?}", script.display()),
    };
    println!("--- validate_asyncapi.mjs stdout ---\n{}", String::from_utf8_lossy(&output.stdout));
    println!("--- validate_asyncapi.mjs stderr ---\n{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Diagnostics are printed indented, one a line, led by their severity.
    let complaints: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("  error ") || l.starts_with("  warning ")).collect();
    assert!(
        output.status.success() && complaints.is_empty(),
        "the official AsyncAPI parser rejected a document ({}) or warned: {complaints:#?}; the files are kept in {}",
        output.status,
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Contract: frames against the document
// ---------------------------------------------------------------------------------------

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to server: a message of a `receive` operation.
    Sent,
    /// Server to client: a message of a `send` operation or of a reply.
    Received,
}

/// The messages of one channel, by action, for each direction.
#[derive(Debug, Default)]
struct ChannelMessages {
    sent: BTreeMap<String, String>,
    received: BTreeMap<String, String>,
}

/// A document, the schema validator of each of its messages, and what the traffic
/// checked so far: the frames per message and every mismatch.
struct Contract {
    document: Value,
    channels: BTreeMap<String, ChannelMessages>,
    validators: BTreeMap<String, jsonschema::Validator>,
    seen: Mutex<BTreeMap<String, usize>>,
    failures: Mutex<Vec<String>>,
    /// Client frames the server accepts although their schema refuses them: allowed
    /// (the document may be stricter than the server), but printed.
    lax: Mutex<Vec<String>>,
}

/// Follows a local `$ref` of the document.
fn resolve<'a>(document: &'a Value, reference: &Value) -> &'a Value {
    let target = reference["$ref"].as_str().unwrap_or_else(|| panic!("not a $ref: {reference}"));
    let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("not a local $ref: {target}"));
    document.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {target}"))
}

/// The component message key a `#/components/messages/<key>` reference names.
fn message_key(reference: &Value) -> String {
    let target = reference["$ref"].as_str().unwrap_or_default();
    let key = target.strip_prefix("#/components/messages/");
    key.unwrap_or_else(|| panic!("channel message is not a component message: {reference}")).to_owned()
}

impl Contract {
    fn new(docs: &AsyncApi) -> Contract {
        let document = docs.document().expect("the document");
        let components = &document["components"];
        let messages = components["messages"].as_object().expect("components.messages");
        let mut validators = BTreeMap::new();
        for (key, message) in messages {
            let schema = json!({ "allOf": [message["payload"]], "components": components });
            let validator = jsonschema::draft7::new(&schema)
                .unwrap_or_else(|e| panic!("the schema of message {key} does not compile: {e}\n{schema:#}"));
            validators.insert(key.clone(), validator);
        }
        let mut channels: BTreeMap<String, ChannelMessages> = BTreeMap::new();
        let operations = document["operations"].as_object().expect("operations");
        for (id, operation) in operations {
            resolve(&document, &operation["channel"]);
            let target = operation["channel"]["$ref"].as_str().unwrap_or_default();
            let name =
                target.strip_prefix("#/channels/").unwrap_or_else(|| panic!("channel of {id}: {target}"));
            let entry = channels.entry(name.to_owned()).or_default();
            let mut add = |direction: Direction, refs: &Value| {
                for reference in refs.as_array().unwrap_or_else(|| panic!("messages of {id}")) {
                    let key = message_key(resolve(&document, reference));
                    let action = messages[&key]["name"].as_str().expect("message name").to_owned();
                    let map = match direction {
                        Direction::Sent => &mut entry.sent,
                        Direction::Received => &mut entry.received,
                    };
                    if let Some(other) = map.insert(action.clone(), key.clone())
                        && other != key
                    {
                        panic!("channel {name} has two messages with action {action}: {other} and {key}");
                    }
                }
            };
            match operation["action"].as_str() {
                Some("receive") => {
                    add(Direction::Sent, &operation["messages"]);
                    add(Direction::Received, &operation["reply"]["messages"]);
                }
                Some("send") => add(Direction::Received, &operation["messages"]),
                other => panic!("operation {id} has action {other:?}"),
            }
        }
        Contract {
            document,
            channels,
            validators,
            seen: Mutex::default(),
            failures: Mutex::default(),
            lax: Mutex::default(),
        }
    }

    fn fail(&self, failure: String) {
        self.failures.lock().unwrap().push(failure);
    }

    /// The channel of `frame` on a connection to `channel`: the topic channel at its
    /// address whose `x-topic` pattern matches the frame's `topic`, else `channel` itself.
    fn channel_of<'a>(&'a self, channel: &'a str, frame: &Value) -> &'a str {
        let Some(topic) = frame.get("topic").and_then(Value::as_str) else { return channel };
        let channels = &self.document["channels"];
        let address = &channels[channel]["address"];
        let pattern = |c: &Value| c["x-topic"]["pattern"].as_str().map(str::to_owned);
        channels
            .as_object()
            .into_iter()
            .flatten()
            .find(|(_, c)| c["address"] == *address && pattern(c).is_some_and(|p| topic_matches(&p, topic)))
            .map_or(channel, |(name, _)| name)
    }

    /// The message key of `frame` on `channel` (or on the topic channel its `topic`
    /// names) in `direction`, or why there is none.
    fn message_of(&self, channel: &str, direction: Direction, frame: &Value) -> Result<&str, String> {
        let channel = self.channel_of(channel, frame);
        let Some(action) = frame.get("action").and_then(Value::as_str) else {
            return Err(format!("{direction:?} frame on channel {channel} has no string action: {frame}"));
        };
        let messages =
            self.channels.get(channel).ok_or_else(|| format!("no channel {channel} in the document"))?;
        let map = match direction {
            Direction::Sent => &messages.sent,
            Direction::Received => &messages.received,
        };
        if let Some(key) = map.get(action) {
            return Ok(key);
        }
        let documented: Vec<&String> = self.document["components"]["messages"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, m)| m["name"] == action)
            .map(|(key, _)| key)
            .collect();
        let known: Vec<&String> = map.keys().collect();
        Err(format!(
            "{direction:?} frame on channel {channel} has action `{action}`, which the document does not give \
             that channel in that direction (it knows {known:?}; component messages with that name: \
             {documented:?}): {frame}"
        ))
    }

    /// Checks a frame that the server accepts or sends against its message's schema.
    fn check(&self, channel: &str, direction: Direction, frame: &Value) {
        let key = match self.message_of(channel, direction, frame) {
            Ok(key) => key,
            Err(failure) => return self.fail(failure),
        };
        *self.seen.lock().unwrap().entry(key.to_owned()).or_default() += 1;
        let errors: Vec<String> = self.validators[key]
            .iter_errors(frame)
            .map(|e| format!("at `{}`: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            let schema_name = self.document["components"]["messages"][key]["payload"]["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or(key);
            self.fail(format!(
                "{direction:?} frame on channel {channel} does not match message {key}:\n  frame: {frame}\n  \
                 errors:\n    {}\n  schema components.schemas.{schema_name}: {:#}",
                errors.join("\n    "),
                self.document["components"]["schemas"][schema_name],
            ));
        }
    }

    /// A client frame the server refuses: the schema, if the action has one, must refuse
    /// it too.
    fn check_refused(&self, channel: &str, frame: &Value) {
        if let Ok(key) = self.message_of(channel, Direction::Sent, frame)
            && self.validators[key].is_valid(frame)
        {
            self.fail(format!(
                "the server refuses a frame that the schema of {key} on channel {channel} accepts: {frame}"
            ));
        }
    }

    /// Whether the document accepts `frame` as a client frame on `channel`.
    fn accepts(&self, channel: &str, frame: &Value) -> bool {
        self.message_of(channel, Direction::Sent, frame).is_ok_and(|key| self.validators[key].is_valid(frame))
    }

    /// Panics with every mismatch found; prints what was checked.
    fn assert_clean(&self) {
        let seen = self.seen.lock().unwrap();
        println!("frames checked per message: {seen:?}");
        for frame in self.lax.lock().unwrap().iter() {
            println!("note: the server accepts a client frame its schema refuses: {frame}");
        }
        let failures = self.failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "{} frame(s) do not follow the AsyncAPI document:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }

    /// Component messages no checked frame used.
    fn unexercised(&self) -> BTreeSet<String> {
        let seen = self.seen.lock().unwrap();
        self.validators.keys().filter(|key| !seen.contains_key(*key)).cloned().collect()
    }
}

/// Whether the topic name `name` matches `pattern` (`room:{room}`): each parameter
/// takes one or more characters other than `:`.
fn topic_matches(pattern: &str, name: &str) -> bool {
    let Some(start) = pattern.find('{') else { return pattern == name };
    let Some(rest) = name.strip_prefix(&pattern[..start]) else { return false };
    let after = pattern[start..].find('}').map_or("", |end| &pattern[start + end + 1..]);
    let taken = rest.find(':').unwrap_or(rest.len());
    (1..=taken).filter(|end| rest.is_char_boundary(*end)).any(|end| topic_matches(after, &rest[end..]))
}

/// A WebSocket client whose every frame, both ways, is checked against the document.
struct Peer {
    client: Client,
    channel: &'static str,
    contract: Arc<Contract>,
    /// Whether the server sends completion frames.
    completion: bool,
    /// The request of a sync round trip and its answer: `ping` and `pong`.
    probe: (&'static str, &'static str),
    syncs: usize,
}

impl Peer {
    async fn connect(
        contract: &Arc<Contract>,
        addr: SocketAddr,
        path: &str,
        channel: &'static str,
        completion: bool,
    ) -> Peer {
        let client = Client::connect(addr, path).await;
        Peer { client, channel, contract: contract.clone(), completion, probe: ("ping", "pong"), syncs: 0 }
    }

    /// Syncs with `request`, answered with `answer`, instead of a ping (on a standalone
    /// topic route, whose frames all go to its topic).
    fn probing(mut self, request: &'static str, answer: &'static str) -> Peer {
        self.probe = (request, answer);
        self
    }

    /// Sends a frame the server should accept.
    async fn send(&mut self, frame: Value) {
        self.contract.check(self.channel, Direction::Sent, &frame);
        self.client.send_json(frame).await;
    }

    /// Sends a frame the server refuses (the schema, if its action has one, must refuse it
    /// too); returns the error frame, once every frame it caused has been received.
    async fn send_refused(&mut self, frame: Value) -> Value {
        self.contract.check_refused(self.channel, &frame);
        self.client.send_json(frame.clone()).await;
        self.refused(&frame.to_string()).await
    }

    /// Sends raw text (not a JSON object); returns the error frame.
    async fn send_text_refused(&mut self, text: &str) -> Value {
        self.client.send_text(text).await;
        self.refused(text).await
    }

    async fn refused(&mut self, what: &str) -> Value {
        let frames = self.sync().await;
        let errors: Vec<&Value> = frames.iter().filter(|f| f["action"] == "error").collect();
        assert_eq!(errors.len(), 1, "{what} is refused with one error frame: {frames:?}");
        errors[0].clone()
    }

    /// Sends each frame (valid or not) and checks that the server refuses none that the
    /// document accepts; frames the server accepts but the document refuses are noted.
    async fn agreement(&mut self, frames: &[Value]) {
        for frame in frames {
            let documented = self.contract.accepts(self.channel, frame);
            self.client.send_json(frame.clone()).await;
            let replies = self.sync().await;
            let refused = has(&replies, "error");
            if documented && refused {
                self.contract.fail(format!(
                    "the server refuses a client frame on channel {} that the document accepts: {frame} -> {replies:?}",
                    self.channel
                ));
            } else if !documented && !refused {
                self.contract.lax.lock().unwrap().push(format!("{frame} on channel {}", self.channel));
            }
        }
    }

    async fn recv(&mut self) -> Value {
        let frame = self.client.recv().await;
        self.contract.check(self.channel, Direction::Received, &frame);
        frame
    }

    /// Receives frames until `done` holds for those received so far.
    async fn recv_while(&mut self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut frames = Vec::new();
        while !done(&frames) {
            frames.push(self.recv().await);
        }
        frames
    }

    /// A ping round trip: receives (and checks) every frame the server sent before its
    /// answer, which it returns without the pong (and its `complete`).
    async fn sync(&mut self) -> Vec<Value> {
        self.syncs += 1;
        let reference = format!("sync-{}", self.syncs);
        let (request, answer) = self.probe;
        self.send(json!({"action": request, "ref": reference})).await;
        let last = if self.completion { "complete" } else { answer };
        let mut frames =
            self.recv_while(|f| f.last().is_some_and(|f| f["action"] == last && f["ref"] == reference)).await;
        frames.retain(|f| f["ref"] != reference);
        frames
    }
}

fn has(frames: &[Value], action: &str) -> bool {
    frames.iter().any(|f| f["action"] == action)
}

fn count(frames: &[Value], action: &str) -> usize {
    frames.iter().filter(|f| f["action"] == action).count()
}

fn notification(frames: &[Value]) -> Value {
    let found = frames.iter().find(|f| f["action"] == "room_notification");
    found.cloned().unwrap_or_else(|| panic!("no room_notification in {frames:?}"))
}

fn job_status<'a>(frames: &'a [Value], status: &str) -> Option<&'a Value> {
    frames.iter().find(|f| f["action"] == "job_status" && f["payload"]["status"] == status)
}

/// The settings of the tutorial apps, on the examples' layers with completion frames on
/// or off, and workers that run jobs at once.
fn settings_and_workers(send_completion: bool) -> (Settings, Arc<queue::WorkerPool>) {
    let layers = layers::in_memory();
    let pool = queue::WorkerPool::start(2, jobs::Delays { scale: 0.0 }, &layers).expect("the jobs' layers");
    (Settings::default().layers(layers).send_completion(send_completion), Arc::new(pool))
}

/// The tutorial app of parts 1 to 3 (jobs run at once) with completion frames on or off.
fn full_app(send_completion: bool) -> Router {
    let (settings, pool) = settings_and_workers(send_completion);
    background_jobs::router(pool).layer(Extension(settings))
}

async fn system_echo_traffic(contract: &Arc<Contract>, addr: SocketAddr, completion: bool) {
    let mut client = Peer::connect(contract, addr, "/ws/system", "system", completion).await;
    let welcome = client.recv().await;
    assert_eq!(welcome["payload"]["message"], "🔧 System: Connection established!");

    client.send(json!({"action": "user_message", "payload": {"message": "hello"}})).await;
    let frames = client.sync().await;
    assert_eq!(count(&frames, "system_echo"), 1, "{frames:?}");
    assert_eq!(count(&frames, "complete"), usize::from(completion), "{frames:?}");
    client.send(json!({"action": "user_message", "payload": {"message": "with ref"}, "ref": "r1"})).await;
    let frames = client.sync().await;
    assert_eq!((&frames[0]["ref"], &frames[0]["version"]), (&json!("r1"), &json!(1)), "{frames:?}");
    client.send(json!({"action": "ping", "payload": null, "ref": "r2", "version": 1})).await;
    assert!(has(&client.sync().await, "pong"));

    // Errors: frame-level, unknown action, invalid and missing payloads, bad envelope
    // keys, topics.
    client.send_text_refused("not json").await;
    client.send_text_refused("[1, 2, 3]").await;
    client.client.send_binary(b"\x00\x01").await;
    client.refused("a binary frame").await;
    client.send_refused(json!({"action": "nope", "ref": "r3"})).await;
    client.send_refused(json!({"action": null})).await;
    client.send_refused(json!({"payload": {"message": "no action"}})).await;
    client.send_refused(json!({"action": "user_message", "payload": {"message": 1}})).await;
    client.send_refused(json!({"action": "user_message"})).await;
    client.send_refused(json!({"action": "user_message", "payload": {}, "ref": "r4"})).await;
    client.send_refused(json!({"action": "system_echo", "payload": {"message": "server only"}})).await;
    client.send_refused(json!({"action": "ping", "ref": 5})).await;
    client.send_refused(json!({"action": "ping", "version": "abc"})).await;
    client.send_refused(json!({"action": "ping", "version": 1.5})).await;
    // Where the document and the server's validation should agree.
    let edges = [
        json!({"action": "ping", "payload": {}}),
        json!({"action": "ping", "payload": 1}),
        json!({"action": "user_message", "payload": {"message": "x", "extra": 1}}),
        json!({"action": "user_message", "payload": {"message": null}}),
        json!({"action": "user_message", "payload": null}),
        json!({"action": "user_message", "payload": {"message": "x"}, "version": 2}),
        json!({"action": "user_message", "payload": {"message": "x"}, "version": "1"}),
        json!({"action": "user_message", "payload": {"message": "x"}, "version": true}),
        json!({"action": "user_message", "payload": {"message": "x"}, "version": null}),
        json!({"action": "user_message", "payload": {"message": "x"}, "ref": null}),
        json!({"action": "user_message", "payload": {"message": "x"}, "unknown": 1}),
    ];
    client.agreement(&edges).await;
    // Well formed for the schema, refused as not subscribed: not a schema matter.
    client.client.send_json(json!({"action": "ping", "topic": "news"})).await;
    assert_eq!(client.refused("a topic frame").await["payload"]["reason"], "not_subscribed");
}

async fn room_chat_traffic(contract: &Arc<Contract>, addr: SocketAddr, completion: bool) {
    let room = if completion { "lobby-completion" } else { "lobby" };
    let path = format!("/ws/room/{room}");
    let mut a = Peer::connect(contract, addr, &path, "room_chat", completion).await;
    a.sync().await;
    let mut b = Peer::connect(contract, addr, &path, "room_chat", completion).await;
    b.sync().await;
    // Every broadcast a peer gets is followed by `group_complete` when completion is on.
    let broadcast = |f: &[Value]| has(f, "room_notification") && (!completion || has(f, "group_complete"));
    let joined = notification(&a.recv_while(broadcast).await);
    assert_eq!(joined["payload"]["message"], format!("🚪 Someone joined room '{room}'"));

    b.send(json!({"action": "room_chat", "payload": {"message": "hi room"}})).await;
    for peer in [&mut a, &mut b] {
        let notification = notification(&peer.recv_while(broadcast).await);
        assert_eq!(notification["payload"]["message"], "💬 hi room");
        assert_eq!(notification["payload"]["room_name"], room);
    }
    b.sync().await;
    let full = json!({"message": "all fields", "room_name": null, "status": "DELIVERED"});
    b.send(json!({"action": "room_chat", "payload": full, "ref": "b1"})).await;
    a.recv_while(broadcast).await;
    b.recv_while(broadcast).await;
    b.sync().await;
    b.send_refused(json!({"action": "room_chat", "payload": {"message": "x", "status": "LOST"}})).await;
    b.agreement(&[
        json!({"action": "room_chat", "payload": {"message": "x", "status": "delivered"}}),
        json!({"action": "room_chat", "payload": {"message": "x", "status": null}}),
        json!({"action": "room_chat", "payload": {"message": "x", "room_name": 5}}),
        json!({"action": "room_chat", "payload": {"message": "x", "status": "FAILED", "room_name": "r"}}),
    ])
    .await;
    // The one accepted reached A too.
    assert_eq!(notification(&a.recv_while(broadcast).await)["payload"]["message"], "💬 x");
    b.send_refused(json!({"action": "room_chat", "payload": {"room_name": "no message"}})).await;

    b.client.close(1000).await;
    let left = notification(&a.recv_while(broadcast).await);
    assert_eq!(left["payload"]["message"], format!("👋 Someone left room '{room}'"));
    a.sync().await;
}

async fn background_jobs_traffic(contract: &Arc<Contract>, addr: SocketAddr, completion: bool) {
    let mut client =
        Peer::connect(contract, addr, "/ws/background_jobs", "background_jobs", completion).await;
    let connected = client.recv().await;
    assert_eq!(connected["payload"]["status"], "connected");
    for (job, expected) in [
        (json!({"type": "translate", "content": "hello"}), "🌍 Translated: 'hello' → 'hola'"),
        (json!({"type": "analyze", "content": "Hi there"}), "📊 Analysis of 'Hi there':"),
        (json!({"type": "generate", "content": "weather?"}), "🤖 AI Response to 'weather?':"),
        (json!({"content": "no type"}), "✅ Processed: NO TYPE"),
    ] {
        client.send(json!({"action": "job", "payload": job, "ref": "j"})).await;
        let done = |f: &[Value]| {
            job_status(f, "result").is_some()
                && (!completion || has(f, "complete") && has(f, "event_complete"))
        };
        let frames = client.recv_while(done).await;
        assert!(job_status(&frames, "queuing").is_some(), "{frames:?}");
        let queued = job_status(&frames, "queued").unwrap_or_else(|| panic!("no queued status: {frames:?}"));
        assert!(queued["payload"]["job_id"].is_string(), "{queued}");
        let result = job_status(&frames, "result").unwrap();
        let message = result["payload"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(expected), "{result}");
    }
    client.sync().await;
    client.send_refused(json!({"action": "job", "payload": {"type": "translate"}})).await;
    client
        .agreement(&[
            json!({"action": "job", "payload": {"type": null, "content": "x"}}),
            json!({"action": "job", "payload": {"type": 1, "content": "x"}}),
            json!({"action": "job", "payload": {"content": ["x"]}}),
        ])
        .await;
    client.send_refused(json!({"action": "job", "payload": "translate hello"})).await;
    client.send_refused(json!({"action": "job_result", "payload": "only workers send this"})).await;
}

/// The showcase's four consumers: their handlers, then the external sender's
/// announcements and a passthrough event sent through the layers.
async fn showcase_traffic(contract: &Arc<Contract>, addr: SocketAddr, layers: &Layers, completion: bool) {
    let sockets = [
        ("/ws/chat", "chat", json!({"action": "chat", "payload": {"message": "hi"}}), "chat_notification"),
        (
            "/ws/reliable",
            "reliable_chat",
            json!({"action": "reliable_chat", "payload": {"message": "hi"}}),
            "reliable_chat_notification",
        ),
        (
            "/ws/notifications",
            "notifications",
            json!({"action": "notification", "payload": {"message": "hi", "type": "alert"}}),
            "notification_broadcast",
        ),
        (
            "/ws/analytics",
            "analytics",
            json!({"action": "analytics", "payload": {"event": "open", "data": {"page": "/"}}}),
            "analytics_notification",
        ),
    ];
    let mut peers = Vec::new();
    for (path, channel, frame, broadcast) in sockets {
        let mut peer = Peer::connect(contract, addr, path, channel, completion).await;
        peer.sync().await;
        peer.send(frame).await;
        peer.recv_while(|f| has(f, broadcast) && (!completion || has(f, "group_complete"))).await;
        peers.push(peer);
    }
    for announcement in &announcements::ANNOUNCEMENTS {
        announcement.send(layers).await.expect("send an announcement");
    }
    announcements::send_periodic(layers, 1).await.expect("send a periodic announcement");
    let joined =
        showcase::UserJoinedNotification { payload: system_echo::MessagePayload { message: "a".into() } };
    let left =
        showcase::UserLeftNotification { payload: system_echo::MessagePayload { message: "a".into() } };
    let chat = layers.get(Some("chat")).expect("the chat layer");
    chat.broadcast_event(&joined).groups(["chat_room"]).await.expect("send an event");
    chat.broadcast_event(&left).groups(["chat_room"]).await.expect("send an event");
    // The events were queued before the pings that `sync` sends.
    let expected = [
        ("chat_notification", 1),
        ("chat_notification", 1),
        ("notification_broadcast", 2),
        ("analytics_notification", 5),
    ];
    for (peer, (action, times)) in peers.iter_mut().zip(expected) {
        let frames = peer.sync().await;
        assert_eq!(count(&frames, action), times, "{frames:?}");
        let completions = count(&frames, "event_complete");
        let events = frames.len() - completions;
        assert_eq!(
            completions,
            if completion { events } else { 0 },
            "one event_complete per event: {frames:?}"
        );
    }
    let [_, _, notifications, analytics] = &mut peers[..] else { unreachable!("four peers") };
    notifications.send_refused(json!({"action": "notification", "payload": {"type": "user"}})).await;
    notifications
        .agreement(&[
            json!({"action": "notification", "payload": {"message": "x", "type": null}}),
            json!({"action": "notification", "payload": {"message": "x", "type": 1}}),
        ])
        .await;
    analytics.send_refused(json!({"action": "analytics", "payload": {"data": {}}})).await;
    analytics
        .agreement(&[
            json!({"action": "analytics", "payload": {"event": "e", "data": null}}),
            json!({"action": "analytics", "payload": {"event": "e", "data": [1]}}),
            json!({"action": "analytics", "payload": {"event": "e", "data": "x"}}),
        ])
        .await;
    analytics
        .send_refused(json!({"action": "system_notify", "payload": "only server code sends this"}))
        .await;
}

/// The checker itself: it flags a wrong payload, an undocumented action and a frame
/// going the wrong way.
#[test]
fn the_contract_check_catches_mismatches() {
    let contract = Contract::new(&room_chat_docs());
    let echo = json!({"action": "system_echo", "payload": {"message": "ok"}, "ref": "r", "version": 1});
    contract.check("system", Direction::Received, &echo);
    contract.check("system", Direction::Sent, &json!({"action": "ping"}));
    assert!(contract.failures.lock().unwrap().is_empty(), "{:?}", contract.failures.lock().unwrap());

    let wrong = [
        (Direction::Received, "system", json!({"action": "system_echo", "payload": {"message": 1}})),
        (Direction::Received, "system", json!({"action": "system_echo"})),
        (Direction::Received, "system", json!({"action": "system_echo", "payload": {}, "version": "1"})),
        (
            Direction::Received,
            "room_chat",
            json!({"action": "room_notification", "payload": {"message": "m", "status": "x"}}),
        ),
        (Direction::Received, "system", json!({"action": "undocumented", "payload": null})),
        (Direction::Received, "system", json!({"payload": null})),
        (Direction::Received, "system", json!({"action": "user_message", "payload": {"message": "m"}})),
        (Direction::Sent, "system", json!({"action": "system_echo", "payload": {"message": "m"}})),
        (Direction::Received, "system", json!({"action": "room_notification", "payload": {"message": "m"}})),
    ];
    for (direction, channel, frame) in &wrong {
        let before = contract.failures.lock().unwrap().len();
        contract.check(channel, *direction, frame);
        assert_eq!(contract.failures.lock().unwrap().len(), before + 1, "{direction:?} {frame} is flagged");
    }
    assert!(contract.accepts("system", &json!({"action": "user_message", "payload": {"message": "m"}})));
    assert!(!contract.accepts("system", &json!({"action": "user_message", "payload": {"message": 1}})));
}

#[tokio::test]
async fn tutorial_app_traffic_follows_the_document() {
    let contract = Arc::new(Contract::new(&background_jobs_docs()));
    for completion in [false, true] {
        let addr = serve(full_app(completion)).await;
        system_echo_traffic(&contract, addr, completion).await;
        room_chat_traffic(&contract, addr, completion).await;
        background_jobs_traffic(&contract, addr, completion).await;
    }
    contract.assert_clean();
    // Only a refused authentication sends `authentication`; none of the apps refuses
    // (`framework_frames_follow_the_document` covers it).
    let unexercised = contract.unexercised();
    let expected: BTreeSet<String> = ["AuthenticationMessage".to_owned()].into();
    assert_eq!(unexercised, expected, "messages of the document the traffic never used");
}

#[tokio::test]
async fn showcase_app_traffic_follows_the_document() {
    let contract = Arc::new(Contract::new(&showcase_docs()));
    for completion in [false, true] {
        let (settings, pool) = settings_and_workers(completion);
        let layers = settings.channel_layers().clone();
        let addr = serve(showcase::router(pool).layer(Extension(settings))).await;
        system_echo_traffic(&contract, addr, completion).await;
        room_chat_traffic(&contract, addr, completion).await;
        background_jobs_traffic(&contract, addr, completion).await;
        showcase_traffic(&contract, addr, &layers, completion).await;
    }
    contract.assert_clean();
    let unexercised = contract.unexercised();
    let expected: BTreeSet<String> = ["AuthenticationMessage".to_owned()].into();
    assert_eq!(unexercised, expected, "messages of the document the traffic never used");
}

#[tokio::test]
async fn the_system_echo_app_alone_follows_its_document() {
    let contract = Arc::new(Contract::new(&system_echo_docs()));
    let addr = serve(system_echo::router()).await;
    system_echo_traffic(&contract, addr, false).await;
    contract.assert_clean();
}

/// The Authenticated app: System Echo, a refusal after the upgrade (`authentication`),
/// and both consumers for a logged-in user, with completion frames off and on.
#[tokio::test]
async fn the_authenticated_app_traffic_follows_its_document() {
    let contract = Arc::new(Contract::new(&authenticated_docs()));
    for completion in [false, true] {
        let settings = Settings::default().send_completion(completion);
        let addr = serve(authenticated::router().layer(Extension(settings))).await;
        system_echo_traffic(&contract, addr, completion).await;
        let mut refused = Peer::connect(&contract, addr, "/ws/chanx_auth", "chanx_auth", completion).await;
        assert_eq!(refused.recv().await["action"], "authentication");
        assert_eq!(refused.client.recv_close().await.0, 4403);

        let login = json!({"username": "alice", "password": "wonderland"}).to_string();
        let headers = [("content-type", "application/json")];
        let token = common::http(addr, "POST", "/login", &headers, &login).await.json()["token"].clone();
        let token = token.as_str().expect("a token");
        for (path, channel) in [("/ws/private", "private"), ("/ws/chanx_auth", "chanx_auth")] {
            let path = format!("{path}?token={token}");
            let mut client = Peer::connect(&contract, addr, &path, channel, completion).await;
            assert_eq!(client.recv().await["payload"]["message"], "🔐 Welcome, alice!");
            client.send(json!({"action": "private_message", "payload": {"message": "hi"}})).await;
            assert_eq!(count(&client.sync().await, "private_echo"), 1);
            client.send_refused(json!({"action": "private_message", "payload": {"text": "hi"}})).await;
            client
                .send_refused(json!({"action": "private_echo", "payload": {"user": "x", "message": "y"}}))
                .await;
        }
    }
    contract.assert_clean();
    // The app has no groups and no events.
    let expected: BTreeSet<String> =
        ["EventCompleteMessage", "GroupCompleteMessage"].map(String::from).into();
    assert_eq!(contract.unexercised(), expected, "messages of the document the traffic never used");
}

/// The frames the apps never send (refused authentication, handler failures, validation
/// errors listing several fields), from the probe consumer of the other tests.
#[tokio::test]
async fn framework_frames_follow_the_document() {
    let docs = AsyncApi::new().channel::<probe::ProbeConsumer>("/ws/probe/{room}");
    let contract = Arc::new(Contract::new(&docs));
    let (app, _reports) = probe::router();
    let addr = serve(app.layer(Extension(Settings::default().send_completion(true)))).await;

    for (query, code) in [("token=bad", 4403), ("token=weird", 4401)] {
        let path = format!("/ws/probe/lobby?{query}");
        let mut refused = Peer::connect(&contract, addr, &path, "probe", true).await;
        assert_eq!(refused.recv().await["action"], "authentication");
        assert_eq!(refused.client.recv_close().await.0, code);
    }

    let mut client = Peer::connect(&contract, addr, "/ws/probe/lobby?who=ann", "probe", true).await;
    client.send(json!({"action": "whereami"})).await;
    assert_eq!(client.sync().await[0]["payload"], json!(["lobby", "ann"]));
    client.send(json!({"action": "echo", "payload": {"text": "ab", "count": 2}})).await;
    assert_eq!(client.sync().await[0]["payload"], "abab");
    client.send(json!({"action": "echo", "payload": {"text": "ab", "count": -1}})).await;
    let frames = client.sync().await;
    assert_eq!(frames.iter().map(|f| &f["action"]).collect::<Vec<_>>(), ["complete"], "no reply");
    let errors = client.send_refused(json!({"action": "echo", "payload": {"count": "x"}})).await;
    assert_eq!(errors["payload"].as_array().map(Vec::len), Some(2), "{errors}");
    for action in ["fail", "explode"] {
        client.send(json!({"action": action, "ref": action})).await;
        let frames = client.sync().await;
        assert_eq!(frames[0]["payload"]["detail"], format!("Failed to process message for {action}"));
    }
    client.send(json!({"action": "push", "payload": 3})).await;
    client.recv_while(|f| count(f, "echoed") == 3 && has(f, "complete")).await;
    client.sync().await;
    contract.assert_clean();
}

// ---------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------

/// Compares `actual` with `tests/snapshots/<name>`, or rewrites the file when
/// `CHANX_UPDATE_SNAPSHOTS=1`; returns what differs.
fn check_snapshot(name: &str, actual: &str) -> Result<(), String> {
    let path = repo().join("tests/snapshots").join(name);
    let actual = if actual.ends_with('\n') { actual.to_owned() } else { format!("{actual}\n") };
    if std::env::var("CHANX_UPDATE_SNAPSHOTS").is_ok_and(|v| matches!(v.as_str(), "1" | "true")) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(&path, &actual).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("updated {}", path.display());
        return Ok(());
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(expected) => expected,
        Err(error) => return Err(format!("{}: cannot read it: {error}", path.display())),
    };
    if expected == actual {
        return Ok(());
    }
    let (expected_lines, actual_lines): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let first = expected_lines.iter().zip(&actual_lines).position(|(e, a)| e != a);
    let line = first.unwrap_or(expected_lines.len().min(actual_lines.len()));
    let context = |lines: &[&str]| -> String {
        let from = line.saturating_sub(2);
        let to = (line + 3).min(lines.len());
        (from..to).map(|i| format!("    {:>4} | {}", i + 1, lines[i])).collect::<Vec<_>>().join("\n")
    };
    Err(format!(
        "{} differs from the generated document, first at line {} ({} lines in the file, {} generated)\n  \
         snapshot:\n{}\n  generated:\n{}",
        path.display(),
        line + 1,
        expected_lines.len(),
        actual_lines.len(),
        context(&expected_lines),
        context(&actual_lines),
    ))
}

#[test]
fn documents_match_the_snapshots() {
    let docs = system_echo_docs();
    let mismatches: Vec<String> = [
        ("system_echo.asyncapi.json", docs.to_json().expect("JSON")),
        ("system_echo.asyncapi.yaml", docs.to_yaml().expect("YAML")),
        ("topics.asyncapi.json", topics_docs().to_json().expect("JSON")),
    ]
    .into_iter()
    .filter_map(|(name, text)| check_snapshot(name, &text).err())
    .collect();
    assert!(
        mismatches.is_empty(),
        "{}\n\nIf the change is intended, update the snapshots with\n    \
         CHANX_UPDATE_SNAPSHOTS=1 cargo test --test asyncapi documents_match_the_snapshots\n\
         and review the diff (git diff tests/snapshots).",
        mismatches.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------

/// A server-side event of [`Secure`].
#[message(action = "notice")]
pub struct Notice;

/// Accepts a token in the query or in either of two headers, or a session cookie.
#[derive(Default)]
pub struct Secure;

#[channel(
    name = "secure",
    credentials(
        query("token", "Access token"),
        header("Authorization", "Bearer token"),
        header("X-Api-Key"),
        cookie("sessionid", "Session cookie"),
    ),
    sends(PongMessage)
)]
impl Secure {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[event_handler]
    async fn notice(&mut self, _event: Notice) -> PongMessage {
        PongMessage
    }
}

impl Consumer for Secure {}

/// Shares two credentials with [`Secure`] under other spellings and descriptions: the
/// security schemes are shared, described as first declared.
#[derive(Default)]
pub struct SessionOnly;

#[channel(name = "session_only", credentials(cookie("sessionid", "Another text"), header("x-api-key")))]
impl SessionOnly {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for SessionOnly {}

/// A cookie alone: security, but no `ws` binding.
#[derive(Default)]
pub struct CookieOnly;

#[channel(name = "cookie_only", credentials(cookie("sessionid")))]
impl CookieOnly {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for CookieOnly {}

/// The System Echo app (no credentials) next to the consumers with credentials.
fn credentials_docs() -> AsyncApi {
    system_echo_docs()
        .channel::<Secure>("/ws/secure")
        .channel::<SessionOnly>("/ws/session")
        .channel::<CookieOnly>("/ws/cookie")
}

/// The `security` of every operation of `channel` in `document`, by operation id.
fn operation_security(document: &Value, channel: &str) -> BTreeMap<String, Value> {
    let reference = json!({ "$ref": format!("#/channels/{channel}") });
    let operations = document["operations"].as_object().expect("operations");
    operations
        .iter()
        .filter(|(_, operation)| operation["channel"] == reference)
        .map(|(id, operation)| (id.clone(), operation.get("security").cloned().unwrap_or(Value::Null)))
        .collect()
}

#[test]
fn credentials_are_documented_as_chanx_does() {
    let document = credentials_docs().document().expect("a document");
    let scheme = |name: &str| json!({ "$ref": format!("#/components/securitySchemes/{name}") });

    // One `httpApiKey` scheme per credential, named `<in>_<name>` in lowercase with `_`
    // for `-`; a scheme declared twice keeps its first description.
    assert_eq!(
        document["components"]["securitySchemes"],
        json!({
            "query_token": { "type": "httpApiKey", "name": "token", "in": "query", "description": "Access token" },
            "header_authorization": {
                "type": "httpApiKey", "name": "Authorization", "in": "header", "description": "Bearer token",
            },
            "header_x_api_key": { "type": "httpApiKey", "name": "X-Api-Key", "in": "header" },
            "cookie_sessionid": {
                "type": "httpApiKey", "name": "sessionid", "in": "cookie", "description": "Session cookie",
            },
        })
    );

    // Every operation of a channel lists its credentials, in declaration order: any one
    // is enough.
    let all = json!([
        scheme("query_token"),
        scheme("header_authorization"),
        scheme("header_x_api_key"),
        scheme("cookie_sessionid"),
    ]);
    let secure = operation_security(&document, "secure");
    let ids: Vec<&str> = secure.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["secure.authentication", "secure.completion", "secure.notice", "secure.ping", "secure.send_pong"]
    );
    assert!(secure.values().all(|security| *security == all), "{secure:#?}");
    let session = json!([scheme("cookie_sessionid"), scheme("header_x_api_key")]);
    assert!(operation_security(&document, "session_only").values().all(|s| *s == session));
    let cookie = json!([scheme("cookie_sessionid")]);
    assert!(operation_security(&document, "cookie_only").values().all(|s| *s == cookie));
    assert!(operation_security(&document, "system").values().all(Value::is_null));

    // The query and header credentials are the handshake's `ws` binding; cookies are not.
    assert_eq!(
        document["channels"]["secure"]["bindings"],
        json!({
            "ws": {
                "query": {
                    "type": "object",
                    "properties": { "token": { "type": "string", "description": "Access token" } },
                },
                "headers": {
                    "type": "object",
                    "properties": {
                        "Authorization": { "type": "string", "description": "Bearer token" },
                        "X-Api-Key": { "type": "string" },
                    },
                },
                "bindingVersion": "0.1.0",
            }
        })
    );
    assert_eq!(
        document["channels"]["session_only"]["bindings"],
        json!({
            "ws": {
                "headers": { "type": "object", "properties": { "x-api-key": { "type": "string" } } },
                "bindingVersion": "0.1.0",
            }
        })
    );
    for channel in ["cookie_only", "system"] {
        assert!(document["channels"][channel].get("bindings").is_none(), "{channel}");
    }

    // Without credentials there are no security schemes at all.
    let plain = system_echo_docs().document().expect("a document");
    assert!(plain["components"].get("securitySchemes").is_none());
}

// ---------------------------------------------------------------------------------------
// Generation errors and mixed apps
// ---------------------------------------------------------------------------------------

/// One consumer named `same`.
#[derive(Debug, Default)]
pub struct SameA;

#[channel(name = "same")]
impl SameA {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for SameA {}

/// Another consumer named `same`.
#[derive(Debug, Default)]
pub struct SameB;

#[channel(name = "same")]
impl SameB {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for SameB {}

/// A plain HTTP/1.1 GET: status, `Content-Type` and body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let response = common::http(addr, "GET", path, &[], "").await;
    (response.status, response.header("content-type").to_owned(), response.body)
}

#[tokio::test]
async fn two_consumers_with_one_channel_name_are_an_error() {
    let docs = AsyncApi::new().channel::<SameA>("/ws/a").channel::<SameB>("/ws/b");
    let error = docs.document().expect_err("two channels named `same`");
    assert!(
        matches!(&error, AsyncApiError::DuplicateChannel { name, first, second }
            if name == "same" && first == "/ws/a" && second == "/ws/b"),
        "{error:?}"
    );
    let reason = error.to_string();
    assert!(reason.contains("`same`") && reason.contains("/ws/a") && reason.contains("/ws/b"), "{reason}");
    assert!(docs.to_json().is_err() && docs.to_yaml().is_err());

    let app =
        Router::new().route("/ws/a", SameA::route()).route("/ws/b", SameB::route()).merge(docs.routes());
    let addr = serve(app).await;
    for path in ["/asyncapi.json", "/asyncapi.yaml"] {
        let (status, _, body) = http_get(addr, path).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert!(body.contains(&reason), "{path} gives the reason: {body}");
    }
    // The consumers themselves still work.
    let mut client = Client::connect(addr, "/ws/b").await;
    common::assert_alive(&mut client).await;
}

#[tokio::test]
async fn a_plain_axum_websocket_route_next_to_chanx_routes() {
    async fn plain_echo(ws: WebSocketUpgrade) -> axum::response::Response {
        ws.on_upgrade(|mut socket| async move {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Ws::Text(_)) && socket.send(message).await.is_err() {
                    return;
                }
            }
        })
    }
    let docs = system_echo_docs();
    let app = Router::new()
        .route("/ws/plain", get(plain_echo))
        .merge(system_echo::router())
        .merge(docs.clone().routes());
    let addr = serve(app).await;

    let (status, content_type, body) = http_get(addr, "/asyncapi.json").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"), "{body}");
    let served: Value = serde_json::from_str(&body).expect("JSON");
    let channels: Vec<&String> =
        served["channels"].as_object().map(Map::keys).into_iter().flatten().collect();
    assert_eq!(channels, ["system"]);
    assert_eq!(
        served["servers"]["default"],
        json!({
            "host": addr.to_string(),
            "protocol": "ws",
            "description": "The server this document was served from",
        })
    );
    let mut without_servers = served.clone();
    without_servers.as_object_mut().unwrap().remove("servers");
    assert_eq!(without_servers, docs.document().unwrap(), "served = generated, plus the request's server");
    let (status, content_type, yaml) = http_get(addr, "/asyncapi.yaml").await;
    assert_eq!((status, content_type.as_str()), (200, "application/yaml"));
    assert!(yaml.starts_with("asyncapi: 3.0.0\n"), "{yaml}");

    let mut plain = Client::connect(addr, "/ws/plain").await;
    plain.send_json(json!({"anything": "goes"})).await;
    assert_eq!(plain.recv().await, json!({"anything": "goes"}));
    let contract = Arc::new(Contract::new(&docs));
    let mut chanx = Peer::connect(&contract, addr, "/ws/system", "system", false).await;
    chanx.recv().await;
    chanx.sync().await;
    contract.assert_clean();
}

/// A handler named like a generated operation.
#[derive(Default)]
pub struct Clashing;

#[chanx::channel(name = "clash")]
impl Clashing {
    #[chanx::ws_handler]
    async fn completion(&mut self, _msg: chanx::PingMessage) -> chanx::PongMessage {
        chanx::PongMessage
    }
}

impl chanx::Consumer for Clashing {}

#[test]
fn two_operations_with_one_id_are_an_error() {
    let docs = chanx::asyncapi::AsyncApi::new().channel::<Clashing>("/ws/clash");
    match docs.document() {
        Err(chanx::asyncapi::AsyncApiError::DuplicateOperation(id)) => assert_eq!(id, "clash.completion"),
        other => panic!("expected a duplicate operation error, got {other:?}"),
    }
}

/// What a handler replies goes back to the sender (the `reply` of its `receive`
/// operation); what it broadcasts (`broadcasts(...)`) reaches the group: a `send`
/// operation of its own.
#[test]
fn replies_and_broadcasts_are_separate_operations() {
    let document = room_chat_docs().document().expect("a document");
    let operations = &document["operations"];
    let chat = &operations["room_chat.handle_room_chat"];
    assert_eq!(chat["action"], "receive");
    let replies: Vec<&str> = chat["reply"]["messages"]
        .as_array()
        .expect("replies")
        .iter()
        .filter_map(|m| m["$ref"].as_str())
        .collect();
    assert!(replies.iter().all(|r| !r.contains("room_notification")), "{replies:?}");
    let broadcast = &operations["room_chat.handle_room_chat_broadcast"];
    assert_eq!(broadcast["action"], "send");
    let sent: Vec<&str> = broadcast["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["$ref"].as_str())
        .collect();
    let names: Vec<&str> = sent.iter().filter_map(|r| r.rsplit('/').next()).collect();
    assert_eq!(names, ["RoomNotificationMessage", "GroupCompleteMessage"]);
}

// ---------------------------------------------------------------------------------------
// Topics
// ---------------------------------------------------------------------------------------

#[payload]
pub struct Post {
    pub text: String,
}

/// A post to a room.
#[message(action = "post")]
pub struct PostMessage {
    pub payload: Post,
}

/// The answer to a post.
#[message(action = "posted")]
pub struct PostedMessage {
    pub payload: Post,
}

/// An event pushed to a room's subscribers.
#[message(action = "room_event")]
pub struct RoomEvent {
    pub payload: Post,
}

/// What a subscriber gets for a room event.
#[message(action = "room_news")]
pub struct RoomNews {
    pub payload: Post,
}

/// What a room's subscriber is told first.
#[message(action = "room_state")]
pub struct RoomStateMessage {
    pub payload: String,
}

/// Who is present: forwarded to the client as it is.
#[message(action = "presence")]
pub struct Presence(pub Vec<String>);

/// A chat room.
pub struct RoomTopic {
    pub room: String,
}

/// A chat room.
#[topic(pattern = "room:{room}", tags("rooms"), sends(RoomStateMessage))]
impl RoomTopic {
    /// Posts to the room.
    #[ws_handler]
    async fn post(&mut self, msg: PostMessage) -> PostedMessage {
        PostedMessage { payload: msg.payload }
    }

    #[event_handler]
    async fn on_room_event(&mut self, event: RoomEvent) -> RoomNews {
        RoomNews { payload: event.payload }
    }
}

impl Topic for RoomTopic {
    async fn authorize(&self, _cx: &Context) -> bool {
        self.room != "secret"
    }

    async fn on_subscribe(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(RoomStateMessage { payload: self.room.clone() }).await
    }
}

/// Who is in a room.
pub struct PresenceTopic {
    pub room: String,
}

#[topic(pattern = "presence:{room}", passthrough(Presence))]
impl PresenceTopic {}

impl Topic for PresenceTopic {}

/// A hub of rooms and their presence, behind a token.
#[derive(Default)]
pub struct TopicHub;

#[channel(name = "hub", topics(RoomTopic, PresenceTopic), credentials(query("token", "Access token")))]
impl TopicHub {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for TopicHub {}

/// The hub, and the rooms on a standalone route.
fn topics_docs() -> AsyncApi {
    tutorial_docs().channel::<TopicHub>("/ws/hub").topic::<RoomTopic>("/ws/rooms/{room}")
}

/// The component message keys of a list of `$ref`s to channel messages.
fn message_names(refs: &Value) -> Vec<&str> {
    let refs = refs.as_array().unwrap_or_else(|| panic!("not a list of messages: {refs}"));
    refs.iter().filter_map(|m| m["$ref"].as_str()?.rsplit('/').next()).collect()
}

/// The operation ids of `channel`, sorted.
fn operation_ids<'a>(document: &'a Value, channel: &str) -> Vec<&'a str> {
    let reference = json!({ "$ref": format!("#/channels/{channel}") });
    let operations = document["operations"].as_object().expect("operations");
    operations.iter().filter(|(_, op)| op["channel"] == reference).map(|(id, _)| id.as_str()).collect()
}

#[test]
fn topics_are_documented_as_chanx_does() {
    let document = topics_docs().document().expect("a document");
    let channels = &document["channels"];
    let names: Vec<&String> = channels.as_object().expect("channels").keys().collect();
    assert_eq!(names, ["hub", "hub_room_topic", "hub_presence_topic", "room_topic"]);

    // A hub's topic: its own channel at the hub's address, with the hub's credentials.
    let room = &channels["hub_room_topic"];
    assert_eq!(room["address"], "/ws/hub");
    assert_eq!(room["title"], "hub_room_topic");
    assert_eq!(room["description"], "A chat room.");
    assert_eq!(room["tags"], json!([{ "name": "rooms" }]));
    assert_eq!(
        room["x-topic"],
        json!({ "name": "room_topic", "pattern": "room:{room}", "parameters": ["room"] })
    );
    assert_eq!(room["bindings"], channels["hub"]["bindings"]);
    assert!(room.get("parameters").is_none());
    let messages: Vec<&String> = room["messages"].as_object().expect("messages").keys().collect();
    assert_eq!(
        messages,
        [
            "CompleteMessage",
            "ErrorMessage",
            "EventCompleteMessage",
            "GroupCompleteMessage",
            "PostMessage",
            "PostedMessage",
            "RoomNews",
            "RoomStateMessage",
            "SubscribeMessage",
            "SubscribedMessage",
            "UnsubscribeMessage",
            "UnsubscribedMessage",
        ]
    );
    assert_eq!(
        channels["hub_presence_topic"]["x-topic"],
        json!({ "name": "presence_topic", "pattern": "presence:{room}", "parameters": ["room"] })
    );
    assert!(channels["hub"].get("x-topic").is_none());

    // Its operations: the topic's handlers, events and hook messages, and the topic
    // protocol; the connection's `authentication` stays on the hub.
    assert_eq!(
        operation_ids(&document, "hub_room_topic"),
        [
            "hub_room_topic.post",
            "hub_room_topic.subscribe",
            "hub_room_topic.unsubscribe",
            "hub_room_topic.on_room_event",
            "hub_room_topic.send_room_state",
            "hub_room_topic.completion",
        ]
    );
    assert_eq!(
        operation_ids(&document, "hub_presence_topic"),
        [
            "hub_presence_topic.subscribe",
            "hub_presence_topic.unsubscribe",
            "hub_presence_topic.send_presence",
            "hub_presence_topic.completion",
        ]
    );
    assert_eq!(operation_ids(&document, "hub"), ["hub.ping", "hub.completion", "hub.authentication"]);
    let operations = &document["operations"];
    let post = &operations["hub_room_topic.post"];
    assert_eq!(post["action"], "receive");
    assert_eq!(post["description"], "Posts to the room.");
    assert_eq!(message_names(&post["messages"]), ["PostMessage"]);
    assert_eq!(
        message_names(&post["reply"]["messages"]),
        ["PostedMessage", "ErrorMessage", "CompleteMessage"]
    );
    assert_eq!(post["reply"]["channel"], json!({ "$ref": "#/channels/hub_room_topic" }));
    let event = &operations["hub_room_topic.on_room_event"];
    assert_eq!(event["action"], "send");
    assert_eq!(message_names(&event["messages"]), ["RoomNews", "EventCompleteMessage"]);

    // The topic protocol's frames.
    let subscribe = &operations["hub_room_topic.subscribe"];
    assert_eq!(subscribe["action"], "receive");
    assert_eq!(subscribe["summary"], "Subscribe to a topic of this channel");
    assert_eq!(message_names(&subscribe["messages"]), ["SubscribeMessage"]);
    assert_eq!(
        message_names(&subscribe["reply"]["messages"]),
        ["SubscribedMessage", "ErrorMessage", "CompleteMessage"]
    );
    let description = subscribe["description"].as_str().expect("a description");
    for reason in ["unknown_topic", "unauthorized", "too_many_subscriptions", "not_subscribed", "`seq`"] {
        assert!(description.contains(reason), "{reason}: {description}");
    }
    let unsubscribe = &operations["hub_room_topic.unsubscribe"];
    assert_eq!(message_names(&unsubscribe["messages"]), ["UnsubscribeMessage"]);
    assert_eq!(message_names(&unsubscribe["reply"]["messages"]), ["UnsubscribedMessage", "CompleteMessage"]);
    for action in ["subscribe", "subscribed", "unsubscribe", "unsubscribed"] {
        let key = document["components"]["messages"]
            .as_object()
            .expect("messages")
            .iter()
            .find(|(_, m)| m["name"] == action);
        assert!(key.is_some(), "a component message for `{action}`");
    }

    // Every operation of a hub's topic lists the hub's credentials.
    let token = json!([{ "$ref": "#/components/securitySchemes/query_token" }]);
    for channel in ["hub", "hub_room_topic", "hub_presence_topic"] {
        let security = operation_security(&document, channel);
        assert!(security.values().all(|s| *s == token), "{channel}: {security:#?}");
    }

    // A standalone route is its topic: named as the topic, with the route's parameters
    // and the connection's frames.
    let standalone = &channels["room_topic"];
    assert_eq!(standalone["address"], "/ws/rooms/{room}");
    assert_eq!(standalone["x-topic"], room["x-topic"]);
    assert_eq!(standalone["parameters"], json!({ "room": { "description": "Path parameter `room`" } }));
    assert!(standalone.get("bindings").is_none());
    assert_eq!(
        operation_ids(&document, "room_topic"),
        [
            "room_topic.post",
            "room_topic.subscribe",
            "room_topic.unsubscribe",
            "room_topic.on_room_event",
            "room_topic.send_room_state",
            "room_topic.completion",
            "room_topic.authentication",
        ]
    );
    assert!(operation_security(&document, "room_topic").values().all(Value::is_null));
    let same = AsyncApi::new().channel::<chanx::Standalone<RoomTopic>>("/ws/rooms/{room}");
    let topic = AsyncApi::new().topic::<RoomTopic>("/ws/rooms/{room}");
    assert_eq!(same.document().expect("a document"), topic.document().expect("a document"));
}

/// The error frame's payload, a topic error among its shapes, and the envelope keys of
/// every message, `seq` included.
#[test]
fn the_topic_error_and_the_envelope_are_in_the_schemas() {
    let document = topics_docs().document().expect("a document");
    let schemas = &document["components"]["schemas"];
    let error = &schemas["ErrorMessage"]["properties"]["payload"];
    let shapes = resolve(&document, error)["anyOf"].as_array().expect("the error payload's shapes");
    let topic_error = shapes.iter().find(|s| s["title"] == "TopicError").expect("a TopicError shape");
    assert_eq!(topic_error["required"], json!(["reason", "detail"]));
    assert_eq!(topic_error["properties"]["detail"]["type"], "string");
    let reason = resolve(&document, &topic_error["properties"]["reason"]["allOf"][0]);
    let reasons: Vec<&Value> =
        reason["oneOf"].as_array().expect("reasons").iter().map(|r| &r["const"]).collect();
    assert_eq!(reasons, ["unknown_topic", "unauthorized", "not_subscribed", "too_many_subscriptions"]);
    for (key, message) in document["components"]["messages"].as_object().expect("messages") {
        let properties = &resolve(&document, &message["payload"])["properties"];
        for envelope in ["ref", "version", "topic"] {
            assert!(properties.get(envelope).is_some(), "{key} documents `{envelope}`");
        }
        assert_eq!(properties["seq"]["type"], "integer", "{key} documents `seq`");
        assert_eq!(properties["seq"]["minimum"], 0, "{key}");
    }
}

/// A channel named like a hub's topic channel is a duplicate.
#[derive(Default)]
pub struct HubRoomTopic;

#[channel(name = "hub_room_topic")]
impl HubRoomTopic {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for HubRoomTopic {}

#[test]
fn a_consumer_named_like_a_topic_channel_is_an_error() {
    let docs = AsyncApi::new().channel::<TopicHub>("/ws/hub").channel::<HubRoomTopic>("/ws/other");
    let error = docs.document().expect_err("two channels named `hub_room_topic`");
    assert!(
        matches!(&error, AsyncApiError::DuplicateChannel { name, first, second }
            if name == "hub_room_topic" && first == "/ws/hub" && second == "/ws/other"),
        "{error:?}"
    );
}

/// Traffic over the hub (its topics' frames routed to their channels by `topic`) and
/// over the standalone route, with completion frames off and on.
#[tokio::test]
async fn topic_traffic_follows_the_document() {
    let contract = Arc::new(Contract::new(&topics_docs()));
    for completion in [false, true] {
        let settings = Settings::default().send_completion(completion).max_subscriptions(2);
        let layers = settings.channel_layers().clone();
        let app = Router::new()
            .route("/ws/hub", TopicHub::route())
            .route("/ws/rooms/{room}", RoomTopic::route())
            .layer(Extension(settings));
        let addr = serve(app).await;
        let layer = layers.default_layer();

        let mut hub = Peer::connect(&contract, addr, "/ws/hub?token=t", "hub", completion).await;
        hub.send(json!({"topic": "room:lobby", "action": "post", "payload": {"text": "early"}})).await;
        assert_eq!(hub.refused("a post before subscribing").await["payload"]["reason"], "not_subscribed");
        hub.send(json!({"topic": "room:lobby", "ref": "1", "action": "subscribe"})).await;
        let frames = hub.sync().await;
        assert_eq!(
            frames[0],
            json!({"action": "subscribed", "payload": null, "version": 1, "topic": "room:lobby", "ref": "1"})
        );
        assert!(has(&frames, "room_state"), "{frames:?}");
        hub.send(json!({"topic": "room:lobby", "ref": "2", "action": "post", "payload": {"text": "hi"}}))
            .await;
        assert_eq!(hub.sync().await[0]["action"], "posted");
        hub.send_refused(json!({"topic": "room:lobby", "action": "post", "payload": {"text": 1}})).await;

        let event = RoomEvent { payload: Post { text: "news".into() } };
        layer.topic::<RoomTopic>("room:lobby").broadcast(&event).seq(7).await.expect("pushed");
        let news = hub.recv_while(|f| has(f, "room_news") && (!completion || has(f, "event_complete"))).await;
        assert_eq!(news[0]["seq"], 7, "{news:?}");

        // A name no topic type matches is on no topic channel: the document has no
        // frame for it, and the server refuses it.
        let unknown = hub.send_refused(json!({"topic": "nope:x", "action": "subscribe"})).await;
        assert_eq!(unknown["payload"]["reason"], "unknown_topic");
        hub.send(json!({"topic": "room:secret", "action": "subscribe"})).await;
        assert_eq!(hub.refused("a secret room").await["payload"]["reason"], "unauthorized");
        hub.send(json!({"topic": "presence:lobby", "action": "subscribe"})).await;
        hub.sync().await;
        let presence = Presence(vec!["ann".into()]);
        layer.topic::<PresenceTopic>("presence:lobby").broadcast(&presence).await.expect("pushed");
        let forwarded = hub.recv_while(|f| has(f, "presence")).await;
        assert_eq!(forwarded[0]["topic"], "presence:lobby");
        hub.send(json!({"topic": "room:other", "action": "subscribe"})).await;
        assert_eq!(hub.refused("a third topic").await["payload"]["reason"], "too_many_subscriptions");
        hub.send(json!({"topic": "room:lobby", "ref": "3", "action": "unsubscribe"})).await;
        assert_eq!(hub.sync().await[0]["action"], "unsubscribed");
        hub.send(json!({"topic": "room:never", "action": "unsubscribe"})).await;
        assert_eq!(hub.sync().await[0]["action"], "unsubscribed");

        // The standalone route: frames without `topic` are for the route's topic.
        let room = Peer::connect(&contract, addr, "/ws/rooms/lobby", "room_topic", completion).await;
        let mut room = room.probing("subscribe", "subscribed");
        let opened = room.recv_while(|f| has(f, "room_state")).await;
        assert_eq!(opened[0]["action"], "subscribed", "{opened:?}");
        room.send(json!({"action": "post", "payload": {"text": "hi"}})).await;
        assert_eq!(room.sync().await[0]["topic"], "room:lobby");
        room.send(json!({"topic": "room:upstairs", "action": "subscribe"})).await;
        assert!(has(&room.sync().await, "room_state"));
        room.send(json!({"topic": "room:upstairs", "action": "unsubscribe"})).await;
        room.sync().await;
    }
    contract.assert_clean();
    // No authentication is refused, and nothing broadcasts to groups.
    let expected: BTreeSet<String> =
        ["AuthenticationMessage", "GroupCompleteMessage"].map(String::from).into();
    assert_eq!(contract.unexercised(), expected, "messages of the document the traffic never used");
}
