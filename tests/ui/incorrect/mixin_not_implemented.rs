use chanx::prelude::*;

#[message(action = "who")]
pub struct Who;

#[mixin]
pub trait Presence {
    #[ws_handler]
    async fn who(&mut self, _msg: Who) {}
}

#[derive(Default)]
pub struct Room;

#[channel(mixins(Presence))]
impl Room {}

impl Consumer for Room {}

fn main() {}
