use chanx::prelude::*;

/// `#[topic]` without `impl Topic`.
pub struct RoomTopic {
    pub room: String,
}
#[topic(pattern = "room:{room}")]
impl RoomTopic {}

#[derive(Default)]
pub struct Hub;
#[channel(topics(RoomTopic))]
impl Hub {}
impl Consumer for Hub {}

fn main() {}
