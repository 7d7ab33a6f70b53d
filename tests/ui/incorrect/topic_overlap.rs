use chanx::prelude::*;

pub struct RoomTopic {
    pub room: String,
}
#[topic(pattern = "room:{room}")]
impl RoomTopic {}
impl Topic for RoomTopic {}

/// Matches `room:lobby` too.
pub struct AnyTopic {
    pub kind: String,
    pub id: String,
}
#[topic(pattern = "{kind}:{id}")]
impl AnyTopic {}
impl Topic for AnyTopic {}

#[derive(Default)]
pub struct Hub;
#[channel(topics(RoomTopic, AnyTopic))]
impl Hub {}
impl Consumer for Hub {}

fn main() {}
