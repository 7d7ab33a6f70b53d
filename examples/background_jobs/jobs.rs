//! The jobs of tutorial part 3 and their workers: jobs travel as `run_job` events on
//! the general channel [`JOBS`] of a channel layer that stores messages, as Channels
//! workers take their work: workers in the web process on the in-memory layer, or in a
//! worker process (`cargo run --example job_worker`) on the Redis queue layer. A worker
//! sends each result back to the connection that queued the job, as a `job_result`
//! event on the layer of the consumer, whichever process holds it.

use std::time::Duration;

use chanx::layer::{LayerError, LayerHandle};
use chanx::{message, payload};
use serde_json::Value;
use tokio::task::JoinSet;

/// The general channel jobs travel on.
pub const JOBS: &str = "background_jobs";

/// How long a worker waits before it asks the layer again after a failure (Redis down).
const RETRY: Duration = Duration::from_secs(1);

/// The alias of the channel layer of the jobs consumer, through which workers send
/// results.
pub const LAYER: &str = "chat";

/// The alias of the channel layer that jobs travel on: a layer that stores messages (in
/// memory, or the Redis queue layer), so that a worker process can take them.
pub const JOBS_LAYER: &str = "queue";

/// A finished job's result, sent by a worker (an event: clients never send it).
#[message(action = "job_result")]
#[derive(Debug, Clone)]
pub struct JobResult {
    /// The result, any JSON.
    pub payload: Value,
}

/// One job: what to run, on what, and which connection gets the result.
#[payload]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `translate`, `analyze`, `generate`; anything else runs `default`.
    pub kind: String,
    /// The text to work on.
    pub content: String,
    /// The channel name of the connection that queued it.
    pub reply_to: String,
}

/// A job with its id.
#[payload]
#[derive(Debug, Clone)]
pub struct QueuedJobPayload {
    /// The id the client was told.
    pub id: String,
    /// The job.
    pub job: Job,
}

/// A job on its way to a worker (an event on [`JOBS`]).
#[message(action = "run_job")]
#[derive(Debug, Clone)]
pub struct QueuedJob {
    /// The job and its id.
    pub payload: QueuedJobPayload,
}

/// How long each job type pretends to work (the tutorial's demo sleeps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delays {
    /// Multiplies the tutorial's delays (translate 2 s, analyze 3 s, generate 4 s,
    /// default 1 s); 0 runs jobs at once, as tests do.
    pub scale: f64,
}

impl Delays {
    fn of(self, kind: &str) -> Duration {
        let seconds = match kind {
            "translate" => 2.0,
            "analyze" => 3.0,
            "generate" => 4.0,
            _ => 1.0,
        };
        Duration::from_secs_f64(seconds * self.scale.max(0.0))
    }
}

/// Starts `workers` workers that take jobs from `jobs` and send each result through
/// `results` (the layer of the consumer that queued it); they stop when the set is
/// dropped.
pub fn spawn_workers(workers: usize, delays: Delays, jobs: LayerHandle, results: LayerHandle) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..workers.max(1) {
        set.spawn(work(delays, jobs.clone(), results.clone()));
    }
    set
}

/// One worker: takes jobs for as long as it runs.
async fn work(delays: Delays, jobs: LayerHandle, results: LayerHandle) {
    loop {
        let QueuedJob { payload: QueuedJobPayload { id, job } } = match jobs.receive_event(JOBS).await {
            Ok(queued) => queued,
            Err(error @ LayerError::Decode { .. }) => {
                tracing::warn!(%error, "not a job; dropped");
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "cannot take jobs; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        tokio::time::sleep(delays.of(&job.kind)).await;
        let result = JobResult { payload: Value::String(run(&job.kind, &job.content)) };
        match results.send_event(&job.reply_to, &result).await {
            Ok(()) => tracing::info!(id, kind = job.kind, "job done"),
            Err(error) => tracing::error!(%error, id, "could not send a job result"),
        }
    }
}

/// Runs a job of type `kind` on `text`; an unknown type runs `default`.
pub fn run(kind: &str, text: &str) -> String {
    match kind {
        "translate" => format!("🌍 Translated: '{text}' → '{}'", translate(text)),
        "analyze" => analyze(text),
        "generate" => format!("🤖 AI Response to '{text}':\n{}", generate(text)),
        _ => format!("✅ Processed: {}", text.to_uppercase()),
    }
}

fn translate(text: &str) -> String {
    match text.trim().to_lowercase().as_str() {
        "hello" => "hola".into(),
        "world" => "mundo".into(),
        "good morning" => "buenos días".into(),
        "thank you" => "gracias".into(),
        _ => format!("[TRANSLATED: {text}]"),
    }
}

fn analyze(text: &str) -> String {
    let lower = text.to_lowercase();
    let vowels = lower.chars().filter(|c| "aeiou".contains(*c)).count();
    let consonants = lower.chars().filter(|c| c.is_alphabetic() && !"aeiou".contains(*c)).count();
    format!(
        "📊 Analysis of '{text}':\n• Characters: {}\n• Words: {}\n• Vowels: {vowels}\n• Consonants: {consonants}",
        text.chars().count(),
        text.split_whitespace().count(),
    )
}

fn generate(text: &str) -> &'static str {
    let lower = text.to_lowercase();
    if lower.contains("weather") {
        "The weather today looks pleasant: mild temperatures and a light breeze, a good day to be outside."
    } else if lower.contains("food") || lower.contains("eat") {
        "Hungry? The little Italian restaurant around the corner makes its pasta fresh every morning."
    } else if lower.contains("help") {
        "I'm here to help! Tell me what you are working on and we can go through it step by step."
    } else {
        "That's an interesting thought. Looking at it from a few angles, there is more to it than it first seems."
    }
}
