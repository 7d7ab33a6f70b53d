//! The job workers of the example apps, configured from the environment:
//! `JOB_WORKERS` workers in this process (default 2 with the layers in memory, 0 with
//! `REDIS_URL`, where `cargo run --example job_worker` runs them in a process of their
//! own) and `JOB_DELAY_SCALE` (multiplies the demo delays; default 1, 0 for none).

use std::sync::Arc;

use chanx::Settings;
use chanx::layer::LayerError;

use super::jobs::{Delays, JOBS_LAYER};
use super::layers;
use super::queue::{JobQueue, LayerQueue, WorkerPool};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// How many workers to run here and how slow they are.
pub fn config() -> (usize, Delays) {
    let workers = env_or("JOB_WORKERS", if layers::redis_url().is_some() { 0 } else { 2 });
    (workers, Delays { scale: env_or("JOB_DELAY_SCALE", 1.0) })
}

/// The app's job queue on the channel layers of `settings`, with the workers of this
/// process, if any.
pub fn start(settings: &Settings) -> Result<Arc<dyn JobQueue>, LayerError> {
    let layers = settings.channel_layers();
    match config() {
        (0, _) => {
            tracing::info!("jobs wait for a worker process: cargo run --example job_worker");
            Ok(Arc::new(LayerQueue::new(layers.get(Some(JOBS_LAYER))?)))
        }
        (workers, delays) => Ok(Arc::new(WorkerPool::start(workers, delays, layers)?)),
    }
}
