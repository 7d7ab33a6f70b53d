use chanx::prelude::*;

#[message(action = "two_fields")]
pub struct TwoFields {
    pub payload: String,
    pub extra: u8,
}

#[message(action = "wrong_name")]
pub struct WrongName {
    pub body: String,
}

#[message]
pub struct NoAction;

#[message(action = "x", kind = "y")]
pub struct UnknownKey;

fn main() {}
