//! `log_messages` and `log_ignored_actions(...)`: the consts they set, their defaults
//! without them, and a trailing comma.

use chanx::Channel;
use chanx::prelude::*;

#[derive(Default)]
pub struct Logged;

#[channel(log_ignored_actions("ping", "pong",), name = "logged", log_messages)]
impl Logged {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

#[derive(Default)]
pub struct LoggedAll;

#[channel(log_messages)]
impl LoggedAll {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

#[derive(Default)]
pub struct Quiet;

#[channel]
impl Quiet {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for Logged {}

impl Consumer for LoggedAll {}

impl Consumer for Quiet {}

fn main() {
    assert!(Logged::LOG_MESSAGES);
    assert_eq!(Logged::LOG_IGNORED_ACTIONS, ["ping", "pong"]);
    assert!(LoggedAll::LOG_MESSAGES);
    assert!(LoggedAll::LOG_IGNORED_ACTIONS.is_empty());
    assert!(!Quiet::LOG_MESSAGES);
    assert!(Quiet::LOG_IGNORED_ACTIONS.is_empty());
}
