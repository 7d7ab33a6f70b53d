use chanx::prelude::*;

pub struct Lonely;

impl Lonely {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

fn main() {}
