//! What the server logs, captured as text for the tests that check their log lines.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::subscriber::DefaultGuard;

/// Log output, as text (`info` and above, no colour codes).
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Captures what the whole process logs from now on (for servers on other threads).
    pub fn capture_global() -> Log {
        let log = Log::default();
        tracing::subscriber::set_global_default(log.subscriber()).expect("the only global subscriber");
        log
    }

    /// Captures what this thread logs until the guard is dropped.
    pub fn capture() -> (Log, DefaultGuard) {
        let log = Log::default();
        let guard = tracing::subscriber::set_default(log.subscriber());
        (log, guard)
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}
