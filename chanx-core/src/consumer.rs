//! The [`Consumer`] trait (hooks and settings of a consumer), how a consumer is
//! built per connection ([`FromConnection`]), and authentication refusals.

use std::future::Future;

use axum::routing::MethodRouter;
use http::StatusCode;
use serde_json::{Value, json};

use crate::channel::Channel;
use crate::context::{ConnectionInfo, Context};
use crate::error::Result;

/// A WebSocket consumer: a `#[channel]` impl block plus these hooks.
///
/// Every hook has a default, so `impl Consumer for MyConsumer {}` is enough. Hooks
/// run in this order on each connection: [`authenticate`](Consumer::authenticate),
/// [`post_authentication`](Consumer::post_authentication), the handlers (one frame at
/// a time, in arrival order), and [`on_disconnect`](Consumer::on_disconnect) on every
/// kind of close.
///
/// ```
/// use chanx::prelude::*;
///
/// #[derive(Default)]
/// pub struct EchoConsumer;
///
/// #[channel]
/// impl EchoConsumer {
///     #[ws_handler]
///     async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
///         PongMessage
///     }
/// }
///
/// impl Consumer for EchoConsumer {
///     async fn authenticate(&mut self, cx: &mut Context<Self>) -> Result<(), AuthError> {
///         match cx.query_param("token") {
///             Some("secret") => Ok(()),
///             _ => Err(AuthError::new(403).with_detail("bad token")),
///         }
///     }
/// }
///
/// let app: axum::Router = axum::Router::new().route("/ws/echo", EchoConsumer::route());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a chanx consumer",
    note = "put `#[channel]` on an `impl {Self}` block with `#[ws_handler]` methods, and add `impl Consumer for {Self} {{}}`"
)]
pub trait Consumer: Channel {
    /// Whether completion frames are sent for this consumer; `None` follows the app's
    /// [`Settings`](crate::Settings).
    const SEND_COMPLETION: Option<bool> = None;

    /// Decides whether the connection may proceed. Default: accept.
    ///
    /// On `Err`, the client gets an `authentication` frame with the status and the
    /// connection closes with `4000 + status` (4xx/5xx) or `4401`.
    fn authenticate(&mut self, cx: &mut Context<Self>) -> impl Future<Output = Result<(), AuthError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs once the connection is authenticated, before any frame is handled (send a
    /// welcome here). An `Err` closes the connection with 1011.
    fn post_authentication(&mut self, cx: &mut Context<Self>) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs when the connection ends, whoever closed it and however.
    fn on_disconnect(
        &mut self,
        cx: &mut Context<Self>,
        reason: &Disconnect,
    ) -> impl Future<Output = ()> + Send {
        let _ = (cx, reason);
        async {}
    }

    /// This consumer as an axum route: `Router::new().route("/ws/x", X::route())`.
    ///
    /// The consumer is built per connection by [`FromConnection`] from the router's
    /// state `S`.
    fn route<S>() -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromConnection<S>,
    {
        crate::server::route::<Self, S>()
    }
}

/// Builds a consumer for one connection, from the connection's info and the app's
/// axum state (for consumers that need a database pool or a job queue).
///
/// Every `Default` type gets it for every state; implement it for a consumer that
/// needs the state (and do not derive `Default` on it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be built for a connection with state `{S}`",
    note = "derive `Default` for `{Self}`, or implement `FromConnection<{S}>` for it"
)]
pub trait FromConnection<S>: Sized {
    /// Creates the consumer instance for a new connection.
    fn from_connection(connection: &ConnectionInfo, state: &S) -> Self;
}

impl<S, T: Default> FromConnection<S> for T {
    fn from_connection(_connection: &ConnectionInfo, _state: &S) -> Self {
        T::default()
    }
}

/// How a connection ended, as [`Consumer::on_disconnect`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// The client sent a close frame (with this code, if any).
    ClientClosed {
        /// The client's close code.
        code: Option<u16>,
    },
    /// The connection dropped without a close frame.
    Lost,
    /// The server closed it: `cx.close`, refused authentication, an oversized frame,
    /// a failing hook, or shutdown (1001).
    ServerClosed {
        /// The close code sent.
        code: u16,
    },
}

/// A refused authentication: the status and details sent to the client in the
/// `authentication` frame before the connection closes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("authentication refused with status {status_code}")]
pub struct AuthError {
    status_code: u16,
    data: Value,
}

impl AuthError {
    /// A refusal with an HTTP-like status (403, 401, ...) and no details.
    pub fn new(status_code: u16) -> Self {
        AuthError { status_code, data: json!({}) }
    }

    /// Sets `data` to `{"detail": detail}`.
    pub fn with_detail(self, detail: impl Into<String>) -> Self {
        self.with_data(json!({ "detail": detail.into() }))
    }

    /// Sets the free-form `data` of the `authentication` frame.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// The status sent to the client.
    pub fn status_code(&self) -> u16 {
        self.status_code
    }

    /// `4000 + status` for a 4xx/5xx status, else `4401`.
    pub fn close_code(&self) -> u16 {
        match self.status_code {
            400..=599 => 4000 + self.status_code,
            _ => 4401,
        }
    }

    pub(crate) fn into_message(self) -> crate::message::AuthenticationMessage {
        let status_text = StatusCode::from_u16(self.status_code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Authentication failed")
            .to_owned();
        crate::message::AuthenticationMessage {
            payload: crate::message::AuthenticationPayload {
                status_code: self.status_code,
                status_text,
                data: self.data,
            },
        }
    }
}
