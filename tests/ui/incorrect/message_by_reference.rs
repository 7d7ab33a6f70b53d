use chanx::prelude::*;

#[derive(Default)]
pub struct Borrowing;

#[channel]
impl Borrowing {
    #[ws_handler]
    async fn ping(&mut self, _msg: &PingMessage) {}

    #[ws_handler]
    async fn pong(&mut self, _cx: &mut Context, _msg: &mut PongMessage) {}
}

impl Consumer for Borrowing {}

fn main() {}
