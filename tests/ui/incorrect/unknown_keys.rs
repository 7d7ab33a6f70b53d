use chanx::prelude::*;

#[derive(Default)]
pub struct Keys;

#[channel(nmae = "keys", tags("a"))]
impl Keys {
    #[ws_handler(sumary = "typo", description = "ok")]
    async fn ping(&mut self, _msg: PingMessage) {}
}

#[derive(Default)]
pub struct Values;

// A bad value does not hide the unknown key after it.
#[channel(name = 5, bogus = 1)]
impl Values {
    #[ws_handler(summary = 5, bogus = 1)]
    async fn ping(&mut self, _msg: PingMessage) {}
}

impl Consumer for Keys {}

impl Consumer for Values {}

fn main() {}
