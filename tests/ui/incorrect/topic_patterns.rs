use chanx::prelude::*;

pub struct Empty;
#[topic(pattern = "")]
impl Empty {}

pub struct Unclosed;
#[topic(pattern = "room:{room")]
impl Unclosed {}

pub struct Unbalanced;
#[topic(pattern = "room}:x")]
impl Unbalanced {}

pub struct Adjacent {
    pub a: String,
    pub b: String,
}
#[topic(pattern = "x:{a}{b}")]
impl Adjacent {}

pub struct NotAName;
#[topic(pattern = "job:{1st}")]
impl NotAName {}

pub struct Twice {
    pub id: String,
}
#[topic(pattern = "{id}:{id}")]
impl Twice {}

pub struct NoPattern;
#[topic(name = "x")]
impl NoPattern {}

pub struct ConsumerKeys;
#[topic(pattern = "x", groups("g"), layer = "chat")]
impl ConsumerKeys {}
impl Topic for ConsumerKeys {}

#[derive(Default)]
pub struct PatternOnAConsumer;
#[channel(pattern = "x")]
impl PatternOnAConsumer {}

fn main() {}
