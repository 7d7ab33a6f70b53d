//! The connection as a handler sees it: [`Context`], [`Sender`] and [`ConnectionInfo`].

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::frame;
use crate::message::Message;

/// A frame on its way to the client.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Text(Utf8Bytes),
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
    pub(crate) reference: Option<Box<str>>,
    pub(crate) close_code: Option<u16>,
    consumer: PhantomData<fn() -> C>,
}

impl<C> Context<C> {
    pub(crate) fn new(info: Arc<ConnectionInfo>, sender: Sender) -> Self {
        Context { info, sender, reference: None, close_code: None, consumer: PhantomData }
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
        let frame = encode(&message, self.reference.as_deref())?;
        self.sender.send_frame(frame).await
    }

    /// Closes the connection with a WebSocket close code and reason, once the current
    /// handler returns. Nothing is sent after the close frame.
    pub async fn close(&mut self, code: u16, reason: impl Into<String>) -> Result<()> {
        if self.close_code.is_some() {
            return Ok(());
        }
        self.close_code = Some(code);
        self.sender.send_frame(Outgoing::Close(code, Utf8Bytes::from(reason.into()))).await
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
