//! Tutorial part 3 with a worker process: runs the background jobs' workers apart from
//! the web app, taking jobs from the Redis queue layer (alias `queue`, general channel
//! `background_jobs`) and sending each result back to the connection that queued it
//! through the `chat` layer, whichever process holds that connection.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example background_jobs    # web: queues jobs
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example job_worker         # runs them
//! ```
//!
//! `JOB_WORKERS` (default 2) jobs run at once; `JOB_DELAY_SCALE` multiplies the demo
//! delays (default 1, 0 for none). Stops on Ctrl-C or SIGTERM. Without `REDIS_URL` it
//! explains why it needs one and exits with code 2.

use std::process::ExitCode;

#[path = "../background_jobs/jobs.rs"]
mod jobs;
#[path = "../common/layers.rs"]
mod layers;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> ExitCode {
    chanx::serve::init_logging();
    if std::env::args().len() > 1 {
        eprintln!("usage: REDIS_URL=redis://HOST:PORT job_worker   (JOB_WORKERS, JOB_DELAY_SCALE)");
        return ExitCode::from(2);
    }
    let Some(url) = layers::redis_url() else {
        eprintln!(
            "job_worker needs REDIS_URL: it takes the jobs that web processes queue on the channel \
             layers on Redis (start background_jobs or showcase with the same REDIS_URL). Without \
             Redis the web app runs its workers itself."
        );
        return ExitCode::from(2);
    };
    let layers = match layers::build(Some(&url)) {
        Ok(layers) => layers,
        Err(error) => {
            tracing::error!(%error, "cannot set up the channel layers");
            return ExitCode::FAILURE;
        }
    };
    let (jobs, results) = match (layers.get(Some(jobs::JOBS_LAYER)), layers.get(Some(jobs::LAYER))) {
        (Ok(jobs), Ok(results)) => (jobs, results),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "the examples' layers lack an alias");
            return ExitCode::FAILURE;
        }
    };
    let workers = env_or("JOB_WORKERS", 2);
    let delays = jobs::Delays { scale: env_or("JOB_DELAY_SCALE", 1.0) };
    let running = jobs::spawn_workers(workers, delays, jobs, results);
    tracing::info!(workers, channel = jobs::JOBS, "job worker running");
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "cannot wait for Ctrl-C");
        return ExitCode::FAILURE;
    }
    drop(running);
    tracing::info!("job worker stopped");
    ExitCode::SUCCESS
}
