use chanx::prelude::*;

pub struct Lonely;

impl Lonely {
    #[event_handler]
    async fn on_event(&mut self, _event: PingMessage) {}
}

fn main() {}
