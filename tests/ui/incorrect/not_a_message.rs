use chanx::prelude::*;

#[derive(Default)]
pub struct Plain;

#[channel]
impl Plain {
    #[ws_handler]
    async fn text(&mut self, _msg: String) {}
}

impl Consumer for Plain {}

fn main() {}
