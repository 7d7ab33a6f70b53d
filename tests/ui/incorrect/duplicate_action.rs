use chanx::prelude::*;

#[message(action = "hello")]
pub struct Hello;

#[message(action = "hello")]
pub struct HelloAgain;

#[derive(Default)]
pub struct Twice;

#[channel]
impl Twice {
    #[ws_handler]
    async fn first(&mut self, _msg: Hello) {}

    #[ws_handler]
    async fn second(&mut self, _msg: HelloAgain) {}
}

impl Consumer for Twice {}

fn main() {}
