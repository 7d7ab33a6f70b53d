//! An in-process test client: connects to a consumer without binding a port.
//!
//! The connection runs the same runtime as a served one (hooks, decoding, errors,
//! completion frames); only the socket is replaced by in-memory queues.
//!
//! A connection that camelizes ([`Settings::camelize`], `#[channel(camelize)]`) is
//! spoken to as a client of it would: [`TestClient::send_message`] camelizes the
//! message's keys and [`TestClient::receive_message`] decamelizes the frame's before
//! decoding it, while [`TestClient::receive_json`] returns the frame as it is on the
//! wire, in camelCase.
//!
//! ```
//! use chanx::prelude::*;
//! use chanx::testing::TestClient;
//!
//! #[derive(Default)]
//! pub struct PingConsumer;
//!
//! #[channel]
//! impl PingConsumer {
//!     #[ws_handler]
//!     async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
//!         PongMessage
//!     }
//! }
//!
//! impl Consumer for PingConsumer {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), chanx::testing::TestError> {
//! let mut client = TestClient::builder().send_completion(true).connect::<PingConsumer>();
//! client.send_message(&PingMessage).await?;
//! let replies = client.receive_all_messages("complete").await?;
//! assert_eq!(replies, vec![serde_json::json!({"action": "pong", "payload": null})]);
//! client.receive_nothing().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use crate::connection::consumer::Consumer;
use crate::connection::context::ConnectionInfo;
use crate::connection::runtime;
use crate::layer::{
    BoxFuture, ChannelLayer, InMemoryLayer, Inbox, Kind, LayerError, LayerMessage, Layers, TopicStamp,
};
use crate::protocol::case;
use crate::protocol::message::{
    CompleteMessage, EventCompleteMessage, GroupCompleteMessage, Message, SubscribeMessage,
    SubscribedMessage, UnsubscribeMessage, UnsubscribedMessage,
};
use crate::server::{FromConnection, Handshake};
use crate::settings::Settings;
use crate::transport::{Control, Incoming, Outgoing};

/// Errors of the test client.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// What a receive waited for did not arrive in time, e.g. "waited 5s in vain for
    /// frames up to action `complete`; arrived meanwhile: `pong`".
    #[error("waited {timeout:?} in vain for {waited_for}; {}", arrived_meanwhile(.arrived, *.unlisted))]
    Timeout {
        /// What the receive waited for: "a frame", "a `pong` frame", "frames up to
        /// action `complete`", "the close frame", "the pong of receive_nothing".
        waited_for: String,
        /// How long it waited after the last frame (the client's timeout).
        timeout: Duration,
        /// The frames that arrived meanwhile, oldest first, at most five: each one's
        /// action, or its text clipped.
        arrived: Vec<String>,
        /// How many more frames arrived than `arrived` lists.
        unlisted: usize,
    },
    /// The server closed the connection.
    #[error("the connection is closed (code {code}: {reason})")]
    Closed {
        /// Close code sent by the server.
        code: u16,
        /// Close reason sent by the server.
        reason: String,
    },
    /// The connection ended without a close frame.
    #[error("the connection ended without a close frame")]
    Ended,
    /// The consumer refused the connection before the upgrade
    /// ([`FromConnection`]); a real client gets this HTTP
    /// status and body.
    #[error("the connection was refused before the upgrade with HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The JSON body.
        body: Value,
    },
    /// A frame arrived where none was expected.
    #[error("expected nothing, received {0}")]
    Unexpected(String),
    /// A frame could not be decoded.
    #[error("cannot decode frame {frame}: {source}")]
    Decode {
        /// The frame text.
        frame: String,
        /// serde_json's reason.
        source: serde_json::Error,
    },
}

/// The end of [`TestError::Timeout`]'s message: the frames that arrived meanwhile.
fn arrived_meanwhile(arrived: &[String], unlisted: usize) -> String {
    match (arrived, unlisted) {
        ([], _) => "nothing arrived meanwhile".to_owned(),
        (_, 0) => format!("arrived meanwhile: {}", arrived.join(", ")),
        _ => format!("arrived meanwhile: {} and {unlisted} more", arrived.join(", ")),
    }
}

/// What a receive waits for, and the frames that arrive while it waits: what
/// [`TestError::Timeout`] reports.
struct Wait {
    waited_for: String,
    arrived: Vec<String>,
    unlisted: usize,
}

impl Wait {
    /// How many frames a timeout lists.
    const LISTED: usize = 5;
    /// How many characters of a frame without an action a timeout quotes.
    const CLIP: usize = 60;

    fn new(waited_for: impl Into<String>) -> Self {
        Wait { waited_for: waited_for.into(), arrived: Vec::new(), unlisted: 0 }
    }

    /// Notes a text frame that arrived: its action, or its text clipped.
    fn arrived(&mut self, text: &str) {
        if self.arrived.len() == Self::LISTED {
            self.unlisted += 1;
            return;
        }
        let action = serde_json::from_str::<Value>(text).ok().and_then(|value| {
            value.get("action").and_then(Value::as_str).map(|action| format!("`{action}`"))
        });
        let label = action.unwrap_or_else(|| match text.char_indices().nth(Self::CLIP) {
            Some((end, _)) => format!("{}...", &text[..end]),
            None => text.to_owned(),
        });
        self.arrived.push(label);
    }

    fn timed_out(&self, timeout: Duration) -> TestError {
        TestError::Timeout {
            waited_for: self.waited_for.clone(),
            timeout,
            arrived: self.arrived.clone(),
            unlisted: self.unlisted,
        }
    }
}

/// Completion frames, which [`TestClient::receive_all_messages`] leaves out.
const COMPLETIONS: [&str; 3] =
    [CompleteMessage::ACTION, GroupCompleteMessage::ACTION, EventCompleteMessage::ACTION];

/// Configures a test connection: request data, app state and settings.
#[derive(Debug)]
pub struct TestClientBuilder<S = ()> {
    info: ConnectionInfo,
    state: S,
    settings: Settings,
    timeout: Duration,
}

impl Default for TestClientBuilder<()> {
    fn default() -> Self {
        let info = ConnectionInfo { path: "/".into(), ..ConnectionInfo::default() };
        TestClientBuilder { info, state: (), settings: Settings::default(), timeout: Duration::from_secs(5) }
    }
}

impl<S> TestClientBuilder<S> {
    /// The request path the consumer sees.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.info.path = path.into();
        self
    }

    /// A route path parameter, e.g. `("room_name", "lobby")`.
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.info.path_params.push((name.into(), value.into()));
        self
    }

    /// A query-string parameter.
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.info.query.push((name.into(), value.into()));
        self
    }

    /// A request header. Panics on an invalid name or value (a test's own input).
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        let value =
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("invalid header value {value:?}: {e}"));
        self.info.headers.insert(HeaderName::from_static(name), value);
        self
    }

    /// All request headers at once.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.info.headers = headers;
        self
    }

    /// The app state the consumer is built from ([`FromConnection`]).
    pub fn state<T>(self, state: T) -> TestClientBuilder<T> {
        TestClientBuilder { info: self.info, state, settings: self.settings, timeout: self.timeout }
    }

    /// The app settings (completion frames, size limit, ...).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The channel layers, shared with other test clients and with the code under
    /// test that sends events (shortcut for `settings(Settings::layers(...))`).
    pub fn layers(mut self, layers: Layers) -> Self {
        self.settings = self.settings.layers(layers);
        self
    }

    /// Shortcut for turning completion frames on or off.
    pub fn send_completion(mut self, on: bool) -> Self {
        self.settings = self.settings.send_completion(on);
        self
    }

    /// How long a receive waits before [`TestError::Timeout`] (default 5 s), which
    /// names what it waited for and the frames that arrived meanwhile.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Opens the connection to consumer `C`; its hooks start running at once, in a
    /// task of their own. [`TestClient::receive_nothing`] waits until they are done
    /// (the connection then is registered with its layer and in its groups). Must be
    /// called inside a tokio runtime.
    pub fn connect<C>(mut self) -> TestClient
    where
        C: Consumer + FromConnection<S>,
        S: Send + Sync + 'static,
    {
        self.info.channel_name = self.settings.layers.new_channel_name(C::LAYER);
        let channel_name = self.info.channel_name.clone();
        let (to_server, mut from_client) = mpsc::channel::<Incoming>(64);
        // The "socket": frames the writer has written and the client not yet read.
        let (to_client, from_server) = mpsc::channel::<Outgoing>(16);
        let (refused_tx, refused) = tokio::sync::oneshot::channel();
        let reader = stream::poll_fn(move |cx| from_client.poll_recv(cx));
        let writer = PollSender::new(to_client);
        let settings = self.settings.clone();
        let max_message_size = settings.max_message_size;
        let timeout = self.timeout;
        // Served as `chanx::serve` serves a connection: counted and stopped by the
        // settings' shutdown handle.
        let shutdown = settings.shutdown.clone();
        let registration = shutdown.register();
        let control = Arc::new(Control::default());
        let stop = control.clone();
        let task = async move {
            let TestClientBuilder { info, state, .. } = self;
            let mut parts = request_parts(&info);
            let mut handshake = Handshake { parts: &mut parts, info: &info, state: &state };
            match C::from_connection(&mut handshake).await {
                Ok(consumer) => {
                    runtime::serve(consumer, Arc::new(info), reader, writer, control, &settings).await
                }
                Err(refusal) => {
                    let status = refusal.status_code();
                    let body = serde_json::to_value(refusal.into_payload()).unwrap_or_default();
                    let _ = refused_tx.send(TestError::Refused { status, body });
                }
            }
            drop(registration);
        };
        shutdown.spawn(task, stop);
        let camelize = C::CAMELIZE.unwrap_or(self.settings.camelize);
        TestClient {
            channel_name,
            to_server,
            from_server,
            refused,
            max_message_size,
            timeout,
            barrier: 0,
            camelize,
        }
    }
}

/// The upgrade request a served connection with `info` would have made.
fn request_parts(info: &ConnectionInfo) -> http::request::Parts {
    let query = serde_urlencoded::to_string(&info.query).unwrap_or_default();
    let uri = if query.is_empty() { info.path.clone() } else { format!("{}?{query}", info.path) };
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.uri = uri.parse().unwrap_or_default();
    parts.headers = info.headers.clone();
    parts
}

/// A client connected in-process to one consumer.
#[derive(Debug)]
pub struct TestClient {
    channel_name: String,
    to_server: mpsc::Sender<Incoming>,
    from_server: mpsc::Receiver<Outgoing>,
    refused: tokio::sync::oneshot::Receiver<TestError>,
    max_message_size: usize,
    timeout: Duration,
    barrier: u64,
    /// Whether the connection puts camelCase keys on the wire.
    camelize: bool,
}

impl TestClient {
    /// A builder for a connection with request data, state or settings.
    pub fn builder() -> TestClientBuilder<()> {
        TestClientBuilder::default()
    }

    /// The connection's channel name, to send it events.
    pub fn channel_name(&self) -> &str {
        &self.channel_name
    }

    /// Connects to `C` with default settings and no state.
    pub fn connect<C: Consumer + FromConnection<()>>() -> TestClient {
        TestClient::builder().connect::<C>()
    }

    /// Sends a typed message (with camelCase keys to a connection that camelizes).
    pub async fn send_message<M: Message>(&self, message: &M) -> Result<(), TestError> {
        let text = serde_json::to_string(message)
            .map_err(|source| TestError::Decode { frame: M::ACTION.into(), source })?;
        let text = if self.camelize { case::camelize_keys(&text).into_owned() } else { text };
        self.send_text(text).await
    }

    /// `value` decoded as `M`, with its keys decamelized first when the connection
    /// camelizes.
    fn decode<M: serde::de::DeserializeOwned>(&self, value: &Value) -> Result<M, TestError> {
        let decoded = if self.camelize {
            let text = value.to_string();
            serde_json::from_str(&case::decamelize_keys(&text))
        } else {
            M::deserialize(value)
        };
        decoded.map_err(|source| TestError::Decode { frame: value.to_string(), source })
    }

    /// Sends a typed message to the subscription of `topic` (the `topic` envelope key).
    pub async fn send_topic_message<M: Message>(&self, topic: &str, message: &M) -> Result<(), TestError> {
        let mut frame = serde_json::to_value(message)
            .map_err(|source| TestError::Decode { frame: M::ACTION.into(), source })?;
        if self.camelize {
            frame = serde_json::from_str(&case::camelize_keys(&frame.to_string()))
                .map_err(|source| TestError::Decode { frame: M::ACTION.into(), source })?;
        }
        if let Value::Object(keys) = &mut frame {
            keys.insert("topic".into(), Value::from(topic));
        }
        self.send_json(&frame).await
    }

    /// Subscribes to `topic` and waits for the `subscribed` acknowledgement, which must
    /// be the next frame: a topic error instead (`unknown_topic`, `unauthorized`,
    /// `too_many_subscriptions`) is [`TestError::Unexpected`], with the frame.
    pub async fn subscribe(&mut self, topic: &str) -> Result<(), TestError> {
        self.topic_request(topic, SubscribeMessage::ACTION, SubscribedMessage::ACTION).await
    }

    /// Leaves `topic` and waits for the `unsubscribed` acknowledgement, the next frame.
    pub async fn unsubscribe(&mut self, topic: &str) -> Result<(), TestError> {
        self.topic_request(topic, UnsubscribeMessage::ACTION, UnsubscribedMessage::ACTION).await
    }

    async fn topic_request(&mut self, topic: &str, action: &str, ack: &str) -> Result<(), TestError> {
        self.send_json(&serde_json::json!({ "action": action, "topic": topic })).await?;
        let mut wait = Wait::new(format!("the `{ack}` of `{topic}`"));
        let frame = self.next_json(&mut wait).await?;
        if frame["action"] == ack && frame["topic"] == topic {
            return Ok(());
        }
        Err(TestError::Unexpected(frame.to_string()))
    }

    /// The next frame, which must belong to `topic`, decoded as message `M` with its
    /// envelope keys.
    pub async fn receive_topic_message<M: Message>(
        &mut self,
        topic: &str,
    ) -> Result<TopicFrame<M>, TestError> {
        let mut wait = Wait::new(format!("a `{}` frame of `{topic}`", M::ACTION));
        let value = self.next_json(&mut wait).await?;
        if value["topic"] != topic {
            return Err(TestError::Unexpected(value.to_string()));
        }
        let reference = value.get("ref").and_then(Value::as_str).map(str::to_owned);
        let seq = value.get("seq").and_then(Value::as_u64);
        let message = self.decode(&value)?;
        Ok(TopicFrame { topic: topic.to_owned(), message, reference, seq })
    }

    /// Sends any JSON value as a text frame.
    pub async fn send_json(&self, value: &Value) -> Result<(), TestError> {
        self.send_text(value.to_string()).await
    }

    /// Sends a raw text frame (it need not be JSON). A text over the size limit is
    /// refused as a real socket would refuse it.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), TestError> {
        let text = text.into();
        let frame =
            if text.len() > self.max_message_size { Incoming::TooBig } else { Incoming::Text(text.into()) };
        self.push(frame).await
    }

    /// Sends a binary frame.
    pub async fn send_binary(&self) -> Result<(), TestError> {
        self.push(Incoming::Binary).await
    }

    /// Closes the connection from the client side with `code`.
    pub async fn close(&self, code: u16) -> Result<(), TestError> {
        self.push(Incoming::Close(Some(code))).await
    }

    /// Drops the connection without a close frame, as a crashed client would.
    pub fn disconnect(self) {}

    /// The next frame, as JSON.
    pub async fn receive_json(&mut self) -> Result<Value, TestError> {
        self.next_json(&mut Wait::new("a frame")).await
    }

    /// The next text frame, as JSON, skipping pings and pongs.
    async fn next_json(&mut self, wait: &mut Wait) -> Result<Value, TestError> {
        loop {
            match self.next_frame(wait).await? {
                Outgoing::Text(text) | Outgoing::Broadcast(text) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|source| TestError::Decode { frame: text.as_str().to_owned(), source });
                }
                Outgoing::Pong(_) | Outgoing::Ping => continue,
                Outgoing::Close(code, reason) => {
                    return Err(TestError::Closed { code, reason: reason.as_str().into() });
                }
            }
        }
    }

    /// The next frame, decoded as message `M` (its keys decamelized first when the
    /// connection camelizes).
    pub async fn receive_message<M: Message>(&mut self) -> Result<M, TestError> {
        let value = self.next_json(&mut Wait::new(format!("a `{}` frame", M::ACTION))).await?;
        self.decode(&value)
    }

    /// Every frame up to and including the first whose action is `stop_action`,
    /// leaving out completion frames (`complete`, `group_complete`, `event_complete`).
    pub async fn receive_all_messages(&mut self, stop_action: &str) -> Result<Vec<Value>, TestError> {
        let mut wait = Wait::new(format!("frames up to action `{stop_action}`"));
        let mut messages = Vec::new();
        loop {
            let value = self.next_json(&mut wait).await?;
            let action = value.get("action").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !COMPLETIONS.contains(&action.as_str()) {
                messages.push(value);
            }
            if action == stop_action {
                return Ok(messages);
            }
        }
    }

    /// Asserts that the server has sent nothing more so far: the connection handles
    /// frames in order, and server-side events queued before a client frame ahead of
    /// it, so a WebSocket ping answered with nothing before its pong proves that every
    /// earlier frame and event produced no further output. No sleeping. (A broadcast
    /// or event sent after the ping may still arrive later.)
    pub async fn receive_nothing(&mut self) -> Result<(), TestError> {
        self.barrier += 1;
        let token = Bytes::from(self.barrier.to_string());
        self.push(Incoming::Ping(token.clone())).await?;
        let mut wait = Wait::new("the pong of receive_nothing");
        loop {
            match self.next_frame(&mut wait).await? {
                Outgoing::Pong(data) if data == token => return Ok(()),
                // The pong of an earlier barrier that failed proves nothing now; a
                // heartbeat ping is no output of the consumer.
                Outgoing::Pong(_) | Outgoing::Ping => continue,
                Outgoing::Text(text) | Outgoing::Broadcast(text) => {
                    return Err(TestError::Unexpected(text.as_str().to_owned()));
                }
                Outgoing::Close(code, reason) => {
                    return Err(TestError::Closed { code, reason: reason.as_str().into() });
                }
            }
        }
    }

    /// Waits for the server's close frame, skipping other frames; returns its code and
    /// reason.
    pub async fn wait_closed(&mut self) -> Result<(u16, String), TestError> {
        let mut wait = Wait::new("the close frame");
        loop {
            if let Outgoing::Close(code, reason) = self.next_frame(&mut wait).await? {
                return Ok((code, reason.as_str().to_owned()));
            }
        }
    }

    async fn push(&self, frame: Incoming) -> Result<(), TestError> {
        self.to_server.send(frame).await.map_err(|_| TestError::Ended)
    }

    /// The next frame of any kind; text frames are noted in `wait`.
    async fn next_frame(&mut self, wait: &mut Wait) -> Result<Outgoing, TestError> {
        match tokio::time::timeout(self.timeout, self.from_server.recv()).await {
            Ok(Some(frame)) => {
                if let Outgoing::Text(text) | Outgoing::Broadcast(text) = &frame {
                    wait.arrived(text.as_str());
                }
                Ok(frame)
            }
            Ok(None) => Err(self.refused.try_recv().unwrap_or(TestError::Ended)),
            Err(_) => Err(wait.timed_out(self.timeout)),
        }
    }
}

/// A frame of a topic subscription, as [`TestClient::receive_topic_message`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicFrame<M> {
    /// The topic it belongs to.
    pub topic: String,
    /// The message.
    pub message: M,
    /// The `ref` it echoes, for an answer to a request.
    pub reference: Option<String>,
    /// The `seq` of the topic push it answers, if the push had one.
    pub seq: Option<u64>,
}

/// Where a recorded message was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// To every member of these groups.
    Groups(Vec<String>),
    /// To one connection, by channel name.
    Channel(String),
}

/// One message sent through a [`RecordingLayer`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Where it was sent.
    pub target: Target,
    /// Broadcast or event.
    pub kind: Kind,
    /// The whole frame, `{"action": ..., "payload": ...}`.
    pub frame: Value,
    /// For a topic push (`layer.topic::<T>(name).broadcast(..)`): the topic and its `seq`.
    pub topic: Option<TopicStamp>,
}

/// A channel layer that records what is broadcast or sent through it instead of
/// delivering it; group memberships work as in the in-memory layer.
///
/// ```
/// use chanx::layer::{Kind, Layers};
/// use chanx::testing::{RecordingLayer, Target};
/// # use chanx::prelude::*;
/// # #[message(action = "job_result")] pub struct JobResult(pub String);
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), chanx::layer::LayerError> {
/// let recorder = RecordingLayer::new();
/// let layers = Layers::new(recorder.clone());
/// layers.default_layer().broadcast_event(&JobResult("done".into())).groups(["jobs"]).await?;
/// let sent = recorder.take();
/// assert_eq!(sent[0].target, Target::Groups(vec!["jobs".into()]));
/// assert_eq!(sent[0].kind, Kind::Event);
/// assert_eq!(sent[0].frame["payload"], "done");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RecordingLayer {
    members: InMemoryLayer,
    sent: Arc<Mutex<Vec<Recorded>>>,
}

impl RecordingLayer {
    /// A layer that has recorded nothing yet.
    pub fn new() -> Self {
        RecordingLayer::default()
    }

    /// Everything recorded so far, oldest first.
    pub fn sent(&self) -> Vec<Recorded> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Everything recorded so far, forgetting it.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn record(&self, target: Target, message: &LayerMessage) {
        let frame = serde_json::from_str(message.frame.as_str()).unwrap_or(Value::Null);
        let topic = message.topic.as_deref().cloned();
        let recorded = Recorded { target, kind: message.kind, frame, topic };
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).push(recorded);
    }
}

impl ChannelLayer for RecordingLayer {
    fn register<'a>(&'a self, channel: &'a str, inbox: Inbox) -> BoxFuture<'a, Result<(), LayerError>> {
        self.members.register(channel, inbox)
    }

    fn unregister<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()> {
        self.members.unregister(channel)
    }

    fn group_add<'a>(&'a self, group: &'a str, channel: &'a str) -> BoxFuture<'a, Result<(), LayerError>> {
        self.members.group_add(group, channel)
    }

    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.members.group_discard(group, channel)
    }

    fn group_send<'a>(
        &'a self,
        groups: &'a [String],
        message: LayerMessage,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.record(Target::Groups(groups.to_vec()), &message);
        Box::pin(std::future::ready(Ok(())))
    }

    fn send<'a>(&'a self, channel: &'a str, message: LayerMessage) -> BoxFuture<'a, Result<(), LayerError>> {
        self.record(Target::Channel(channel.to_owned()), &message);
        Box::pin(std::future::ready(Ok(())))
    }
}
