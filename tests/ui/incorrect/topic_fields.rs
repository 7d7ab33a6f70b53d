use chanx::prelude::*;

/// The pattern names a parameter the type has no field for.
pub struct RoomTopic {
    pub room: String,
}

#[topic(pattern = "room:{rom}")]
impl RoomTopic {}
impl Topic for RoomTopic {}

/// A field the pattern has no parameter for.
pub struct JobTopic {
    pub id: u64,
    pub owner: String,
}

#[topic(pattern = "job:{id}")]
impl JobTopic {}
impl Topic for JobTopic {}

/// A field that cannot be parsed from the name.
pub struct BlobTopic {
    pub bytes: Vec<u8>,
}

#[topic(pattern = "blob:{bytes}")]
impl BlobTopic {}
impl Topic for BlobTopic {}

fn main() {}
