use chanx::prelude::*;

#[derive(Default)]
pub struct Forgotten;

#[channel]
impl Forgotten {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/ws", Forgotten::route());
}
