//! The two servers compared: the System Echo app written with chanx, and the same
//! protocol hand-written on axum ("what would I write by hand"). Both also serve
//! `/ws/fanout`, where a `fire` frame broadcasts one message to every connection. The
//! chanx server also runs on a Redis layer, so that fan-out members can be split
//! across processes (compared with Python Chanx: `bench/python/fanout_app.py`).

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

/// The chanx server: System Echo at `/ws/system`, fan-out at `/ws/fanout`, on the
/// default in-memory channel layer.
pub fn chanx() -> Router {
    chanx_on(Layers::default())
}

/// The chanx server on `layers`: processes sharing a layer (Redis) share the fan-out
/// group. A benchmark connection sends far more than the default inbound rate allows a
/// client, and the idle and fan-out scenarios hold more connections than the default
/// app limit: both limits stay on (their cost is measured), set past the load.
pub fn chanx_on(layers: Layers) -> Router {
    let settings = chanx::Settings::default()
        .inbound_rate(10_000_000, 10_000_000)
        .max_connections(1_000_000)
        .layers(layers);
    system_echo::router().route("/ws/fanout", FanoutConsumer::route()).layer(axum::Extension(settings))
}

/// The chanx server on a Redis pub/sub layer (`redis_url`, `prefix`), as
/// [`chanx_on`]; fails if Redis cannot be reached.
pub async fn chanx_redis(redis_url: &str, prefix: &str) -> Result<Router, LayerError> {
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

fn echo_frame(message: String) -> Option<Utf8Bytes> {
    serde_json::to_string(&Outbound { action: "system_echo", payload: TextOut { message } })
        .ok()
        .map(Into::into)
}

async fn raw_echo(mut socket: WebSocket) {
    let Some(welcome) = echo_frame("🔧 System: Connection established!".into()) else { return };
    if socket.send(Message::Text(welcome)).await.is_err() {
        return;
    }
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        let reply = match serde_json::from_str::<Inbound>(&text) {
            Ok(Inbound { action, payload: Some(payload) }) if action == "user_message" => {
                match serde_json::from_value::<TextPayload>(payload) {
                    Ok(p) => echo_frame(format!("🔧 System Echo: {}", p.message)),
                    Err(_) => {
                        Some(Utf8Bytes::from_static(r#"{"action":"error","payload":"invalid payload"}"#))
                    }
                }
            }
            Ok(inbound) if inbound.action == "ping" => {
                Some(Utf8Bytes::from_static(r#"{"action":"pong","payload":null}"#))
            }
            _ => Some(Utf8Bytes::from_static(r#"{"action":"error","payload":"invalid frame"}"#)),
        };
        if let Some(reply) = reply
            && socket.send(Message::Text(reply)).await.is_err()
        {
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
                let Ok(Inbound { action, payload }) = serde_json::from_str::<Inbound>(&text) else { continue };
                if action == "ping" {
                    let pong = Utf8Bytes::from_static(r#"{"action":"pong","payload":null}"#);
                    if sink.send(Message::Text(pong)).await.is_err() {
                        return;
                    }
                } else if action == "fire"
                    && let Ok(frame) = serde_json::to_string(&Outbound { action: "fanout", payload })
                {
                    let _ = fanout.send(frame.into());
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
