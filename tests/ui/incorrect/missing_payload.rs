use chanx::prelude::*;

// Forgot `#[payload]`.
pub struct Text {
    pub text: String,
}

#[message(action = "say")]
pub struct Say {
    pub payload: Text,
}

#[derive(Default)]
pub struct Talk;

#[channel]
impl Talk {
    #[ws_handler]
    async fn say(&mut self, msg: Say) -> Say {
        msg
    }
}

impl Consumer for Talk {}

fn main() {}
