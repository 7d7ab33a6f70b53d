use chanx::prelude::*;

#[derive(Default)]
pub struct Keys;

#[channel(nmae = "keys", tags("a"))]
impl Keys {
    #[ws_handler(sumary = "typo", description = "ok")]
    async fn ping(&mut self, _msg: PingMessage) {}
}

fn main() {}
