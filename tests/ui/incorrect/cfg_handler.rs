use chanx::prelude::*;

#[derive(Default)]
pub struct Conditional;

#[channel]
impl Conditional {
    #[cfg(test)]
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

impl Consumer for Conditional {}

fn main() {}
