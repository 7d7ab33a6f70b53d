//! Typed receivers, lifetime parameters, `Self` in return types, event handlers and
//! passthrough events.
use chanx::prelude::*;
use chanx::{Channel, Message};

#[message(action = "job_result")]
pub struct JobResult(pub String);

#[message(action = "job_status")]
pub struct JobStatus(pub String);

#[message(action = "joined")]
pub struct Joined;

pub trait HasError {
    type Error: std::fmt::Display + Send;
}

#[derive(Default)]
pub struct Jobs;

impl HasError for Jobs {
    type Error = chanx::Error;
}

#[channel(groups("jobs"), layer = "jobs", passthrough(Joined))]
impl Jobs {
    #[ws_handler]
    async fn ping(self: &mut Self, _msg: PingMessage) -> Result<PongMessage, <Self as HasError>::Error> {
        Ok(PongMessage)
    }

    #[ws_handler]
    async fn pong<'a>(&'a self, _msg: PongMessage) {}

    /// Turns a worker's result into a status for the client.
    #[event_handler(summary = "Job finished")]
    async fn job_result(&mut self, event: JobResult, _cx: &mut Context) -> JobStatus {
        JobStatus(event.0)
    }
}

impl Consumer for Jobs {}

fn main() {
    assert_eq!(Jobs::GROUPS, ["jobs"]);
    assert_eq!(Jobs::LAYER, Some("jobs"));
    let meta = Jobs::meta();
    assert_eq!(meta.events.len(), 1);
    assert_eq!(meta.events[0].input.action, JobResult::ACTION);
    assert_eq!(meta.events[0].outputs[0].action, "job_status");
    assert_eq!(meta.events[0].summary, Some("Job finished"));
    assert_eq!(meta.passthrough[0].action, "joined");
}
