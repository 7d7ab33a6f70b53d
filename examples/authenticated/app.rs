//! The Authenticated app: a login that sets a session cookie, and two consumers that
//! only talk to logged-in users, one for each way chanx authenticates:
//!
//! - `/ws/private` checks the session **before the upgrade** ([`FromConnection`]): a
//!   refused client gets a plain HTTP 401 (no credentials) or 403 (unknown session)
//!   with a JSON body, and no socket is opened;
//! - `/ws/chanx_auth` checks it **after the upgrade**, as Python Chanx does
//!   ([`Consumer::authenticate`]): a refused client gets an `authentication` frame,
//!   then the close code 4403.
//!
//! Browsers do not let a page read the status of a refused WebSocket handshake (the
//! socket just fails with 1006), so the app also answers `GET /auth/check` with what
//! the upgrade of `/ws/private` would answer: the same check on the same view of the
//! request ([`ConnectionInfo`]), the same 401/403 JSON, or `{"username": ...}`. The
//! page asks it when a socket fails to open, to show why.
//!
//! Serves the System Echo app too. Shared with the tests, which include this file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chanx::asyncapi::AsyncApi;
use chanx::prelude::*;
use chanx::{ConnectionInfo, Handshake};
use serde::{Deserialize, Serialize};

use super::system_echo::{self, MessagePayload};

/// The demo users and their passwords.
const USERS: [(&str, &str); 2] = [("alice", "wonderland"), ("bob", "builder")];

/// The cookie that carries the session token.
pub const SESSION_COOKIE: &str = "session";

/// The session cookie's attributes: not readable by scripts, never sent by other sites
/// (no cross-site request can use it), for the whole app. Behind HTTPS, add `Secure`.
const COOKIE_ATTRIBUTES: &str = "HttpOnly; SameSite=Strict; Path=/";

/// A private message: what the user sends, and what the server echoes back.
#[message(action = "private_message")]
#[derive(Debug, Clone)]
pub struct PrivateMessage {
    /// The text.
    pub payload: MessagePayload,
}

/// What the server tells a logged-in user, with the user's name.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct PrivateEchoPayload {
    /// Who the connection belongs to.
    pub user: String,
    /// The text.
    pub message: String,
}

/// The server's answer to a logged-in user: the welcome, and each message echoed.
#[message(action = "private_echo")]
#[derive(Debug, Clone)]
pub struct PrivateEchoMessage {
    /// The user and the text.
    pub payload: PrivateEchoPayload,
}

impl PrivateEchoMessage {
    fn new(user: &str, message: String) -> Self {
        PrivateEchoMessage { payload: PrivateEchoPayload { user: user.to_owned(), message } }
    }

    fn welcome(user: &str) -> Self {
        PrivateEchoMessage::new(user, format!("🔐 Welcome, {user}!"))
    }

    fn echo(user: &str, message: &MessagePayload) -> Self {
        PrivateEchoMessage::new(user, format!("🔐 {user}: {}", message.message))
    }
}

/// Why a request carries no valid session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Neither a session cookie nor `?token=`.
    NoCredentials,
    /// A token no session has (made up, or logged out).
    UnknownSession,
}

impl Refusal {
    fn detail(self) -> &'static str {
        match self {
            Refusal::NoCredentials => "Log in first: no session cookie and no ?token=",
            Refusal::UnknownSession => "Unknown or expired session: log in again",
        }
    }
}

/// Before the upgrade (and for `/auth/check`), as HTTP says it: 401 without
/// credentials, 403 with credentials that are not valid.
impl From<Refusal> for AuthError {
    fn from(refusal: Refusal) -> Self {
        let status = match refusal {
            Refusal::NoCredentials => 401,
            Refusal::UnknownSession => 403,
        };
        AuthError::new(status).with_detail(refusal.detail())
    }
}

/// The logged-in users: session token to user name. One session per user: logging in
/// again ends the previous one (which also bounds the table by the number of users).
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    tokens: Arc<Mutex<HashMap<String, &'static str>>>,
}

impl Sessions {
    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, &'static str>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a session for `user` (ending its previous one); returns its token.
    fn start(&self, user: &'static str) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut tokens = self.tokens();
        tokens.retain(|_, owner| *owner != user);
        tokens.insert(token.clone(), user);
        Ok(token)
    }

    /// Ends the session of `token`, if there is one.
    fn end(&self, token: &str) {
        self.tokens().remove(token);
    }

    /// The user of a connection or request: its session cookie, else its `?token=` (an
    /// empty one counts as none).
    pub fn user<'a>(&self, connection: &'a ConnectionInfo) -> Result<String, Refusal> {
        let given = |token: Option<&'a str>| token.filter(|token| !token.is_empty());
        let token = given(connection.cookie(SESSION_COOKIE))
            .or_else(|| given(connection.query_param("token")))
            .ok_or(Refusal::NoCredentials)?;
        self.tokens().get(token).map(|user| (*user).to_owned()).ok_or(Refusal::UnknownSession)
    }
}

/// The app state: the sessions.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    /// Who is logged in.
    pub sessions: Sessions,
}

/// Talks to a logged-in user only, checked before the upgrade.
#[derive(Debug)]
pub struct PrivateConsumer {
    user: String,
}

impl FromConnection<AppState> for PrivateConsumer {
    async fn from_connection(handshake: &mut Handshake<'_, AppState>) -> Result<Self, AuthError> {
        let user = handshake.state().sessions.user(handshake.connection())?;
        Ok(PrivateConsumer { user })
    }
}

/// Private Consumer - for logged-in users, checked before the upgrade (else HTTP 401/403)
#[channel(name = "private", tags("auth"), sends(PrivateEchoMessage))]
impl PrivateConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(summary = "Handle private messages", description = "Echo the message with the user's name")]
    async fn handle_private(&mut self, msg: PrivateMessage) -> PrivateEchoMessage {
        PrivateEchoMessage::echo(&self.user, &msg.payload)
    }
}

impl Consumer for PrivateConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(PrivateEchoMessage::welcome(&self.user)).await
    }
}

/// Talks to a logged-in user only, checked after the upgrade as Python Chanx does.
#[derive(Debug)]
pub struct ChanxAuthConsumer {
    sessions: Sessions,
    user: String,
}

impl FromConnection<AppState> for ChanxAuthConsumer {
    async fn from_connection(handshake: &mut Handshake<'_, AppState>) -> Result<Self, AuthError> {
        Ok(ChanxAuthConsumer { sessions: handshake.state().sessions.clone(), user: String::new() })
    }
}

/// Chanx Auth Consumer - for logged-in users, checked after the upgrade (else close 4403)
#[channel(name = "chanx_auth", tags("auth"), sends(PrivateEchoMessage))]
impl ChanxAuthConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(summary = "Handle private messages", description = "Echo the message with the user's name")]
    async fn handle_private(&mut self, msg: PrivateMessage) -> PrivateEchoMessage {
        PrivateEchoMessage::echo(&self.user, &msg.payload)
    }
}

impl Consumer for ChanxAuthConsumer {
    /// Every refusal is a 403, as Django REST framework's permissions give it to
    /// Chanx: the client sees it in the `authentication` frame and the close code 4403.
    async fn authenticate(&mut self, cx: &mut Context) -> Result<(), AuthError> {
        let user = self.sessions.user(cx.connection());
        self.user = user.map_err(|refusal| AuthError::new(403).with_detail(refusal.detail()))?;
        Ok(())
    }

    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        cx.send_message(PrivateEchoMessage::welcome(&self.user)).await
    }
}

/// The body of `POST /login`.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// One of the demo users.
    pub username: String,
    /// Its password.
    pub password: String,
}

/// Who is logged in, and with which token (`token` only in the answer to a login).
#[derive(Debug, Serialize)]
struct Who {
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// `POST /login` (JSON): sets the session cookie and returns the token too, for
/// clients that pass it as `?token=`; 401 for a wrong name or password.
async fn login(State(app): State<AppState>, Json(login): Json<Login>) -> Response {
    let known = USERS.iter().find(|(user, password)| *user == login.username && *password == login.password);
    let Some((user, _)) = known else {
        return AuthError::new(401).with_detail("Wrong username or password").into_response();
    };
    match app.sessions.start(user) {
        Ok(token) => {
            let cookie = format!("{SESSION_COOKIE}={token}; {COOKIE_ATTRIBUTES}");
            let who = Who { username: (*user).to_owned(), token: Some(token) };
            ([(header::SET_COOKIE, cookie)], Json(who)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "no randomness for a session token");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `POST /logout`: ends the session of the cookie and clears the cookie.
async fn logout(State(app): State<AppState>, connection: ConnectionInfo) -> impl IntoResponse {
    if let Some(token) = connection.cookie(SESSION_COOKIE) {
        app.sessions.end(token);
    }
    let cleared = format!("{SESSION_COOKIE}=; Max-Age=0; {COOKIE_ATTRIBUTES}");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)])
}

/// `GET /auth/check`: what the upgrade of `/ws/private` would answer, as plain HTTP
/// that a page can read: `{"username": ...}`, or the same 401/403 JSON refusal.
async fn check(State(app): State<AppState>, connection: ConnectionInfo) -> Result<Json<Who>, AuthError> {
    let username = app.sessions.user(&connection)?;
    Ok(Json(Who { username, token: None }))
}

/// The app's consumers in the AsyncAPI document.
pub fn asyncapi(docs: AsyncApi) -> AsyncApi {
    system_echo::asyncapi(docs)
        .channel::<PrivateConsumer>("/ws/private")
        .channel::<ChanxAuthConsumer>("/ws/chanx_auth")
}

/// The app: System Echo, plus the login (`POST /login`, `POST /logout`,
/// `GET /auth/check`) and the consumers at `/ws/private` and `/ws/chanx_auth`.
pub fn router() -> Router {
    let auth = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/auth/check", get(check))
        .route("/ws/private", PrivateConsumer::route())
        .route("/ws/chanx_auth", ChanxAuthConsumer::route())
        .with_state(AppState::default());
    system_echo::router().merge(auth)
}
