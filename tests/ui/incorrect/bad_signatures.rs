use chanx::prelude::*;

#[derive(Default)]
pub struct Bad;

#[channel]
impl Bad {
    #[ws_handler]
    fn not_async(&mut self, _msg: PingMessage) {}

    #[ws_handler]
    async fn by_value(self, _msg: PongMessage) {}

    #[ws_handler]
    async fn no_receiver(_msg: CompleteMessage) {}

    #[ws_handler]
    async fn no_message(&mut self) {}

    #[ws_handler]
    async fn two_messages(&mut self, _a: ErrorMessage, _b: AuthenticationMessage) {}
}



// The consumer still gets its trait impls, so this line adds no second error.
impl Consumer for Bad {}
fn main() {}
