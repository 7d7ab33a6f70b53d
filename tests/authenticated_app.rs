//! The Authenticated example app over real sockets: logging in sets a session cookie and
//! returns a token; `/ws/private` refuses before the upgrade (HTTP 401 without
//! credentials, 403 with unknown ones, a JSON body, no socket) and otherwise welcomes and
//! echoes with the user's name; `/ws/chanx_auth` refuses after the upgrade (an
//! `authentication` frame, then close 4403); `GET /auth/check` answers what the upgrade
//! of `/ws/private` would; logging out ends the session.

mod common;

use std::net::SocketAddr;

use axum::Extension;
use chanx::Settings;
use common::{Client, HttpResponse, authenticated, http, serve};
use serde_json::{Value, json};

const NO_CREDENTIALS: &str = "Log in first: no session cookie and no ?token=";
const UNKNOWN_SESSION: &str = "Unknown or expired session: log in again";

/// The app on a real socket, and its settings (for the connection counts).
async fn app() -> (SocketAddr, Settings) {
    let settings = Settings::default();
    (serve(authenticated::router().layer(Extension(settings.clone()))).await, settings)
}

/// Logs in; returns the answer and the `Cookie` header value of its session cookie.
async fn log_in(addr: SocketAddr, username: &str, password: &str) -> (HttpResponse, String) {
    let body = json!({"username": username, "password": password}).to_string();
    let response = http(addr, "POST", "/login", &[("content-type", "application/json")], &body).await;
    let cookie = response.header("set-cookie").split(';').next().unwrap_or_default().to_owned();
    (response, cookie)
}

/// A refusal's JSON body, as `/ws/private` and `/auth/check` send it.
fn refusal(status: u16, detail: &str) -> Value {
    let text = if status == 401 { "Unauthorized" } else { "Forbidden" };
    json!({"status_code": status, "status_text": text, "data": {"detail": detail}})
}

/// The HTTP refusal of a WebSocket handshake: its status and JSON body.
async fn refused(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    match Client::connect_with(addr, path, headers).await {
        Ok(_) => panic!("{path} opened a socket with {headers:?}"),
        Err((status, body)) => (status, serde_json::from_slice(&body).expect("a JSON body")),
    }
}

fn private_echo(message: &str) -> Value {
    json!({"action": "private_echo", "payload": {"user": "alice", "message": message}})
}

/// The welcome, then a message echoed with the user's name.
async fn assert_welcomes_and_echoes(client: &mut Client) {
    assert_eq!(client.recv().await, private_echo("🔐 Welcome, alice!"));
    client.send_json(json!({"action": "private_message", "payload": {"message": "hello"}})).await;
    assert_eq!(client.recv().await, private_echo("🔐 alice: hello"));
}

#[tokio::test]
async fn logging_in_sets_a_session_cookie_that_opens_the_private_socket() {
    let (addr, settings) = app().await;
    let (response, cookie) = log_in(addr, "alice", "wonderland").await;
    assert_eq!(response.status, 200, "{response:?}");
    let set_cookie = response.header("set-cookie");
    assert!(set_cookie.ends_with("; HttpOnly; SameSite=Strict; Path=/"), "{set_cookie}");
    let token = response.json()["token"].as_str().expect("a token").to_owned();
    assert_eq!(response.json(), json!({"username": "alice", "token": token}));
    assert_eq!(cookie, format!("session={token}"));

    let check = http(addr, "GET", "/auth/check", &[("cookie", &cookie)], "").await;
    assert_eq!((check.status, check.json()), (200, json!({"username": "alice"})));

    let cookies = format!("theme=dark; {cookie}");
    let mut client = Client::connect_with(addr, "/ws/private", &[("cookie", &cookies)])
        .await
        .expect("the cookie opens it");
    assert_welcomes_and_echoes(&mut client).await;

    // The token works as `?token=` too, for clients without cookies.
    let mut client = Client::connect(addr, &format!("/ws/private?token={token}")).await;
    assert_welcomes_and_echoes(&mut client).await;
    assert_eq!(settings.stats().snapshot().accepted, 2);
}

#[tokio::test]
async fn without_credentials_the_private_socket_is_refused_with_http_401_before_the_upgrade() {
    let (addr, settings) = app().await;
    assert_eq!(refused(addr, "/ws/private", &[]).await, (401, refusal(401, NO_CREDENTIALS)));
    // Empty credentials count as none.
    assert_eq!(refused(addr, "/ws/private?token=", &[("cookie", "session=")]).await.0, 401);
    // What /auth/check answers, for pages (browsers hide a failed handshake's status).
    let check = http(addr, "GET", "/auth/check", &[], "").await;
    assert_eq!((check.status, check.json()), (401, refusal(401, NO_CREDENTIALS)));
    assert_eq!(check.header("content-type"), "application/json");
    let stats = settings.stats().snapshot();
    assert_eq!((stats.refused_auth, stats.accepted), (2, 0), "no socket was opened");
}

#[tokio::test]
async fn unknown_credentials_are_refused_with_http_403() {
    let (addr, _settings) = app().await;
    let forbidden = (403, refusal(403, UNKNOWN_SESSION));
    assert_eq!(refused(addr, "/ws/private?token=nope", &[]).await, forbidden);
    assert_eq!(refused(addr, "/ws/private", &[("cookie", "session=nope")]).await, forbidden);
    let check = http(addr, "GET", "/auth/check?token=nope", &[], "").await;
    assert_eq!((check.status, check.json()), forbidden);

    let (wrong, cookie) = log_in(addr, "alice", "nope").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["data"]["detail"], "Wrong username or password");
    assert_eq!(cookie, "", "no cookie for a failed login");
    assert_eq!(log_in(addr, "mallory", "wonderland").await.0.status, 401);
}

#[tokio::test]
async fn the_chanx_style_socket_refuses_after_the_upgrade_with_an_authentication_frame_and_4403() {
    let (addr, settings) = app().await;
    for (path, detail) in [("/ws/chanx_auth", NO_CREDENTIALS), ("/ws/chanx_auth?token=nope", UNKNOWN_SESSION)]
    {
        let mut client = Client::connect(addr, path).await;
        let frame = client.recv().await;
        assert_eq!(frame, json!({"action": "authentication", "payload": refusal(403, detail)}));
        assert_eq!(client.recv_close().await, (4403, "Authentication failed".to_owned()));
    }
    assert_eq!(settings.stats().snapshot().accepted, 2, "the sockets were opened, then closed");

    let (_, cookie) = log_in(addr, "alice", "wonderland").await;
    let mut client =
        Client::connect_with(addr, "/ws/chanx_auth", &[("cookie", &cookie)]).await.expect("open");
    assert_welcomes_and_echoes(&mut client).await;
}

#[tokio::test]
async fn logging_out_ends_the_session_and_clears_the_cookie() {
    let (addr, _settings) = app().await;
    let (_, cookie) = log_in(addr, "alice", "wonderland").await;
    // A socket opened before logging out stays open.
    let mut open = Client::connect_with(addr, "/ws/private", &[("cookie", &cookie)]).await.expect("open");
    assert_eq!(open.recv().await, private_echo("🔐 Welcome, alice!"));

    let logout = http(addr, "POST", "/logout", &[("cookie", &cookie)], "").await;
    assert_eq!(logout.status, 204);
    assert_eq!(logout.header("set-cookie"), "session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/");

    let with_old_cookie = [("cookie", cookie.as_str())];
    assert_eq!(refused(addr, "/ws/private", &with_old_cookie).await, (403, refusal(403, UNKNOWN_SESSION)));
    let mut chanx = Client::connect_with(addr, "/ws/chanx_auth", &with_old_cookie).await.expect("open");
    assert_eq!(chanx.recv().await["payload"], refusal(403, UNKNOWN_SESSION));
    assert_eq!(chanx.recv_close().await.0, 4403);
    let check = http(addr, "GET", "/auth/check", &with_old_cookie, "").await;
    assert_eq!(check.status, 403);

    open.send_json(json!({"action": "private_message", "payload": {"message": "still here"}})).await;
    assert_eq!(open.recv().await, private_echo("🔐 alice: still here"));
    // Logging out without a session is harmless.
    assert_eq!(http(addr, "POST", "/logout", &[], "").await.status, 204);
}

#[tokio::test]
async fn logging_in_again_ends_the_previous_session_of_that_user_only() {
    let (addr, _settings) = app().await;
    let (_, first) = log_in(addr, "alice", "wonderland").await;
    let (_, bob) = log_in(addr, "bob", "builder").await;
    let (_, second) = log_in(addr, "alice", "wonderland").await;
    assert_ne!(first, second);
    let status =
        |cookie: String| async move { http(addr, "GET", "/auth/check", &[("cookie", &cookie)], "").await };
    assert_eq!(status(first).await.status, 403);
    assert_eq!(status(second).await.json(), json!({"username": "alice"}));
    assert_eq!(status(bob).await.json(), json!({"username": "bob"}));
}
