//! A typed WebSocket client of chanx servers and of Python Chanx servers (they speak the
//! same protocol): requests answered by `ref`, typed frames, topics, reconnection.
//! Feature `client`.
//!
//! `#[channel]` gives every consumer a typed client of its own (`MyConsumer::client(url)`,
//! one method per handler, an enum of what it sends); [`Client`] is what it wraps, and
//! works with any message types:
//!
//! ```
//! use std::future::IntoFuture;
//!
//! use chanx::client::Client;
//! use chanx::prelude::*;
//!
//! #[derive(Default)]
//! pub struct PingConsumer;
//!
//! #[channel]
//! impl PingConsumer {
//!     #[ws_handler]
//!     async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
//!         PongMessage
//!     }
//! }
//!
//! impl Consumer for PingConsumer {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = axum::Router::new().route("/ws/ping", PingConsumer::route());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/ws/ping", listener.local_addr()?);
//! tokio::spawn(chanx::serve(listener, app).into_future());
//!
//! let client = Client::builder(url).connect().await?;
//! let pong: PongMessage = client.request(&PingMessage).await?;
//! assert_eq!(pong, PongMessage);
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::task::AbortOnDropHandle;

use crate::connection::channel::{Dispatch, decode};
use crate::protocol::case;
use crate::protocol::frame::{self, Keys};
use crate::protocol::message::{
    ErrorMessage, ErrorPayload, Message, SubscribeMessage, SubscribedMessage, UnsubscribeMessage,
    UnsubscribedMessage,
};
use crate::protocol::validate::ErrorItem;
use crate::queue::{Cost, PushError, QueueReceiver, QueueSender, queue};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket connection could not be made.
    #[error("cannot connect: {0}")]
    Connect(#[source] Box<tungstenite::Error>),
    /// The server refused the upgrade with an HTTP status (authentication before the
    /// upgrade, an origin or a connection limit).
    #[error("the server refused the connection with HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The response body, as text.
        body: String,
    },
    /// The connection is closed (and the client does not reconnect).
    #[error("the connection is closed (code {code:?}: {reason})")]
    Closed {
        /// The server's close code, if it sent one.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The connection dropped while the request waited for its answer; a client that
    /// reconnects goes on, without the answer.
    #[error("the connection dropped before the answer to `{action}` arrived")]
    Disconnected {
        /// The action of the request.
        action: &'static str,
    },
    /// No answer to the request within the request timeout.
    #[error("no answer to `{action}` within {after:?}")]
    Timeout {
        /// The action of the request.
        action: &'static str,
        /// The request timeout.
        after: Duration,
    },
    /// The server answered the request with an error frame.
    #[error("the server answered `{action}` with an error: {payload:?}")]
    Server {
        /// The action of the request.
        action: &'static str,
        /// The error: validation errors, a handler failure or a topic error.
        payload: ErrorPayload,
    },
    /// The answer to a request is not the message expected.
    #[error("expected a `{expected}` frame, received {frame}")]
    UnexpectedReply {
        /// The action expected.
        expected: &'static str,
        /// The frame received.
        frame: String,
    },
    /// The server answered a request with its completion frame alone: the handler
    /// sent nothing back.
    #[error("the server sent no answer to `{action}`, only its completion frame")]
    NoReply {
        /// The action of the request.
        action: &'static str,
    },
    /// A frame's payload does not match its message type.
    #[error("cannot decode frame {frame}: {errors:?}")]
    Decode {
        /// The frame, cut to 200 bytes.
        frame: String,
        /// What does not match, as the server would say it.
        errors: Vec<ErrorItem>,
    },
    /// A message could not be encoded.
    #[error("cannot encode a `{action}` message: {source}")]
    Encode {
        /// The action of the message.
        action: &'static str,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// Frames nobody read filled the client's buffer: these were dropped.
    #[error("{dropped} frames were dropped: nobody read them and the buffer was full")]
    Lagged {
        /// How many.
        dropped: u64,
    },
}

/// One frame from the server, kept as received; read its envelope or decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame(Utf8Bytes);

impl RawFrame {
    /// The frame's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Its `action`, if it has a string one.
    pub fn action(&self) -> Option<Cow<'_, str>> {
        frame::parse(self.as_str()).ok().and_then(|envelope| frame::action(&envelope, &[]).ok())
    }

    /// Its `topic`, for a frame of a topic subscription.
    pub fn topic(&self) -> Option<Cow<'_, str>> {
        frame::parse(self.as_str()).ok().and_then(|envelope| envelope.topic)
    }

    /// Its `ref`, for an answer to a request.
    pub fn reference(&self) -> Option<String> {
        frame::heading(self.as_str()).and_then(|heading| heading.reference.map(Cow::into_owned))
    }

    /// Its `seq`, for a topic push that has one.
    pub fn seq(&self) -> Option<u64> {
        #[derive(serde::Deserialize)]
        struct Seq {
            seq: Option<u64>,
        }
        serde_json::from_str::<Seq>(self.as_str()).ok().and_then(|frame| frame.seq)
    }

    /// The frame as message `M`: its action must be `M`'s, and its payload is decoded
    /// straight from the text.
    pub fn decode<M: Message>(&self) -> Result<M, ClientError> {
        let envelope = frame::parse(self.as_str()).map_err(|errors| self.invalid(errors))?;
        match frame::action(&envelope, &[]) {
            Ok(action) if action == M::ACTION => {}
            _ => return Err(ClientError::UnexpectedReply { expected: M::ACTION, frame: self.clipped() }),
        }
        match decode::<M>(envelope.payload) {
            Ok(message) => Ok(message),
            Err(Dispatch::Invalid(errors)) => Err(self.invalid(errors)),
            Err(_) => Err(self.invalid(Vec::new())),
        }
    }

    fn invalid(&self, errors: Vec<ErrorItem>) -> ClientError {
        ClientError::Decode { frame: self.clipped(), errors }
    }

    fn clipped(&self) -> String {
        let text = self.as_str();
        let mut end = text.len().min(200);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }
}

/// A type the frames of a connection decode into: [`RawFrame`] itself, any message
/// type, or the enum of everything a consumer sends that `#[channel]` generates with
/// its client.
pub trait FromFrame: Sized {
    /// Decodes `frame`.
    fn from_frame(frame: RawFrame) -> Result<Self, ClientError>;
}

impl FromFrame for RawFrame {
    fn from_frame(frame: RawFrame) -> Result<Self, ClientError> {
        Ok(frame)
    }
}

impl<M: Message> FromFrame for M {
    fn from_frame(frame: RawFrame) -> Result<Self, ClientError> {
        frame.decode()
    }
}

/// What a handler's return type gives a client that sends it a message: the reply it
/// waits for (`M` for `M`, `Option<M>` and `Result<M, _>`), nothing for `()` (a plain
/// send), or the frame that answers, whatever it is ([`RawFrame`]). What the methods
/// `#[channel]` generates return.
#[doc(hidden)]
pub trait Answer {
    /// What the client receives.
    type Reply: Send;

    /// Sends `message` (to `topic`'s subscription, if given) and waits as `Self` says.
    fn ask<'a, M: Message + Sync>(
        client: &'a Client,
        topic: Option<&'a str>,
        message: M,
    ) -> impl Future<Output = Result<Self::Reply, ClientError>> + Send + 'a;
}

impl<R: Message> Answer for R {
    type Reply = R;

    async fn ask<'a, M: Message + Sync>(
        client: &'a Client,
        topic: Option<&'a str>,
        message: M,
    ) -> Result<R, ClientError> {
        client.exchange(&message, topic).await?.decode()
    }
}

impl<R: Message> Answer for Option<R> {
    type Reply = R;

    async fn ask<'a, M: Message + Sync>(
        client: &'a Client,
        topic: Option<&'a str>,
        message: M,
    ) -> Result<R, ClientError> {
        R::ask(client, topic, message).await
    }
}

impl<T: Answer + 'static, E: 'static> Answer for Result<T, E> {
    type Reply = T::Reply;

    async fn ask<'a, M: Message + Sync>(
        client: &'a Client,
        topic: Option<&'a str>,
        message: M,
    ) -> Result<T::Reply, ClientError> {
        T::ask(client, topic, message).await
    }
}

impl Answer for () {
    type Reply = ();

    async fn ask<'a, M: Message + Sync>(
        client: &'a Client,
        topic: Option<&'a str>,
        message: M,
    ) -> Result<(), ClientError> {
        let keys = Keys { topic, ..Keys::default() };
        client.push(&message, keys).await
    }
}

impl Answer for RawFrame {
    type Reply = RawFrame;

    async fn ask<'a, M: Message + Sync>(
        client: &'a Client,
        topic: Option<&'a str>,
        message: M,
    ) -> Result<RawFrame, ClientError> {
        client.exchange(&message, topic).await
    }
}

/// A connection (`C`: a [`Client`], or what borrows one) that can send `M` to a handler
/// returning `R`. The generated methods require it of their connection type rather than
/// of `M` and `R` directly, so that the checks run where a method is called: a consumer
/// whose handler takes or returns what no client can send or wait for gets its one
/// error from `#[channel]`, not a second one from its client.
#[doc(hidden)]
pub trait Asks<R, M> {
    /// What the method returns.
    type Reply;

    /// Sends `message` (to `topic`'s subscription, if given) and waits as `R` says.
    fn ask<'a>(
        &'a self,
        topic: Option<&'a str>,
        message: M,
    ) -> impl Future<Output = Result<Self::Reply, ClientError>> + Send + 'a;
}

impl<C, R, M> Asks<R, M> for C
where
    C: std::borrow::Borrow<Client>,
    R: Answer,
    M: Message + Sync,
{
    type Reply = R::Reply;

    fn ask<'a>(
        &'a self,
        topic: Option<&'a str>,
        message: M,
    ) -> impl Future<Output = Result<R::Reply, ClientError>> + Send + 'a {
        R::ask(self.borrow(), topic, message)
    }
}

/// Decodes a frame as `T` in the frame enums `#[channel]` generates, and shows `T`:
/// `(&&Decoder::<T>::NEW).decode_if(..)`. Method resolution picks [`DecodeFrame`] when
/// `T` is a message and falls back to [`SkipFrame`] otherwise (a variant read from a
/// signature that names no message: its frames are `Other`), so that the enum never
/// adds a compile error of its own.
#[doc(hidden)]
pub struct Decoder<T>(PhantomData<fn() -> T>);

impl<T> Decoder<T> {
    /// The probe for `T`.
    pub const NEW: Self = Decoder(PhantomData);
}

/// The decoding of a message type.
#[doc(hidden)]
pub trait DecodeFrame<T> {
    /// `Some` when `frame`'s action is `T`'s.
    fn decode_if(&self, frame: &RawFrame, action: Option<&str>) -> Option<Result<T, ClientError>>;

    /// Shows `value` as `Name("{"action": ..., "payload": ...}")`: messages need not be `Debug`.
    fn show(&self, value: &T, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result;
}

impl<T: Message> DecodeFrame<T> for &Decoder<T> {
    fn decode_if(&self, frame: &RawFrame, action: Option<&str>) -> Option<Result<T, ClientError>> {
        (action == Some(T::ACTION)).then(|| frame.decode())
    }

    fn show(&self, value: &T, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let frame = frame::encode(value, Keys::default()).map_err(|_| std::fmt::Error)?;
        f.debug_tuple(name).field(&frame.as_str()).finish()
    }
}

/// The fallback for a type that is no message.
#[doc(hidden)]
pub trait SkipFrame<T> {
    /// Never decodes.
    fn decode_if(&self, _frame: &RawFrame, _action: Option<&str>) -> Option<Result<T, ClientError>> {
        None
    }

    /// Shows the variant's name.
    fn show(&self, _value: &T, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(name)
    }
}

impl<T> SkipFrame<T> for Decoder<T> {}

/// How a client reconnects after its connection drops: waits that start at `initial`
/// and double up to `max`, for ever or `attempts` times. After a reconnection the
/// client subscribes again to its topics (their `subscribed` frames arrive through
/// [`Client::next`]); requests that were waiting fail with
/// [`ClientError::Disconnected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// How many attempts in a row before giving up; `None`: no limit.
    pub attempts: Option<u32>,
}

impl Default for Reconnect {
    /// 100 ms, doubling up to 10 s, no limit.
    fn default() -> Self {
        Reconnect { initial: Duration::from_millis(100), max: Duration::from_secs(10), attempts: None }
    }
}

/// Options of a client connection: [`Client::builder`], or a consumer's
/// `MyConsumer::client(url)`, whose `connect` gives its typed client `C`.
#[derive(Debug)]
pub struct ClientBuilder<C = Client> {
    options: Options,
    client: PhantomData<fn() -> C>,
}

/// What a connection is opened with, again after a reconnection.
#[derive(Debug, Clone)]
struct Options {
    url: String,
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    reconnect: Option<Reconnect>,
    buffer: usize,
    camelize: bool,
}

impl<C> Clone for ClientBuilder<C> {
    fn clone(&self) -> Self {
        ClientBuilder { options: self.options.clone(), client: PhantomData }
    }
}

impl<C: From<Client>> ClientBuilder<C> {
    /// Options for a connection to `url` (`ws://host:port/ws/system`); `{name}`s in
    /// it are filled by [`path_param`](Self::path_param).
    pub fn new(url: impl Into<String>) -> Self {
        let options = Options {
            url: url.into(),
            path: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            reconnect: None,
            buffer: 16 << 20,
            camelize: false,
        };
        ClientBuilder { options, client: PhantomData }
    }

    /// Fills `{name}` in the URL with `value`, percent-encoded
    /// (`ws://host/ws/room/{room_name}`).
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.path.push((name.into(), value.into()));
        self
    }

    /// Adds a query-string parameter (`?token=...`).
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.query.push((name.into(), value.into()));
        self
    }

    /// Adds a request header (`Authorization`, `Cookie`, `Origin`).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.options.headers.push((name, value));
        self
    }

    /// How long a request waits for its answer (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Reconnects after the connection drops (off by default).
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.options.reconnect = Some(reconnect);
        self
    }

    /// Speaks to a server that camelizes (`Settings::camelize`, `#[channel(camelize)]`):
    /// the keys of what the client sends are camelized, and those of every frame it
    /// receives decamelized before anything reads them, so that messages keep their
    /// Rust (snake_case) fields. A consumer's typed client turns it on when the consumer
    /// camelizes (`#[channel(camelize)]`); for an app-wide setting, turn it on here.
    pub fn camelize(mut self, camelize: bool) -> Self {
        self.options.camelize = camelize;
        self
    }

    /// How many bytes of frames nobody has read yet the client keeps (default 16 MiB);
    /// beyond it, frames are dropped and [`Client::next`] says so once.
    pub fn buffer(mut self, bytes: usize) -> Self {
        self.options.buffer = bytes;
        self
    }

    /// Opens the connection.
    pub async fn connect(self) -> Result<C, ClientError> {
        let options = self.options;
        let socket = options.open().await?;
        let (commands, receiver) = mpsc::channel(64);
        let (frames_tx, frames) = queue(options.buffer);
        let shared = Arc::new(Shared::default());
        let timeout = options.timeout;
        let camelize = options.camelize;
        let task = tokio::spawn(run(socket, receiver, shared.clone(), frames_tx, options));
        let client =
            Client { shared, commands, frames, timeout, camelize, _task: AbortOnDropHandle::new(task) };
        Ok(C::from(client))
    }
}

impl Options {
    /// The URL with its path parameters and query.
    fn url(&self) -> String {
        let mut url = self.url.clone();
        for (name, value) in &self.path {
            url = url
                .replace(&format!("{{{name}}}"), &utf8_percent_encode(value, NON_ALPHANUMERIC).to_string());
        }
        if !self.query.is_empty() {
            let query = serde_urlencoded::to_string(&self.query).unwrap_or_default();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&query);
        }
        url
    }

    async fn open(&self) -> Result<Socket, ClientError> {
        let mut request =
            self.url().into_client_request().map_err(|error| ClientError::Connect(Box::new(error)))?;
        for (name, value) in &self.headers {
            request.headers_mut().append(name.clone(), value.clone());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                Err(ClientError::Refused { status: response.status().as_u16(), body: body.into_owned() })
            }
            Err(error) => Err(ClientError::Connect(Box::new(error))),
        }
    }
}

/// A connection to a chanx (or Python Chanx) server.
///
/// Requests ([`request`](Self::request)) carry a fresh `ref` and resolve with the frame
/// that answers it, or its error frame; many may wait at once. Every other frame
/// (broadcasts, events, pushes, completion frames) goes to [`next`](Self::next), in
/// arrival order. Dropping the client closes the connection.
#[derive(Debug)]
pub struct Client {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    frames: QueueReceiver<Received>,
    timeout: Duration,
    /// Whether the server camelizes: what is sent is camelized.
    camelize: bool,
    _task: AbortOnDropHandle<()>,
}

/// What the client and its connection task share.
#[derive(Debug, Default)]
struct Shared {
    /// Requests waiting for their answer, by `ref`.
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<RawFrame, ClientError>>>>,
    next_ref: AtomicU64,
    /// The topics subscribed to, to subscribe again after a reconnection.
    topics: Mutex<BTreeSet<String>>,
}

impl Shared {
    fn pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Result<RawFrame, ClientError>>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
enum Command {
    Send(Utf8Bytes),
    Close,
}

/// What the connection task hands to [`Client::next`].
#[derive(Debug)]
enum Received {
    Frame(RawFrame),
    Lagged(u64),
    Closed(Option<u16>, String),
}

impl Cost for Received {
    fn cost(&self) -> usize {
        match self {
            Received::Frame(frame) => frame.0.len(),
            Received::Lagged(_) | Received::Closed(..) => 0,
        }
    }
}

/// Removes a request from the pending ones if it is dropped before its answer.
struct Waiting<'a> {
    shared: &'a Shared,
    reference: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.shared.pending().remove(&self.reference);
    }
}

impl Client {
    /// Options for a connection to `url` (`ws://host:port/ws/system`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// Sends `message` as a request and waits for the frame that answers it: `R`, or
    /// the error frame carrying its `ref` ([`ClientError::Server`]).
    pub async fn request<M: Message, R: Message>(&self, message: &M) -> Result<R, ClientError> {
        self.exchange::<M>(message, None).await?.decode()
    }

    /// [`request`](Self::request) to the subscription of `topic`.
    pub async fn request_topic<M: Message, R: Message>(
        &self,
        topic: &str,
        message: &M,
    ) -> Result<R, ClientError> {
        self.exchange::<M>(message, Some(topic)).await?.decode()
    }

    /// Sends `message` and waits for the frame that answers it, whatever it is.
    pub async fn exchange<M: Message>(
        &self,
        message: &M,
        topic: Option<&str>,
    ) -> Result<RawFrame, ClientError> {
        let reference = self.shared.next_ref.fetch_add(1, Ordering::Relaxed) + 1;
        let (answer, answered) = oneshot::channel();
        self.shared.pending().insert(reference, answer);
        let _waiting = Waiting { shared: &self.shared, reference };
        let keys = Keys { reference: Some(&format!("\"{reference}\"")), topic, seq: None };
        self.push(message, keys).await?;
        match tokio::time::timeout(self.timeout, answered).await {
            Ok(Ok(answer)) => answer.map_err(|error| match error {
                ClientError::Server { payload, .. } => ClientError::Server { action: M::ACTION, payload },
                ClientError::NoReply { .. } => ClientError::NoReply { action: M::ACTION },
                other => other,
            }),
            Ok(Err(_)) => Err(ClientError::Disconnected { action: M::ACTION }),
            Err(_) => Err(ClientError::Timeout { action: M::ACTION, after: self.timeout }),
        }
    }

    /// Sends `message` without waiting for an answer (what answers it, if anything,
    /// arrives through [`next`](Self::next)).
    pub async fn send<M: Message>(&self, message: &M) -> Result<(), ClientError> {
        self.push(message, Keys::default()).await
    }

    /// [`send`](Self::send) to the subscription of `topic`.
    pub async fn send_topic<M: Message>(&self, topic: &str, message: &M) -> Result<(), ClientError> {
        self.push(message, Keys { topic: Some(topic), ..Keys::default() }).await
    }

    pub(crate) async fn push<M: Message>(&self, message: &M, keys: Keys<'_>) -> Result<(), ClientError> {
        let mut text = frame::encode(message, keys)
            .map_err(|source| ClientError::Encode { action: M::ACTION, source })?;
        if self.camelize {
            text = Utf8Bytes::from(case::camelize_keys(text.as_str()).into_owned());
        }
        self.commands
            .send(Command::Send(text))
            .await
            .map_err(|_| ClientError::Closed { code: None, reason: "the connection task ended".into() })
    }

    /// Subscribes to `topic` and waits for `subscribed`; a refusal is
    /// [`ClientError::Server`] with the topic error. The client subscribes again after
    /// a reconnection.
    pub async fn subscribe(&self, topic: &str) -> Result<(), ClientError> {
        self.request_topic::<_, SubscribedMessage>(topic, &SubscribeMessage).await?;
        self.shared.topics().insert(topic.to_owned());
        Ok(())
    }

    /// Leaves `topic` and waits for `unsubscribed`.
    pub async fn unsubscribe(&self, topic: &str) -> Result<(), ClientError> {
        self.shared.topics().remove(topic);
        self.request_topic::<_, UnsubscribedMessage>(topic, &UnsubscribeMessage).await.map(|_| ())
    }

    /// The next frame that answers no waiting request, decoded as `F` (a message type,
    /// [`RawFrame`], or a consumer's frame enum); `None` once the connection is closed
    /// and every frame was read. A close is reported once, as [`ClientError::Closed`].
    pub async fn next<F: FromFrame>(&mut self) -> Option<Result<F, ClientError>> {
        match self.frames.recv().await? {
            Received::Frame(frame) => Some(F::from_frame(frame)),
            Received::Lagged(dropped) => Some(Err(ClientError::Lagged { dropped })),
            Received::Closed(code, reason) => Some(Err(ClientError::Closed { code, reason })),
        }
    }

    /// Closes the connection (1000) and waits until the server closed it too.
    pub async fn close(mut self) {
        let _ = self.commands.send(Command::Close).await;
        while self.frames.recv().await.is_some() {}
    }
}

/// How one connection ended.
enum Ended {
    /// [`Client::close`], or the client was dropped.
    ByClient,
    /// The server closed it or it dropped.
    Lost(Option<u16>, String),
}

/// The connection task: writes what the client sends, routes what arrives, reconnects.
async fn run(
    mut socket: Socket,
    mut commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    frames: QueueSender<Received>,
    options: Options,
) {
    let mut dropped = 0;
    loop {
        let ended = serve(&mut socket, &mut commands, &shared, &frames, &mut dropped, options.camelize).await;
        // Whatever waited for an answer on this connection will not get it.
        shared.pending().clear();
        let (code, reason) = match ended {
            Ended::ByClient => return,
            Ended::Lost(code, reason) => (code, reason),
        };
        let reopened = match options.reconnect {
            Some(reconnect) => reopen(&options, reconnect, &shared).await,
            None => None,
        };
        match reopened {
            Some(again) => socket = again,
            None => {
                let _ = frames.try_push(Received::Closed(code, reason));
                return;
            }
        }
    }
}

/// Serves one connection until it ends.
async fn serve(
    socket: &mut Socket,
    commands: &mut mpsc::Receiver<Command>,
    shared: &Shared,
    frames: &QueueSender<Received>,
    dropped: &mut u64,
    camelize: bool,
) -> Ended {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(text)) => {
                    if let Err(error) = socket.send(WsMessage::Text(text)).await {
                        return Ended::Lost(None, error.to_string());
                    }
                }
                Some(Command::Close) | None => {
                    let _ = socket.close(None).await;
                    while let Some(Ok(_)) = socket.next().await {}
                    return Ended::ByClient;
                }
            },
            incoming = socket.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    let text = if camelize { Utf8Bytes::from(case::decamelize_keys(text.as_str()).into_owned()) } else { text };
                    route(RawFrame(text), shared, frames, dropped)
                }
                Some(Ok(WsMessage::Close(close))) => {
                    let (code, reason) = close.map_or((None, String::new()), |c| (Some(c.code.into()), c.reason.to_string()));
                    return Ended::Lost(code, reason);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Ended::Lost(None, error.to_string()),
                None => return Ended::Lost(None, "the connection ended".into()),
            },
        }
    }
}

/// Hands a frame to the request it answers, or to [`Client::next`].
fn route(frame: RawFrame, shared: &Shared, frames: &QueueSender<Received>, dropped: &mut u64) {
    let answering = frame::heading(frame.as_str()).and_then(|heading| {
        let reference: u64 = heading.reference?.parse().ok()?;
        let answer = shared.pending().remove(&reference)?;
        Some((answer, heading.action.into_owned()))
    });
    if let Some((answer, action)) = answering {
        let outcome = match action.as_str() {
            ErrorMessage::ACTION => match frame.decode::<ErrorMessage>() {
                Ok(error) => Err(ClientError::Server { action: "", payload: error.payload }),
                Err(undecodable) => Err(undecodable),
            },
            crate::protocol::message::CompleteMessage::ACTION => Err(ClientError::NoReply { action: "" }),
            _ => Ok(frame),
        };
        let _ = answer.send(outcome);
        return;
    }
    if *dropped > 0 && frames.try_push(Received::Lagged(*dropped)).is_ok() {
        *dropped = 0;
    }
    match frames.try_push(Received::Frame(frame)) {
        Ok(()) => {}
        Err(PushError::Full) => *dropped += 1,
        Err(PushError::Closed) => {}
    }
}

/// Connects again, waiting longer after each failure; subscribes again to the topics.
async fn reopen(options: &Options, reconnect: Reconnect, shared: &Shared) -> Option<Socket> {
    let mut wait = reconnect.initial;
    let mut attempt = 0;
    loop {
        if reconnect.attempts.is_some_and(|attempts| attempt >= attempts) {
            return None;
        }
        attempt += 1;
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(reconnect.max);
        let Ok(mut socket) = options.open().await else { continue };
        let topics: Vec<String> = shared.topics().iter().cloned().collect();
        let mut resubscribed = true;
        for topic in topics {
            let keys = Keys { topic: Some(&topic), ..Keys::default() };
            let Ok(text) = frame::encode(&SubscribeMessage, keys) else { continue };
            resubscribed &= socket.send(WsMessage::Text(text)).await.is_ok();
        }
        if resubscribed {
            tracing::debug!(attempt, "reconnected");
            return Some(socket);
        }
    }
}
