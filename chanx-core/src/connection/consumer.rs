//! The [`Consumer`] trait (hooks and settings of a consumer), how a connection ended
//! ([`Disconnect`]), and authentication refusals ([`AuthError`]).

use std::future::Future;

use axum::response::IntoResponse;
use http::StatusCode;
use serde_json::{Value, json};

use crate::connection::channel::Channel;
use crate::connection::context::Context;
use crate::error::Result;

/// A WebSocket consumer: a `#[channel]` impl block plus these hooks.
///
/// Every hook has a default, so `impl Consumer for MyConsumer {}` is enough. Hooks
/// run in this order on each connection: [`authenticate`](Consumer::authenticate),
/// [`post_authentication`](Consumer::post_authentication), the handlers (one frame at
/// a time, in arrival order), and [`on_disconnect`](Consumer::on_disconnect) on every
/// kind of close.
///
/// # Cancellation
///
/// A hook or handler that is running is not dropped at an `.await` because something
/// else happened: when the connection must end while it runs (shutdown, the client's
/// buffer overflowed, the heartbeat timed out), no further frame is taken and the
/// running step gets [`Settings::close_timeout`](crate::Settings::close_timeout)
/// (default 5 s) to finish; only then is it dropped. Its sends to a connection that is
/// closing fail fast with [`Error::ConnectionClosed`](crate::Error::ConnectionClosed)
/// (after an overflow) or wait for room as usual (at shutdown, where the client still
/// reads). `on_disconnect` is bounded by the same timeout. Waiting for the next frame,
/// by contrast, is abandoned at once.
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
///     async fn authenticate(&mut self, cx: &mut Context) -> Result<(), AuthError> {
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

    /// Decides whether the connection may proceed, after the upgrade (as Chanx does).
    /// Default: accept.
    ///
    /// On `Err`, the client gets an `authentication` frame with the status and the
    /// connection closes with `4000 + status` (4xx/5xx) or `4401`. To refuse before
    /// the upgrade instead, with a plain HTTP status and no socket opened, refuse in
    /// [`FromConnection::from_connection`](crate::FromConnection::from_connection).
    fn authenticate(&mut self, cx: &mut Context) -> impl Future<Output = Result<(), AuthError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs once the connection is authenticated, before any frame is handled (send a
    /// welcome here). An `Err` closes the connection with 1011.
    fn post_authentication(&mut self, cx: &mut Context) -> impl Future<Output = Result<()>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs when the connection ends, whoever closed it and however.
    fn on_disconnect(&mut self, cx: &mut Context, reason: &Disconnect) -> impl Future<Output = ()> + Send {
        let _ = (cx, reason);
        async {}
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

    pub(crate) fn into_message(self) -> crate::protocol::message::AuthenticationMessage {
        crate::protocol::message::AuthenticationMessage { payload: self.into_payload() }
    }

    /// The `{"status_code", "status_text", "data"}` of this refusal.
    pub(crate) fn into_payload(self) -> crate::protocol::message::AuthenticationPayload {
        let status_text = StatusCode::from_u16(self.status_code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Authentication failed")
            .to_owned();
        crate::protocol::message::AuthenticationPayload {
            status_code: self.status_code,
            status_text,
            data: self.data,
        }
    }
}

/// The refusal as an HTTP response, as a refusal before the upgrade is sent: its status
/// (403 for one that is not a 4xx/5xx) and the payload as a JSON body. An app's own HTTP
/// endpoints can refuse the same way (`Result<T, AuthError>` as a handler's return).
impl IntoResponse for AuthError {
    fn into_response(self) -> axum::response::Response {
        let status = StatusCode::from_u16(self.status_code)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::FORBIDDEN);
        (status, axum::Json(self.into_payload())).into_response()
    }
}
