use chanx::prelude::*;

#[derive(Default)]
pub struct Lists;

#[channel(
    tags = ["chat", "demo"],
    groups = ["lobby"],
    passthrough = [PingMessage],
    sends = [PongMessage, CompleteMessage],
)]
impl Lists {
    #[ws_handler(tags = ["qa"])]
    async fn ping(&mut self, _msg: PingMessage) {}
}

impl Consumer for Lists {}

fn main() {}
