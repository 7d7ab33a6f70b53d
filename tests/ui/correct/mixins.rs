//! Mixins: handlers with and without a context, reply shapes, an event handler, a
//! passthrough event, a mixin in another module named by its path, and state reached
//! through a required method and a supertrait.
use chanx::prelude::*;
use chanx::{Channel, Message};

#[message(action = "who")]
pub struct Who;

#[message(action = "here")]
pub struct Here(pub usize);

#[message(action = "left")]
pub struct Left;

pub trait Counted {
    fn count(&self) -> usize;
}

mod presence {
    use chanx::prelude::*;

    use super::{Counted, Here, Left, Who};

    #[mixin(groups("presence"), passthrough(Left))]
    pub trait Presence: Consumer + Counted {
        fn bump(&mut self);

        #[ws_handler]
        async fn who(&mut self, cx: &mut Context, _msg: Who) -> chanx::Result<Option<Here>> {
            self.bump();
            cx.send_message(Here(0)).await?;
            Ok(Some(Here(self.count())))
        }

        /// Nothing to say.
        fn helper(&self) -> usize {
            self.count() + 1
        }
    }
}

#[message(action = "tick")]
pub struct Tick;

#[mixin]
pub trait Clock {
    #[ws_handler]
    async fn tick(&self, _msg: Tick) {}

    #[event_handler]
    async fn tock(&mut self, _event: Tick) -> Tick {
        Tick
    }
}

#[derive(Default)]
pub struct Room {
    count: usize,
}

impl Counted for Room {
    fn count(&self) -> usize {
        self.count
    }
}

#[channel(mixins(presence::Presence, Clock))]
impl Room {}

impl Consumer for Room {}

impl presence::Presence for Room {
    fn bump(&mut self) {
        self.count += 1;
    }
}

impl Clock for Room {}

fn main() {
    use presence::Presence;
    assert_eq!(Room::ACTIONS, [Who::ACTION, Tick::ACTION]);
    assert_eq!(Room::GROUPS, ["presence"]);
    assert_eq!(Room::default().helper(), 1);
    let meta = Room::meta();
    assert_eq!(meta.operations.len(), 2);
    assert_eq!(meta.events.len(), 1);
    assert_eq!(meta.passthrough[0].action, Left::ACTION);
}
