//! The servers compared: the System Echo app written with chanx, and the same protocol
//! hand-written on axum ("what would I write by hand"); the JSON work of the latter is
//! shared with the lean baseline on fastwebsockets ([`crate::lean`]). Both also serve
//! `/ws/fanout`, where a `fire` frame broadcasts one message to every connection; chanx
//! also serves `/ws/topics`, the same through a topic's subscribers. The
//! chanx server also runs on a Redis layer, so that fan-out members can be split
//! across processes (compared with Python Chanx: `bench/python/fanout_app.py`).

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use chanx::layer::redis::RedisPubSubLayer;
use chanx::layer::{LayerError, Layers};
use chanx::prelude::*;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

#[path = "../../examples/system_echo/app.rs"]
#[allow(dead_code)]
mod system_echo;

/// What a fan-out broadcast carries.
#[message(action = "fanout")]
pub struct Fanout(pub u64);

/// Asks the server to broadcast a [`Fanout`] to every fan-out connection.
#[message(action = "fire")]
pub struct Fire(pub u64);

/// Fan-out members: every connection joins the group `fanout`.
#[derive(Default)]
pub struct FanoutConsumer;

#[channel(name = "fanout", groups("fanout"))]
impl FanoutConsumer {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(broadcasts(Fanout))]
    async fn fire(&mut self, cx: &mut Context, msg: Fire) -> chanx::Result<()> {
        cx.broadcast_message(Fanout(msg.0)).await
    }
}

impl Consumer for FanoutConsumer {}

/// A fan-out topic: `fire` on it pushes a [`Fanout`] to every subscriber of the same
/// name, forwarded to each client as it is (with `topic`).
pub struct FanoutTopic {
    pub name: String,
}

#[topic(pattern = "fanout:{name}", passthrough(Fanout))]
impl FanoutTopic {
    #[ws_handler(broadcasts(Fanout))]
    async fn fire(&mut self, cx: &mut Context, msg: Fire) -> chanx::Result<()> {
        let topic = format!("fanout:{}", self.name);
        cx.layer().topic::<FanoutTopic>(topic).broadcast(&Fanout(msg.0)).await?;
        Ok(())
    }
}

impl Topic for FanoutTopic {}

/// The hub of the topic scenarios, at `/ws/topics`.
#[derive(Default)]
pub struct TopicHub;

#[channel(name = "topics", topics(FanoutTopic))]
impl TopicHub {}

impl Consumer for TopicHub {}

/// The chanx server: its routes and its settings, which `chanx::serve` hands to them
/// ([`ChanxApp::layered`] for `axum::serve`).
pub struct ChanxApp {
    /// System Echo at `/ws/system`, fan-out at `/ws/fanout`, topics at `/ws/topics`.
    pub router: Router,
    /// The limits and the channel layers.
    pub settings: chanx::Settings,
}

impl ChanxApp {
    /// The routes with the settings as an axum layer, for `axum::serve`.
    pub fn layered(self) -> Router {
        self.router.layer(axum::Extension(self.settings))
    }
}

/// The chanx server on the default in-memory channel layer.
pub fn chanx() -> ChanxApp {
    chanx_on(Layers::default())
}

/// The chanx server on `layers`: processes sharing a layer (Redis) share the fan-out
/// group. A benchmark connection sends far more than the default inbound rate allows a
/// client, and the idle and fan-out scenarios hold more connections than the default
/// app limit: both limits stay on (their cost is measured), set past the load.
pub fn chanx_on(layers: Layers) -> ChanxApp {
    let settings = chanx::Settings::default()
        .inbound_rate(10_000_000, 10_000_000)
        .max_connections(1_000_000)
        .max_subscriptions(10_000)
        .layers(layers);
    let router = system_echo::router()
        .route("/ws/fanout", FanoutConsumer::route())
        .route("/ws/topics", TopicHub::route());
    ChanxApp { router, settings }
}

/// The chanx server on a Redis pub/sub layer (`redis_url`, `prefix`), as
/// [`chanx_on`]; fails if Redis cannot be reached.
pub async fn chanx_redis(redis_url: &str, prefix: &str) -> Result<ChanxApp, LayerError> {
    let redis = RedisPubSubLayer::builder().host(redis_url).prefix(prefix).connect().await?;
    Ok(chanx_on(Layers::new(redis)))
}

/// The hand-written server: the same frames with axum and serde only.
pub fn raw() -> Router {
    let (fanout, _) = broadcast::channel::<Utf8Bytes>(1024);
    Router::new()
        .route("/ws/system", get(|ws: WebSocketUpgrade| async { ws.on_upgrade(raw_echo) }))
        .route("/ws/fanout", get(raw_fanout_upgrade))
        .with_state(Arc::new(fanout))
}

#[derive(Deserialize)]
struct Inbound {
    action: String,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TextPayload {
    message: String,
}

#[derive(Serialize)]
struct Outbound<'a, P> {
    action: &'a str,
    payload: P,
}

#[derive(Serialize)]
struct TextOut {
    message: String,
}

/// A `system_echo` frame carrying `message`, serialised with serde.
fn echo_json(message: String) -> Option<String> {
    serde_json::to_string(&Outbound { action: "system_echo", payload: TextOut { message } }).ok()
}

/// The System Echo welcome frame, serialised afresh for each connection (as a server
/// that greets by name would).
pub(crate) fn welcome_json() -> Option<String> {
    echo_json("🔧 System: Connection established!".into())
}

/// The reply of the System Echo protocol to one text frame, the same serde work in both
/// hand-written servers: a `user_message` is echoed, a `ping` answered, anything else
/// is an error. Borrowed replies are constant frames.
pub(crate) fn system_reply(text: &str) -> Option<Cow<'static, str>> {
    match serde_json::from_str::<Inbound>(text) {
        Ok(Inbound { action, payload: Some(payload) }) if action == "user_message" => {
            match serde_json::from_value::<TextPayload>(payload) {
                Ok(p) => echo_json(format!("🔧 System Echo: {}", p.message)).map(Cow::Owned),
                Err(_) => Some(Cow::Borrowed(r#"{"action":"error","payload":"invalid payload"}"#)),
            }
        }
        Ok(inbound) if inbound.action == "ping" => Some(Cow::Borrowed(PONG)),
        _ => Some(Cow::Borrowed(r#"{"action":"error","payload":"invalid frame"}"#)),
    }
}

/// The reply to a `ping` frame.
pub(crate) const PONG: &str = r#"{"action":"pong","payload":null}"#;

/// What a fan-out member's frame asks of the hand-written servers.
pub(crate) enum FanoutRequest {
    /// Answer with [`PONG`].
    Ping,
    /// Broadcast this frame (`fanout`, with the `fire` frame's payload) to every member.
    Broadcast(String),
}

/// Reads a fan-out member's frame; `None` for anything but `ping` and `fire`.
pub(crate) fn fanout_request(text: &str) -> Option<FanoutRequest> {
    let Inbound { action, payload } = serde_json::from_str::<Inbound>(text).ok()?;
    match action.as_str() {
        "ping" => Some(FanoutRequest::Ping),
        "fire" => {
            serde_json::to_string(&Outbound { action: "fanout", payload }).ok().map(FanoutRequest::Broadcast)
        }
        _ => None,
    }
}

async fn raw_echo(mut socket: WebSocket) {
    let Some(welcome) = welcome_json() else { return };
    if socket.send(Message::Text(welcome.into())).await.is_err() {
        return;
    }
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        let reply = match system_reply(&text) {
            Some(Cow::Owned(frame)) => frame.into(),
            Some(Cow::Borrowed(frame)) => Utf8Bytes::from_static(frame),
            None => continue,
        };
        if socket.send(Message::Text(reply)).await.is_err() {
            return;
        }
    }
}

async fn raw_fanout_upgrade(
    State(fanout): State<Arc<broadcast::Sender<Utf8Bytes>>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| raw_fanout(socket, fanout))
}

/// Each member forwards what the broadcast channel carries; a `fire` frame sends one
/// message on it, serialised once.
async fn raw_fanout(socket: WebSocket, fanout: Arc<broadcast::Sender<Utf8Bytes>>) {
    let (mut sink, mut stream) = socket.split();
    let mut members = fanout.subscribe();
    loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(Message::Text(text))) = frame else { return };
                let sent = match fanout_request(&text) {
                    Some(FanoutRequest::Ping) => sink.send(Message::Text(Utf8Bytes::from_static(PONG))).await,
                    Some(FanoutRequest::Broadcast(frame)) => {
                        let _ = fanout.send(frame.into());
                        Ok(())
                    }
                    None => Ok(()),
                };
                if sent.is_err() {
                    return;
                }
            }
            message = members.recv() => {
                let Ok(frame) = message else { return };
                if sink.send(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
        }
    }
}
