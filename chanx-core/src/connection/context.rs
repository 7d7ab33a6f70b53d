//! The connection as a handler sees it: [`Context`], [`Sender`] and [`ConnectionInfo`].

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::{Error, Result};
use crate::layer::{BoxFuture, Kind, Lagging, LayerHandle, LayerMessage};
use crate::protocol::frame;
use crate::protocol::message::Message;
use crate::queue::{PushError, QueueSender};
use crate::settings::Settings;
use crate::stats::{Stats, count};
use crate::transport::{Control, Outgoing};

/// What is known about a connection when it opens: its unique channel name and the
/// HTTP request that opened it.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    pub(crate) channel_name: String,
    pub(crate) path: String,
    pub(crate) path_params: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
}

impl ConnectionInfo {
    /// The name that addresses this one connection (unique across processes).
    pub fn channel_name(&self) -> &str {
        &self.channel_name
    }

    /// The request path, e.g. `/ws/room/lobby`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A path parameter of the route, e.g. `room_name` in `/ws/room/{room_name}`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        lookup(&self.path_params, name)
    }

    /// The first value of a query-string parameter, decoded.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }

    /// The headers of the upgrade request.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A cookie of the upgrade request, e.g. a session id.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| pair.trim().split_once('=').filter(|(key, _)| *key == name).map(|(_, v)| v))
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Encodes a message as a text frame with the envelope `keys`.
fn encode<M: Message>(message: &M, keys: frame::Keys<'_>) -> Result<Outgoing> {
    frame::encode(message, keys)
        .map(Outgoing::Text)
        .map_err(|source| Error::Encode { action: M::ACTION, source })
}

/// Whether an endpoint may send `code` in a close frame (RFC 6455, section 7.4).
fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close reason cut to the 123 bytes a control frame can carry.
pub(crate) fn close_reason(mut reason: String) -> Utf8Bytes {
    const MAX_REASON: usize = 123;
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    Utf8Bytes::from(reason)
}

/// A cloneable handle that pushes messages to one connection, usable from spawned
/// tasks after the handler returned. Pushed frames never carry `ref`.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: QueueSender<Outgoing>,
    lagging: Arc<Lagging>,
    /// How long a send may wait for room before the client counts as not reading.
    patience: Option<Duration>,
}

impl Sender {
    pub(crate) fn new(tx: QueueSender<Outgoing>, lagging: Arc<Lagging>, settings: &Settings) -> Self {
        Sender { tx, lagging, patience: settings.heartbeat.map(|beat| beat.timeout) }
    }

    /// Sends a message to the connection; waits while its outbound buffer is full
    /// ([`Settings::outbound_buffer`](crate::Settings::outbound_buffer)). A client
    /// whose buffer stays full for the heartbeat timeout does not read: its
    /// connection is closed with 1013 and the send fails.
    ///
    /// Fails with [`Error::ConnectionClosed`] once the connection is gone.
    pub async fn send_message<M: Message>(&self, message: M) -> Result<()> {
        let frame = encode(&message, frame::Keys::default())?;
        self.send_frame(frame).await
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub(crate) async fn send_frame(&self, frame: Outgoing) -> Result<()> {
        match self.tx.push(frame, self.patience).await {
            Ok(()) => Ok(()),
            Err(PushError::Full) => {
                self.lagging.close();
                Err(Error::ConnectionClosed)
            }
            Err(PushError::Closed) => Err(Error::ConnectionClosed),
        }
    }
}

/// The connection a handler or hook works on: send, close, read the request.
///
/// Frames sent while a client frame is being handled echo its `ref`; frames sent by a
/// topic's handler or hook carry the topic (and the `seq` of the push being handled).
#[derive(Debug)]
pub struct Context {
    info: Arc<ConnectionInfo>,
    sender: Sender,
    control: Arc<Control>,
    layer: LayerHandle,
    channel: Arc<str>,
    max_groups: usize,
    stats: Arc<Stats>,
    pub(crate) groups: Vec<String>,
    /// This connection's own copies of its broadcasts, sent after the current step
    /// (handler reply and `complete`), as Chanx orders them.
    pub(crate) own_copies: Vec<Utf8Bytes>,
    pub(crate) reference: Option<Box<str>>,
    /// The topic whose frame, event or hook is being handled.
    pub(crate) topic: Option<Arc<str>>,
    /// The `seq` of the topic push being handled.
    pub(crate) seq: Option<u64>,
    pub(crate) close_code: Option<u16>,
    extensions: http::Extensions,
}

impl Context {
    pub(crate) fn new(
        info: Arc<ConnectionInfo>,
        sender: Sender,
        control: Arc<Control>,
        layer: LayerHandle,
        settings: &Settings,
    ) -> Self {
        Context {
            channel: Arc::from(info.channel_name()),
            info,
            sender,
            control,
            layer,
            max_groups: settings.max_groups,
            stats: settings.stats.clone(),
            groups: Vec::new(),
            own_copies: Vec::new(),
            reference: None,
            topic: None,
            seq: None,
            close_code: None,
            extensions: http::Extensions::new(),
        }
    }

    /// Adds this connection to a group (no-op if it is a member already). Every group
    /// is left when the connection ends.
    ///
    /// Fails with [`Error::TooManyGroups`] when the connection is in
    /// [`Settings::max_groups`](crate::Settings::max_groups) groups already.
    pub async fn join_group(&mut self, group: impl Into<String>) -> Result<()> {
        let group = group.into();
        if self.groups.contains(&group) {
            return Ok(());
        }
        if self.groups.len() >= self.max_groups {
            count(&self.stats.group_limit);
            crate::log::throttled!(warn, limit = self.max_groups, "group limit reached; join refused");
            return Err(Error::TooManyGroups(self.max_groups));
        }
        self.layer.layer().group_add(&group, &self.channel).await?;
        self.groups.push(group);
        Ok(())
    }

    /// Removes this connection from a group (no-op if it is not a member).
    pub async fn leave_group(&mut self, group: &str) -> Result<()> {
        let Some(position) = self.groups.iter().position(|g| g == group) else { return Ok(()) };
        // Forgotten only once left, so that a failed leave is retried on disconnect.
        self.layer.layer().group_discard(group, &self.channel).await?;
        self.groups.swap_remove(position);
        Ok(())
    }

    /// The groups this connection is in.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Broadcasts a message to this connection's groups (or `.groups([...])`), the
    /// sender included unless `.exclude_current()`. Receivers get the message exactly
    /// as built (no `ref`), then `group_complete` when completion is on.
    ///
    /// ```
    /// # use chanx::prelude::*;
    /// # async fn notify(cx: &mut Context) -> chanx::Result<()> {
    /// cx.broadcast_message(PongMessage).exclude_current().await?;
    /// cx.broadcast_message(PongMessage).groups(["room_lobby"]).await
    /// # }
    /// ```
    pub fn broadcast_message<M: Message>(&mut self, message: M) -> Broadcast<'_> {
        Broadcast {
            message: LayerMessage::encode(Kind::Broadcast, &message),
            cx: self,
            groups: None,
            exclude: false,
        }
    }

    /// The channel layer this consumer uses, to send events or broadcast elsewhere.
    pub fn layer(&self) -> &LayerHandle {
        &self.layer
    }

    /// Sends a message to this connection's client.
    ///
    /// ```
    /// # use chanx::prelude::*;
    /// # async fn welcome(cx: &mut Context) -> chanx::Result<()> {
    /// cx.send_message(PongMessage).await
    /// # }
    /// ```
    pub async fn send_message<M: Message>(&self, message: M) -> Result<()> {
        // Nothing follows a close frame: fail at once instead of waiting on the queue.
        if self.close_code.is_some() {
            return Err(Error::ConnectionClosed);
        }
        let frame = encode(&message, self.keys())?;
        self.sender.send_frame(frame).await
    }

    /// The envelope keys of what is sent now: the request's `ref`, the topic, its `seq`.
    pub(crate) fn keys(&self) -> frame::Keys<'_> {
        frame::Keys { reference: self.reference.as_deref(), topic: self.topic.as_deref(), seq: self.seq }
    }

    /// Values this connection carries for its handlers, hooks and topics, by type: the
    /// user `authenticate` found, say, which a topic's `authorize` then reads (a topic
    /// sees the connection, not the consumer). Empty until something is inserted; it
    /// costs nothing until then.
    ///
    /// ```
    /// # use chanx::prelude::*;
    /// #[derive(Clone)]
    /// struct User(String);
    ///
    /// # #[derive(Default)] pub struct Hub;
    /// # #[channel] impl Hub {}
    /// impl Consumer for Hub {
    ///     async fn authenticate(&mut self, cx: &mut Context) -> Result<(), AuthError> {
    ///         let user = cx.query_param("user").ok_or_else(|| AuthError::new(401))?.to_owned();
    ///         cx.extensions_mut().insert(User(user));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// pub struct StaffTopic;
    /// # #[topic(pattern = "staff")] impl StaffTopic {}
    /// impl Topic for StaffTopic {
    ///     async fn authorize(&self, cx: &Context) -> bool {
    ///         cx.extensions().get::<User>().is_some_and(|user| user.0 == "admin")
    ///     }
    /// }
    /// ```
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The connection's values, to insert or change one ([`extensions`](Self::extensions)).
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// The topic being handled: in a topic's handlers and hooks, the subscription's
    /// name (`room:lobby`); `None` in a consumer's own.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// Closes the connection with a WebSocket close code and reason, once the current
    /// handler returns. Nothing is sent after the close frame.
    ///
    /// The code must be one an endpoint may send (1000-1003, 1007-1014, 3000-4999);
    /// the reason is cut to the 123 bytes a close frame can carry.
    pub async fn close(&mut self, code: u16, reason: impl Into<String>) -> Result<()> {
        if !sendable_close_code(code) {
            return Err(Error::InvalidCloseCode(code));
        }
        self.close_with(code, reason.into(), false);
        Ok(())
    }

    /// Closes the connection: after what is queued, or at once, dropping the queue
    /// (`discard`). A close never waits for room in the queue.
    pub(crate) fn close_with(&mut self, code: u16, reason: String, discard: bool) {
        if self.close_code.is_none() || discard {
            self.close_code = Some(code);
            self.control.close(code, close_reason(reason), discard);
        }
    }

    /// A cloneable handle for pushing messages to this connection from other tasks.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// What is known about the connection (path, query, headers, channel name).
    pub fn connection(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Shortcut for [`ConnectionInfo::path_param`].
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.info.path_param(name)
    }

    /// Shortcut for [`ConnectionInfo::query_param`].
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.info.query_param(name)
    }

    /// Shortcut for [`ConnectionInfo::headers`].
    pub fn headers(&self) -> &HeaderMap {
        self.info.headers()
    }

    /// Shortcut for [`ConnectionInfo::channel_name`].
    pub fn channel_name(&self) -> &str {
        self.info.channel_name()
    }

    pub(crate) fn raw_sender(&self) -> &Sender {
        &self.sender
    }
}

/// A pending broadcast from a connection; `.await` it.
#[must_use = "a broadcast does nothing until awaited"]
pub struct Broadcast<'a> {
    cx: &'a mut Context,
    message: std::result::Result<LayerMessage, crate::layer::LayerError>,
    groups: Option<Vec<String>>,
    exclude: bool,
}

impl Broadcast<'_> {
    /// Sends to these groups instead of the connection's own.
    pub fn groups<I, G>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<String>,
    {
        self.groups = Some(groups.into_iter().map(Into::into).collect());
        self
    }

    /// Skips the sending connection.
    pub fn exclude_current(mut self) -> Self {
        self.exclude = true;
        self
    }
}

impl<'a> IntoFuture for Broadcast<'a> {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Broadcast { cx, message, groups, exclude } = self;
            let mut message = message?;
            // The connection's own groups are sent to as they are, not copied.
            let targets = groups.as_deref().unwrap_or(&cx.groups);
            // The layer never delivers to the sender; its own copy is queued after the
            // current step so that it follows the reply and `complete`.
            let own_copy = !exclude && targets.iter().any(|g| cx.groups.contains(g));
            message.exclude = Some(cx.channel.clone());
            let frame = own_copy.then(|| message.frame.clone());
            cx.layer.layer().group_send(targets, message).await?;
            cx.own_copies.extend(frame);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        let reason = close_reason("é".repeat(100));
        assert_eq!(reason.len(), 122, "cut at a character boundary below 123 bytes");
        assert!(sendable_close_code(4000) && sendable_close_code(1000));
        assert!(!sendable_close_code(1005) && !sendable_close_code(1006) && !sendable_close_code(999));
    }
}
