//! A consumer that exercises the runtime paths the System Echo app does not: several
//! invalid fields, handler errors and panics, closing, path and query parameters,
//! authentication, state-built consumers and the disconnect hook.

use axum::Router;
use chanx::prelude::*;
use tokio::sync::mpsc;

/// Payload with two fields, to see every invalid field listed in order.
#[payload]
#[derive(Debug)]
pub struct EchoPayload {
    pub text: String,
    pub count: i64,
}

/// Repeats `text` `count` times.
#[message(action = "echo")]
pub struct Echo(pub EchoPayload);

/// The repeated text.
#[message(action = "echoed")]
pub struct Echoed {
    pub payload: String,
}

/// Makes the handler return `Err`.
#[message(action = "fail")]
pub struct Fail;

/// Makes the handler panic.
#[message(action = "explode")]
pub struct Explode;

/// Asks the server to close with the given code.
#[message(action = "close_me")]
pub struct CloseMe(pub u16);

/// Asks for the `room` path parameter and the `who` query parameter.
#[message(action = "whereami")]
pub struct WhereAmI;

/// Answer to `whereami`.
#[message(action = "here")]
pub struct Here {
    pub payload: (Option<String>, Option<String>),
}

/// Pushes `n` messages from a spawned task, after the handler returned.
#[message(action = "push")]
pub struct Push(pub u32);

/// What the probe reports to the test: its disconnects.
#[derive(Clone)]
pub struct ProbeState {
    pub disconnects: mpsc::UnboundedSender<Disconnect>,
}

pub struct ProbeConsumer {
    state: ProbeState,
}

impl FromConnection<ProbeState> for ProbeConsumer {
    async fn from_connection(handshake: &mut chanx::Handshake<'_, ProbeState>) -> Result<Self, AuthError> {
        Ok(ProbeConsumer { state: handshake.state().clone() })
    }
}

#[channel(name = "probe")]
impl ProbeConsumer {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler]
    async fn echo(&mut self, msg: Echo) -> Option<Echoed> {
        let count = usize::try_from(msg.0.count).ok()?;
        Some(Echoed { payload: msg.0.text.repeat(count) })
    }

    #[ws_handler]
    async fn fail(&mut self, _msg: Fail) -> Result<Echoed, chanx::Error> {
        Err(chanx::Error::other("the database is on fire"))
    }

    #[ws_handler]
    async fn explode(&self, _msg: Explode) {
        panic!("handler panicked on purpose");
    }

    #[ws_handler]
    async fn close_me(&mut self, cx: &mut Context, msg: CloseMe) -> chanx::Result<()> {
        cx.close(msg.0, "closing on request").await
    }

    #[ws_handler]
    async fn whereami(&mut self, _msg: WhereAmI, cx: &mut Context) -> Here {
        let room = cx.path_param("room").map(str::to_owned);
        let who = cx.query_param("who").map(str::to_owned);
        Here { payload: (room, who) }
    }

    #[ws_handler(output = Echoed)]
    async fn push(&mut self, cx: &mut Context, msg: Push) {
        let sender = cx.sender();
        tokio::spawn(async move {
            for i in 0..msg.0 {
                if sender.send_message(Echoed { payload: i.to_string() }).await.is_err() {
                    return;
                }
            }
        });
    }
}

impl Consumer for ProbeConsumer {
    async fn authenticate(&mut self, cx: &mut Context) -> Result<(), AuthError> {
        match cx.query_param("token") {
            Some("bad") => Err(AuthError::new(403).with_detail("bad token")),
            Some("weird") => Err(AuthError::new(302)),
            _ => Ok(()),
        }
    }

    async fn on_disconnect(&mut self, _cx: &mut Context, reason: &Disconnect) {
        let _ = self.state.disconnects.send(reason.clone());
    }
}

/// The probe at `/ws/probe` and `/ws/probe/{room}`, with its disconnect reports.
pub fn router() -> (Router, mpsc::UnboundedReceiver<Disconnect>) {
    let (disconnects, reports) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/ws/probe", ProbeConsumer::route())
        .route("/ws/probe/{room}", ProbeConsumer::route())
        .with_state(ProbeState { disconnects });
    (app, reports)
}
