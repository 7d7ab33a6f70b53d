//! A channel layer over Redis pub/sub, wire-compatible with the `RedisPubSubChannelLayer`
//! of Python Chanx (fast-channels, channels_redis): Rust and Python processes on the
//! same Redis share groups, broadcasts and events.
//!
//! The other Redis layer, [`RedisQueueLayer`], stores messages instead (bounded,
//! expiring), as Python Chanx's `RedisChannelLayer` does, and serves general channels
//! that workers consume; its documentation states its format and guarantees. The two
//! do not talk to each other: every process sharing groups must use the same one.
//!
//! # What goes over Redis
//!
//! - A connection's channel name is `<prefix>specific.<32 hex>`; the process
//!   `SUBSCRIBE`s to it while the connection is registered.
//! - A group is the pub/sub channel `<prefix>__group__<group>`. Membership lives in
//!   each process; a process subscribes when its first local connection joins the
//!   group and unsubscribes when its last one leaves.
//! - Messages are msgpack maps with string keys, as msgpack-python's `packb` writes
//!   them. A broadcast is `{"type": "handle_group_message", "message": <frame>,
//!   "exclude_current": <bool>, "from_channel": <sender>}`, published once per group;
//!   an event is `{"type": "handle_channel_event", "event_data": <frame>}`, published to
//!   a connection's channel or once per group; a topic push is `{"type":
//!   "handle_topic_event", "topic": <name>, "seq": <int or nil>, "event_data": <frame>}`,
//!   published to the group of the topic's subscribers.
//! - With several Redis hosts, a name (the connection's channel name, or the group's
//!   pub/sub channel) lives on host `int((crc32(name) & 0xFFF) / (4096 / hosts))`.
//!
//! # Delivery guarantees
//!
//! Redis pub/sub delivers to whoever is subscribed at the moment of the `PUBLISH`, so:
//!
//! - **At most once.** A message published while a process is disconnected from Redis
//!   (or before its subscription is in place) is lost for that process; after a
//!   reconnection the subscriptions are renewed, not the missed messages. Nothing is
//!   stored, so nothing survives a restart of either side.
//! - **Order** is kept per sender and per Redis channel (one connection's channel, or
//!   one group), as Redis keeps it on one connection. Messages to different groups, or
//!   from different senders, may interleave in any order.
//! - A connection in several of the groups a message is sent to receives it once per
//!   group (each group is its own pub/sub channel), as with Python Chanx.
//! - Every Redis operation is bounded by the layer's timeout; past it the operation
//!   fails with [`LayerError::Timeout`] and the message may or may not have gone out.
//!   A group send publishes group by group, each within the timeout. A join or leave
//!   that changes the process's subscriptions first waits (within the timeout too) for
//!   any other such change of this process to finish.
//! - Received messages wait in an in-process buffer bounded in bytes
//!   ([`receive_buffer`](RedisPubSubLayerBuilder::receive_buffer), 16 MiB by default)
//!   until the layer's receive loop hands them to the connections' bounded buffers. The
//!   loop never waits on a connection, so the buffer only holds what arrived faster than
//!   it can be decoded; what finds it full is dropped, logged and counted
//!   ([`RedisPubSubLayer::dropped`]).
//! - Delivery to local connections never waits: a full connection buffer is handled
//!   by the [`Overflow`](super::Overflow) policy as with the in-memory layer.
//!
//! # When Redis is down
//!
//! [`build`](RedisPubSubLayerBuilder::build) never waits for Redis: an app starts with
//! Redis unreachable, logs it (one error line per host, and one line when it answers
//! again), and each connection of a consumer on the layer is closed with 1011
//! ("Channel layer unavailable") after at most the timeout, while consumers on other
//! layers work. Once Redis answers, new connections work again. After a Redis restart
//! the layer reconnects by itself and renews every subscription it holds, so open
//! WebSockets stay open and broadcasts flow again; what was published meanwhile is lost.
//! [`connect`](RedisPubSubLayerBuilder::connect) is `build` plus a first answer from
//! every host, for an app that would rather not start without Redis.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use ::redis::aio::AsyncPushSender;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::task::AbortOnDropHandle;

use super::{BoxFuture, ChannelLayer, Inbox, Kind, LayerError, LayerMessage, TopicStamp, read, write};
use crate::log::throttled;
use crate::queue::{Cost, PushError, QueueReceiver, queue};

mod queue;
pub use queue::{RedisQueueLayer, RedisQueueLayerBuilder};

/// The `type` of a broadcast, as Chanx's consumers dispatch it.
const GROUP_MESSAGE: &str = "handle_group_message";
/// The `type` of a server-side event.
const CHANNEL_EVENT: &str = "handle_channel_event";
/// The `type` of an event pushed to a topic's subscribers.
const TOPIC_EVENT: &str = "handle_topic_event";
/// Names must be shorter than this (Chanx and channels_redis).
const MAX_NAME_LENGTH: usize = 100;
/// How often an idle shard is pinged, so that a lost connection is noticed and
/// re-established (with its subscriptions) even when nothing is being sent.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// The default budget of messages received from Redis and not yet handed on.
const RECEIVE_BUFFER: usize = 16 << 20;

/// Configures a [`RedisPubSubLayer`]: `RedisPubSubLayer::builder()`.
#[derive(Clone)]
pub struct RedisPubSubLayerBuilder {
    hosts: Vec<String>,
    prefix: String,
    timeout: Duration,
    receive_buffer: usize,
}

impl fmt::Debug for RedisPubSubLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may carry a password.
        f.debug_struct("RedisPubSubLayerBuilder")
            .field("hosts", &self.hosts.len())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("receive_buffer", &self.receive_buffer)
            .finish()
    }
}

impl Default for RedisPubSubLayerBuilder {
    fn default() -> Self {
        RedisPubSubLayerBuilder {
            hosts: Vec::new(),
            prefix: "asgi".into(),
            timeout: Duration::from_secs(2),
            receive_buffer: RECEIVE_BUFFER,
        }
    }
}

impl RedisPubSubLayerBuilder {
    /// Adds a Redis host by URL (`redis://[:password@]host:port[/db]`, `rediss://` for
    /// TLS is not built in). Several hosts shard names as Python Chanx does; list them
    /// in the same order in every process. Without any, `redis://127.0.0.1:6379`.
    pub fn host(mut self, url: impl Into<String>) -> Self {
        self.hosts.push(url.into());
        self
    }

    /// The prefix of every Redis channel name (default `asgi`, Chanx's): ASCII
    /// letters, digits, `-`, `_` and `.`. Processes share groups only under the same
    /// prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest any Redis operation (connecting, `SUBSCRIBE`, `PUBLISH`, ...) may
    /// take before it fails with [`LayerError::Timeout`]; default 2 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many bytes of messages received from Redis may wait for the receive loop
    /// (default 16 MiB); what arrives when they are used up is dropped, logged and
    /// counted ([`RedisPubSubLayer::dropped`]).
    pub fn receive_buffer(mut self, bytes: usize) -> Self {
        self.receive_buffer = bytes;
        self
    }

    /// The layer, without waiting for Redis: connections are made on first use and
    /// remade after a loss, and the receive loop checks every host at once and every
    /// 5 s after, logging when one becomes unreachable or answers again. Fails only
    /// for a URL that cannot be parsed ([`LayerError::Backend`]) or a prefix Chanx
    /// cannot carry ([`LayerError::InvalidName`]). Must be called inside a tokio
    /// runtime.
    pub fn build(self) -> Result<RedisPubSubLayer, LayerError> {
        if !self.prefix.is_empty() {
            check_name("prefix", &self.prefix)?;
        }
        let urls = if self.hosts.is_empty() { vec!["redis://127.0.0.1:6379".to_owned()] } else { self.hosts };
        let (push_tx, push_rx) = queue::<Push>(self.receive_buffer);
        let dropped = Arc::new(AtomicU64::new(0));
        let hand_off = {
            let dropped = dropped.clone();
            move |push: PushInfo| match push_tx.try_push(Push(push)) {
                Ok(()) => Ok(()),
                Err(PushError::Full) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    throttled!(warn, "receive buffer full: a message from Redis was dropped");
                    Ok(())
                }
                Err(PushError::Closed) => Err(PushError::Closed),
            }
        };
        let hand_off = Arc::new(hand_off);
        let shards = urls
            .iter()
            .map(|url| Shard::new(url, self.timeout, hand_off.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let group_prefix = format!("{}__group__", self.prefix);
        let shared = Arc::new_cyclic(|weak: &Weak<Shared>| {
            let receiver = AbortOnDropHandle::new(tokio::spawn(receive_loop(weak.clone(), push_rx)));
            Shared {
                prefix: self.prefix,
                group_prefix,
                timeout: self.timeout,
                shards,
                channels: RwLock::default(),
                groups: RwLock::default(),
                subscriptions: tokio::sync::Mutex::new(()),
                dropped,
                _receiver: receiver,
            }
        });
        Ok(RedisPubSubLayer { shared })
    }

    /// [`build`](Self::build), then waits for every host to answer, each within the
    /// timeout: fails with [`LayerError::Timeout`] or [`LayerError::Backend`] (a
    /// refused connection, an authentication error) rather than start without Redis.
    pub async fn connect(self) -> Result<RedisPubSubLayer, LayerError> {
        let layer = self.build()?;
        for shard in &layer.shared.shards {
            layer.shared.ping(shard).await?;
        }
        tracing::info!(hosts = layer.shared.shards.len(), prefix = %layer.shared.prefix, "connected to Redis");
        Ok(layer)
    }
}

/// A channel layer over Redis pub/sub, shared with other chanx processes and with
/// Python Chanx processes using `RedisPubSubChannelLayer` under the same prefix.
/// See the [module documentation](self) for the wire format and the delivery
/// guarantees (at most once, nothing kept across a restart).
///
/// Cloning is cheap: clones share the connections, the receive loop and the local
/// memberships. Build one per process and hand it to [`Layers`](super::Layers).
///
/// ```no_run
/// use chanx::layer::Layers;
/// use chanx::layer::redis::RedisPubSubLayer;
/// # async fn app() -> Result<(), chanx::layer::LayerError> {
/// let redis = RedisPubSubLayer::builder().host("redis://127.0.0.1:6379").connect().await?;
/// let layers = Layers::new(redis);
/// # let _ = layers;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RedisPubSubLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    prefix: String,
    /// `<prefix>__group__`.
    group_prefix: String,
    timeout: Duration,
    shards: Vec<Shard>,
    /// Local connections by channel name, with the groups (pub/sub channels) each is in.
    /// Locked before `groups` when both are.
    channels: RwLock<HashMap<String, Member>>,
    /// Local members by group pub/sub channel (`<prefix>__group__<group>`).
    groups: RwLock<HashMap<String, HashMap<String, Inbox>>>,
    /// Held across a group's subscribe or unsubscribe, so that the first join and the
    /// last leave of a group are never interleaved.
    subscriptions: tokio::sync::Mutex<()>,
    /// Messages dropped because the receive buffer was full.
    dropped: Arc<AtomicU64>,
    _receiver: AbortOnDropHandle<()>,
}

#[derive(Debug)]
struct Member {
    inbox: Inbox,
    groups: HashSet<String>,
}

/// One Redis host: a RESP3 connection that reconnects by itself and renews its
/// subscriptions, used both to publish and to receive.
struct Shard {
    /// `host:port`, for logs (never the URL, which may hold a password).
    address: String,
    connection: ConnectionManager,
    /// Whether the last health check had an answer, so that a change is logged once.
    reachable: AtomicBool,
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard").field("address", &self.address).finish()
    }
}

/// A message Redis pushed, costed by its bytes for the receive buffer.
struct Push(PushInfo);

impl Cost for Push {
    fn cost(&self) -> usize {
        self.0
            .data
            .iter()
            .map(|value| if let ::redis::Value::BulkString(bytes) = value { bytes.len() } else { 16 })
            .sum()
    }
}

impl Shard {
    /// The host at `url`, connected on first use; what it pushes goes to `push`.
    fn new(url: &str, timeout: Duration, push: Arc<impl AsyncPushSender>) -> Result<Shard, LayerError> {
        let info = url.into_connection_info().map_err(backend)?;
        let address = info.addr().to_string();
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let client = ::redis::Client::open(info.set_redis_settings(settings)).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_push_sender(push)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(backend)?;
        // Assumed reachable until a check says otherwise, so that the first failure is
        // logged as such.
        Ok(Shard { address, connection, reachable: AtomicBool::new(true) })
    }
}

fn backend(error: ::redis::RedisError) -> LayerError {
    LayerError::Backend(Box::new(error))
}

/// Runs one Redis operation within `limit`; failures are logged.
async fn bounded<T>(
    address: &str,
    operation: &'static str,
    limit: Duration,
    running: impl Future<Output = RedisResult<T>>,
) -> Result<T, LayerError> {
    match tokio::time::timeout(limit, running).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            throttled!(warn, address, operation, %error, "Redis command failed");
            Err(backend(error))
        }
        Err(_) => {
            throttled!(warn, address, operation, "Redis did not answer in time");
            Err(LayerError::Timeout { operation, after: limit })
        }
    }
}

/// Index of the host holding `name` among `hosts`, as channels_redis computes it:
/// `int((crc32(name) & 0xFFF) / (4096 / hosts))`.
pub fn shard_index(name: &str, hosts: usize) -> usize {
    if hosts <= 1 {
        return 0;
    }
    let bucket = f64::from(crc32fast::hash(name.as_bytes()) & 0xFFF);
    // `bucket / (4096 / hosts)` is below `hosts`; the `min` guards the float rounding.
    ((bucket / (4096.0 / hosts as f64)) as usize).min(hosts - 1)
}

/// Whether Chanx accepts `name` as a group or channel name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < MAX_NAME_LENGTH
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn check_name(what: &'static str, name: &str) -> Result<(), LayerError> {
    if valid_name(name) {
        return Ok(());
    }
    Err(invalid_name(what, name))
}

/// The error for a `name` the layer cannot carry.
fn invalid_name(what: &'static str, name: &str) -> LayerError {
    LayerError::InvalidName { what, name: name.chars().take(MAX_NAME_LENGTH).collect() }
}

/// The connections a queue-layer message is for, under the key `"__asgi_channel__"`
/// (channels_redis): one channel name for a send, the receiving process's member names
/// for a group send. Pub/sub messages have none.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
enum Targets<S> {
    /// A send to one connection.
    One(S),
    /// A group send: the members in one process.
    Many(Vec<S>),
}

/// A broadcast as Chanx puts it on a layer (keys in Chanx's order).
#[derive(Debug, Serialize)]
struct GroupMessageOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a Value,
    exclude_current: bool,
    from_channel: &'a str,
    #[serde(rename = "__asgi_channel__", skip_serializing_if = "Option::is_none")]
    targets: Option<Targets<&'a str>>,
}

/// A server-side event as Chanx puts it on a layer.
#[derive(Debug, Serialize)]
struct ChannelEventOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event_data: &'a Value,
    #[serde(rename = "__asgi_channel__", skip_serializing_if = "Option::is_none")]
    targets: Option<Targets<&'a str>>,
}

/// An event for a topic's subscribers as Chanx puts it on a layer.
#[derive(Debug, Serialize)]
struct TopicEventOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    topic: &'a str,
    seq: Option<u64>,
    event_data: &'a Value,
    #[serde(rename = "__asgi_channel__", skip_serializing_if = "Option::is_none")]
    targets: Option<Targets<&'a str>>,
}

/// The Redis commands the layer sends, on the shard of the name they apply to.
#[derive(Debug, Clone, Copy)]
enum Command<'a> {
    Subscribe,
    Unsubscribe,
    Publish(&'a [u8]),
}

impl Command<'_> {
    fn name(self) -> &'static str {
        match self {
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Publish(_) => "PUBLISH",
        }
    }
}

/// Any message read from Redis: the keys chanx knows, the others ignored.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    event_data: Option<Value>,
    #[serde(default)]
    exclude_current: bool,
    #[serde(default)]
    from_channel: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    seq: Option<Seq>,
    #[serde(default, rename = "__asgi_channel__")]
    targets: Option<Targets<String>>,
}

/// A topic event's `seq`, whatever Python put there (its `Topic.broadcast` takes any
/// value): a number chanx can copy, or anything else, which costs the push its `seq`
/// and not its delivery.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Seq {
    Number(u64),
    Other(serde::de::IgnoredAny),
}

/// Encodes `message` as the msgpack map Chanx publishes for it.
fn encode(message: &LayerMessage) -> Result<Vec<u8>, LayerError> {
    let mut packed = Vec::new();
    Packer::new(message)?.pack_into(None, &mut packed)?;
    Ok(packed)
}

/// A message whose frame is parsed once, to be packed for any number of targets.
struct Packer<'a> {
    message: &'a LayerMessage,
    frame: Value,
}

impl<'a> Packer<'a> {
    fn new(message: &'a LayerMessage) -> Result<Self, LayerError> {
        let frame = serde_json::from_str(message.frame.as_str())
            .map_err(|error| LayerError::Backend(Box::new(error)))?;
        Ok(Packer { message, frame })
    }

    /// Appends the msgpack map to `out`, with `"__asgi_channel__"` when `targets` is set.
    fn pack_into(&self, targets: Option<Targets<&str>>, out: &mut Vec<u8>) -> Result<(), LayerError> {
        let message = self.message;
        let packed = match message.kind {
            Kind::Broadcast => rmp_serde::encode::write_named(
                out,
                &GroupMessageOut {
                    kind: GROUP_MESSAGE,
                    message: &self.frame,
                    exclude_current: message.exclude.is_some(),
                    // Chanx's receivers read the key even when `exclude_current` is false.
                    from_channel: message.exclude.as_deref().unwrap_or(""),
                    targets,
                },
            ),
            Kind::Event => match &message.topic {
                None => rmp_serde::encode::write_named(
                    out,
                    &ChannelEventOut { kind: CHANNEL_EVENT, event_data: &self.frame, targets },
                ),
                Some(topic) => rmp_serde::encode::write_named(
                    out,
                    &TopicEventOut {
                        kind: TOPIC_EVENT,
                        topic: &topic.name,
                        seq: topic.seq,
                        event_data: &self.frame,
                        targets,
                    },
                ),
            },
        };
        packed.map_err(|error| LayerError::Backend(Box::new(error)))
    }
}

/// Why a message read from Redis was dropped.
#[derive(Debug, thiserror::Error)]
enum DecodeError {
    #[error("not a msgpack map chanx reads: {0}")]
    Msgpack(#[from] rmp_serde::decode::Error),
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("a `{0}` message without its `{1}` key")]
    Missing(&'static str, &'static str),
    #[error("the frame has no string `action`")]
    NoAction,
    #[error("the frame cannot be written as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Decodes a message read from Redis into the frame local connections receive.
fn decode(payload: &[u8]) -> Result<LayerMessage, DecodeError> {
    decode_addressed(payload).map(|(message, _)| message)
}

/// [`decode`], with the `"__asgi_channel__"` targets of a queue-layer message.
fn decode_addressed(payload: &[u8]) -> Result<(LayerMessage, Option<Targets<String>>), DecodeError> {
    let envelope: Envelope = rmp_serde::from_slice(payload)?;
    let (kind, body) = match envelope.kind.as_str() {
        GROUP_MESSAGE => {
            (Kind::Broadcast, envelope.message.ok_or(DecodeError::Missing(GROUP_MESSAGE, "message"))?)
        }
        CHANNEL_EVENT => {
            (Kind::Event, envelope.event_data.ok_or(DecodeError::Missing(CHANNEL_EVENT, "event_data"))?)
        }
        TOPIC_EVENT => {
            (Kind::Event, envelope.event_data.ok_or(DecodeError::Missing(TOPIC_EVENT, "event_data"))?)
        }
        _ => return Err(DecodeError::UnknownType(envelope.kind)),
    };
    let topic = match (envelope.kind.as_str(), envelope.topic) {
        (TOPIC_EVENT, Some(name)) => {
            // A sequence number below zero (or not a number) is Python's to send, not
            // ours to copy.
            let seq = match envelope.seq {
                Some(Seq::Number(seq)) => Some(seq),
                Some(Seq::Other(_)) | None => None,
            };
            Some(Arc::new(TopicStamp { name: name.into(), seq }))
        }
        (TOPIC_EVENT, None) => return Err(DecodeError::Missing(TOPIC_EVENT, "topic")),
        _ => None,
    };
    let action = Arc::from(body.get("action").and_then(Value::as_str).ok_or(DecodeError::NoAction)?);
    let frame = Utf8Bytes::from(serde_json::to_string(&body)?);
    let exclude = match (kind, envelope.exclude_current, envelope.from_channel) {
        (Kind::Broadcast, true, Some(from)) => Some(Arc::from(from)),
        _ => None,
    };
    Ok((LayerMessage { kind, action, frame, exclude, topic }, envelope.targets))
}

/// Reads what every shard receives, for as long as the layer lives, and checks every
/// shard at once and then every few seconds, so that an unreachable host is logged and
/// a lost connection is re-established even when nothing is being sent.
async fn receive_loop(shared: Weak<Shared>, mut pushes: QueueReceiver<Push>) {
    let mut health = tokio::time::interval(HEALTH_INTERVAL);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let (Some(Push(push)), Some(shared)) = (push, shared.upgrade()) else { return };
                shared.on_push(push);
            }
            _ = health.tick() => {
                let Some(shared) = shared.upgrade() else { return };
                shared.check_health().await;
            }
        }
    }
}

impl Shared {
    fn shard(&self, name: &str) -> &Shard {
        // `connect` makes at least one shard.
        &self.shards[shard_index(name, self.shards.len())]
    }

    /// Runs one Redis command on the shard of `name`, within the timeout.
    async fn run(&self, command: Command<'_>, name: &str) -> Result<(), LayerError> {
        let shard = self.shard(name);
        let mut connection = shard.connection.clone();
        let operation = command.name();
        let running = async {
            match command {
                // Through the manager, which renews them after a reconnection.
                Command::Subscribe => connection.subscribe(name).await,
                Command::Unsubscribe => connection.unsubscribe(name).await,
                Command::Publish(payload) => {
                    ::redis::cmd("PUBLISH").arg(name).arg(payload).exec_async(&mut connection).await
                }
            }
        };
        bounded(&shard.address, operation, self.timeout, running).await
    }

    fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Message => match push.data.as_slice() {
                [::redis::Value::BulkString(channel), ::redis::Value::BulkString(payload)] => {
                    match std::str::from_utf8(channel) {
                        Ok(channel) => self.on_message(channel, payload),
                        Err(_) => throttled!(warn, "Redis message on a non-UTF-8 channel name dropped"),
                    }
                }
                _ => throttled!(warn, "malformed Redis pub/sub message dropped"),
            },
            PushKind::Disconnection => throttled!(
                warn,
                "connection to Redis lost; reconnecting (messages published meanwhile are lost)"
            ),
            kind => tracing::trace!(?kind, "Redis push"),
        }
    }

    /// Delivers one message to its local receivers: decoded once, the same frame bytes
    /// for all of them.
    fn on_message(&self, channel: &str, payload: &[u8]) {
        let is_group = channel.starts_with(&self.group_prefix);
        let anyone = if is_group {
            read(&self.groups).contains_key(channel)
        } else {
            read(&self.channels).contains_key(channel)
        };
        if !anyone {
            return tracing::debug!(channel, "no local receiver (any more); message dropped");
        }
        let message = match decode(payload) {
            Ok(message) => message,
            Err(error) => return throttled!(warn, channel, %error, "message from Redis dropped"),
        };
        let excluded = message.exclude.as_deref();
        if is_group {
            if let Some(members) = read(&self.groups).get(channel) {
                for (name, inbox) in members {
                    if Some(name.as_str()) != excluded {
                        inbox.deliver(message.clone());
                    }
                }
            }
        } else if Some(channel) != excluded
            && let Some(member) = read(&self.channels).get(channel)
        {
            member.inbox.deliver(message);
        }
    }

    /// One `PING` to `shard`, within the timeout.
    async fn ping(&self, shard: &Shard) -> Result<(), LayerError> {
        let mut connection = shard.connection.clone();
        match tokio::time::timeout(self.timeout, ::redis::cmd("PING").exec_async(&mut connection)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(backend(error)),
            Err(_) => Err(LayerError::Timeout { operation: "PING", after: self.timeout }),
        }
    }

    /// Pings every shard, logging each change between reachable and unreachable.
    async fn check_health(&self) {
        for shard in &self.shards {
            let outcome = self.ping(shard).await;
            let was_reachable = shard.reachable.swap(outcome.is_ok(), Ordering::Relaxed);
            match outcome {
                Ok(()) if !was_reachable => {
                    tracing::info!(address = %shard.address, prefix = %self.prefix, "Redis answers again")
                }
                Err(error) if was_reachable => tracing::error!(
                    address = %shard.address,
                    prefix = %self.prefix,
                    %error,
                    "cannot reach Redis: connections of consumers on this layer are closed with 1011 until it answers"
                ),
                _ => {}
            }
        }
    }

    async fn register(&self, channel: &str, inbox: Inbox) -> Result<(), LayerError> {
        check_name("channel", channel)?;
        self.run(Command::Subscribe, channel).await?;
        write(&self.channels).insert(channel.to_owned(), Member { inbox, groups: HashSet::new() });
        Ok(())
    }

    /// Waits (within the timeout) for any other group subscription change to finish.
    async fn transition(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, LayerError> {
        tokio::time::timeout(self.timeout, self.subscriptions.lock())
            .await
            .map_err(|_| LayerError::Timeout { operation: "group subscription change", after: self.timeout })
    }

    async fn unregister(&self, channel: &str) {
        // Without the guard (Redis too slow), emptied groups stay subscribed: that only
        // costs messages that find no receiver here.
        let transition = self.transition().await.ok();
        let Some(member) = write(&self.channels).remove(channel) else { return };
        let mut emptied = Vec::new();
        {
            let mut groups = write(&self.groups);
            for group in member.groups {
                if remove_member(&mut groups, &group, channel) {
                    emptied.push(group);
                }
            }
        }
        if transition.is_none() {
            emptied.clear();
        }
        for name in emptied.iter().map(String::as_str).chain([channel]) {
            // Failures are logged by `run`; a subscription left behind only costs
            // messages that find no receiver here.
            let _ = self.run(Command::Unsubscribe, name).await;
        }
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_name("group", group)?;
        let key = format!("{}{group}", self.group_prefix);
        let _transition = self.transition().await?;
        let inbox = read(&self.channels)
            .get(channel)
            .map(|member| member.inbox.clone())
            .ok_or_else(|| LayerError::UnknownChannel(channel.to_owned()))?;
        if !read(&self.groups).contains_key(&key) {
            self.run(Command::Subscribe, &key).await?;
        }
        // The connection may have gone while subscribing; then it has no membership.
        let mut channels = write(&self.channels);
        let member =
            channels.get_mut(channel).ok_or_else(|| LayerError::UnknownChannel(channel.to_owned()))?;
        member.groups.insert(key.clone());
        write(&self.groups).entry(key).or_default().insert(channel.to_owned(), inbox);
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        let key = format!("{}{group}", self.group_prefix);
        let _transition = self.transition().await?;
        if let Some(member) = write(&self.channels).get_mut(channel) {
            member.groups.remove(&key);
        }
        if remove_member(&mut write(&self.groups), &key, channel) {
            self.run(Command::Unsubscribe, &key).await?;
        }
        Ok(())
    }

    async fn group_send(&self, groups: &[String], message: &LayerMessage) -> Result<(), LayerError> {
        for group in groups {
            check_name("group", group)?;
        }
        let payload = encode(message)?;
        for group in groups {
            self.run(Command::Publish(&payload), &format!("{}{group}", self.group_prefix)).await?;
        }
        Ok(())
    }

    async fn send(&self, channel: &str, message: &LayerMessage) -> Result<(), LayerError> {
        check_name("channel", channel)?;
        self.run(Command::Publish(&encode(message)?), channel).await
    }
}

/// Removes `channel` from `group`; `true` when that left the group empty (and gone).
fn remove_member(groups: &mut HashMap<String, HashMap<String, Inbox>>, group: &str, channel: &str) -> bool {
    let Some(members) = groups.get_mut(group) else { return false };
    if members.remove(channel).is_none() || !members.is_empty() {
        return false;
    }
    groups.remove(group);
    true
}

impl RedisPubSubLayer {
    /// A builder: hosts, prefix, timeout, then [`build`](RedisPubSubLayerBuilder::build)
    /// or [`connect`](RedisPubSubLayerBuilder::connect).
    pub fn builder() -> RedisPubSubLayerBuilder {
        RedisPubSubLayerBuilder::default()
    }

    /// The prefix of this layer's Redis channel names.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// How many messages from Redis were dropped because the receive buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The channel names of this process's members of `group`, sorted (for tests and
    /// diagnostics; other processes' members are not known here).
    pub fn local_members(&self, group: &str) -> Vec<String> {
        let key = format!("{}{group}", self.shared.group_prefix);
        let mut members: Vec<String> =
            read(&self.shared.groups).get(&key).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        members.sort_unstable();
        members
    }
}

impl ChannelLayer for RedisPubSubLayer {
    /// `<prefix>specific.<32 hex>`, random (UUID v4), as Chanx names connections.
    fn new_channel_name(&self) -> String {
        format!("{}specific.{}", self.shared.prefix, uuid::Uuid::new_v4().simple())
    }

    fn register<'a>(&'a self, channel: &'a str, inbox: Inbox) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(self.shared.register(channel, inbox))
    }

    fn unregister<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.shared.unregister(channel))
    }

    fn group_add<'a>(&'a self, group: &'a str, channel: &'a str) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(self.shared.group_add(group, channel))
    }

    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(self.shared.group_discard(group, channel))
    }

    fn group_send<'a>(
        &'a self,
        groups: &'a [String],
        message: LayerMessage,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move { self.shared.group_send(groups, &message).await })
    }

    fn send<'a>(&'a self, channel: &'a str, message: LayerMessage) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move { self.shared.send(channel, &message).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broadcast(exclude: Option<&str>) -> LayerMessage {
        LayerMessage {
            kind: Kind::Broadcast,
            action: Arc::from("chat"),
            frame: Utf8Bytes::from_static(r#"{"action":"chat","payload":{"text":"hi"}}"#),
            exclude: exclude.map(Arc::from),
            topic: None,
        }
    }

    /// msgpack-python's `packb` of Chanx's broadcast dict, byte for byte.
    #[test]
    fn broadcast_bytes_match_chanx() {
        let from = "asgispecific.96425dfd555e49aba9c5a960680173e5";
        let packed = encode(&broadcast(Some(from))).expect("encodes");
        let mut expected = Vec::new();
        expected.push(0x84);
        expected.extend(b"\xa4type\xb4handle_group_message");
        expected.extend(b"\xa7message\x82\xa6action\xa4chat\xa7payload\x81\xa4text\xa2hi");
        expected.extend(b"\xafexclude_current\xc3");
        expected.extend(b"\xacfrom_channel\xd9\x2d");
        expected.extend(from.as_bytes());
        assert_eq!(packed, expected);
    }

    #[test]
    fn broadcast_from_outside_a_connection_carries_both_keys() {
        let packed = encode(&broadcast(None)).expect("encodes");
        assert!(packed.ends_with(b"\xafexclude_current\xc2\xacfrom_channel\xa0"));
    }

    #[test]
    fn event_bytes_match_chanx() {
        let event = LayerMessage {
            kind: Kind::Event,
            action: Arc::from("job_result"),
            frame: Utf8Bytes::from_static(r#"{"action":"job_result","payload":[1,-2,300,1.5,null,true]}"#),
            exclude: None,
            topic: None,
        };
        let mut expected = Vec::new();
        expected.push(0x82);
        expected.extend(b"\xa4type\xb4handle_channel_event");
        expected.extend(b"\xaaevent_data\x82\xa6action\xaajob_result");
        expected.extend(b"\xa7payload\x96\x01\xfe\xcd\x01\x2c\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xc0\xc3");
        assert_eq!(encode(&event).expect("encodes"), expected);
    }

    /// msgpack-python's `packb` of Chanx's `Topic.broadcast` dict, with and without `seq`.
    #[test]
    fn topic_event_bytes_match_chanx() {
        let event = |seq| LayerMessage {
            kind: Kind::Event,
            action: Arc::from("a"),
            frame: Utf8Bytes::from_static(r#"{"action":"a","payload":null}"#),
            exclude: None,
            topic: Some(Arc::new(TopicStamp { name: "room:lobby".into(), seq })),
        };
        let head = b"\x84\xa4type\xb2handle_topic_event\xa5topic\xaaroom:lobby\xa3seq";
        let tail = b"\xaaevent_data\x82\xa6action\xa1a\xa7payload\xc0";
        for (seq, packed_seq) in [(Some(5), b"\x05"), (None, b"\xc0")] {
            let expected = [&head[..], packed_seq, tail].concat();
            let packed = encode(&event(seq)).expect("encodes");
            assert_eq!(packed, expected);
            let decoded = decode(&packed).expect("decodes");
            assert_eq!(decoded.topic.as_deref(), Some(&TopicStamp { name: "room:lobby".into(), seq }));
            assert_eq!(decoded.kind, Kind::Event);
        }
    }

    /// Any `seq` Python's `Topic.broadcast` may put on the layer: the event is delivered
    /// whatever it is, with the `seq` only when it is one chanx sends (0 to `u64::MAX`).
    #[test]
    fn topic_events_are_delivered_whatever_their_seq() {
        let event = |packed_seq: &[u8]| {
            [
                &b"\x84\xa4type\xb2handle_topic_event\xa5topic\xaaroom:lobby\xa3seq"[..],
                packed_seq,
                b"\xaaevent_data\x82\xa6action\xa1a\xa7payload\xc0",
            ]
            .concat()
        };
        // packb(2**64 - 1), packb(2**63), packb(-1), packb(-2**63), packb(1.5), packb("5")
        let cases: [(&[u8], Option<u64>); 6] = [
            (b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", Some(u64::MAX)),
            (b"\xcf\x80\x00\x00\x00\x00\x00\x00\x00", Some(1 << 63)),
            (b"\xff", None),
            (b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", None),
            (b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", None),
            (b"\xa15", None),
        ];
        for (packed_seq, seq) in cases {
            let decoded = decode(&event(packed_seq)).unwrap_or_else(|e| panic!("{packed_seq:x?}: {e}"));
            assert_eq!(decoded.topic.as_deref(), Some(&TopicStamp { name: "room:lobby".into(), seq }));
        }
        // What chanx sends, chanx reads back.
        let largest = LayerMessage {
            kind: Kind::Event,
            action: Arc::from("a"),
            frame: Utf8Bytes::from_static(r#"{"action":"a","payload":null}"#),
            exclude: None,
            topic: Some(Arc::new(TopicStamp { name: "room:lobby".into(), seq: Some(u64::MAX) })),
        };
        let packed = encode(&largest).expect("encodes");
        assert_eq!(packed, event(b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"));
        assert_eq!(decode(&packed).expect("decodes").topic, largest.topic);
    }

    #[test]
    fn decoding_reads_what_is_known_and_keeps_key_order() {
        let from = "asgispecific.96425dfd555e49aba9c5a960680173e5";
        let mut packed = encode(&broadcast(Some(from))).expect("encodes");
        // An extra key a newer peer might add: a fifth entry.
        packed[0] = 0x85;
        packed.extend(b"\xa5extra\x01");
        let message = decode(&packed).expect("decodes");
        assert_eq!(message.kind, Kind::Broadcast);
        assert_eq!(&*message.action, "chat");
        assert_eq!(message.frame.as_str(), r#"{"action":"chat","payload":{"text":"hi"}}"#);
        assert_eq!(message.exclude.as_deref(), Some(from));

        let outside = decode(&encode(&broadcast(None)).expect("encodes")).expect("decodes");
        assert_eq!(outside.exclude, None, "exclude_current false: nobody is skipped");
    }

    #[test]
    fn decoding_refuses_what_chanx_does_not_send() {
        assert!(matches!(decode(b"\x81\xa4type\xa3foo"), Err(DecodeError::UnknownType(t)) if t == "foo"));
        assert!(matches!(
            decode(b"\x81\xa4type\xb4handle_channel_event"),
            Err(DecodeError::Missing(CHANNEL_EVENT, "event_data"))
        ));
        assert!(matches!(decode(b"\xc1"), Err(DecodeError::Msgpack(_))));
        assert!(matches!(decode(b""), Err(DecodeError::Msgpack(_))));
        let no_action = b"\x82\xa4type\xb4handle_channel_event\xaaevent_data\x81\xa7payload\xc0";
        assert!(matches!(decode(no_action), Err(DecodeError::NoAction)));
        // Binary data has no JSON form.
        let binary =
            b"\x82\xa4type\xb4handle_channel_event\xaaevent_data\x82\xa6action\xa1a\xa7payload\xc4\x01\x00";
        assert!(decode(binary).is_err());
    }

    /// Values from channels_redis's `consistent_hash` (Python `binascii.crc32`).
    #[test]
    fn shards_match_channels_redis() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926, "the IEEE CRC-32 Python uses");
        assert_eq!(shard_index("anything", 1), 0);
        assert_eq!(shard_index("anything", 0), 0);
        for (name, expected) in SHARDS {
            for (hosts, expected) in [2, 3, 4, 5, 7].into_iter().zip(expected) {
                assert_eq!(shard_index(name, hosts), *expected, "{name} over {hosts} hosts");
            }
        }
    }

    /// `consistent_hash(name, hosts)` for 2, 3, 4, 5 and 7 hosts, computed with
    /// fast-channels 1.1.0.
    const SHARDS: &[(&str, [usize; 5])] = &[
        ("asgi__group__room_lobby", [1, 2, 3, 4, 5]),
        ("asgispecific.96425dfd555e49aba9c5a960680173e5", [1, 2, 2, 3, 4]),
        ("x", [0, 1, 1, 2, 2]),
        ("asgi__group__room_8", [0, 0, 1, 1, 1]),
        ("asgi__group__room_9", [0, 0, 1, 1, 2]),
        ("asgi__group__room_18", [0, 0, 0, 0, 0]),
    ];

    #[test]
    fn names_as_chanx_accepts_them() {
        assert!(valid_name("room_lobby") && valid_name("asgispecific.0123abcd") && valid_name("a-b.c_d9"));
        assert!(!valid_name("") && !valid_name("room lobby") && !valid_name("chanx.1!2"));
        assert!(!valid_name("é") && !valid_name(&"a".repeat(100)) && valid_name(&"a".repeat(99)));
    }
}
