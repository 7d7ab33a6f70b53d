//! Logging that a hostile client cannot flood: [`throttled!`] writes at most one line
//! per call site (one cause) every [`INTERVAL`], with the count of lines it held back.

use std::any::Any;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The shortest time between two lines of one call site.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The state of one call site.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// Milliseconds since [`START`] of the last line, plus one (0: never).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttle {
    pub(crate) const fn new() -> Self {
        Throttle { last: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// `Some(lines held back since the last one)` when this line may be written.
    pub(crate) fn pass(&self) -> Option<u64> {
        self.pass_at(START.elapsed().as_millis() as u64 + 1)
    }

    fn pass_at(&self, now: u64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= INTERVAL.as_millis() as u64;
        if due && self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// `throttled!(warn, field = value, "message")`: a `tracing` event at that level, at
/// most one per call site every [`INTERVAL`]; it carries `suppressed`, the number of
/// events of that site left out since the last one written.
macro_rules! throttled {
    ($level:ident, $($rest:tt)+) => {{
        static THROTTLE: $crate::log::Throttle = $crate::log::Throttle::new();
        if let Some(suppressed) = THROTTLE.pass() {
            ::tracing::$level!(suppressed, $($rest)+);
        }
    }};
}
pub(crate) use throttled;

/// The message of a caught panic, for its log line.
pub(crate) fn panic_text(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-text panic payload)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let throttle = Throttle::new();
        let interval = INTERVAL.as_millis() as u64;
        assert_eq!(throttle.pass_at(5), Some(0));
        assert_eq!(throttle.pass_at(6), None);
        assert_eq!(throttle.pass_at(4 + interval), None);
        assert_eq!(throttle.pass_at(5 + interval), Some(2));
        assert_eq!(throttle.pass_at(6 + interval), None);
    }
}
