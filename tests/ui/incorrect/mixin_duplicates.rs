use chanx::prelude::*;

#[message(action = "who")]
pub struct Who;

#[message(action = "who")]
pub struct WhoElse;

#[message(action = "left")]
pub struct Left;

#[message(action = "left")]
pub struct Gone;

#[mixin(passthrough(Left))]
pub trait Presence {
    #[ws_handler]
    async fn who(&mut self, _msg: Who) {}
}

#[mixin]
pub trait Roster {
    #[ws_handler]
    async fn list(&mut self, _msg: WhoElse) {}

    #[event_handler]
    async fn gone(&mut self, _event: Gone) {}
}

#[derive(Default)]
pub struct Room;

#[channel(mixins(Presence, Roster))]
impl Room {
    #[ws_handler]
    async fn ask(&mut self, _msg: WhoElse) {}

    #[event_handler]
    async fn left(&mut self, _event: Left) {}
}

impl Consumer for Room {}
impl Presence for Room {}
impl Roster for Room {}

fn main() {}
