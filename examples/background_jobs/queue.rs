//! The web side of the jobs: a [`JobQueue`] puts them on the channel layer
//! ([`LayerQueue`]), for workers in this process ([`WorkerPool`]) or in a worker process
//! (`cargo run --example job_worker`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chanx::layer::{LayerError, LayerHandle, Layers};
use tokio::task::JoinSet;

use super::jobs::{Delays, JOBS, JOBS_LAYER, Job, LAYER, QueuedJob, QueuedJobPayload, spawn_workers};

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
    /// Starts `workers` workers that take jobs from the [`JOBS_LAYER`] of `layers` and
    /// send results through its [`LAYER`].
    pub fn start(workers: usize, delays: Delays, layers: &Layers) -> Result<Self, LayerError> {
        let jobs = layers.get(Some(JOBS_LAYER))?;
        let results = layers.get(Some(LAYER))?;
        Ok(WorkerPool {
            queue: LayerQueue::new(jobs.clone()),
            _workers: spawn_workers(workers, delays, jobs, results),
        })
    }
}

impl JobQueue for WorkerPool {
    fn enqueue(&self, job: Job) -> BoxFuture<'_, Result<String, QueueError>> {
        self.queue.enqueue(job)
    }
}
