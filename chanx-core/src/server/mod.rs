//! axum integration, the top layer: a consumer as a route, and [`serve`]. The upgrade request is checked here,
//! before any socket is opened: the WebSocket handshake headers, the origin policy,
//! the header size, the connection limits and authentication before the upgrade.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::connection::consumer::Consumer;
use crate::connection::context::ConnectionInfo;
use crate::connection::runtime;
use crate::connection::topic::{Standalone, Topic};
use crate::log::throttled;
use crate::settings::Settings;
use crate::socket::{self, SocketReader, SocketSink};
use crate::stats::count;
use crate::transport::Control;

mod handshake;
pub mod serve;

pub use handshake::{FromConnection, Handshake};
pub use serve::serve;

/// A consumer as an axum route: `Router::new().route("/ws/x", X::route())`. Every
/// [`Consumer`] has it (it is in the prelude).
///
/// The consumer is built per connection by [`FromConnection`] from the router's state
/// `S`.
pub trait Route: Consumer {
    /// This consumer as an axum `MethodRouter`: nest it, use it with `with_state`, wrap
    /// it in tower layers, serve it next to ordinary HTTP routes.
    fn route<S>() -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromConnection<S>,
    {
        route::<Self, S>(RouteOptions::default())
    }

    /// Like [`route`](Route::route), with per-route options (a connection limit).
    fn route_with<S>(options: RouteOptions) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromConnection<S>,
    {
        route::<Self, S>(options)
    }
}

impl<C: Consumer> Route for C {}

/// A topic as an axum route of its own, whose path fills the pattern ([`Standalone`]):
/// what the `route()` and `route_with()` functions that `#[topic]` gives every topic
/// type call (`Router::new().route("/ws/rooms/{room}", RoomTopic::route())`).
#[doc(hidden)]
pub fn topic_route<T, S>(options: RouteOptions) -> MethodRouter<S>
where
    T: Topic,
    S: Clone + Send + Sync + 'static,
{
    route::<Standalone<T>, S>(options)
}

/// Options of one consumer route: `X::route_with(RouteOptions::new().max_connections(100))`.
#[derive(Debug, Clone, Default)]
pub struct RouteOptions {
    max_connections: Option<usize>,
}

impl RouteOptions {
    /// No per-route options (the app's settings apply).
    pub fn new() -> Self {
        RouteOptions::default()
    }

    /// How many connections this route holds at once; over it, an upgrade request
    /// gets HTTP 503. The app-wide [`Settings::max_connections`] applies as well.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = Some(connections);
        self
    }
}

/// A slot among a limited number of connections, given back on drop.
struct Slot(Arc<AtomicU64>);

impl Slot {
    fn take(counter: &Arc<AtomicU64>, limit: usize) -> Option<Slot> {
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1)).ok()?;
        Some(Slot(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The axum route of consumer `C` with router state `S`.
fn route<C, S>(options: RouteOptions) -> MethodRouter<S>
where
    C: Consumer + FromConnection<S>,
    S: Clone + Send + Sync + 'static,
{
    let open = Arc::new(AtomicU64::new(0));
    get(move |State(state): State<S>, request: Request| {
        let route = options.max_connections.map(|limit| (open.clone(), limit));
        upgrade::<C, S>(state, request, route)
    })
}

/// Refuses a request with a status and a plain-text reason.
fn refuse(status: StatusCode, reason: &'static str) -> Response {
    (status, reason).into_response()
}

async fn upgrade<C, S>(state: S, request: Request, route: Option<(Arc<AtomicU64>, usize)>) -> Response
where
    C: Consumer + FromConnection<S>,
    S: Clone + Send + Sync + 'static,
{
    let (mut parts, _body) = request.into_parts();
    let Some(settings) = parts.extensions.get::<Settings>().cloned() else {
        throttled!(
            error,
            "a chanx route without settings: serve the app with `chanx::serve`, or add \
             `.layer(axum::Extension(chanx::Settings::default()))` to the router"
        );
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "WebSocket route without chanx settings");
    };
    let stats = &settings.stats;
    let accept = match websocket_key(&parts.headers) {
        Ok(key) => derive_accept_key(key.as_bytes()),
        Err(bad) => {
            count(&stats.refused_handshake);
            throttled!(debug, reason = ?bad, "not a valid WebSocket upgrade request");
            return bad.into_response();
        }
    };
    if let Err(origin) = settings.origin.check(&parts.headers) {
        count(&stats.refused_origin);
        throttled!(
            warn,
            origin,
            path = parts.uri.path(),
            "WebSocket request from a foreign origin refused (HTTP 403); to allow it, add it to \
             `Settings::origin(OriginPolicy::allow([...]))`"
        );
        return refuse(StatusCode::FORBIDDEN, "Origin not allowed");
    }
    let header_bytes: usize =
        parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > settings.max_header_bytes {
        count(&stats.refused_handshake);
        throttled!(info, header_bytes, limit = settings.max_header_bytes, "request headers too large");
        return refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "Request headers too large");
    }
    let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
        count(&stats.refused_handshake);
        throttled!(
            error,
            "the server cannot upgrade this connection (serve the app with hyper's upgrades on)"
        );
        return refuse(StatusCode::UPGRADE_REQUIRED, "Connection cannot be upgraded");
    };
    let app_slot = Slot::take(&stats.open, settings.max_connections);
    let route_slot = route.as_ref().map(|(open, limit)| Slot::take(open, *limit));
    let (Some(app_slot), None | Some(Some(_))) = (app_slot, &route_slot) else {
        count(&stats.refused_limit);
        throttled!(warn, path = parts.uri.path(), "connection limit reached; upgrade refused (HTTP 503)");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "Too many connections");
    };
    let channel_name = settings.layers.new_channel_name(C::LAYER);
    // Shared from here on: the connection's task and its `Context` hold one pointer.
    let info = Arc::new(ConnectionInfo::from_parts(&mut parts, &state, channel_name).await);
    let mut handshake = Handshake { parts: &mut parts, info: &info, state: &state };
    let consumer =
        match tokio::time::timeout(settings.handshake_timeout, C::from_connection(&mut handshake)).await {
            Ok(Ok(consumer)) => consumer,
            Ok(Err(refusal)) => {
                count(&stats.refused_auth);
                throttled!(info, status = refusal.status_code(), "connection refused before the upgrade");
                return refusal.into_response();
            }
            Err(_) => {
                count(&stats.refused_limit);
                throttled!(warn, "building the consumer took longer than the handshake timeout (HTTP 503)");
                return refuse(StatusCode::SERVICE_UNAVAILABLE, "Handshake timeout");
            }
        };
    count(&stats.accepted);
    let registration = settings.shutdown.register();
    let shutdown = settings.shutdown.clone();
    // The connection's control lane, also in the shutdown's hands, to stop it.
    let control = Arc::new(Control::default());
    let stop = control.clone();
    // What this task captures is stored in its future for the connection's whole life,
    // even once moved out: only what the connection needs, nothing built for one step.
    let task = async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => return tracing::debug!(%error, "the upgrade did not complete"),
        };
        let (read, write, already_read) = socket::split(upgraded);
        let reader = SocketReader::new(
            read,
            already_read,
            settings.read_buffer_size,
            control.clone(),
            settings.max_message_size,
        );
        let writer = SocketSink::new(write, settings.write_buffer_size);
        runtime::serve(consumer, info, reader, writer, control, &settings).await;
        drop((registration, app_slot, route_slot));
    };
    // Boxed: the task moves its future several times as it spawns, runs and ends, and a
    // pointer is cheaper to move than the 2 KiB of a connection's state.
    shutdown.spawn(Box::pin(task), stop);
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

impl ConnectionInfo {
    /// What a consumer learns of the request that opens its connection.
    async fn from_parts<S: Send + Sync>(parts: &mut Parts, state: &S, channel_name: String) -> Self {
        let path_params = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            Err(_) => Vec::new(),
        };
        ConnectionInfo {
            channel_name,
            path: parts.uri.path().to_owned(),
            path_params,
            query: parts.uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default(),
            headers: detached(&parts.headers),
        }
    }
}

/// An HTTP endpoint of the app sees its request as a consumer sees an upgrade request
/// (path and its parameters, query, headers, cookies), so that the app can run the
/// checks of [`FromConnection`] or [`Consumer::authenticate`] outside a connection,
/// e.g. to tell a browser why its socket was refused (browsers do not show the status
/// of a failed handshake). The channel name is empty: there is no connection.
impl<S: Send + Sync> FromRequestParts<S> for ConnectionInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ConnectionInfo::from_parts(parts, state, String::new()).await)
    }
}

/// What is wrong with a WebSocket handshake request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadHandshake {
    Connection,
    Upgrade,
    Version,
    Key,
}

impl BadHandshake {
    fn into_response(self) -> Response {
        match self {
            BadHandshake::Connection => {
                refuse(StatusCode::BAD_REQUEST, "Connection header did not include 'upgrade'")
            }
            BadHandshake::Upgrade => {
                refuse(StatusCode::BAD_REQUEST, "Upgrade header did not include 'websocket'")
            }
            BadHandshake::Version => {
                let mut response = refuse(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 required");
                response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                response
            }
            BadHandshake::Key => {
                refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key must be 16 bytes in base64")
            }
        }
    }
}

/// Checks the WebSocket handshake headers (RFC 6455, section 4.2.1) and returns the
/// `Sec-WebSocket-Key`.
fn websocket_key(headers: &HeaderMap) -> Result<&HeaderValue, BadHandshake> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err(BadHandshake::Connection);
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err(BadHandshake::Upgrade);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return Err(BadHandshake::Version);
    }
    match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if is_websocket_key(key.as_bytes()) => Ok(key),
        _ => Err(BadHandshake::Key),
    }
}

/// Whether `key` is 16 bytes in base64: 22 base64 characters and `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// A copy of the request headers that owns its bytes. hyper parses header values as
/// slices of its HTTP read buffer, so keeping the request's own map for the life of the
/// connection would keep that whole buffer (8 to 16 KiB) alive too. The values are
/// copied into one allocation, each a slice of it, in place of the values of a clone of
/// the map (which owns its names: no name is hashed again).
fn detached(headers: &HeaderMap) -> HeaderMap {
    let mut bytes = Vec::with_capacity(headers.values().map(HeaderValue::len).sum());
    for value in headers.values() {
        bytes.extend_from_slice(value.as_bytes());
    }
    let bytes = Bytes::from(bytes);
    let mut copy = headers.clone();
    let mut start = 0;
    // The clone's values, in the order of the original's.
    for value in copy.values_mut() {
        let end = start + value.len();
        // The bytes of a value that was valid: valid again.
        if let Ok(mut owned) = HeaderValue::from_maybe_shared(bytes.slice(start..end)) {
            owned.set_sensitive(value.is_sensitive());
            *value = owned;
        }
        start = end;
    }
    copy
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
        // A value as hyper parses it: a slice of the request's read buffer.
        let buffer = Bytes::copy_from_slice(b"GET / HTTP/1.1\r\nhost: example.com\r\n");
        let host = buffer.slice(22..33);
        headers.insert("host", HeaderValue::from_maybe_shared(host).expect("a valid value"));
        let copy = detached(&headers);
        drop(headers);
        assert_eq!(copy.get_all("x-tag").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(copy.get("authorization").is_some_and(HeaderValue::is_sensitive));
        assert_eq!(copy.get("host").map(HeaderValue::as_bytes), Some(&b"example.com"[..]));
        assert!(buffer.is_unique(), "the copy keeps none of the request's buffer");
    }

    #[tokio::test]
    async fn an_http_endpoint_sees_its_request_as_a_consumer_does() {
        let request = http::Request::builder()
            .uri("/auth/check?token=a%20b&token=c")
            .header(header::COOKIE, "theme=dark; session=s1")
            .body(())
            .expect("a request");
        let (mut parts, ()) = request.into_parts();
        let Ok(info) = ConnectionInfo::from_request_parts(&mut parts, &()).await;
        assert_eq!((info.channel_name(), info.path()), ("", "/auth/check"));
        assert_eq!((info.query_param("token"), info.cookie("session")), (Some("a b"), Some("s1")));
        assert_eq!(info.path_param("room"), None);
    }

    #[test]
    fn websocket_keys_are_16_bytes_in_base64() {
        assert!(is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_websocket_key(b"!!"));
        assert!(!is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_websocket_key(b"dGhlIHNhbXBsZSBub25j!Q=="));
    }

    #[test]
    fn connection_slots_are_limited_and_given_back() {
        let open = Arc::new(AtomicU64::new(0));
        let first = Slot::take(&open, 2);
        let second = Slot::take(&open, 2);
        assert!(first.is_some() && second.is_some());
        assert!(Slot::take(&open, 2).is_none());
        drop(first);
        assert!(Slot::take(&open, 2).is_some());
    }
}
