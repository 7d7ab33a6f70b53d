use chanx::prelude::*;

#[message(action = "who")]
pub struct Who;

#[mixin(group("presence"))]
pub trait Presence {
    #[ws_handler]
    async fn who(&mut self, _msg: Who);
}

#[mixin]
pub trait Generic<T> {}

#[mixin]
pub struct NotATrait;

#[derive(Default)]
pub struct Room;

#[channel(mixins(Presence, Presence))]
impl Room {}

impl Consumer for Room {}
impl Presence for Room {}

pub struct RoomTopic;

#[topic(pattern = "room", mixins(Presence))]
impl RoomTopic {}

impl Topic for RoomTopic {}

fn main() {}
