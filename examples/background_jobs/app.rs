//! The Background Jobs app of tutorial part 3: a consumer queues jobs carrying its
//! channel name; workers send each result back as a `job_result` event, which the
//! consumer turns into a `job_status` for its client. Serves the Room Chat and System
//! Echo apps too. Shared with the tests, which include this file.

use std::sync::Arc;

use axum::Router;
use chanx::Handshake;
use chanx::asyncapi::AsyncApi;
use chanx::prelude::*;
use serde_json::{Map, Value, json};

use super::jobs::{Job, JobResult};
use super::queue::JobQueue;
use super::room_chat;

fn default_kind() -> String {
    "default".into()
}

/// What to run: a job type and the text to work on.
#[payload]
#[derive(Debug, Clone)]
pub struct JobPayload {
    /// `translate`, `analyze`, `generate` or `default`.
    #[serde(rename = "type", default = "default_kind")]
    pub kind: String,
    /// The text.
    pub content: String,
}

/// A client asks for a job.
#[message(action = "job")]
#[derive(Debug, Clone)]
pub struct JobMessage {
    /// The job.
    pub payload: JobPayload,
}

/// The state of a job, for the client: a free-form object with `status` and `message`.
#[message(action = "job_status")]
#[derive(Debug, Clone)]
pub struct JobStatusMessage {
    /// `{"status": ..., "message": ..., ...}`.
    pub payload: Map<String, Value>,
}

impl JobStatusMessage {
    fn new(status: Value) -> Self {
        JobStatusMessage { payload: status.as_object().cloned().unwrap_or_default() }
    }
}

/// The app state: the job queue.
#[derive(Clone)]
pub struct AppState {
    /// Where jobs go.
    pub queue: Arc<dyn JobQueue>,
}

/// Queues jobs and reports their results; on the `chat` channel layer (`jobs::LAYER`).
pub struct BackgroundJobConsumer {
    queue: Arc<dyn JobQueue>,
}

impl FromConnection<AppState> for BackgroundJobConsumer {
    async fn from_connection(handshake: &mut Handshake<'_, AppState>) -> Result<Self, AuthError> {
        Ok(BackgroundJobConsumer { queue: handshake.state().queue.clone() })
    }
}

/// Background Jobs Consumer - queues jobs for workers and reports their results
#[channel(
    name = "background_jobs",
    layer = "chat",
    tags("jobs", "background"),
    groups("background_jobs"),
    sends(JobStatusMessage)
)]
impl BackgroundJobConsumer {
    #[ws_handler(summary = "Handle ping requests", description = "Simple ping-pong for connectivity testing")]
    async fn handle_ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }

    #[ws_handler(
        summary = "Queue a background job",
        description = "Queue the job for a worker and report its progress",
        output = JobStatusMessage
    )]
    async fn handle_job(&mut self, cx: &mut Context, msg: JobMessage) -> chanx::Result<()> {
        let JobPayload { kind, content } = msg.payload;
        let queuing = format!("⏳ Queuing {kind} job: {content}");
        cx.send_message(JobStatusMessage::new(json!({"status": "queuing", "message": queuing}))).await?;
        let job = Job { kind, content, reply_to: cx.channel_name().to_owned() };
        let status = match self.queue.enqueue(job).await {
            Ok(id) => json!({
                "status": "queued",
                "job_id": id,
                "message": format!("📋 Job {id} queued successfully! Worker will process it shortly..."),
            }),
            Err(error) => json!({"status": "error", "message": format!("❌ Error queuing job: {error}")}),
        };
        cx.send_message(JobStatusMessage::new(status)).await
    }

    #[event_handler(
        summary = "Report a job result",
        description = "A worker finished a job of this connection"
    )]
    async fn handle_job_result(&mut self, event: JobResult) -> JobStatusMessage {
        JobStatusMessage::new(json!({"status": "result", "message": event.payload}))
    }
}

impl Consumer for BackgroundJobConsumer {
    async fn post_authentication(&mut self, cx: &mut Context) -> chanx::Result<()> {
        let connected = json!({"status": "connected", "message": "🔄 Background Job Processor: Connected!"});
        cx.send_message(JobStatusMessage::new(connected)).await
    }
}

/// The app's consumers so far in the AsyncAPI document.
pub fn asyncapi(docs: AsyncApi) -> AsyncApi {
    room_chat::asyncapi(docs).channel::<BackgroundJobConsumer>("/ws/background_jobs")
}

/// The app so far: System Echo, Room Chat, plus the jobs at `/ws/background_jobs`.
pub fn router(queue: Arc<dyn JobQueue>) -> Router {
    let jobs = Router::new()
        .route("/ws/background_jobs", BackgroundJobConsumer::route())
        .with_state(AppState { queue });
    room_chat::router().merge(jobs)
}
