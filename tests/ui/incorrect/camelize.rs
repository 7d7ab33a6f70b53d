use chanx::prelude::*;

#[derive(Default)]
pub struct Values;

// Every bad value is reported, and the keys after them are still checked.
#[channel(camelize = "yes", bogus = 1)]
impl Values {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

#[derive(Default)]
pub struct Arguments;

#[channel(camelize(true))]
impl Arguments {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

#[derive(Default)]
pub struct Twice;

#[channel(camelize, camelize = false)]
impl Twice {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

/// Topics follow the consumer they are subscribed through.
pub struct RoomTopic {
    pub room: String,
}

#[topic(pattern = "room:{room}", camelize)]
impl RoomTopic {}

impl Topic for RoomTopic {}

impl Consumer for Values {}

impl Consumer for Arguments {}

impl Consumer for Twice {}

fn main() {}
