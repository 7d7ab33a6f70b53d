//! Channel layers: how a message reaches connections other than the one handling it.
//!
//! A [`ChannelLayer`] keeps group memberships and delivers [`LayerMessage`]s to
//! connections by group or by channel name. [`InMemoryLayer`] is the default; a layer
//! backed by a broker (Redis) is just another implementation, so nothing in this API
//! assumes one process: connections are addressed by name, and a connection's local
//! [`Inbox`] is handed to the layer when it registers. With the `redis` feature,
//! `redis::RedisPubSubLayer` shares groups, broadcasts and events with other chanx
//! processes and with Python Chanx over Redis pub/sub, and `redis::RedisQueueLayer`
//! does so through stored, expiring queues (and serves general channels to workers).
//!
//! Delivery guarantees of the in-memory layer: at-most-once, in order per sender and
//! receiver, lost on restart, and only within the process. Each connection's outbound
//! buffer and event buffer are bounded in bytes
//! ([`Settings::outbound_buffer`](crate::Settings::outbound_buffer),
//! [`Settings::event_buffer`](crate::Settings::event_buffer)); what happens when one
//! fills is the [`Overflow`] policy. Delivery never waits, so a slow member never
//! stalls the sender or the other members.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use blake2::{Blake2s, Digest, digest::consts::U6};
use tokio::sync::Notify;

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::protocol::frame;
use crate::protocol::message::Message;
use crate::queue::{Cost, PushError, QueueSender};
use crate::stats::{Stats, count};
use crate::transport::{Control, Outgoing, Stop};

#[cfg(feature = "redis")]
pub mod redis;

/// A boxed future, as the dyn-compatible [`ChannelLayer`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors of channel-layer operations.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// No layer is registered under this alias.
    #[error("no channel layer is registered under the alias `{0}`")]
    UnknownAlias(String),
    /// The channel name is not registered with this layer.
    #[error("no connection `{0}` is registered with this layer")]
    UnknownChannel(String),
    /// A message could not be serialised to JSON.
    #[error("failed to encode a `{action}` message: {source}")]
    Encode {
        /// The action of the message.
        action: &'static str,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The backing store or broker failed.
    #[error("channel layer backend failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The backing store or broker did not answer in time.
    #[error("channel layer backend did not answer a {operation} within {after:?}")]
    Timeout {
        /// What was waited for (`PUBLISH`, `SUBSCRIBE`, `connect`, ...).
        operation: &'static str,
        /// The limit that passed.
        after: std::time::Duration,
    },
    /// A send found the channel holding as many messages as the layer allows (a queue
    /// whose receivers are slow or gone): the message was not stored.
    #[error("channel `{channel}` is full: the message was not sent")]
    ChannelFull {
        /// The channel sent to.
        channel: String,
    },
    /// The layer cannot do this (a layer that stores nothing cannot `receive`).
    #[error("this channel layer does not support `{0}`")]
    Unsupported(&'static str),
    /// A received message is not the one the caller expected.
    #[error("a message received on `{channel}` is not a `{expected}` message: {source}")]
    Decode {
        /// The channel it was received on.
        channel: String,
        /// The action expected.
        expected: &'static str,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// A group, channel or prefix name the layer cannot carry (a broker layer accepts ASCII
    /// letters, digits, `-`, `_` and `.`, fewer than 100 characters, as Chanx does).
    #[error("invalid {what} name `{name}`: use ASCII letters, digits, `-`, `_` or `.`, under 100 characters")]
    InvalidName {
        /// `group`, `channel` or `prefix`.
        what: &'static str,
        /// The name, cut to 100 characters.
        name: String,
    },
}

/// What a message is to the receiving connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A broadcast: written to the client as it is, then `group_complete`.
    Broadcast,
    /// A server-side event: handled by the consumer's `#[event_handler]`, or
    /// forwarded if it is a passthrough event, then `event_complete`.
    Event,
}

/// A message travelling through a layer: a frame serialised once, shared by every
/// receiver.
#[derive(Debug, Clone)]
pub struct LayerMessage {
    /// Broadcast or event.
    pub kind: Kind,
    /// The `action` of the frame.
    pub action: Arc<str>,
    /// The whole frame, `{"action": ..., "payload": ...}`.
    pub frame: Utf8Bytes,
    /// A channel name that must not receive it (the sender, for `exclude_current`).
    pub exclude: Option<Arc<str>>,
    /// For an event pushed to a topic's subscribers: the topic and its `seq`. The
    /// receiving connection hands it to its subscription of that topic, if it has one.
    pub topic: Option<Arc<TopicStamp>>,
}

/// The topic (and sequence number) a topic broadcast is for, as Chanx's
/// `handle_topic_event` layer message carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStamp {
    /// The topic name, such as `room:lobby`.
    pub name: Box<str>,
    /// The caller's sequence number, copied to the frames it produces (`seq`).
    pub seq: Option<u64>,
}

impl LayerMessage {
    /// Serialises `message` once, for any number of receivers.
    pub fn encode<M: Message>(kind: Kind, message: &M) -> Result<Self, LayerError> {
        let frame = frame::encode(message, frame::Keys::default())
            .map_err(|source| LayerError::Encode { action: M::ACTION, source })?;
        Ok(LayerMessage { kind, action: Arc::from(M::ACTION), frame, exclude: None, topic: None })
    }
}

/// A server-side event as a connection's event buffer holds it: its frame, and its
/// topic for a topic broadcast.
#[derive(Debug)]
pub(crate) struct Event {
    pub frame: Utf8Bytes,
    pub topic: Option<Arc<TopicStamp>>,
}

impl Cost for Event {
    fn cost(&self) -> usize {
        self.frame.len() + self.topic.as_ref().map_or(0, |topic| topic.name.len())
    }
}

/// The longest group name a layer carries (Chanx's `MAX_GROUP_NAME_LENGTH`).
const MAX_GROUP_NAME: usize = 99;

/// The group of a topic's subscribers, named as Chanx names it so that processes of
/// both share it: `<TopicType>.<topic>`, each run of characters other than ASCII
/// letters, digits, `.`, `_` and `-` replaced by `-` (and trimmed at both ends of each
/// part); a name over 99 characters is cut, with a digest of the whole, to stay
/// distinct.
///
/// ```
/// use chanx::layer::topic_group;
///
/// assert_eq!(topic_group("RoomTopic", "room:lobby"), "RoomTopic.room-lobby");
/// assert_eq!(topic_group("RoomTopic", "room:Weekly Sync!"), "RoomTopic.room-Weekly-Sync");
/// assert_eq!(topic_group("RoomTopic", &"x".repeat(200)).len(), 99);
/// ```
pub fn topic_group(topic_type: &str, topic: &str) -> String {
    let mut name = String::with_capacity(topic_type.len() + topic.len() + 1);
    for part in [topic_type, topic] {
        let slug = slug(part);
        if !slug.is_empty() {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(&slug);
        }
    }
    if name.len() <= MAX_GROUP_NAME {
        return name;
    }
    const DIGEST: usize = 12;
    let digest = Blake2s::<U6>::digest(name.as_bytes());
    let keep = MAX_GROUP_NAME - DIGEST - 1;
    // The slug is ASCII, so any byte index is a character boundary.
    name.truncate(keep);
    name.push('.');
    for byte in digest {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

/// One part of a group name: runs of unsupported characters as `-`, trimmed of `-`.
fn slug(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    let mut replaced = false;
    for c in part.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            replaced = false;
        } else if !replaced {
            out.push('-');
            replaced = true;
        }
    }
    out.trim_matches('-').to_owned()
}

/// What happens when a broadcast or event finds a connection's buffer full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Close the lagging connection with 1013 ("try again later"): the client knows it
    /// missed messages and can reconnect. The close frame does not wait behind the
    /// full buffer: what is queued is dropped and the close goes next. The default.
    #[default]
    Close,
    /// Drop the message for that connection (logged and counted) and keep it open.
    Drop,
}

/// The close code for a connection closed by [`Overflow::Close`].
pub(crate) const LAGGING: u16 = 1013;
/// Its close reason.
pub(crate) const LAGGING_REASON: &str = "Too slow: buffer full";

/// A connection's delivery point, registered with the layer under its channel name.
/// Delivery never waits.
#[derive(Debug, Clone)]
pub struct Inbox {
    outbound: QueueSender<Outgoing>,
    events: QueueSender<Event>,
    lagging: Arc<Lagging>,
    overflow: Overflow,
    stats: Arc<Stats>,
}

/// Closes a connection that does not keep up (1013): shared by its inbox, for
/// broadcasts and events that find a buffer full, and its senders, for a send that
/// waited too long for room.
#[derive(Debug)]
pub(crate) struct Lagging {
    control: Arc<Control>,
    stats: Arc<Stats>,
}

impl Lagging {
    pub(crate) fn new(control: Arc<Control>, stats: Arc<Stats>) -> Self {
        Lagging { control, stats }
    }

    /// Closes the connection at once, dropping what is queued: the close does not wait
    /// behind the full buffer, and sends still waiting on it fail. Nothing happens if
    /// the connection is already stopping (lagging, or the server shuts down).
    pub(crate) fn close(&self) {
        if self.control.stop(Stop::Lagging) {
            count(&self.stats.overflow_closes);
            self.control.close(LAGGING, Utf8Bytes::from_static(LAGGING_REASON), true);
        }
    }
}

impl Inbox {
    pub(crate) fn new(
        outbound: QueueSender<Outgoing>,
        events: QueueSender<Event>,
        lagging: Arc<Lagging>,
        overflow: Overflow,
        stats: Arc<Stats>,
    ) -> Self {
        Inbox { outbound, events, lagging, overflow, stats }
    }

    /// Hands `message` to the connection; `false` once the connection is gone.
    pub fn deliver(&self, message: LayerMessage) -> bool {
        let outcome = match message.kind {
            Kind::Broadcast => self.outbound.try_push(Outgoing::Broadcast(message.frame)),
            Kind::Event => self.events.try_push(Event { frame: message.frame, topic: message.topic }),
        };
        match outcome {
            Ok(()) => true,
            Err(PushError::Full) => {
                match self.overflow {
                    Overflow::Close => self.lagging.close(),
                    Overflow::Drop => {
                        count(&self.stats.overflow_drops);
                        crate::log::throttled!(warn, action = %message.action, "connection buffer full; message dropped");
                    }
                }
                true
            }
            Err(PushError::Closed) => false,
        }
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.outbound.is_closed()
    }
}

/// Group memberships and delivery, in memory or through a broker.
///
/// Methods take and return owned data or borrows for the call only, so that an
/// implementation may talk to a broker; none may block the caller for long, and
/// delivery to an [`Inbox`] never waits.
pub trait ChannelLayer: fmt::Debug + Send + Sync + 'static {
    /// A channel name for a new connection, which then [registers](Self::register)
    /// under it. It must be unique among every process sharing the layer, and in the
    /// format the layer's peers expect. The default, `chanx.<16 hex>!<counter>`, is
    /// unique per process and costs no allocation beyond the string.
    fn new_channel_name(&self) -> String {
        default_channel_name()
    }

    /// Registers a connection's inbox under its channel name.
    fn register<'a>(&'a self, channel: &'a str, inbox: Inbox) -> BoxFuture<'a, Result<(), LayerError>>;

    /// Forgets a connection (it has closed), with every group membership it still has.
    fn unregister<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()>;

    /// Adds a connection to a group.
    fn group_add<'a>(&'a self, group: &'a str, channel: &'a str) -> BoxFuture<'a, Result<(), LayerError>>;

    /// Removes a connection from a group.
    fn group_discard<'a>(&'a self, group: &'a str, channel: &'a str)
    -> BoxFuture<'a, Result<(), LayerError>>;

    /// Delivers `message` once to every member of any of `groups` (but `exclude`).
    fn group_send<'a>(
        &'a self,
        groups: &'a [String],
        message: LayerMessage,
    ) -> BoxFuture<'a, Result<(), LayerError>>;

    /// Delivers `message` to one connection, or stores it on a general channel. A
    /// connection's name nobody holds is not an error: in a shared layer another process
    /// may hold it; the message is dropped. A general channel's name (one without `!`,
    /// such as `background_jobs`) is a queue that [`receive`](Self::receive) takes from,
    /// in layers that store messages; [`LayerError::ChannelFull`] when it is full.
    fn send<'a>(&'a self, channel: &'a str, message: LayerMessage) -> BoxFuture<'a, Result<(), LayerError>>;

    /// Waits for the next message sent to the general channel `channel` (a name
    /// without `!`), as a Channels worker consumes: the way work reaches a worker task
    /// or a worker process. Each message is received once, by one of the receivers.
    /// Layers that store nothing fail with [`LayerError::Unsupported`] (the default).
    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LayerMessage, LayerError>> {
        let _ = channel;
        Box::pin(std::future::ready(Err(LayerError::Unsupported("receive"))))
    }
}

/// Whether `channel` names a general channel (a queue any worker may receive from)
/// rather than a connection: it has no `!`, as in Channels.
pub fn is_general(channel: &str) -> bool {
    !channel.contains('!')
}

/// The default layer: groups and delivery within this process.
///
/// A group send reads the members under a read lock and hands each the same frame
/// bytes; it never serialises per member and never waits. General channels (names
/// without `!`) are queues of at most [`capacity`](Self::capacity) messages (default
/// 100) and [`max_bytes`](Self::max_bytes) bytes (default 1 MiB) that expire after
/// [`expiry`](Self::expiry) (default 60 s), as in Channels' in-memory layer: workers in
/// this process [`receive`](ChannelLayer::receive) from them.
///
/// ```
/// use chanx::layer::{ChannelLayer, InMemoryLayer, Kind, LayerMessage};
/// # #[chanx::message(action = "job")] pub struct Job(pub String);
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), chanx::layer::LayerError> {
/// let layer = InMemoryLayer::new().capacity(1000);
/// layer.send("jobs", LayerMessage::encode(Kind::Event, &Job("translate".into()))?).await?;
/// let job = layer.receive("jobs").await?;
/// assert_eq!(&*job.action, "job");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryLayer {
    inner: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// General channels by name.
    queues: std::sync::Mutex<HashMap<String, Arc<GeneralChannel>>>,
    /// `capacity` and `expiry` of general channels.
    limits: Limits,
    /// Each connection's inbox and the groups it is in, so that leaving costs its own
    /// groups only. Locked before `groups` when both are. Names are shared between the
    /// two maps, and inboxes too: a membership costs a few words, not copies of both.
    channels: RwLock<HashMap<Arc<str>, Member>>,
    groups: RwLock<HashMap<Arc<str>, Members>>,
}

/// The members of one group: their inboxes by channel name.
type Members = HashMap<Arc<str>, Arc<Inbox>>;

#[derive(Debug)]
struct Member {
    inbox: Arc<Inbox>,
    groups: HashSet<Arc<str>>,
}

/// The bounds of the in-memory layer's general channels.
#[derive(Debug, Clone, Copy)]
struct Limits {
    capacity: usize,
    max_bytes: usize,
    expiry: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { capacity: 100, max_bytes: 1 << 20, expiry: Duration::from_secs(60) }
    }
}

/// One general channel: its messages, and receivers waiting.
#[derive(Debug, Default)]
struct GeneralChannel {
    pending: std::sync::Mutex<Pending>,
    arrived: Notify,
}

/// A general channel's messages with their send time, and their bytes.
#[derive(Debug, Default)]
struct Pending {
    messages: VecDeque<(Instant, LayerMessage)>,
    bytes: usize,
}

impl Pending {
    /// The oldest message not older than `expiry`, dropping older ones.
    fn pop(&mut self, expiry: Duration) -> Option<LayerMessage> {
        while let Some((sent, message)) = self.messages.pop_front() {
            self.bytes -= message.frame.len();
            if sent.elapsed() < expiry {
                return Some(message);
            }
        }
        None
    }

    /// Stores `message` unless that would pass `limits` (one message larger than the
    /// byte budget still goes into an empty channel, alone); expired ones go first.
    fn push(&mut self, message: LayerMessage, limits: Limits) -> Result<(), LayerMessage> {
        while self.messages.front().is_some_and(|(sent, _)| sent.elapsed() >= limits.expiry) {
            if let Some((_, old)) = self.messages.pop_front() {
                self.bytes -= old.frame.len();
            }
        }
        let bytes = message.frame.len();
        let over_bytes = !self.messages.is_empty() && self.bytes + bytes > limits.max_bytes;
        if self.messages.len() >= limits.capacity || over_bytes {
            return Err(message);
        }
        self.bytes += bytes;
        self.messages.push_back((Instant::now(), message));
        Ok(())
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InMemoryLayer {
    /// An empty layer.
    pub fn new() -> Self {
        InMemoryLayer::default()
    }

    /// How many messages a general channel holds before a send fails with
    /// [`LayerError::ChannelFull`] (default 100). Set it before the layer is shared.
    pub fn capacity(self, capacity: usize) -> Self {
        self.with_limits(|limits| limits.capacity = capacity)
    }

    /// How many bytes of messages a general channel holds before a send fails with
    /// [`LayerError::ChannelFull`] (default 1 MiB; a single larger message still goes
    /// into an empty channel). With `capacity`, this bounds what clients can make server
    /// code queue (a job per request, say). Set it before the layer is shared.
    pub fn max_bytes(self, max_bytes: usize) -> Self {
        self.with_limits(|limits| limits.max_bytes = max_bytes)
    }

    /// How long a message waits on a general channel before it is dropped unread
    /// (default 60 s). Set it before the layer is shared.
    pub fn expiry(self, expiry: Duration) -> Self {
        self.with_limits(|limits| limits.expiry = expiry)
    }

    fn with_limits(self, change: impl FnOnce(&mut Limits)) -> Self {
        let mut limits = self.inner.limits;
        change(&mut limits);
        // A layer still being configured is not shared; one that is gets a fresh
        // registry with the new limits rather than changing under its users.
        InMemoryLayer { inner: Arc::new(Registry { limits, ..Registry::default() }) }
    }

    /// The general channel `name`, made on first use.
    fn general(&self, name: &str) -> Arc<GeneralChannel> {
        lock(&self.inner.queues).entry(name.to_owned()).or_default().clone()
    }

    /// Stores `message` on the general channel `name`.
    fn enqueue(&self, name: &str, message: LayerMessage) -> Result<(), LayerError> {
        let channel = self.general(name);
        let stored = lock(&channel.pending).push(message, self.inner.limits);
        stored.map_err(|_| LayerError::ChannelFull { channel: name.to_owned() })?;
        channel.arrived.notify_one();
        Ok(())
    }

    /// The next message of the general channel `name`, waiting for one.
    async fn dequeue(&self, name: &str) -> LayerMessage {
        let channel = self.general(name);
        loop {
            let arrived = channel.arrived.notified();
            if let Some(message) = lock(&channel.pending).pop(self.inner.limits.expiry) {
                return message;
            }
            arrived.await;
        }
    }

    /// The channel names in `group`, sorted (for tests and diagnostics).
    pub fn members(&self, group: &str) -> Vec<String> {
        let mut members: Vec<String> = read(&self.inner.groups)
            .get(group)
            .map(|m| m.keys().map(|channel| channel.to_string()).collect())
            .unwrap_or_default();
        members.sort_unstable();
        members
    }

    fn add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        let mut channels = write(&self.inner.channels);
        let (channel, member) =
            channels.get_key_value(channel).ok_or_else(|| LayerError::UnknownChannel(channel.to_owned()))?;
        let (channel, inbox) = (channel.clone(), member.inbox.clone());
        let mut groups = write(&self.inner.groups);
        let group = match groups.get_key_value(group) {
            Some((name, _)) => name.clone(),
            None => Arc::from(group),
        };
        groups.entry(group.clone()).or_default().insert(channel.clone(), inbox);
        if let Some(member) = channels.get_mut(&channel) {
            member.groups.insert(group);
        }
        Ok(())
    }

    fn discard(&self, group: &str, channel: &str) {
        if let Some(member) = write(&self.inner.channels).get_mut(channel) {
            member.groups.remove(group);
        }
        remove_member(&mut write(&self.inner.groups), group, channel);
    }

    fn fan_out(&self, groups: &[String], message: &LayerMessage) {
        let all = read(&self.inner.groups);
        let excluded = message.exclude.as_deref();
        let mut seen = HashSet::new();
        for members in groups.iter().filter_map(|g| all.get(g.as_str())) {
            for (channel, inbox) in members {
                if Some(&**channel) == excluded || (groups.len() > 1 && !seen.insert(&**channel)) {
                    continue;
                }
                inbox.deliver(message.clone());
            }
        }
    }
}

fn remove_member(groups: &mut HashMap<Arc<str>, Members>, group: &str, channel: &str) {
    if let Some(members) = groups.get_mut(group) {
        members.remove(channel);
        if members.is_empty() {
            groups.remove(group);
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // No code panics while holding these locks; recover the data if one ever did.
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ChannelLayer for InMemoryLayer {
    fn register<'a>(&'a self, channel: &'a str, inbox: Inbox) -> BoxFuture<'a, Result<(), LayerError>> {
        let member = Member { inbox: Arc::new(inbox), groups: HashSet::new() };
        write(&self.inner.channels).insert(Arc::from(channel), member);
        Box::pin(std::future::ready(Ok(())))
    }

    fn unregister<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()> {
        // Memberships added from outside the connection (`group_add` by an HTTP
        // handler, say) go too; only this connection's groups are touched.
        if let Some(member) = write(&self.inner.channels).remove(channel) {
            let mut groups = write(&self.inner.groups);
            for group in &member.groups {
                remove_member(&mut groups, group, channel);
            }
        }
        Box::pin(std::future::ready(()))
    }

    fn group_add<'a>(&'a self, group: &'a str, channel: &'a str) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(std::future::ready(self.add(group, channel)))
    }

    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.discard(group, channel);
        Box::pin(std::future::ready(Ok(())))
    }

    fn group_send<'a>(
        &'a self,
        groups: &'a [String],
        message: LayerMessage,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.fan_out(groups, &message);
        Box::pin(std::future::ready(Ok(())))
    }

    fn send<'a>(&'a self, channel: &'a str, message: LayerMessage) -> BoxFuture<'a, Result<(), LayerError>> {
        if is_general(channel) {
            return Box::pin(std::future::ready(self.enqueue(channel, message)));
        }
        match read(&self.inner.channels).get(channel) {
            Some(member) => {
                member.inbox.deliver(message);
            }
            None => tracing::debug!(channel, action = %message.action, "no such connection; message dropped"),
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LayerMessage, LayerError>> {
        Box::pin(async move { Ok(self.dequeue(channel).await) })
    }
}

/// A process-unique prefix for channel names, random per process.
static CHANNEL_PREFIX: LazyLock<String> =
    LazyLock::new(|| format!("chanx.{:016x}", RandomState::new().hash_one(std::process::id())));
static CHANNEL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A channel name no other connection (in this or another process) has: the default of
/// [`ChannelLayer::new_channel_name`](crate::layer::ChannelLayer::new_channel_name).
fn default_channel_name() -> String {
    use std::fmt::Write;

    // Sized at once: the prefix, `!` and at most 20 digits.
    let mut name = String::with_capacity(CHANNEL_PREFIX.len() + 21);
    name.push_str(&CHANNEL_PREFIX);
    // Writing to a `String` cannot fail.
    let _ = write!(name, "!{}", CHANNEL_COUNTER.fetch_add(1, Ordering::Relaxed));
    name
}

/// A cloneable, typed handle on one channel layer, for any code: an axum handler, a
/// spawned worker, a test.
///
/// ```
/// # use chanx::prelude::*;
/// # use chanx::layer::LayerHandle;
/// # #[message(action = "job_result")] pub struct JobResult(pub String);
/// # async fn worker(layer: LayerHandle, channel_name: String) -> Result<(), chanx::layer::LayerError> {
/// // To one connection, by its channel name:
/// layer.send_event(&channel_name, &JobResult("done".into())).await?;
/// // To every connection in some groups:
/// layer.broadcast_event(&JobResult("all done".into())).groups(["background_jobs"]).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LayerHandle(Arc<dyn ChannelLayer>);

impl LayerHandle {
    /// Wraps a layer.
    pub fn new(layer: impl ChannelLayer) -> Self {
        LayerHandle(Arc::new(layer))
    }

    /// The layer itself, for its low-level operations.
    pub fn layer(&self) -> &dyn ChannelLayer {
        &*self.0
    }

    /// Sends a server-side event to one connection, whose `#[event_handler]` for
    /// `E` runs (or which forwards it, for a passthrough event).
    pub async fn send_event<E: Message>(&self, channel_name: &str, event: &E) -> Result<(), LayerError> {
        self.0.send(channel_name, LayerMessage::encode(Kind::Event, event)?).await
    }

    /// Waits for the next message on the general channel `channel` and decodes it as
    /// event `E`: how a worker takes its work (see [`ChannelLayer::receive`]).
    pub async fn receive_event<E: Message>(&self, channel: &str) -> Result<E, LayerError> {
        let message = self.0.receive(channel).await?;
        serde_json::from_str(message.frame.as_str()).map_err(|source| LayerError::Decode {
            channel: channel.to_owned(),
            expected: E::ACTION,
            source,
        })
    }

    /// Sends a server-side event to groups: `.groups([...])` names them.
    pub fn broadcast_event<E: Message>(&self, event: &E) -> GroupSend<'_> {
        GroupSend::new(self, LayerMessage::encode(Kind::Event, event))
    }

    /// Broadcasts a message to groups from outside any connection: every member's
    /// client receives it as it is.
    pub fn broadcast_message<M: Message>(&self, message: &M) -> GroupSend<'_> {
        GroupSend::new(self, LayerMessage::encode(Kind::Broadcast, message))
    }
}

/// A pending group send from a [`LayerHandle`]; `.await` it.
#[must_use = "a group send does nothing until awaited"]
pub struct GroupSend<'a> {
    layer: &'a LayerHandle,
    message: Result<LayerMessage, LayerError>,
    groups: Vec<String>,
}

impl<'a> GroupSend<'a> {
    fn new(layer: &'a LayerHandle, message: Result<LayerMessage, LayerError>) -> Self {
        GroupSend { layer, message, groups: Vec::new() }
    }

    /// The groups to send to.
    pub fn groups<I, G>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }
}

impl<'a> IntoFuture for GroupSend<'a> {
    type Output = Result<(), LayerError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let message = self.message?;
            self.layer.0.group_send(&self.groups, message).await
        })
    }
}

/// The channel layers of an app: a default one and named ones, which a consumer picks
/// with `#[channel(layer = "alias")]` (as Chanx's `channel_layer_alias`).
///
/// ```
/// use chanx::layer::{InMemoryLayer, Layers};
///
/// let layers = Layers::new(InMemoryLayer::new()).with("chat", InMemoryLayer::new());
/// assert!(layers.get(Some("chat")).is_ok());
/// assert!(layers.get(Some("nope")).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Layers {
    default: LayerHandle,
    named: Arc<HashMap<String, LayerHandle>>,
}

impl Default for Layers {
    fn default() -> Self {
        Layers::new(InMemoryLayer::new())
    }
}

impl Layers {
    /// Layers with `default` as the default one.
    pub fn new(default: impl ChannelLayer) -> Self {
        Layers { default: LayerHandle::new(default), named: Arc::default() }
    }

    /// Adds a layer under `alias`.
    pub fn with(mut self, alias: impl Into<String>, layer: impl ChannelLayer) -> Self {
        Arc::make_mut(&mut self.named).insert(alias.into(), LayerHandle::new(layer));
        self
    }

    /// The default layer.
    pub fn default_layer(&self) -> LayerHandle {
        self.default.clone()
    }

    /// A channel name for a new connection of a consumer on the layer `alias`, from
    /// that layer (from the default one for an unknown alias: such a connection is
    /// refused once it runs).
    pub(crate) fn new_channel_name(&self, alias: Option<&str>) -> String {
        let handle = alias.and_then(|alias| self.named.get(alias)).unwrap_or(&self.default);
        handle.0.new_channel_name()
    }

    /// The layer under `alias`, or the default one for `None`.
    pub fn get(&self, alias: Option<&str>) -> Result<LayerHandle, LayerError> {
        match alias {
            None => Ok(self.default.clone()),
            Some(alias) => {
                self.named.get(alias).cloned().ok_or_else(|| LayerError::UnknownAlias(alias.to_owned()))
            }
        }
    }
}
