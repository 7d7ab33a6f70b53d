//! The Redis queue layer: [`RedisQueueLayer`], wire-compatible with the
//! `RedisChannelLayer` of Python Chanx (channels_redis 4, fast-channels 1.1.0). Messages
//! are stored in expiring, bounded sorted sets; the type's documentation states the
//! wire format and the delivery guarantees.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::IntoConnectionInfo;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio_util::task::AbortOnDropHandle;

use super::{
    MAX_NAME_LENGTH, Member, Packer, Targets, backend, bounded, check_name, decode_addressed, invalid_name,
    shard_index, valid_name,
};
use crate::layer::{BoxFuture, ChannelLayer, Inbox, LayerError, LayerMessage, read, write};
use crate::log::throttled;

/// The random bytes before the msgpack bytes of a stored message (channels_redis's
/// `random_prefix_length`): they keep equal messages distinct members of a sorted set.
const RANDOM_PREFIX: usize = 12;
/// How long one `BZPOPMIN` waits for a message (channels_redis's `brpop_timeout`).
const BLOCK: Duration = Duration::from_secs(5);
/// The most messages the receive task takes from Redis in one round trip.
const BATCH: usize = 64;
/// The pause of the receive task after a failed round, so that a Redis that is down is
/// not hammered.
const RETRY: Duration = Duration::from_secs(1);
/// Moves the members of `KEYS[2]` (in flight) back into `KEYS[1]`, then moves up to
/// `ARGV[1]` of the oldest members of `KEYS[1]` into `KEYS[2]` and returns them with
/// their scores. Keys it writes expire after `ARGV[2]` seconds.
const POP: &str = r"
local stranded = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #stranded, 2 do
  redis.call('ZADD', KEYS[1], stranded[i + 1], stranded[i])
end
if #stranded > 0 then
  redis.call('DEL', KEYS[2])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
end
if #popped > 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return popped
";
/// For each key `KEYS[i]`: drops its members scored at most the cutoff, then adds the
/// member `ARGV[i]` scored now unless it holds `capacity` members already, and renews
/// its expiry. `ARGV` ends with cutoff, now, expiry (s) and capacity. Returns the
/// (1-based) indices of the keys that were full.
const STORE: &str = r"
local n = #KEYS
local cutoff, now, expiry = ARGV[n + 1], ARGV[n + 2], ARGV[n + 3]
local capacity = tonumber(ARGV[n + 4])
local full = {}
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, cutoff)
  if redis.call('ZCARD', KEYS[i]) < capacity then
    redis.call('ZADD', KEYS[i], now, ARGV[i])
    redis.call('EXPIRE', KEYS[i], expiry)
  else
    full[#full + 1] = i
  end
end
return full
";

/// Configures a [`RedisQueueLayer`]: `RedisQueueLayer::builder()`.
#[derive(Clone)]
pub struct RedisQueueLayerBuilder {
    hosts: Vec<String>,
    prefix: String,
    capacity: usize,
    expiry: Duration,
    group_expiry: Duration,
    timeout: Duration,
}

impl fmt::Debug for RedisQueueLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may carry a password.
        f.debug_struct("RedisQueueLayerBuilder")
            .field("hosts", &self.hosts.len())
            .field("prefix", &self.prefix)
            .field("capacity", &self.capacity)
            .field("expiry", &self.expiry)
            .field("group_expiry", &self.group_expiry)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for RedisQueueLayerBuilder {
    fn default() -> Self {
        RedisQueueLayerBuilder {
            hosts: Vec::new(),
            prefix: "asgi".into(),
            capacity: 100,
            expiry: Duration::from_secs(60),
            group_expiry: Duration::from_secs(86400),
            timeout: Duration::from_secs(2),
        }
    }
}

impl RedisQueueLayerBuilder {
    /// Adds a Redis host by URL (`redis://[:password@]host:port[/db]`). Several hosts
    /// shard names as channels_redis does; list them in the same order in every
    /// process. Without any, `redis://127.0.0.1:6379`.
    pub fn host(mut self, url: impl Into<String>) -> Self {
        self.hosts.push(url.into());
        self
    }

    /// The prefix of every Redis key (default `asgi`, Chanx's): ASCII letters, digits,
    /// `-`, `_` and `.`. Processes share groups and channels only under the same prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The most messages one channel key holds (default 100): per process for
    /// connections, whose messages share their process's key, and per general channel.
    /// A send to a full key fails with [`LayerError::ChannelFull`]; a group send skips
    /// that key.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How long a message waits to be received before it is dropped unread (default
    /// 60 s; Redis counts whole seconds). Channel keys expire this long after their last
    /// write.
    pub fn expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// How long a group membership lasts (default 86400 s, one day): a connection
    /// still in a group after that stops receiving its messages. A group expires this
    /// long after its last join.
    pub fn group_expiry(mut self, group_expiry: Duration) -> Self {
        self.group_expiry = group_expiry;
        self
    }

    /// The longest any Redis operation (a send, a join, one receive round trip) may take
    /// before it fails with [`LayerError::Timeout`]; default 2 s. A blocking receive
    /// waits up to 5 s more for a message.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The layer, without waiting for Redis: connections are made on first use, and
    /// while Redis is unreachable each operation fails within the timeout. Fails only
    /// for a bad URL ([`LayerError::Backend`]) or a prefix Chanx cannot carry
    /// ([`LayerError::InvalidName`]). Must be called inside a tokio runtime.
    pub fn build(self) -> Result<RedisQueueLayer, LayerError> {
        if !self.prefix.is_empty() {
            check_name("prefix", &self.prefix)?;
        }
        let urls = if self.hosts.is_empty() { vec!["redis://127.0.0.1:6379".to_owned()] } else { self.hosts };
        let shards = urls.iter().map(|url| Shard::new(url, self.timeout)).collect::<Result<Vec<_>, _>>()?;
        let process = format!("specific.{}!", uuid::Uuid::new_v4().simple());
        let layer = RedisQueueLayer {
            shared: Arc::new(Shared {
                process_key: format!("{}{process}", self.prefix),
                process,
                group_prefix: format!("{}:group:", self.prefix),
                prefix: self.prefix,
                capacity: self.capacity,
                expiry: self.expiry,
                group_expiry: self.group_expiry,
                timeout: self.timeout,
                shards,
                next_shard: AtomicUsize::new(0),
                channels: RwLock::default(),
                dropped_full: AtomicU64::new(0),
                receivers: OnceLock::new(),
            }),
        };
        tokio::spawn(check_at_start(Arc::downgrade(&layer.shared)));
        Ok(layer)
    }

    /// [`build`](Self::build), then connects to every host, each within the timeout:
    /// fails with [`LayerError::Timeout`] or [`LayerError::Backend`] (a refused
    /// connection, an authentication error) rather than start without Redis.
    pub async fn connect(self) -> Result<RedisQueueLayer, LayerError> {
        let layer = self.build()?;
        for shard in &layer.shared.shards {
            shard.probe(layer.shared.timeout).await?;
        }
        throttled!(info, hosts = layer.shared.shards.len(), prefix = %layer.shared.prefix, "connected to Redis");
        Ok(layer)
    }
}

/// A channel layer over Redis sorted sets, wire-compatible with the `RedisChannelLayer`
/// of Python Chanx (channels_redis 4, fast-channels 1.1.0): messages are stored until
/// received or expired, so that a worker can consume a general channel and a process
/// briefly away from Redis misses nothing.
///
/// # What goes over Redis
///
/// - The layer has a client prefix, 32 random hex digits, per instance (per process).
///   A connection's channel name is `specific.<client prefix>!<32 hex>`; everything
///   for the process's connections lands in one sorted set, the key
///   `<prefix>specific.<client prefix>!`. A general channel (a name without `!`) is the
///   key `<prefix><channel>`.
/// - A stored message is a sorted-set member: 12 random bytes, then the msgpack map
///   Chanx puts on a layer (see the [pub/sub layer](super::RedisPubSubLayer)) with the
///   extra key `"__asgi_channel__"`: the connection's name for a send, the list of the
///   process's members for a group send. The score is the send time in seconds.
/// - A group is the sorted set `<prefix>:group:<group>` of channel names scored by
///   join time; joining renews its expiry.
/// - With several hosts, a key lives on host `int((crc32(name) & 0xFFF) / (4096 /
///   hosts))`, where `name` is the group name, or the `specific.<client prefix>!` part
///   of a connection's name. General channels take the hosts in turn. The receive
///   tasks read the process's key on every host, since Python's `send` picks the host
///   from the whole channel name.
///
/// # Delivery guarantees
///
/// - **Stored; at most once, but for one case.** A message waits in Redis until the
///   process receives it, so a process that is briefly away from Redis (or slow) misses
///   nothing younger than the expiry. One receive task per host per process pops
///   messages into `<key>$inflight` and removes them from there once they are handed
///   to the local connections; each round first moves whatever it finds in
///   `<key>$inflight` back into the key. So a message popped by a round that was cut
///   short (a Redis failure, a cancelled [`receive`](RedisQueueLayer::receive)) is
///   delivered by the next round, as is one left by a receiver of the same client
///   prefix that died between pop and hand-off; it is delivered twice if Redis fails
///   between the hand-off and its removal. A restarted process has a new client
///   prefix: what its predecessor left behind expires unread, with its key. Messages
///   survive a restart of Redis only if Redis persists its data.
/// - **Expiry.** A message not received within [`expiry`](RedisQueueLayerBuilder::expiry)
///   is dropped unread: senders trim older ones, receivers skip them (the send time is
///   the sender's clock), and keys expire that long after their last write. A group
///   expires [`group_expiry`](RedisQueueLayerBuilder::group_expiry) after its last
///   join; members older than that are trimmed on each group send. So nothing stays in
///   Redis for long: at most `capacity` messages per key, for `expiry`.
/// - **Capacity.** A key holds at most [`capacity`](RedisQueueLayerBuilder::capacity)
///   messages. A [`send`](ChannelLayer::send) to a full key fails with
///   [`LayerError::ChannelFull`]; a [`group_send`](ChannelLayer::group_send) that finds
///   a process's key full drops the message for that process only, logs it and counts
///   it ([`dropped_full`](RedisQueueLayer::dropped_full)).
/// - **Order** is kept per key by send time: a process receives its messages in the
///   order they were stored (as the senders' clocks order them).
/// - **Cost.** A group send reads the group, then writes one message per process with
///   members, never one per member: the process hands the same decoded message to each
///   of its members named in it. A connection in several of the groups a message is
///   sent to receives it once per group, as with Python Chanx.
/// - Every Redis operation is bounded by the [timeout](RedisQueueLayerBuilder::timeout);
///   past it the operation fails with [`LayerError::Timeout`] and may or may not have
///   taken effect.
/// - Delivery to local connections never waits: a full connection buffer is handled by
///   the [`Overflow`](crate::layer::Overflow) policy, as with the in-memory layer.
///   Messages for connections no longer here are dropped.
///
/// Cloning is cheap: clones share the connections, the receive tasks and the local
/// connections. Build one per process and hand it to [`Layers`](crate::layer::Layers).
/// The receive tasks start with the first registered connection and stop when the last
/// clone is dropped.
///
/// ```no_run
/// use chanx::layer::Layers;
/// use chanx::layer::redis::RedisQueueLayer;
/// # #[chanx::message(action = "job")] pub struct Job(pub String);
/// # async fn app() -> Result<(), chanx::layer::LayerError> {
/// let redis = RedisQueueLayer::builder().host("redis://127.0.0.1:6379").connect().await?;
/// let layers = Layers::new(redis);
/// // Any process puts work on a general channel; a worker takes it, each job once:
/// let jobs = layers.default_layer();
/// jobs.send_event("jobs", &Job("translate".into())).await?;
/// let job: Job = jobs.receive_event("jobs").await?;
/// # let _ = job;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RedisQueueLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    prefix: String,
    /// `specific.<client prefix>!`: how this process's channel names start.
    process: String,
    /// `<prefix>specific.<client prefix>!`: where this process's messages land.
    process_key: String,
    /// `<prefix>:group:`.
    group_prefix: String,
    capacity: usize,
    expiry: Duration,
    group_expiry: Duration,
    timeout: Duration,
    shards: Vec<Shard>,
    /// The host of the next general channel operation (they take the hosts in turn).
    next_shard: AtomicUsize,
    /// Local connections by channel name, with the groups each joined.
    channels: RwLock<HashMap<String, Member>>,
    dropped_full: AtomicU64,
    /// The receive tasks, one per host, started by the first registration.
    receivers: OnceLock<Vec<AbortOnDropHandle<()>>>,
}

/// One Redis host. Connections are made on first use and remade after a failure.
struct Shard {
    /// `host:port`, for logs (never the URL, which may hold a password).
    address: Arc<str>,
    client: ::redis::Client,
    /// Every non-blocking command.
    commands: ConnectionManager,
    /// The process's receive task, which blocks on it.
    receiving: ConnectionManager,
    /// [`RedisQueueLayer::receive`], one call at a time.
    general: Arc<tokio::sync::Mutex<ConnectionManager>>,
    /// Whether the receive task's last round trip had an answer (assumed until one
    /// fails), so that a change is logged once and registrations are checked meanwhile.
    reachable: AtomicBool,
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard").field("address", &self.address).finish()
    }
}

impl Shard {
    fn new(url: &str, timeout: Duration) -> Result<Shard, LayerError> {
        let info = url.into_connection_info().map_err(backend)?;
        let address = Arc::from(info.addr().to_string());
        let client = ::redis::Client::open(info).map_err(backend)?;
        let manager = |response: Duration| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(response));
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(backend)
        };
        Ok(Shard {
            commands: manager(timeout)?,
            receiving: manager(BLOCK + timeout)?,
            general: Arc::new(tokio::sync::Mutex::new(manager(BLOCK + timeout)?)),
            address,
            client,
            reachable: AtomicBool::new(true),
        })
    }

    /// One plain connection attempt: the managers retry a failed connection until the
    /// timeout, which would hide why (refused, unknown host, wrong password).
    async fn probe(&self, timeout: Duration) -> Result<(), LayerError> {
        bounded(&self.address, "connect", timeout, async {
            self.client.get_multiplexed_async_connection().await.map(drop)
        })
        .await
    }
}

/// Checks that `name` is a channel name channels_redis accepts: a general name, or
/// one with a single `!` after its process part.
fn check_channel(name: &str) -> Result<(), LayerError> {
    let valid = match name.split_once('!') {
        Some((process, local)) => {
            valid_name(process) && (local.is_empty() || valid_name(local)) && name.len() < MAX_NAME_LENGTH
        }
        None => valid_name(name),
    };
    if valid { Ok(()) } else { Err(invalid_name("channel", name)) }
}

/// The part of a channel name that names its key: up to and including the `!` of a
/// process-specific name, the whole of a general one.
fn non_local(name: &str) -> &str {
    name.find('!').map_or(name, |at| &name[..=at])
}

/// Seconds since the Unix epoch, as channels_redis scores messages and memberships.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

/// Whole seconds for `EXPIRE`, at least one.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs().max(1)
}

/// A stored message: [`RANDOM_PREFIX`] random bytes, then the msgpack map.
fn member(packer: &Packer<'_>, targets: Option<Targets<&str>>) -> Result<Vec<u8>, LayerError> {
    let mut member = vec![0; RANDOM_PREFIX];
    getrandom::fill(&mut member).map_err(|error| LayerError::Backend(Box::new(error)))?;
    packer.pack_into(targets, &mut member)?;
    Ok(member)
}

/// A member popped from a key, now in its `$inflight` key.
#[derive(Debug)]
struct Popped {
    member: Vec<u8>,
    /// Its send time; NaN if Redis gave something else.
    score: f64,
}

impl Popped {
    fn new(member: Vec<u8>, score: &[u8]) -> Popped {
        let score = std::str::from_utf8(score).ok().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
        Popped { member, score }
    }

    fn is_expired(&self, expiry: Duration) -> bool {
        now() - self.score > expiry.as_secs_f64()
    }

    /// The message and the connections it is for; `None` (logged) for bytes chanx does
    /// not read.
    fn decode(&self) -> Option<(LayerMessage, Option<Targets<String>>)> {
        let Some(payload) = self.member.get(RANDOM_PREFIX..) else {
            throttled!(warn, "a message from Redis shorter than its random prefix dropped");
            return None;
        };
        decode_addressed(payload).map_err(|error| throttled!(warn, %error, "message from Redis dropped")).ok()
    }
}

/// One consumer of a key and its `<key>$inflight`.
#[derive(Debug, Clone)]
struct Queue {
    address: Arc<str>,
    key: String,
    inflight: String,
    timeout: Duration,
    expiry: Duration,
}

impl Queue {
    fn new(shard: &Shard, key: String, timeout: Duration, expiry: Duration) -> Queue {
        let inflight = format!("{key}$inflight");
        Queue { address: shard.address.clone(), key, inflight, timeout, expiry }
    }

    /// Moves what a previous receiver left in flight back into the key, then pops up to
    /// `count` messages (waiting up to [`BLOCK`] for one), each in flight until
    /// [`ack`](Self::ack)ed. Empty when none came.
    async fn pop(&self, connection: &mut ConnectionManager, count: usize) -> Result<Vec<Popped>, LayerError> {
        let expiry = whole_seconds(self.expiry);
        let mut script = ::redis::cmd("EVAL");
        script.arg(POP).arg(2).arg(&self.key).arg(&self.inflight).arg(count).arg(expiry);
        let flat: Vec<Vec<u8>> =
            bounded(&self.address, "EVAL", self.timeout, script.query_async(connection)).await?;
        let mut flat = flat.into_iter();
        let mut popped = Vec::new();
        while let (Some(member), Some(score)) = (flat.next(), flat.next()) {
            popped.push(Popped::new(member, &score));
        }
        if !popped.is_empty() {
            return Ok(popped);
        }
        let mut wait = ::redis::cmd("BZPOPMIN");
        wait.arg(&self.key).arg(BLOCK.as_secs());
        let reply: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> =
            bounded(&self.address, "BZPOPMIN", BLOCK + self.timeout, wait.query_async(connection)).await?;
        let Some((_, member, score)) = reply else { return Ok(Vec::new()) };
        let popped = Popped::new(member, &score);
        let mut keep = ::redis::pipe();
        keep.cmd("ZADD").arg(&self.inflight).arg(&score).arg(&popped.member).ignore();
        keep.cmd("EXPIRE").arg(&self.inflight).arg(expiry).ignore();
        // Failing here only loses the protection against this process dying before the
        // hand-off: the message itself is in hand.
        let _ = bounded(&self.address, "ZADD", self.timeout, keep.exec_async(connection)).await;
        Ok(vec![popped])
    }

    /// Removes messages handed on from `<key>$inflight`. Failures are logged: those
    /// messages go back to the key at the next round and are delivered again.
    async fn ack(&self, connection: &mut ConnectionManager, popped: &[Popped]) {
        let mut remove = ::redis::cmd("ZREM");
        remove.arg(&self.inflight);
        for p in popped {
            remove.arg(&p.member);
        }
        let _ = bounded(&self.address, "ZREM", self.timeout, remove.exec_async(connection)).await;
    }
}

/// Checks every host once as the layer starts, so that an unreachable Redis is logged
/// at once (and connections are checked until it answers).
async fn check_at_start(shared: Weak<Shared>) {
    let Some(shared) = shared.upgrade() else { return };
    for shard in &shared.shards {
        if let Err(error) = shard.probe(shared.timeout).await {
            shard.reachable.store(false, Ordering::Relaxed);
            tracing::error!(
                address = %shard.address,
                prefix = %shared.prefix,
                %error,
                "cannot reach Redis: connections of consumers on this layer are closed with 1011 until it answers"
            );
        }
    }
}

/// Receives the process's messages on host `host` for as long as the layer lives. After
/// a failure (Redis restarted, say, with its data gone) it first puts back every group
/// membership of this process that lives there, as soon as the host answers, before it
/// waits for messages again.
async fn receive_loop(shared: Weak<Shared>, host: usize, queue: Queue, mut connection: ConnectionManager) {
    let mut failed = false;
    loop {
        if failed {
            let Some(shared) = shared.upgrade() else { return };
            if shared.restore_memberships(host).await.is_err() {
                drop(shared);
                tokio::time::sleep(RETRY).await;
                continue;
            }
            failed = false;
            if !shared.shards[host].reachable.swap(true, Ordering::Relaxed) {
                tracing::info!(address = %shared.shards[host].address, prefix = %shared.prefix, "Redis answers again");
            }
        }
        let popped = match queue.pop(&mut connection, BATCH).await {
            Ok(popped) => popped,
            Err(error) => {
                // The connection is remade on the next command.
                failed = true;
                let Some(shared) = shared.upgrade() else { return };
                let shard = &shared.shards[host];
                if shard.reachable.swap(false, Ordering::Relaxed) {
                    tracing::error!(
                        address = %shard.address,
                        prefix = %shared.prefix,
                        %error,
                        "cannot reach Redis: connections of consumers on this layer are closed with 1011 until it answers"
                    );
                }
                drop(shared);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if popped.is_empty() {
            continue;
        }
        {
            let Some(shared) = shared.upgrade() else { return };
            for message in &popped {
                shared.hand_on(message);
            }
        }
        queue.ack(&mut connection, &popped).await;
    }
}

impl Shared {
    fn shard_of(&self, name: &str) -> usize {
        shard_index(name, self.shards.len())
    }

    /// The host of the next general channel operation.
    fn next_general(&self) -> usize {
        self.next_shard.fetch_add(1, Ordering::Relaxed) % self.shards.len()
    }

    fn start_receiving(self: &Arc<Self>) {
        self.receivers.get_or_init(|| {
            self.shards
                .iter()
                .enumerate()
                .map(|(host, shard)| {
                    let queue = Queue::new(shard, self.process_key.clone(), self.timeout, self.expiry);
                    let task = receive_loop(Arc::downgrade(self), host, queue, shard.receiving.clone());
                    AbortOnDropHandle::new(tokio::spawn(task))
                })
                .collect()
        });
    }

    /// Hands one message of the process's key to the local connections it names:
    /// decoded once, the same frame for all of them.
    fn hand_on(&self, popped: &Popped) {
        if popped.is_expired(self.expiry) {
            return throttled!(debug, "message older than the expiry dropped unread");
        }
        let Some((message, targets)) = popped.decode() else { return };
        let names = match &targets {
            Some(Targets::One(name)) => std::slice::from_ref(name),
            Some(Targets::Many(names)) => names.as_slice(),
            None => return throttled!(warn, "message without `__asgi_channel__` in a process key dropped"),
        };
        let channels = read(&self.channels);
        for name in names {
            if Some(name.as_str()) == message.exclude.as_deref() {
                continue;
            }
            match channels.get(name) {
                Some(member) => {
                    member.inbox.deliver(message.clone());
                }
                None => {
                    throttled!(debug, channel = %name, "no such local connection (any more); message dropped")
                }
            }
        }
    }

    /// Stores one member in each key (on the host `shard`) unless it is full; the
    /// indices of the full ones.
    async fn store(&self, shard: usize, entries: &[(String, Vec<u8>)]) -> Result<Vec<usize>, LayerError> {
        let host = &self.shards[shard];
        let now = now();
        let mut script = ::redis::cmd("EVAL");
        script.arg(STORE).arg(entries.len());
        for (key, _) in entries {
            script.arg(key);
        }
        for (_, member) in entries {
            script.arg(member);
        }
        script
            .arg(now - self.expiry.as_secs_f64())
            .arg(now)
            .arg(whole_seconds(self.expiry))
            .arg(self.capacity);
        let mut connection = host.commands.clone();
        let full: Vec<usize> =
            bounded(&host.address, "EVAL", self.timeout, script.query_async(&mut connection)).await?;
        Ok(full.into_iter().filter_map(|i| i.checked_sub(1)).collect())
    }

    async fn send(&self, channel: &str, message: &LayerMessage) -> Result<(), LayerError> {
        check_channel(channel)?;
        let packer = Packer::new(message)?;
        let process = non_local(channel);
        let (shard, targets) = if process.len() < channel.len() {
            (self.shard_of(process), Some(Targets::One(channel)))
        } else {
            // channels_redis names no target for a general channel.
            (self.next_general(), None)
        };
        let entry = (format!("{}{process}", self.prefix), member(&packer, targets)?);
        if self.store(shard, std::slice::from_ref(&entry)).await?.is_empty() {
            Ok(())
        } else {
            Err(LayerError::ChannelFull { channel: channel.to_owned() })
        }
    }

    /// The members of `group` (after trimming expired memberships).
    async fn members(&self, group: &str) -> Result<Vec<String>, LayerError> {
        let key = format!("{}{group}", self.group_prefix);
        let host = &self.shards[self.shard_of(group)];
        let mut read = ::redis::pipe();
        read.atomic();
        read.cmd("ZREMRANGEBYSCORE").arg(&key).arg(0).arg(now() - self.group_expiry.as_secs_f64()).ignore();
        read.cmd("ZRANGE").arg(&key).arg(0).arg(-1);
        let mut connection = host.commands.clone();
        let (names,): (Vec<Vec<u8>>,) =
            bounded(&host.address, "ZRANGE", self.timeout, read.query_async(&mut connection)).await?;
        Ok(names.into_iter().filter_map(|name| String::from_utf8(name).ok()).collect())
    }

    async fn group_send(&self, groups: &[String], message: &LayerMessage) -> Result<(), LayerError> {
        for group in groups {
            check_name("group", group)?;
        }
        let packer = Packer::new(message)?;
        for group in groups {
            let names = self.members(group).await?;
            let mut by_process: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for name in &names {
                if Some(name.as_str()) != message.exclude.as_deref() {
                    by_process.entry(non_local(name)).or_default().push(name);
                }
            }
            let mut by_shard: Vec<Vec<(String, Vec<u8>)>> = vec![Vec::new(); self.shards.len()];
            for (process, names) in by_process {
                let entry =
                    (format!("{}{process}", self.prefix), member(&packer, Some(Targets::Many(names)))?);
                by_shard[self.shard_of(process)].push(entry);
            }
            for (shard, entries) in by_shard.iter().enumerate().filter(|(_, entries)| !entries.is_empty()) {
                for full in self.store(shard, entries).await? {
                    self.dropped_full.fetch_add(1, Ordering::Relaxed);
                    let key = entries.get(full).map_or("", |(key, _)| key.as_str());
                    throttled!(warn, group = %group, key, "a process's key is full; group message dropped for it");
                }
            }
        }
        Ok(())
    }

    async fn group_add(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_name("group", group)?;
        check_channel(channel)?;
        let key = format!("{}{group}", self.group_prefix);
        let host = &self.shards[self.shard_of(group)];
        let mut add = ::redis::pipe();
        add.atomic();
        add.cmd("ZADD").arg(&key).arg(now()).arg(channel).ignore();
        add.cmd("EXPIRE").arg(&key).arg(whole_seconds(self.group_expiry)).ignore();
        let mut connection = host.commands.clone();
        bounded(&host.address, "ZADD", self.timeout, add.exec_async(&mut connection)).await?;
        if let Some(member) = write(&self.channels).get_mut(channel) {
            member.groups.insert(group.to_owned());
        }
        Ok(())
    }

    /// Fails (within the timeout) while a host found unreachable, or any host before the
    /// receive tasks run, does not answer, so that a connection is not served while its
    /// messages cannot arrive.
    async fn check_reachable(&self) -> Result<(), LayerError> {
        let started = self.receivers.get().is_some();
        for shard in self.shards.iter().filter(|shard| !started || !shard.reachable.load(Ordering::Relaxed)) {
            let mut connection = shard.commands.clone();
            bounded(&shard.address, "PING", self.timeout, ::redis::cmd("PING").exec_async(&mut connection))
                .await?;
            shard.reachable.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Adds again every membership of this process's connections in the groups that
    /// live on host `host`, refreshing their expiry: after a Redis restart that lost
    /// them. One pipeline (a `PING` when there is nothing to restore, so that success
    /// means the host answers), bounded by the timeout.
    async fn restore_memberships(&self, host: usize) -> Result<(), LayerError> {
        let mut restore = ::redis::pipe();
        restore.cmd("PING").ignore();
        let mut restored = 0usize;
        let score = now();
        for (channel, member) in read(&self.channels).iter() {
            for group in member.groups.iter().filter(|group| self.shard_of(group) == host) {
                let key = format!("{}{group}", self.group_prefix);
                restore.cmd("ZADD").arg(&key).arg(score).arg(channel).ignore();
                restore.cmd("EXPIRE").arg(&key).arg(whole_seconds(self.group_expiry)).ignore();
                restored += 1;
            }
        }
        let shard = &self.shards[host];
        let mut connection = shard.commands.clone();
        bounded(&shard.address, "ZADD", self.timeout, restore.exec_async(&mut connection)).await?;
        if restored > 0 {
            tracing::info!(address = %shard.address, restored, "group memberships restored");
        }
        Ok(())
    }

    async fn group_discard(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        check_name("group", group)?;
        check_channel(channel)?;
        if let Some(member) = write(&self.channels).get_mut(channel) {
            member.groups.remove(group);
        }
        self.leave(group, channel).await
    }

    async fn leave(&self, group: &str, channel: &str) -> Result<(), LayerError> {
        let host = &self.shards[self.shard_of(group)];
        let mut remove = ::redis::cmd("ZREM");
        remove.arg(format!("{}{group}", self.group_prefix)).arg(channel);
        let mut connection = host.commands.clone();
        bounded(&host.address, "ZREM", self.timeout, remove.exec_async(&mut connection)).await
    }

    async fn unregister(&self, channel: &str) {
        let Some(member) = write(&self.channels).remove(channel) else { return };
        for group in &member.groups {
            // Failures are logged by `bounded`; a membership left behind only costs
            // messages that find no receiver here, until the group expires.
            let _ = self.leave(group, channel).await;
        }
    }

    async fn receive(&self, channel: &str) -> Result<LayerMessage, LayerError> {
        check_name("channel", channel)?;
        loop {
            let host = &self.shards[self.next_general()];
            let queue = Queue::new(host, format!("{}{channel}", self.prefix), self.timeout, self.expiry);
            let waiting = queue.clone();
            let connection = host.general.clone().lock_owned().await;
            // The round runs to its end even if this call is cancelled: what it pops is
            // then left in flight, and the next call takes it back.
            let round = tokio::spawn(async move {
                let mut connection = connection;
                waiting.pop(&mut connection, 1).await
            });
            let popped = round.await.map_err(|error| LayerError::Backend(Box::new(error)))??;
            if popped.is_empty() {
                continue;
            }
            let mut commands = host.commands.clone();
            queue.ack(&mut commands, &popped).await;
            let fresh = popped.iter().filter(|p| !p.is_expired(self.expiry));
            if let Some((message, _)) = fresh.filter_map(Popped::decode).next() {
                return Ok(message);
            }
        }
    }
}

impl RedisQueueLayer {
    /// A builder: hosts, prefix, capacity, expiries, timeout, then
    /// [`connect`](RedisQueueLayerBuilder::connect) or
    /// [`build`](RedisQueueLayerBuilder::build).
    pub fn builder() -> RedisQueueLayerBuilder {
        RedisQueueLayerBuilder::default()
    }

    /// The prefix of this layer's Redis keys.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// How many group messages were dropped for a process because its key was full
    /// (each also logged, at most one line every few seconds). A send to a full key
    /// fails instead, with [`LayerError::ChannelFull`].
    pub fn dropped_full(&self) -> u64 {
        self.shared.dropped_full.load(Ordering::Relaxed)
    }
}

impl ChannelLayer for RedisQueueLayer {
    /// `specific.<client prefix>!<32 hex>`, random (UUID v4), as channels_redis names
    /// connections.
    fn new_channel_name(&self) -> String {
        format!("{}{}", self.shared.process, uuid::Uuid::new_v4().simple())
    }

    fn register<'a>(&'a self, channel: &'a str, inbox: Inbox) -> BoxFuture<'a, Result<(), LayerError>> {
        let registered = check_channel(channel).and_then(|()| {
            if !channel.starts_with(&self.shared.process) {
                // Its messages would land in another process's key.
                return Err(invalid_name("this process's channel", channel));
            }
            Ok(())
        });
        Box::pin(async move {
            registered?;
            self.shared.check_reachable().await?;
            write(&self.shared.channels).insert(channel.to_owned(), Member { inbox, groups: HashSet::new() });
            self.shared.start_receiving();
            Ok(())
        })
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

    /// Takes the next message of the general channel `channel` (a name without `!`),
    /// waiting for one: how a worker consumes jobs that any process sends with
    /// [`send`](ChannelLayer::send). Each message goes to one receiver, oldest first;
    /// messages older than the expiry, or that chanx cannot read, are skipped. Waits as
    /// long as it takes, one bounded round trip after another; fails with
    /// [`LayerError::Timeout`] or [`LayerError::Backend`] when Redis does not answer.
    ///
    /// Cancelling the call loses nothing: a message popped meanwhile stays in
    /// `<key>$inflight` and the next call takes it. Calls of one layer on one host take
    /// turns. Several workers may consume one channel; as with channels_redis, a worker
    /// starting a round puts back what another has in flight at that moment, which may
    /// then be received twice.
    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LayerMessage, LayerError>> {
        Box::pin(self.shared.receive(channel))
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    use super::*;
    use crate::layer::Kind;

    const RUST: &str = "specific.5b70a93957154fee88c1cffd3037ec0f!beabe067c7a04ac280863e4db40e7b4c";
    const PYTHON: &str = "specific.8e5f0d34a9c449089a043c86981b0b1e!f6687d9f9d8f490d9e6ec25824d43f99";

    fn event(text: &'static str) -> LayerMessage {
        let frame = format!(r#"{{"action":"nudge","payload":"{text}"}}"#);
        LayerMessage {
            kind: Kind::Event,
            action: Arc::from("nudge"),
            frame: Utf8Bytes::from(frame),
            exclude: None,
            topic: None,
        }
    }

    /// msgpack of a string of 32 to 255 bytes (`str 8`).
    fn str8(text: &str) -> Vec<u8> {
        let mut packed = vec![0xd9, text.len() as u8];
        packed.extend(text.as_bytes());
        packed
    }

    /// What fast-channels 1.1.0 stored for `send(RUST, event)` (seen with `redis-cli
    /// monitor`), after its 12 random bytes.
    fn python_send() -> Vec<u8> {
        let mut expected = b"\x83\xa4type\xb4handle_channel_event".to_vec();
        expected.extend(b"\xaaevent_data\x82\xa6action\xa5nudge\xa7payload\xb2python, by channel");
        expected.extend(b"\xb0__asgi_channel__");
        expected.extend(str8(RUST));
        expected
    }

    #[test]
    fn a_send_stores_what_fast_channels_stores() {
        let message = event("python, by channel");
        let packer = Packer::new(&message).expect("parses");
        let stored = member(&packer, Some(Targets::One(RUST))).expect("packs");
        assert_eq!(stored.len(), RANDOM_PREFIX + python_send().len());
        assert_eq!(&stored[RANDOM_PREFIX..], python_send());
        let again = member(&packer, Some(Targets::One(RUST))).expect("packs");
        assert_ne!(stored[..RANDOM_PREFIX], again[..RANDOM_PREFIX], "random bytes keep members distinct");
    }

    #[test]
    fn a_group_send_names_the_process_members_in_a_list() {
        let message = LayerMessage {
            kind: Kind::Broadcast,
            action: Arc::from("say"),
            frame: Utf8Bytes::from_static(r#"{"action":"say","payload":"hi"}"#),
            exclude: Some(Arc::from(RUST)),
            topic: None,
        };
        let packer = Packer::new(&message).expect("parses");
        let stored = member(&packer, Some(Targets::Many(vec![PYTHON, RUST]))).expect("packs");
        let mut expected = b"\x85\xa4type\xb4handle_group_message".to_vec();
        expected.extend(b"\xa7message\x82\xa6action\xa3say\xa7payload\xa2hi");
        expected.extend(b"\xafexclude_current\xc3\xacfrom_channel");
        expected.extend(str8(RUST));
        expected.extend(b"\xb0__asgi_channel__\x92");
        expected.extend(str8(PYTHON));
        expected.extend(str8(RUST));
        assert_eq!(&stored[RANDOM_PREFIX..], expected);
    }

    #[test]
    fn what_fast_channels_stores_is_read_once_for_every_named_connection() {
        // A broadcast_message from Python, as stored for a process with one member.
        let mut stored = b"\x1b\xb8`\x1d\xfbgA\xfd\xdbD\x11\x02".to_vec();
        stored.extend(b"\x85\xa4type\xb4handle_group_message\xa7message\x82\xa6action\xa3say");
        stored.extend(b"\xa7payload\xb1hello from python\xafexclude_current\xc2\xacfrom_channel");
        stored.extend(str8(PYTHON));
        stored.extend(b"\xb0__asgi_channel__\x91");
        stored.extend(str8(RUST));
        let popped = Popped::new(stored, b"1795767477.2442915");
        assert_eq!(popped.score, 1_795_767_477.244_291_5);
        let (message, targets) = popped.decode().expect("decodes");
        assert_eq!(message.kind, Kind::Broadcast);
        assert_eq!(message.frame.as_str(), r#"{"action":"say","payload":"hello from python"}"#);
        assert_eq!(message.exclude, None, "exclude_current is false");
        assert_eq!(targets, Some(Targets::Many(vec![RUST.to_owned()])));

        let mut sent = vec![0; RANDOM_PREFIX];
        sent.extend(python_send());
        let (message, targets) = Popped::new(sent, b"1").decode().expect("decodes");
        assert_eq!(message.kind, Kind::Event);
        assert_eq!(targets, Some(Targets::One(RUST.to_owned())));
    }

    #[test]
    fn members_chanx_cannot_read_are_dropped() {
        assert!(Popped::new(b"short".to_vec(), b"1").decode().is_none());
        assert!(Popped::new(vec![0; RANDOM_PREFIX], b"1").decode().is_none());
        let mut junk = vec![0; RANDOM_PREFIX];
        junk.extend(b"\x81\xa4type\xa3foo");
        assert!(Popped::new(junk, b"1").decode().is_none());
    }

    #[test]
    fn scores_are_send_times() {
        let expiry = Duration::from_secs(60);
        assert!(Popped::new(Vec::new(), b"1").is_expired(expiry));
        assert!(!Popped::new(Vec::new(), now().to_string().as_bytes()).is_expired(expiry));
        let garbled = Popped::new(Vec::new(), b"soon");
        assert!(garbled.score.is_nan() && !garbled.is_expired(expiry), "delivered rather than lost");
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 1);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn channel_names_as_channels_redis_accepts_them() {
        for good in ["jobs", RUST, "specific.abc!", "a-b.c_d!e-f.g_h"] {
            assert!(check_channel(good).is_ok(), "{good}");
        }
        let too_long = format!("specific.{}!{}", "a".repeat(45), "b".repeat(45));
        for bad in ["", "!", "!abc", "a!b!c", "sp ace", "a!é", too_long.as_str()] {
            assert!(
                matches!(check_channel(bad), Err(LayerError::InvalidName { what: "channel", .. })),
                "{bad}"
            );
        }
        assert_eq!(non_local(RUST), "specific.5b70a93957154fee88c1cffd3037ec0f!");
        assert_eq!(non_local("jobs"), "jobs");
    }
}
