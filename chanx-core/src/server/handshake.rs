//! How a consumer is built for a connection, before the upgrade: [`FromConnection`]
//! and the [`Handshake`] it reads.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::response::IntoResponse;
use http::request::Parts;

use crate::connection::consumer::AuthError;
use crate::connection::context::ConnectionInfo;

/// Builds a consumer for one connection **before the upgrade**, from the upgrade
/// request and the app's axum state: the place for a database pool or a job queue, and
/// for authentication that refuses with a plain HTTP status (no socket is opened).
///
/// Every `Default` type gets it for every state; implement it for a consumer that
/// needs the state or the request (and do not derive `Default` on it). What it learns
/// (the user) is kept on the consumer, for the hooks and handlers.
///
/// ```
/// use chanx::prelude::*;
/// use chanx::Handshake;
///
/// #[derive(Clone)]
/// pub struct AppState { pub token: String }
///
/// pub struct SecureConsumer { user: String }
///
/// impl FromConnection<AppState> for SecureConsumer {
///     async fn from_connection(handshake: &mut Handshake<'_, AppState>) -> Result<Self, AuthError> {
///         // Any axum extractor works too: `handshake.extract::<axum::extract::Query<T>>().await?`.
///         match handshake.connection().query_param("token") {
///             Some(token) if token == handshake.state().token => Ok(SecureConsumer { user: "alice".into() }),
///             _ => Err(AuthError::new(401).with_detail("a valid token is required")),
///         }
///     }
/// }
/// # #[channel] impl SecureConsumer { #[ws_handler] async fn ping(&mut self, _m: PingMessage) -> PongMessage { PongMessage } }
/// # impl Consumer for SecureConsumer {}
/// let app: axum::Router = axum::Router::new()
///     .route("/ws/secure", SecureConsumer::route())
///     .with_state(AppState { token: "s3cret".into() });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be built for a connection with state `{S}`",
    note = "derive `Default` for `{Self}`, or implement `FromConnection<{S}>` for it"
)]
pub trait FromConnection<S>: Sized {
    /// Creates the consumer for a new connection, or refuses it: the client gets the
    /// refusal's HTTP status and a JSON body (the payload of an `authentication`
    /// frame: `{"status_code", "status_text", "data"}`).
    fn from_connection(
        handshake: &mut Handshake<'_, S>,
    ) -> impl Future<Output = Result<Self, AuthError>> + Send;
}

impl<S: Sync, T: Default + Send> FromConnection<S> for T {
    async fn from_connection(_handshake: &mut Handshake<'_, S>) -> Result<Self, AuthError> {
        Ok(T::default())
    }
}

/// The upgrade request, as [`FromConnection`] sees it before the upgrade.
#[derive(Debug)]
pub struct Handshake<'a, S> {
    pub(crate) parts: &'a mut Parts,
    pub(crate) info: &'a ConnectionInfo,
    pub(crate) state: &'a S,
}

impl<S: Sync> Handshake<'_, S> {
    /// The connection: channel name, path and its parameters, query, headers, cookies.
    pub fn connection(&self) -> &ConnectionInfo {
        self.info
    }

    /// The app's axum state.
    pub fn state(&self) -> &S {
        self.state
    }

    /// The request itself (method, URI, headers, extensions), for what axum's
    /// extractors read.
    pub fn parts(&mut self) -> &mut Parts {
        self.parts
    }

    /// Runs an axum extractor (`TypedHeader`, `Query`, a session or user extractor of
    /// the app's own) on the request. Its rejection becomes a refusal with the
    /// rejection's status and text.
    pub async fn extract<E: FromRequestParts<S>>(&mut self) -> Result<E, AuthError> {
        match E::from_request_parts(self.parts, self.state).await {
            Ok(value) => Ok(value),
            Err(rejection) => {
                let response = rejection.into_response();
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
                Err(AuthError::new(status).with_detail(String::from_utf8_lossy(&body)))
            }
        }
    }
}
