//! The heartbeat's clock: one thread for the whole process that tells each connection
//! when its next ping is due ([`Ticks`]).
//!
//! Not a tokio timer per connection: while any timer is pending, tokio's workers park
//! with a timeout (`epoll_wait` arms a kernel timer on every sleep, and the runtime
//! walks its timer wheel on every park), and a connection's heartbeat is pending for
//! its whole life. Measured on the System Echo benchmark, that cost about 4% of the
//! server's CPU time per message for a lone client (BENCHMARKS.md). Here the runtime
//! holds no timer for the heartbeat: the clock thread sleeps until the earliest
//! connection is due, marks it and wakes its task.
//!
//! The clock keeps one entry per connection with a heartbeat, removed when the
//! connection's [`Ticks`] is dropped, so connections that come and go leave nothing
//! behind.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;

/// The shortest interval between ticks: a shorter one (zero) counts as this.
pub(crate) const SHORTEST: Duration = Duration::from_millis(1);

/// A connection's place on the clock: ready once every `interval`, from `interval`
/// after it was made. A tick missed while the connection was busy is not made up: the
/// next one is due `interval` after the clock marked the missed one.
#[derive(Debug)]
pub(crate) struct Ticks {
    slot: Arc<Slot>,
    /// Where the slot is on the clock; `None` if the clock could not be started.
    clock: Option<&'static Clock>,
}

#[derive(Debug)]
struct Slot {
    due: AtomicBool,
    waker: AtomicWaker,
    /// In nanoseconds, as the deadlines.
    interval: u64,
    id: u64,
    /// The deadline of its entry, to find it; changed under the schedule's lock only.
    at: AtomicU64,
}

/// The entries in the order they are due; an entry's key is its deadline (nanoseconds
/// since the clock's epoch) and its slot's id (deadlines may repeat).
#[derive(Debug, Default)]
struct Schedule {
    due: BTreeMap<(u64, u64), Arc<Slot>>,
    next_id: u64,
}

#[derive(Debug)]
struct Clock {
    schedule: Mutex<Schedule>,
    /// Told when an entry goes in ahead of every other: the thread's sleep is too long.
    earlier: Condvar,
    epoch: Instant,
}

/// The process's clock, its thread started on first use; `None` if the thread could not
/// be started (then connections get no heartbeat, and it was logged).
fn clock() -> Option<&'static Clock> {
    static CLOCK: OnceLock<Option<&'static Clock>> = OnceLock::new();
    *CLOCK.get_or_init(|| {
        let clock = Clock { schedule: Mutex::default(), earlier: Condvar::new(), epoch: Instant::now() };
        let clock: &'static Clock = Box::leak(Box::new(clock));
        let started = std::thread::Builder::new()
            .name("chanx-heartbeat".into())
            .stack_size(64 * 1024)
            .spawn(move || clock.run());
        match started {
            Ok(_) => Some(clock),
            Err(error) => {
                tracing::error!(%error, "cannot start the heartbeat thread: no connection gets a heartbeat");
                None
            }
        }
    })
}

impl Clock {
    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        // Nothing panics while holding this lock; recover the data if something ever did.
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Now, in nanoseconds since the epoch.
    fn now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    /// Marks and wakes every slot that is due, then sleeps until the next one is.
    fn run(&self) {
        let mut fired = Vec::new();
        let mut schedule = self.schedule();
        loop {
            let now = self.now();
            while let Some(entry) = schedule.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let slot = entry.remove();
                let next = now.saturating_add(slot.interval);
                slot.at.store(next, Ordering::Relaxed);
                schedule.due.insert((next, slot.id), slot.clone());
                fired.push(slot);
            }
            // Woken without the lock: a wake-up may run the task's scheduling code.
            if !fired.is_empty() {
                drop(schedule);
                for slot in fired.drain(..) {
                    slot.due.store(true, Ordering::Release);
                    slot.waker.wake();
                }
                schedule = self.schedule();
                continue;
            }
            schedule = match schedule.due.first_key_value() {
                Some(((at, _), _)) => {
                    let wait = Duration::from_nanos(at.saturating_sub(now));
                    self.earlier.wait_timeout(schedule, wait).unwrap_or_else(PoisonError::into_inner).0
                }
                None => self.earlier.wait(schedule).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

impl Ticks {
    /// Ticks every `interval` (at least [`SHORTEST`]), the first `interval` from now.
    pub(crate) fn new(interval: Duration) -> Self {
        let interval = interval.max(SHORTEST);
        let clock = clock();
        let slot = |id, at| {
            let (due, waker, interval) = (AtomicBool::new(false), AtomicWaker::new(), nanos(interval));
            Arc::new(Slot { due, waker, interval, id, at: AtomicU64::new(at) })
        };
        let Some(clock) = clock else { return Ticks { slot: slot(0, 0), clock } };
        let at = clock.now().saturating_add(nanos(interval));
        let mut schedule = clock.schedule();
        let id = schedule.next_id;
        schedule.next_id += 1;
        let first = schedule.due.first_key_value().is_none_or(|((next, _), _)| at < *next);
        let slot = slot(id, at);
        schedule.due.insert((at, id), slot.clone());
        drop(schedule);
        if first {
            clock.earlier.notify_one();
        }
        Ticks { slot, clock: Some(clock) }
    }

    /// Ready once a tick is due since the last ready poll.
    pub(crate) fn poll_tick(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.slot.due.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.slot.waker.register(cx.waker());
        if self.slot.due.swap(false, Ordering::AcqRel) { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for Ticks {
    /// Takes the connection's entry off the clock.
    fn drop(&mut self) {
        if let Some(clock) = self.clock {
            let mut schedule = clock.schedule();
            let at = self.slot.at.load(Ordering::Relaxed);
            schedule.due.remove(&(at, self.slot.id));
        }
    }
}

/// `duration` in nanoseconds, at most `u64::MAX` (584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    /// Whether slot `id` is on the clock (other tests' connections may be on it too).
    fn scheduled(id: u64) -> bool {
        clock().expect("the clock runs").schedule().due.values().any(|slot| slot.id == id)
    }

    /// The next tick of `ticks`, or an error after 5 s.
    async fn ticked(ticks: &Ticks) -> Result<(), tokio::time::error::Elapsed> {
        tokio::time::timeout(Duration::from_secs(5), std::future::poll_fn(|cx| ticks.poll_tick(cx))).await
    }

    #[tokio::test]
    async fn ticks_come_every_interval_and_a_dropped_one_leaves_the_clock() {
        let ticks = Ticks::new(Duration::from_millis(20));
        let id = ticks.slot.id;
        assert!(scheduled(id));
        let later = Ticks::new(Duration::from_secs(3600));
        assert!(later.poll_tick(&mut Context::from_waker(Waker::noop())).is_pending(), "not due at once");
        // Each wait ends only if the clock wakes the task.
        for _ in 0..3 {
            ticked(&ticks).await.expect("a tick within the interval");
        }
        drop(ticks);
        assert!(!scheduled(id), "the entry is gone with its ticks");
    }

    #[tokio::test]
    async fn a_zero_interval_ticks_at_the_shortest_and_others_still_tick() {
        let zero = Ticks::new(Duration::ZERO);
        assert_eq!(zero.slot.interval, nanos(SHORTEST));
        let other = Ticks::new(Duration::from_millis(30));
        ticked(&zero).await.expect("a zero interval ticks");
        // The clock does not spin on the short one: the other comes in its turn.
        ticked(&other).await.expect("the other ticks too");
        ticked(&zero).await.expect("and the short one again");
    }
}
