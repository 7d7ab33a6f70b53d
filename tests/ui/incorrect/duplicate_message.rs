use chanx::prelude::*;

#[derive(Default)]
pub struct Twice;

#[channel]
impl Twice {
    #[ws_handler]
    async fn first(&mut self, _msg: PingMessage) {}

    #[ws_handler]
    async fn second(&mut self, _msg: PingMessage) {}
}

impl Consumer for Twice {}

fn main() {}
