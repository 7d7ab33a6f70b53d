//! The job side of tutorial part 3: jobs travel on a channel layer's general channel
//! [`JOBS`] to workers, as Channels workers take their work: workers in this process
//! ([`WorkerPool`]) on the in-memory layer, or worker processes
//! (`background_jobs --worker`) on the Redis queue layer. A worker sends each result back
//! to the connection that queued the job, as a `job_result` event on the layer of the
//! consumer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Why a job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds as many jobs as it may.
    #[error("the job queue is full")]
    Full,
    /// The channel layer failed (Redis unreachable, say).
    #[error("the job queue is unavailable: {0}")]
    Unavailable(LayerError),
}

/// A boxed future, as the dyn-compatible [`JobQueue`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Somewhere to put jobs for workers to run.
pub trait JobQueue: Send + Sync + 'static {
    /// Queues a job; returns its id.
    fn enqueue(&self, job: Job) -> BoxFuture<'_, Result<String, QueueError>>;
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

/// Puts jobs on a channel layer's general channel [`JOBS`], for workers of this process
/// or of worker processes. The layer's capacity bounds the queue.
#[derive(Debug, Clone)]
pub struct LayerQueue {
    jobs: LayerHandle,
    next_id: Arc<AtomicU64>,
}

impl LayerQueue {
    /// Jobs go on `jobs`, the layer the workers receive from.
    pub fn new(jobs: LayerHandle) -> Self {
        LayerQueue { jobs, next_id: Arc::default() }
    }
}

impl JobQueue for LayerQueue {
    fn enqueue(&self, job: Job) -> BoxFuture<'_, Result<String, QueueError>> {
        let id = format!("job-{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        Box::pin(async move {
            let queued = QueuedJob { payload: QueuedJobPayload { id: id.clone(), job } };
            match self.jobs.send_event(JOBS, &queued).await {
                Ok(()) => Ok(id),
                Err(LayerError::ChannelFull { .. }) => Err(QueueError::Full),
                Err(error) => Err(QueueError::Unavailable(error)),
            }
        })
    }
}

/// Workers in this process and the queue that feeds them; the workers stop when it is
/// dropped.
#[derive(Debug)]
pub struct WorkerPool {
    queue: LayerQueue,
    _workers: JoinSet<()>,
}

impl WorkerPool {
    /// Starts `workers` workers that take jobs from `layer` and send results through it.
    pub fn start(workers: usize, delays: Delays, layer: LayerHandle) -> Self {
        WorkerPool {
            queue: LayerQueue::new(layer.clone()),
            _workers: spawn_workers(workers, delays, layer.clone(), layer),
        }
    }
}

impl JobQueue for WorkerPool {
    fn enqueue(&self, job: Job) -> BoxFuture<'_, Result<String, QueueError>> {
        self.queue.enqueue(job)
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
