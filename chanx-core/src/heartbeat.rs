//! The heartbeat's clock: one thread for the whole process that tells each connection
//! when its next ping is due ([`Ticks`]).
//!
//! Not a tokio timer per connection: while any timer is pending, tokio's workers park
//! with a timeout (`epoll_wait` arms a kernel timer on every sleep, and the runtime
//! walks its timer wheel on every park), and a connection's heartbeat is pending for
//! its whole life. Measured on the System Echo benchmark, that cost about 4% of the
//! server's CPU time per message for a lone client (BENCHMARKS.md). Here the runtime
//! holds no timer for the heartbeat: the clock thread sleeps until the earliest
//! connection is due and raises the connection's tick [`Signal`], given once (the loop
//! reads that bit with the rest of its signals, not a waker registered on each poll).
//!
//! The clock keeps one entry per connection with a heartbeat, removed when the
//! connection's [`Ticks`] is dropped, so connections that come and go leave nothing
//! behind. Each entry keeps its own phase (its next deadline is one interval after its
//! last), so connections opened at different times ping at different times. If the
//! thread cannot be started, connections fall back to a tokio interval each.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::wake::Signal;

/// The shortest interval between ticks: a shorter one (zero) counts as this.
pub(crate) const SHORTEST: Duration = Duration::from_millis(1);

/// A connection's place on the clock: ready once every `interval`, from `interval`
/// after it was made. Ticks missed while the connection was busy are not made up: it
/// sees one, and the next is due on its schedule. Polling it costs one load of the
/// connection's signals.
#[derive(Debug)]
pub(crate) struct Ticks(Source);

#[derive(Debug)]
enum Source {
    Clock {
        slot: Arc<Slot>,
        clock: &'static Clock,
        /// The slot's signal, here too: read on each of the loop's turns, it is not
        /// looked for in the slot (one cache line less).
        due: Signal,
    },
    /// The clock's thread could not be started: a tokio interval, as before the clock.
    Timer(tokio::time::Interval),
}

#[derive(Debug)]
struct Slot {
    /// Raised when the slot is due.
    due: Signal,
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
    /// The deadline the thread sleeps until (`u64::MAX`: until it is told), or 0 while
    /// it is awake (it looks at the schedule again before it sleeps). Only an entry due
    /// before then wakes the thread; an entry's removal never does, so the thread may
    /// wake at a deadline that is gone, and sleep again.
    sleeping_until: u64,
}

#[derive(Debug)]
struct Clock {
    schedule: Mutex<Schedule>,
    /// Told when an entry goes in that is due before the thread wakes up.
    earlier: Condvar,
    epoch: Instant,
}

/// The process's clock, its thread started on first use; `None` if the thread could not
/// be started (then it was logged, and each connection gets a tokio timer).
fn clock() -> Option<&'static Clock> {
    static CLOCK: OnceLock<Option<&'static Clock>> = OnceLock::new();
    *CLOCK.get_or_init(|| match Clock::start() {
        Ok(clock) => Some(clock),
        Err(error) => {
            tracing::error!(%error, "cannot start the heartbeat thread: each connection gets a timer");
            None
        }
    })
}

impl Clock {
    /// A clock and its thread, for the rest of the process.
    fn start() -> std::io::Result<&'static Clock> {
        let clock = Clock { schedule: Mutex::default(), earlier: Condvar::new(), epoch: Instant::now() };
        let clock: &'static Clock = Box::leak(Box::new(clock));
        std::thread::Builder::new()
            .name("chanx-heartbeat".into())
            .stack_size(64 * 1024)
            .spawn(move || clock.run())?;
        Ok(clock)
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        // Nothing panics while holding this lock; recover the data if something ever did.
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Now, in nanoseconds since the epoch.
    fn now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    /// Marks and wakes every slot that is due, puts it back one interval after its
    /// deadline (or after now, if it is more than an interval late: no burst after a
    /// stall), then sleeps until the next one is due.
    fn run(&self) {
        let mut fired = Vec::new();
        let mut schedule = self.schedule();
        loop {
            let now = self.now();
            while let Some(entry) = schedule.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let deadline = entry.key().0;
                let slot = entry.remove();
                let next = next_deadline(deadline, slot.interval, now);
                slot.at.store(next, Ordering::Relaxed);
                schedule.due.insert((next, slot.id), slot.clone());
                fired.push(slot);
            }
            // Woken without the lock: a wake-up may run the task's scheduling code.
            if !fired.is_empty() {
                drop(schedule);
                for slot in fired.drain(..) {
                    // A task whose waker panics must not stop every connection's heartbeat.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| slot.due.raise())).is_err() {
                        tracing::error!("a task's waker panicked when its heartbeat was due");
                    }
                }
                schedule = self.schedule();
                continue;
            }
            schedule = match schedule.due.first_key_value() {
                Some((&(at, _), _)) => {
                    let wait = Duration::from_nanos(at.saturating_sub(now));
                    schedule.sleeping_until = at;
                    self.earlier.wait_timeout(schedule, wait).unwrap_or_else(PoisonError::into_inner).0
                }
                None => {
                    schedule.sleeping_until = u64::MAX;
                    self.earlier.wait(schedule).unwrap_or_else(PoisonError::into_inner)
                }
            };
            schedule.sleeping_until = 0;
        }
    }
}

impl Ticks {
    /// Ticks every `interval` (at least [`SHORTEST`]), the first `interval` from now,
    /// each raising `due`.
    pub(crate) fn new(interval: Duration, due: Signal) -> Self {
        let interval = interval.max(SHORTEST);
        match clock() {
            Some(clock) => Ticks::on(clock, interval, due),
            None => Ticks::timer(interval),
        }
    }

    /// Ticks on `clock`.
    fn on(clock: &'static Clock, interval: Duration, due: Signal) -> Self {
        let at = clock.now().saturating_add(nanos(interval));
        let mut schedule = clock.schedule();
        let id = schedule.next_id;
        schedule.next_id += 1;
        let sooner = at < schedule.sleeping_until;
        let interval = nanos(interval);
        let slot = Arc::new(Slot { due: due.clone(), interval, id, at: AtomicU64::new(at) });
        schedule.due.insert((at, id), slot.clone());
        drop(schedule);
        if sooner {
            clock.earlier.notify_one();
        }
        Ticks(Source::Clock { slot, clock, due })
    }

    /// Ticks on a tokio interval of the connection's own, for when the clock's thread
    /// could not be started.
    fn timer(interval: Duration) -> Self {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks(Source::Timer(ticks))
    }

    /// Ready once a tick is due since the last ready poll. On the clock, `cx` is not
    /// used: the clock raises the signal given to [`new`](Self::new).
    pub(crate) fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Source::Clock { due, .. } if due.take() => Poll::Ready(()),
            Source::Clock { .. } => Poll::Pending,
            Source::Timer(ticks) => ticks.poll_tick(cx).map(drop),
        }
    }
}

impl Drop for Ticks {
    /// Takes the connection's entry off the clock.
    fn drop(&mut self) {
        if let Source::Clock { slot, clock, .. } = &self.0 {
            let mut schedule = clock.schedule();
            let at = slot.at.load(Ordering::Relaxed);
            schedule.due.remove(&(at, slot.id));
        }
    }
}

/// When a slot due at `deadline` is due next: one `interval` later, keeping its phase
/// (deadlines set from the clock's wake-up would bunch every slot due at one wake-up
/// together for good), or one `interval` from `now` if that is already past.
fn next_deadline(deadline: u64, interval: u64, now: u64) -> u64 {
    match deadline.saturating_add(interval) {
        next if next > now => next,
        _ => now.saturating_add(interval),
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
    use crate::wake::{Signals, TICK};

    /// Ticks, with signals of their own.
    type Ticking = (Ticks, Arc<Signals>);

    /// Ticks every `interval` on the clock.
    fn ticking(interval: Duration) -> Ticking {
        made(|due| Ticks::new(interval, due))
    }

    /// The ticks `make` makes, raising a signal of their own.
    fn made(make: impl FnOnce(Signal) -> Ticks) -> Ticking {
        let signals = Arc::new(Signals::default());
        (make(Signal::new(&signals, TICK)), signals)
    }

    /// The clock's entry of `ticks`.
    fn slot((ticks, _): &Ticking) -> &Arc<Slot> {
        match &ticks.0 {
            Source::Clock { slot, .. } => slot,
            Source::Timer(_) => panic!("the clock runs in tests"),
        }
    }

    /// Whether slot `id` is on the clock (other tests' connections may be on it too).
    fn scheduled(id: u64) -> bool {
        clock().expect("the clock runs").schedule().due.values().any(|slot| slot.id == id)
    }

    /// The next tick of `ticks`, or an error after 5 s.
    async fn ticked((ticks, signals): &mut Ticking) -> Result<(), tokio::time::error::Elapsed> {
        let tick = std::future::poll_fn(|cx| {
            // The clock wakes whoever registered with the signals, as the loop's task does.
            signals.register(cx.waker());
            ticks.poll_tick(cx)
        });
        tokio::time::timeout(Duration::from_secs(5), tick).await
    }

    /// Whether `ticks` are due now.
    fn due((ticks, _): &mut Ticking) -> bool {
        ticks.poll_tick(&mut Context::from_waker(Waker::noop())).is_ready()
    }

    #[tokio::test]
    async fn ticks_come_every_interval_and_a_dropped_one_leaves_the_clock() {
        let mut ticks = ticking(Duration::from_millis(20));
        let id = slot(&ticks).id;
        assert!(scheduled(id));
        let mut later = ticking(Duration::from_secs(3600));
        assert!(!due(&mut later), "not due at once");
        // Each wait ends only if the clock wakes the task.
        for _ in 0..3 {
            ticked(&mut ticks).await.expect("a tick within the interval");
        }
        drop(ticks);
        assert!(!scheduled(id), "the entry is gone with its ticks");
    }

    #[tokio::test]
    async fn a_slot_due_before_the_clock_wakes_up_wakes_it() {
        // A clock of this test's own: no other test's slot wakes it.
        let clock = Clock::start().expect("a clock thread");
        let on = |interval| made(|due| Ticks::on(clock, interval, due));
        let _long = on(Duration::from_secs(3600));
        // Asleep towards the hour's deadline: a slot due sooner must tell it, or waits
        // for that deadline.
        let asleep = async {
            while clock.schedule().sleeping_until == 0 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), asleep).await.expect("the clock sleeps");
        let mut short = on(Duration::from_millis(10));
        ticked(&mut short).await.expect("the clock was woken for the sooner slot");
    }

    #[tokio::test]
    async fn a_zero_interval_ticks_at_the_shortest_and_others_still_tick() {
        let mut zero = ticking(Duration::ZERO);
        assert_eq!(slot(&zero).interval, nanos(SHORTEST));
        let mut other = ticking(Duration::from_millis(30));
        ticked(&mut zero).await.expect("a zero interval ticks");
        // The short one, due again at every wake-up, does not keep the other from its turn.
        ticked(&mut other).await.expect("the other ticks too");
        ticked(&mut zero).await.expect("and the short one again");
    }

    #[tokio::test]
    async fn slots_due_together_keep_their_own_deadlines() {
        // Made one after the other: due within microseconds, marked in one wake-up.
        let mut first = ticking(Duration::from_millis(20));
        let mut second = ticking(Duration::from_millis(20));
        for _ in 0..2 {
            ticked(&mut first).await.expect("the first ticks");
            ticked(&mut second).await.expect("the second ticks");
        }
        let schedule = clock().expect("the clock runs").schedule();
        let at = |ticks: &Ticking| slot(ticks).at.load(Ordering::Relaxed);
        assert_ne!(at(&first), at(&second), "not bunched onto the clock's wake-up time");
        drop(schedule);
    }

    #[tokio::test]
    async fn without_the_clock_a_connection_ticks_on_its_own_timer() {
        let unused = Arc::new(Signals::default());
        let mut ticks = (Ticks::timer(Duration::from_millis(10)), unused.clone());
        let mut later = (Ticks::timer(Duration::from_secs(3600)), unused);
        assert!(!due(&mut later), "not due at once");
        for _ in 0..2 {
            ticked(&mut ticks).await.expect("a tick within the interval");
        }
    }

    #[test]
    fn the_next_deadline_keeps_the_phase_unless_it_is_already_past() {
        assert_eq!(next_deadline(1_000, 100, 1_020), 1_100, "a late wake-up keeps the phase");
        assert_eq!(next_deadline(1_000, 100, 1_250), 1_350, "more than an interval late: no burst");
        assert_eq!(next_deadline(u64::MAX - 5, 100, u64::MAX - 1), u64::MAX);
    }
}
