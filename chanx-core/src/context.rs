//! The connection as a handler sees it: [`Context`], [`Sender`] and [`ConnectionInfo`].

use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::frame;
use crate::layer::{BoxFuture, Kind, LayerHandle, LayerMessage};
use crate::message::Message;

/// A frame on its way to the client.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Text(Utf8Bytes),
    /// A group broadcast: written as it is, then `group_complete` if completion is on.
    Broadcast(Utf8Bytes),
    Pong(Bytes),
    Close(u16, Utf8Bytes),
}

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
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Encodes a message as a text frame, echoing `reference` if given.
fn encode<M: Message>(message: &M, reference: Option<&str>) -> Result<Outgoing> {
    frame::encode(M::ACTION, message.payload(), reference)
        .map(Outgoing::Text)
        .map_err(|source| Error::Encode { action: M::ACTION, source })
}

/// Whether an endpoint may send `code` in a close frame (RFC 6455, section 7.4).
fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close frame, its reason cut to the 123 bytes a control frame can carry.
fn close_frame(code: u16, mut reason: String) -> Outgoing {
    const MAX_REASON: usize = 123;
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    Outgoing::Close(code, Utf8Bytes::from(reason))
}

/// A cloneable handle that pushes messages to one connection, usable from spawned
/// tasks after the handler returned. Pushed frames never carry `ref`.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: mpsc::Sender<Outgoing>,
}

impl Sender {
    pub(crate) fn new(tx: mpsc::Sender<Outgoing>) -> Self {
        Sender { tx }
    }

    /// Sends a message to the connection; waits while its outbound queue is full.
    ///
    /// Fails with [`Error::ConnectionClosed`] once the connection is gone.
    pub async fn send_message<M: Message>(&self, message: M) -> Result<()> {
        let frame = encode(&message, None)?;
        self.send_frame(frame).await
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub(crate) async fn send_frame(&self, frame: Outgoing) -> Result<()> {
        self.tx.send(frame).await.map_err(|_| Error::ConnectionClosed)
    }
}

/// The connection a handler or hook works on: send, close, read the request.
///
/// Frames sent while a client frame is being handled echo its `ref`.
#[derive(Debug)]
pub struct Context<C> {
    info: Arc<ConnectionInfo>,
    sender: Sender,
    layer: LayerHandle,
    channel: Arc<str>,
    pub(crate) groups: Vec<String>,
    /// This connection's own copies of its broadcasts, sent after the current step
    /// (handler reply and `complete`), as Chanx orders them.
    pub(crate) own_copies: Vec<Utf8Bytes>,
    pub(crate) reference: Option<Box<str>>,
    pub(crate) close_code: Option<u16>,
    consumer: PhantomData<fn() -> C>,
}

impl<C> Context<C> {
    pub(crate) fn new(info: Arc<ConnectionInfo>, sender: Sender, layer: LayerHandle) -> Self {
        Context {
            channel: Arc::from(info.channel_name()),
            info,
            sender,
            layer,
            groups: Vec::new(),
            own_copies: Vec::new(),
            reference: None,
            close_code: None,
            consumer: PhantomData,
        }
    }

    /// Adds this connection to a group (no-op if it is a member already). Every group
    /// is left when the connection ends.
    pub async fn join_group(&mut self, group: impl Into<String>) -> Result<()> {
        let group = group.into();
        if self.groups.contains(&group) {
            return Ok(());
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
    /// # async fn notify(cx: &mut Context<()>) -> chanx::Result<()> {
    /// cx.broadcast_message(PongMessage).exclude_current().await?;
    /// cx.broadcast_message(PongMessage).groups(["room_lobby"]).await
    /// # }
    /// ```
    pub fn broadcast_message<M: Message>(&mut self, message: M) -> Broadcast<'_, C> {
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
    /// # async fn welcome(cx: &mut Context<()>) -> chanx::Result<()> {
    /// cx.send_message(PongMessage).await
    /// # }
    /// ```
    pub async fn send_message<M: Message>(&self, message: M) -> Result<()> {
        // Nothing follows a close frame: fail at once instead of waiting on the queue.
        if self.close_code.is_some() {
            return Err(Error::ConnectionClosed);
        }
        let frame = encode(&message, self.reference.as_deref())?;
        self.sender.send_frame(frame).await
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
        if self.close_code.is_some() {
            return Ok(());
        }
        self.close_code = Some(code);
        self.sender.send_frame(close_frame(code, reason.into())).await
    }

    /// Like [`close`](Context::close), without waiting on a full queue.
    pub(crate) fn close_now(&mut self, code: u16, reason: &str) {
        if self.close_code.is_none() {
            self.close_code = Some(code);
            // A full queue belongs to a client that does not read; a closed one to a
            // client that is gone. Either way nobody would read this close frame.
            let _ = self.sender.tx.try_send(close_frame(code, reason.to_owned()));
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
pub struct Broadcast<'a, C> {
    cx: &'a mut Context<C>,
    message: std::result::Result<LayerMessage, crate::layer::LayerError>,
    groups: Option<Vec<String>>,
    exclude: bool,
}

impl<C> Broadcast<'_, C> {
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

impl<'a, C> IntoFuture for Broadcast<'a, C> {
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
        let Outgoing::Close(_, reason) = close_frame(4000, "é".repeat(100)) else { panic!("a close frame") };
        assert_eq!(reason.len(), 122, "cut at a character boundary below 123 bytes");
        assert!(sendable_close_code(4000) && sendable_close_code(1000));
        assert!(!sendable_close_code(1005) && !sendable_close_code(1006) && !sendable_close_code(999));
    }
}
