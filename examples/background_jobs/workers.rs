//! The job workers of the example apps: in this process, configured from the
//! environment (`JOB_WORKERS`, default 2; `JOB_DELAY_SCALE`, default 1).

use std::sync::Arc;

use chanx::Settings;
use chanx::layer::LayerError;

use super::jobs::{Delays, JobQueue, LAYER, WorkerPool};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Starts the workers; they send results through the jobs' channel layer in `settings`.
pub fn start(settings: &Settings) -> Result<Arc<dyn JobQueue>, LayerError> {
    let workers = env_or("JOB_WORKERS", 2);
    let delays = Delays { scale: env_or("JOB_DELAY_SCALE", 1.0) };
    let layer = settings.channel_layers().get(Some(LAYER))?;
    Ok(Arc::new(WorkerPool::start(workers, delays, layer)))
}
