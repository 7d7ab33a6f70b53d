//! axum integration: a consumer as a route, app-wide [`Settings`], and graceful
//! [`Shutdown`].

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocketUpgrade};
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use futures_util::{SinkExt, StreamExt, future};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::consumer::{Consumer, FromConnection};
use crate::context::{ConnectionInfo, Outgoing};
use crate::layer::{Layers, Overflow};
use crate::runtime::{self, Incoming};

/// App-wide settings of chanx consumers, provided to the router as an axum
/// `Extension`. Routes without one share a default `Settings` value (and so one
/// in-memory channel layer) for the whole process.
///
/// ```
/// use axum::{Extension, Router};
/// use chanx::Settings;
///
/// let settings = Settings::default().send_completion(true).max_message_size(64 * 1024);
/// let app: Router = Router::new().layer(Extension(settings));
/// ```
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) send_completion: bool,
    pub(crate) max_message_size: usize,
    pub(crate) outbound_capacity: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) overflow: Overflow,
    pub(crate) close_timeout: Duration,
    pub(crate) layers: Layers,
    pub(crate) shutdown: Shutdown,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            send_completion: false,
            max_message_size: 1024 * 1024,
            outbound_capacity: 256,
            read_buffer_size: 4 * 1024,
            write_buffer_size: 4 * 1024,
            overflow: Overflow::default(),
            close_timeout: Duration::from_secs(5),
            layers: Layers::default(),
            shutdown: Shutdown::default(),
        }
    }
}

impl Settings {
    /// Sends `complete` after each handled client frame (default: off). A consumer's
    /// [`Consumer::SEND_COMPLETION`] overrides it.
    pub fn send_completion(mut self, on: bool) -> Self {
        self.send_completion = on;
        self
    }

    /// The largest inbound message, in bytes (default 1 MiB). A larger one closes the
    /// connection with 1009 and a reason stating the limit.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many frames may wait in a connection's outbound queue (default 256); a
    /// sender waits while it is full.
    pub fn outbound_capacity(mut self, frames: usize) -> Self {
        self.outbound_capacity = frames.max(1);
        self
    }

    /// The socket's read buffer per connection, in bytes (default 4 KiB; tungstenite's
    /// own default is 128 KiB). It holds what one read from the socket brings, so it
    /// bounds the memory of an idle connection; larger messages still arrive whole.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(1);
        self
    }

    /// How many bytes of outbound frames are gathered before they are written to the
    /// socket, per connection (default 4 KiB; tungstenite's own default is 128 KiB).
    /// Batches are flushed at the end of each burst regardless.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// What happens to a connection whose outbound queue is full when a broadcast or
    /// event arrives (default: [`Overflow::Close`], close code 1013).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// How long a closing connection may take to write its last frames before it is
    /// dropped (default 5 s); bounds what a client that stopped reading can hold.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
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
}

/// Graceful shutdown of WebSocket connections: trigger it, and every open connection
/// gets a 1001 close frame, runs `on_disconnect`, and ends.
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
    tracker: TaskTracker,
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Starts the shutdown: open connections are closed with 1001.
    pub fn trigger(&self) {
        self.token.cancel();
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
}

/// The settings of routes served without a `Settings` extension: shared, so that their
/// connections share one default channel layer and can reach each other.
static DEFAULT_SETTINGS: LazyLock<Settings> = LazyLock::new(Settings::default);

/// A process-unique prefix for channel names, random per process.
static CHANNEL_PREFIX: LazyLock<String> =
    LazyLock::new(|| format!("chanx.{:016x}", RandomState::new().hash_one(std::process::id())));
static CHANNEL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A channel name no other connection (in this or another process) has.
pub(crate) fn new_channel_name() -> String {
    format!("{}!{}", *CHANNEL_PREFIX, CHANNEL_COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The axum route of consumer `C` with router state `S`.
pub(crate) fn route<C, S>() -> MethodRouter<S>
where
    C: Consumer + FromConnection<S>,
    S: Clone + Send + Sync + 'static,
{
    get(upgrade::<C, S>)
}

async fn upgrade<C, S>(State(state): State<S>, request: Request) -> Response
where
    C: Consumer + FromConnection<S>,
    S: Clone + Send + Sync + 'static,
{
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let path_params = match RawPathParams::from_request_parts(&mut parts, &state).await {
        Ok(params) => params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        Err(_) => Vec::new(),
    };
    let settings = parts.extensions.get::<Settings>().unwrap_or(&DEFAULT_SETTINGS).clone();
    let info = ConnectionInfo {
        channel_name: new_channel_name(),
        path: parts.uri.path().to_owned(),
        path_params,
        query: parts.uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default(),
        headers: detached(&parts.headers),
    };
    let consumer = C::from_connection(&info, &state);
    let guard = settings.shutdown.tracker.token();
    upgrade
        .max_message_size(settings.max_message_size)
        .max_frame_size(settings.max_message_size)
        .read_buffer_size(settings.read_buffer_size)
        .write_buffer_size(settings.write_buffer_size)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            let reader = stream.filter_map(|frame| future::ready(incoming(frame)));
            let writer = sink.with(|frame| future::ready(Ok::<_, axum::Error>(outgoing(frame))));
            runtime::serve(consumer, info, reader, Box::pin(writer), &settings).await;
            drop(guard);
        })
}

/// A copy of the request headers that owns its bytes. hyper parses header values as
/// slices of its HTTP read buffer, so keeping the request's own map for the life of the
/// connection would keep that whole buffer (8 to 16 KiB) alive too.
fn detached(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let mut copy = HeaderValue::from_bytes(value.as_bytes()).ok()?;
            copy.set_sensitive(value.is_sensitive());
            Some((name.clone(), copy))
        })
        .collect()
}

/// Maps an axum frame to the runtime's; pings and pongs are answered by axum itself.
fn incoming(frame: Result<WsMessage, axum::Error>) -> Option<Incoming> {
    match frame {
        Ok(WsMessage::Text(text)) => Some(Incoming::Text(text)),
        Ok(WsMessage::Binary(_)) => Some(Incoming::Binary),
        Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => None,
        Ok(WsMessage::Close(close)) => Some(Incoming::Close(close.map(|c| c.code))),
        Err(error) => Some(read_error(&error)),
    }
}

/// Classifies a failed read. axum wraps tungstenite's error without exposing its type
/// in its API, so its message is read: "Space limit exceeded: ..." for an oversized
/// message, "UTF-8 encoding error" for invalid text, "WebSocket protocol error: ..." for
/// a protocol violation (but a peer that just vanished, "... without closing
/// handshake", is a lost connection).
fn read_error(error: &axum::Error) -> Incoming {
    let text = error.to_string();
    if text.contains("Space limit exceeded") {
        Incoming::TooBig
    } else if text.contains("UTF-8") {
        Incoming::Invalid(1007, "Invalid UTF-8 in a text frame".into())
    } else if text.contains("protocol error") && !text.contains("without closing handshake") {
        Incoming::Invalid(1002, "WebSocket protocol error".into())
    } else {
        Incoming::Failed(text)
    }
}

fn outgoing(frame: Outgoing) -> WsMessage {
    match frame {
        Outgoing::Text(text) | Outgoing::Broadcast(text) => WsMessage::Text(text),
        Outgoing::Pong(data) => WsMessage::Pong(data),
        Outgoing::Close(code, reason) => WsMessage::Close(Some(CloseFrame { code, reason })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_headers_keep_every_value_and_their_sensitivity() {
        let mut headers = HeaderMap::new();
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        let mut token = HeaderValue::from_static("secret");
        token.set_sensitive(true);
        headers.insert("authorization", token);
        let copy = detached(&headers);
        assert_eq!(copy.get_all("x-tag").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(copy.get("authorization").is_some_and(HeaderValue::is_sensitive));
    }
}
