use chanx::prelude::*;

#[derive(Default)]
pub struct Numbers;

#[channel]
impl Numbers {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> u32 {
        1
    }
}

impl Consumer for Numbers {}

fn main() {}
