use chanx::prelude::*;

#[message(action = "job_result")]
pub struct JobResult(pub String);

#[derive(Default)]
pub struct Jobs;

#[channel(passthrough(JobResult))]
impl Jobs {
    #[event_handler]
    async fn handled_and_passed_through(&mut self, _event: JobResult) {}

    #[event_handler]
    async fn first(&mut self, _event: PingMessage) {}

    #[event_handler]
    async fn second(&mut self, _event: PingMessage) {}
}

impl Consumer for Jobs {}

fn main() {}
