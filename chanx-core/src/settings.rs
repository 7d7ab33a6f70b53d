//! App-wide [`Settings`]: limits, timeouts, heartbeat, origin policy, channel layers,
//! the [`Shutdown`] handle and the [`Stats`] counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::{self, AbortHandle};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::layer::{Layers, Overflow};
use crate::origin::OriginPolicy;
use crate::stats::Stats;
use crate::transport::{Control, Stop};

/// App-wide settings of chanx consumers, provided to the router as an axum
/// `Extension` (or by [`serve`](crate::serve())). Routes without one share a default
/// `Settings` value (and so one in-memory channel layer) for the whole process.
///
/// Every limit has a default meant for production; see the README's "Security and
/// limits" for the reasoning behind each.
///
/// ```
/// use std::time::Duration;
/// use axum::{Extension, Router};
/// use chanx::Settings;
///
/// let settings = Settings::default()
///     .send_completion(true)
///     .max_message_size(64 * 1024)
///     .outbound_buffer(512 * 1024)
///     .heartbeat(Duration::from_secs(20), Duration::from_secs(45))
///     .inbound_rate(50, 100);
/// let app: Router = Router::new().layer(Extension(settings));
/// ```
#[derive(Clone)]
pub struct Settings {
    /// One value shared by every connection, each of which holds a pointer to it, not
    /// a copy (a copy was 232 bytes of every connection's task). A builder method on a
    /// shared value changes a copy of its own (copy on write).
    shared: Arc<SettingsData>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

/// Reads of the settings: `settings.max_message_size`.
impl std::ops::Deref for Settings {
    type Target = SettingsData;

    fn deref(&self) -> &SettingsData {
        &self.shared
    }
}

/// Writes of the builder methods, on a value of their own.
impl std::ops::DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut SettingsData {
        Arc::make_mut(&mut self.shared)
    }
}

/// What [`Settings`] holds (its fields are the crate's).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct SettingsData {
    pub(crate) send_completion: bool,
    pub(crate) camelize: bool,
    pub(crate) max_message_size: usize,
    pub(crate) outbound_buffer: usize,
    pub(crate) event_buffer: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) overflow: Overflow,
    pub(crate) close_timeout: Duration,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) inbound_rate: Option<RateLimit>,
    pub(crate) max_groups: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) origin: OriginPolicy,
    pub(crate) layers: Layers,
    pub(crate) shutdown: Shutdown,
    pub(crate) stats: Arc<Stats>,
}

/// Server pings and the idle timeout of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Heartbeat {
    pub interval: Duration,
    pub timeout: Duration,
}

/// A token bucket: `per_second` frames sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for Settings {
    fn default() -> Self {
        let data = SettingsData {
            send_completion: false,
            camelize: false,
            max_message_size: 1024 * 1024,
            outbound_buffer: 1024 * 1024,
            event_buffer: 1024 * 1024,
            read_buffer_size: 4 * 1024,
            write_buffer_size: 4 * 1024,
            overflow: Overflow::default(),
            close_timeout: Duration::from_secs(5),
            heartbeat: Some(Heartbeat {
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(60),
            }),
            inbound_rate: Some(RateLimit { per_second: 500, burst: 1000 }),
            max_groups: 100,
            max_subscriptions: 100,
            max_connections: 10_000,
            max_header_bytes: 32 * 1024,
            handshake_timeout: Duration::from_secs(10),
            origin: OriginPolicy::default(),
            layers: Layers::default(),
            shutdown: Shutdown::default(),
            stats: Arc::default(),
        };
        Settings { shared: Arc::new(data) }
    }
}

impl Settings {
    /// Sends `complete` after each handled client frame (default: off). A consumer's
    /// [`Consumer::SEND_COMPLETION`](crate::Consumer::SEND_COMPLETION) overrides it.
    pub fn send_completion(mut self, on: bool) -> Self {
        self.send_completion = on;
        self
    }

    /// Puts camelCase keys on the wire (default: off), as Chanx's `camelize` setting:
    /// the object keys of every frame a connection writes (replies, errors, completion
    /// and topic frames, broadcasts and events it receives, what hooks and tasks send)
    /// are camelized at any depth (`user_name` → `userName`), and those of a client
    /// frame's payload decamelized before it is decoded, so that handlers see their
    /// snake_case fields. Values are left alone, so an error's `loc` names the Rust
    /// fields (`["update_profile", "payload", "user_name"]`), as Chanx's. The rules are
    /// pyhumps', which Chanx uses: `HTTPResponse` and all-capital keys stay, and so do
    /// leading underscores. A consumer's [`Channel::CAMELIZE`](crate::Channel::CAMELIZE)
    /// (`#[channel(camelize)]`) overrides it; a connection that does not camelize pays
    /// nothing for it. The AsyncAPI document is told separately:
    /// [`AsyncApi::camelize`](crate::asyncapi::AsyncApi::camelize).
    pub fn camelize(mut self, on: bool) -> Self {
        self.camelize = on;
        self
    }

    /// The largest inbound message, in bytes (default 1 MiB). A larger one closes the
    /// connection with 1009 and a reason stating the limit.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many bytes of frames may wait for one client (default 1 MiB): replies,
    /// broadcasts and pushes not yet written to its socket. A handler or
    /// [`Sender`](crate::Sender) sending to a full buffer waits; a broadcast or event
    /// that finds it full is handled by the [`Overflow`] policy. A single frame larger
    /// than the buffer is still sent, alone. The socket's own write buffer is bounded
    /// separately (a little over [`write_buffer_size`](Settings::write_buffer_size)).
    pub fn outbound_buffer(mut self, bytes: usize) -> Self {
        self.outbound_buffer = bytes.max(1);
        self
    }

    /// How many bytes of server-side events may wait for one connection's handlers
    /// (default 1 MiB); an event that finds it full is handled by the [`Overflow`]
    /// policy.
    pub fn event_buffer(mut self, bytes: usize) -> Self {
        self.event_buffer = bytes.max(1);
        self
    }

    /// The most bytes one read from a connection's socket asks for (default 4 KiB).
    /// Reads start at 512 bytes and grow to this while the client sends more at once
    /// than they bring, so a client of small messages keeps a small buffer. A message
    /// larger than this still arrives whole, in a buffer of its size that goes with it.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(1);
        self
    }

    /// How many bytes of outbound frames are gathered before they are written to the
    /// socket, per connection (default 4 KiB). Batches are written at the end of each
    /// burst regardless. The socket's buffer holds at most this plus one 64 KiB
    /// fragment: larger frames go out in fragments.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// What happens to a connection whose outbound or event buffer is full when a
    /// broadcast or event arrives (default: [`Overflow::Close`], close code 1013).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// How long each step of a connection's end may take before it is given up
    /// (default 5 s): a handler still running when the connection must stop, then the
    /// topics' `on_unsubscribe` hooks (together), then
    /// [`on_disconnect`](crate::Consumer::on_disconnect), then writing the last frames
    /// (this bounds what a client that stopped reading can hold), then, after a close
    /// the server started, waiting for the client's close frame. Each step has its own
    /// timeout, so an end whose every step runs late takes a few times this. Leaving
    /// the connection's groups, between `on_disconnect` and the last frames, is bounded
    /// by the channel layer's own timeouts.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Server pings every `interval` (default 30 s; a shorter interval than 1 ms
    /// counts as 1 ms); a connection from which nothing (no frame, no pong) arrived
    /// for `timeout` (default 60 s) is closed with 1011, running `on_disconnect` and
    /// leaving its groups. A send that waits `timeout` for room in a full outbound
    /// buffer means the client does not read: its connection is closed with 1013.
    ///
    /// The pings are timed by one chanx thread for the whole process
    /// (`chanx-heartbeat`), on the system's clock, not by a tokio timer per connection:
    /// tokio's paused test time does not move them.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some(Heartbeat { interval, timeout });
        self
    }

    /// Turns the heartbeat off: no server pings, no idle timeout.
    pub fn no_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// The inbound frame rate per connection (default 500 frames per second, bursts of
    /// 1,000), pings included. A frame over the rate is dropped; the first of a run
    /// gets an error frame of type `rate_limited`, and a run longer than the burst
    /// closes the connection with 1008.
    pub fn inbound_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.inbound_rate = Some(RateLimit { per_second: per_second.max(1), burst: burst.max(1) });
        self
    }

    /// Turns the inbound rate limit off.
    pub fn no_inbound_rate(mut self) -> Self {
        self.inbound_rate = None;
        self
    }

    /// How many groups one connection may be in at once (default 100); joining one
    /// more fails with [`Error::TooManyGroups`](crate::Error::TooManyGroups).
    pub fn max_groups(mut self, groups: usize) -> Self {
        self.max_groups = groups;
        self
    }

    /// How many topics one connection may be subscribed to at once (default 100); a
    /// `subscribe` over it gets an error frame with the reason
    /// `too_many_subscriptions` and changes nothing. Each subscription costs well under
    /// 1 KiB (BENCHMARKS.md), so the limit bounds a client's memory in bytes.
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.max_subscriptions = subscriptions;
        self
    }

    /// How many WebSocket connections the app holds at once (default 10,000); over
    /// it, an upgrade request gets HTTP 503. Per route:
    /// [`RouteOptions::max_connections`](crate::RouteOptions::max_connections).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// The most request-header bytes (names and values) an upgrade request may carry
    /// (default 32 KiB); over it, HTTP 431. The headers are kept for the connection's
    /// life, so this bounds what each connection holds.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// How long the steps before the upgrade may take (default 10 s): building the
    /// consumer with [`FromConnection`](crate::FromConnection), authentication before
    /// the upgrade included (over it: HTTP 503). With [`serve`](crate::serve()), also
    /// how long a client may take to send its request headers.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Which browser origins may open connections (default:
    /// [`OriginPolicy::SameOrigin`]).
    pub fn origin(mut self, policy: OriginPolicy) -> Self {
        self.origin = policy;
        self
    }

    /// The channel layers (default: one in-memory layer). Share one `Layers` value
    /// between the settings and the code that sends events.
    pub fn layers(mut self, layers: Layers) -> Self {
        self.layers = layers;
        self
    }

    /// The channel layers in use, e.g. to hand a [`LayerHandle`](crate::layer::LayerHandle)
    /// to a worker.
    pub fn channel_layers(&self) -> &Layers {
        &self.layers
    }

    /// Ties the connections to a [`Shutdown`] handle: triggering it closes every open
    /// connection with 1001.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The shutdown handle of these settings.
    pub fn shutdown_handle(&self) -> &Shutdown {
        &self.shutdown
    }

    /// What the limits refused so far, shared by every clone of these settings.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// The open connections of a [`Shutdown`], by task: each one's task, to abort, and its
/// control lane, to stop.
type OpenConnections = Arc<Mutex<HashMap<task::Id, (AbortHandle, Arc<Control>)>>>;

/// Graceful shutdown of WebSocket connections: trigger it, and every open connection
/// gets a 1001 close frame, runs `on_disconnect`, and ends. [`serve`](crate::serve())
/// does all this (and more) for the settings it is given.
///
/// ```no_run
/// # async fn run(app: axum::Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// use axum::Extension;
/// use chanx::{Settings, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let app = app.layer(Extension(Settings::default().shutdown(shutdown.clone())));
/// let on_ctrl_c = shutdown.clone();
/// tokio::spawn(async move {
///     let _ = tokio::signal::ctrl_c().await;
///     on_ctrl_c.trigger();
/// });
/// axum::serve(listener, app).with_graceful_shutdown(shutdown.triggered()).await?;
/// shutdown.connections_closed().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub(crate) token: CancellationToken,
    /// The open connections: each one's task, aborted if it outlives the grace period,
    /// and its control lane, which the trigger stops. (Not a token every connection
    /// waits on: that would be polled, and its lock taken, each time a connection's
    /// task runs.)
    tasks: OpenConnections,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Starts the shutdown: open connections are closed with 1001.
    pub fn trigger(&self) {
        // Cancelled first: a connection spawned after the copy below sees it and stops
        // itself (`spawn`). Stopped outside the lock, which ending connections take.
        self.token.cancel();
        let open: Vec<Arc<Control>> =
            lock(&self.tasks).values().map(|(_, control)| control.clone()).collect();
        for control in open {
            control.stop(Stop::Shutdown);
        }
    }

    /// Completes once [`trigger`](Shutdown::trigger) was called; pass it to axum's
    /// `with_graceful_shutdown`.
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    /// Completes once every connection served with this handle has ended.
    pub async fn connections_closed(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// How many connections served with this handle are still open.
    pub(crate) fn open_connections(&self) -> usize {
        self.tracker.len()
    }

    /// Ends every connection served with this handle at once, without a close frame or
    /// `on_disconnect`: for those that outlived the shutdown's grace period.
    pub(crate) fn drop_connections(&self) {
        for (task, _) in std::mem::take(&mut *lock(&self.tasks)).into_values() {
            task.abort();
        }
    }

    /// What a connection's task holds while it runs: counted by
    /// [`connections_closed`](Self::connections_closed) until it is dropped.
    pub(crate) fn register(&self) -> Registration {
        Registration { _counted: self.tracker.token(), tasks: self.tasks.clone() }
    }

    /// Runs a connection's task, which holds a [`Registration`]: stopped through
    /// `control` by [`trigger`](Self::trigger) (at once if that came first), ended by
    /// [`drop_connections`](Self::drop_connections) if still running.
    pub(crate) fn spawn(&self, connection: impl Future<Output = ()> + Send + 'static, control: Arc<Control>) {
        // Locked across the spawn, so that a task that ends at once finds its entry,
        // and so that a trigger either sees the entry or is seen here.
        let mut open = lock(&self.tasks);
        if self.token.is_cancelled() {
            control.stop(Stop::Shutdown);
        }
        let handle = tokio::spawn(connection);
        open.insert(handle.id(), (handle.abort_handle(), control));
    }
}

/// A connection's place in its [`Shutdown`]: counted while held, and its task's entry
/// removed when dropped (in its task: at its end, or when it is aborted).
#[derive(Debug)]
pub(crate) struct Registration {
    _counted: TaskTrackerToken,
    tasks: OpenConnections,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(id) = task::try_id() {
            lock(&self.tasks).remove(&id);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; recover the data if something ever did.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_task_leaves_no_entry_whether_it_ends_or_is_dropped() {
        let shutdown = Shutdown::new();
        // One that ends by itself, at once.
        let registration = shutdown.register();
        shutdown.spawn(async move { drop(registration) }, Arc::default());
        // One that never ends: only `drop_connections` ends it.
        let registration = shutdown.register();
        shutdown.spawn(
            async move {
                let _held = registration;
                std::future::pending::<()>().await;
            },
            Arc::default(),
        );
        let closed = shutdown.clone();
        let all_closed = tokio::spawn(async move { closed.connections_closed().await });
        let first_ended = async {
            while shutdown.open_connections() > 1 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), first_ended).await.expect("the first task ends");
        assert_eq!(lock(&shutdown.tasks).len(), 1, "the ended task's entry is gone");
        shutdown.drop_connections();
        let all_closed = tokio::time::timeout(Duration::from_secs(5), all_closed);
        all_closed.await.expect("in time").expect("every connection ends");
        assert!(lock(&shutdown.tasks).is_empty());
        assert_eq!(shutdown.open_connections(), 0);
    }
}
