//! What the attack tool watches on the server under attack, from `/proc` (Linux): its
//! resident memory, its open file descriptors, whether it is still running, and a
//! [`Monitor`] that samples both every 100 ms during an attack and raises an [`Abort`]
//! when the memory passes a cap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Resident memory of a process in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// How many file descriptors a process has open (entries of `/proc/PID/fd`).
pub fn fd_count(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// Whether a process is gone: no `/proc/PID`, or a zombie waiting for its parent.
pub fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which ends with ')'.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

/// This process's soft limit on open files (`/proc/self/limits`), if it has one.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits.lines().find_map(|l| l.strip_prefix("Max open files"))?.split_whitespace().next()?.parse().ok()
}

/// Raised when the server's memory passed the cap: every attack loop stops early.
#[derive(Clone)]
pub struct Abort(watch::Receiver<bool>);

impl Abort {
    /// Whether the cap was passed.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the cap is passed (never, if it is not).
    pub async fn raised(mut self) {
        if self.0.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The highest values a [`Monitor`] saw.
#[derive(Debug, Clone, Copy)]
pub struct Peaks {
    /// Resident memory, bytes.
    pub rss: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Whether the memory passed the cap.
    pub capped: bool,
}

/// Samples a process's memory and descriptors every 100 ms until stopped.
pub struct Monitor {
    peak: Arc<AtomicU64>,
    peak_fds: Arc<AtomicU64>,
    capped: Arc<AtomicBool>,
    abort: Abort,
    task: JoinHandle<()>,
}

impl Monitor {
    /// Starts sampling `pid`; the [`Abort`] is raised once its memory exceeds `cap` bytes.
    pub fn start(pid: u32, cap: u64) -> Monitor {
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let peak_fds = Arc::new(AtomicU64::new(fd_count(pid).unwrap_or(0)));
        let capped = Arc::new(AtomicBool::new(false));
        let (raise, abort) = watch::channel(false);
        let task = tokio::spawn({
            let (peak, peak_fds, capped) = (peak.clone(), peak_fds.clone(), capped.clone());
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    peak_fds.fetch_max(fd_count(pid).unwrap_or(0), Ordering::Relaxed);
                    let Some(rss) = rss_bytes(pid) else { continue };
                    peak.fetch_max(rss, Ordering::Relaxed);
                    if rss > cap && !capped.swap(true, Ordering::Relaxed) {
                        eprintln!("server RSS {rss} bytes exceeds the cap of {cap}: stopping the attack");
                        let _ = raise.send(true);
                    }
                }
            }
        });
        Monitor { peak, peak_fds, capped, abort: Abort(abort), task }
    }

    /// The signal the attack loops watch.
    pub fn abort(&self) -> Abort {
        self.abort.clone()
    }

    /// Stops sampling; returns the peaks.
    pub fn stop(self) -> Peaks {
        self.task.abort();
        Peaks {
            rss: self.peak.load(Ordering::Relaxed),
            fds: self.peak_fds.load(Ordering::Relaxed),
            capped: self.capped.load(Ordering::Relaxed),
        }
    }
}
