use chanx::prelude::*;

#[derive(Default)]
pub struct Unused;

// `log_ignored_actions` does nothing without `log_messages`.
#[channel(log_ignored_actions("ping"))]
impl Unused {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

#[derive(Default)]
pub struct Values;

// Every bad value is reported, and the keys after them are still checked.
#[channel(log_messages = 1, log_ignored_actions = ["ping"], bogus = 1)]
impl Values {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

#[derive(Default)]
pub struct Arguments;

#[channel(log_messages(true), log_ignored_actions("ping", ""))]
impl Arguments {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

impl Consumer for Unused {}

impl Consumer for Values {}

impl Consumer for Arguments {}

fn main() {}
