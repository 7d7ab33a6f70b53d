//! The job side of tutorial part 3: a [`JobQueue`] trait (so a Redis-backed queue can
//! replace the default later), an in-process [`WorkerPool`] with a bounded queue, and
//! the jobs themselves. A worker sends each result back to the connection that queued
//! the job, as a `job_result` event on the channel layer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chanx::layer::LayerHandle;
use chanx::message;
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `translate`, `analyze`, `generate`; anything else runs `default`.
    pub kind: String,
    /// The text to work on.
    pub content: String,
    /// The channel name of the connection that queued it.
    pub reply_to: String,
}

/// Why a job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds as many jobs as it may.
    #[error("the job queue is full")]
    Full,
    /// The workers have stopped.
    #[error("the job queue is closed")]
    Closed,
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

/// Jobs queued per worker pool before `enqueue` fails with [`QueueError::Full`].
const QUEUE_CAPACITY: usize = 1024;

/// The default queue: workers in this process, fed by a bounded queue.
#[derive(Debug, Clone)]
pub struct WorkerPool {
    jobs: mpsc::Sender<(String, Job)>,
    next_id: Arc<AtomicU64>,
}

impl WorkerPool {
    /// Starts `workers` workers that send results through `layer`.
    pub fn start(workers: usize, delays: Delays, layer: LayerHandle) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..workers.max(1) {
            tokio::spawn(work(queue.clone(), delays, layer.clone()));
        }
        WorkerPool { jobs, next_id: Arc::default() }
    }
}

impl JobQueue for WorkerPool {
    fn enqueue(&self, job: Job) -> BoxFuture<'_, Result<String, QueueError>> {
        let id = format!("job-{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let queued = self.jobs.try_send((id.clone(), job)).map(|()| id).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => QueueError::Full,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        });
        Box::pin(std::future::ready(queued))
    }
}

/// One worker: takes jobs until the queue closes.
async fn work(queue: Arc<Mutex<mpsc::Receiver<(String, Job)>>>, delays: Delays, layer: LayerHandle) {
    loop {
        let next = queue.lock().await.recv().await;
        let Some((id, job)) = next else { return };
        tokio::time::sleep(delays.of(&job.kind)).await;
        let result = JobResult { payload: Value::String(run(&job.kind, &job.content)) };
        match layer.send_event(&job.reply_to, &result).await {
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
