//! A connection's loop and its writer in one task ([`alongside`]): a reply needs no hop
//! to another task (often on another thread), and a broadcast wakes the writer alone,
//! not the loop's wait for the next frame.
//!
//! What the task looks at on each of its turns (was the loop woken, is an event, a
//! heartbeat tick or a control request waiting, must the connection stop) is one byte
//! of [`Signals`], beside the task's waker: one cache line, however many parts of the
//! connection raise it. Spread over an allocation each, those checks cost a cache miss
//! apiece per message once a server holds many connections (BENCHMARKS.md).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::FusedFuture;
use futures_util::task::AtomicWaker;

/// The bit of [`Signals`] that `main`'s waker raises under [`alongside`]: `main` is
/// polled on the task's next turn.
pub(crate) const MAIN: u8 = 1;
/// The bit raised by the event queue's waker (through its [`Gate`]).
pub(crate) const EVENTS: u8 = 1 << 1;
/// The bit the heartbeat's clock raises when the next ping is due.
pub(crate) const TICK: u8 = 1 << 2;
/// Something was requested of the writer that it has not taken yet: the writer's polls
/// read this bit, not the control lane's lock.
pub(crate) const REQUESTED: u8 = 1 << 3;
/// The connection's stop for a full buffer: this or [`SHUTDOWN`], the first raised, for
/// good.
pub(crate) const LAGGING: u8 = 1 << 4;
/// The connection's stop for the server's shutdown.
pub(crate) const SHUTDOWN: u8 = 1 << 5;

/// What a connection's task was woken for, as bits of one byte ([`MAIN`] and the
/// constants after it), and the task's waker.
///
/// Its waker (`Waker::from` an `Arc<Signals>`) raises [`MAIN`]; a [`Signal`] raises a
/// bit of its own with it.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Signals {
    /// First, and beside the bits: the two take 25 bytes, after the `Arc`'s 16 bytes of
    /// counts (a 48-byte allocation), and one 64-byte cache line holds them for three of
    /// the four 16-byte alignments the allocator may give it.
    task: AtomicWaker,
    raised: AtomicU8,
}

impl Default for Signals {
    /// [`MAIN`] raised, so that `main`'s first poll goes through.
    fn default() -> Self {
        Signals { task: AtomicWaker::new(), raised: AtomicU8::new(MAIN) }
    }
}

impl Signals {
    /// Raises `bits` and wakes the task.
    pub(crate) fn raise(&self, bits: u8) {
        self.raised.fetch_or(bits, Ordering::AcqRel);
        self.task.wake();
    }

    /// Raises `bits` and wakes the task, unless one of `unless` is raised already;
    /// whether it did.
    pub(crate) fn raise_unless(&self, bits: u8, unless: u8) -> bool {
        let raised = self
            .raised
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now & unless == 0).then_some(now | bits)
            })
            .is_ok();
        if raised {
            self.task.wake();
        }
        raised
    }

    /// Which of `bits` are raised.
    pub(crate) fn raised(&self, bits: u8) -> u8 {
        self.raised.load(Ordering::Acquire) & bits
    }

    /// Whether `bit` is raised, lowering it: a plain load when it is not, which is most
    /// turns (a locked read-modify-write would stall on the line every time).
    pub(crate) fn take(&self, bit: u8) -> bool {
        self.raised(bit) != 0 && self.raised.fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }

    /// Registers the waker of the task that polls for these signals (woken by the next
    /// raise).
    pub(crate) fn register(&self, waker: &Waker) {
        self.task.register(waker);
    }
}

/// `main`'s waker under [`alongside`].
impl Wake for Signals {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.raise(MAIN);
    }
}

/// One bit of a connection's [`Signals`], for what `main` waits on: raising it also
/// raises [`MAIN`].
#[derive(Debug, Clone)]
pub(crate) struct Signal {
    signals: Arc<Signals>,
    bit: u8,
}

impl Signal {
    /// Bit `bit` of `signals`.
    pub(crate) fn new(signals: &Arc<Signals>, bit: u8) -> Self {
        Signal { signals: signals.clone(), bit }
    }

    /// Raises it (and [`MAIN`]) and wakes the task.
    pub(crate) fn raise(&self) {
        self.signals.raise(self.bit | MAIN);
    }

    /// Whether it was raised since the last take.
    pub(crate) fn take(&self) -> bool {
        self.signals.take(self.bit)
    }

    /// Raises it without waking anybody (for the task that polls it, which looks again
    /// on its own turn: no other thread needs to see it).
    fn keep(&self) {
        self.signals.raised.fetch_or(self.bit, Ordering::Relaxed);
    }
}

/// A waker that raises a [`Signal`].
impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.raise();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.raise();
    }
}

/// A gate for what `main` polls on each of its turns but is rarely ready (the event
/// queue): it is polled with a waker that raises its [`Signal`], and only once that was
/// raised, so that the other turns cost one load of a byte the task reads anyway.
#[derive(Debug)]
pub(crate) struct Gate {
    signal: Signal,
    waker: Waker,
}

impl Gate {
    /// A gate on `signal` that lets the first poll through.
    pub(crate) fn new(signal: Signal) -> Self {
        signal.keep();
        Gate { waker: Waker::from(Arc::new(signal.clone())), signal }
    }

    /// Runs `poll` with the gate's waker if its signal was raised since the last run (or
    /// if the last run was ready, so that the next readiness is armed); pending
    /// otherwise.
    pub(crate) fn poll<T>(&self, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        if !self.signal.take() {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            self.signal.keep();
        }
        polled
    }
}

/// Polls `main` to its end with `side` alongside: `main` only when its own waker
/// (raising [`MAIN`] of `signals`) fired, `side` on every poll, with the task's waker,
/// which `signals` also holds (whatever raises a bit wakes the task). So a broadcast or
/// a writable socket wakes the task to poll `side` alone, and what `main` pushed into
/// `side`'s queue through a [quiet](crate::queue::QueueSender::quiet) sender is written
/// in the same turn. When `main` ends, `side` is left as it is, for the caller to
/// finish. What `main` waits on but rarely needs (events, heartbeat ticks, the stop) it
/// reads as bits of `signals`, not through wakers registered on each turn.
pub(crate) async fn alongside<M, S>(
    signals: &Arc<Signals>,
    mut main: Pin<&mut M>,
    mut side: Pin<&mut S>,
) -> M::Output
where
    M: Future,
    S: FusedFuture<Output = ()>,
{
    let main_waker = Waker::from(signals.clone());
    std::future::poll_fn(|cx: &mut Context<'_>| {
        // The task's waker registered first, so that a wake-up between the two is not
        // lost.
        signals.register(cx.waker());
        if signals.take(MAIN)
            && let Poll::Ready(output) = main.as_mut().poll(&mut Context::from_waker(&main_waker))
        {
            return Poll::Ready(output);
        }
        if !side.is_terminated() {
            // Its end is seen by `main` (the queue closes); nothing to do with it here.
            let _ = side.as_mut().poll(cx);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn the_side_is_polled_alone_and_main_only_when_woken() {
        let (main_polls, side_polls) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let main_waker = Mutex::new(None::<Waker>);
        let done = AtomicBool::new(false);
        // Main never wakes itself; it ends once the side woke it.
        let main = std::pin::pin!(std::future::poll_fn(|cx| {
            main_polls.fetch_add(1, Ordering::Relaxed);
            *main_waker.lock().unwrap() = Some(cx.waker().clone());
            if done.load(Ordering::Relaxed) { Poll::Ready(()) } else { Poll::Pending }
        }));
        // The side wakes itself four times, then wakes main.
        let side = std::pin::pin!(
            std::future::poll_fn(|cx| {
                if side_polls.fetch_add(1, Ordering::Relaxed) + 1 < 5 {
                    cx.waker().wake_by_ref();
                } else {
                    done.store(true, Ordering::Relaxed);
                    main_waker.lock().unwrap().take().expect("main polled first").wake();
                }
                Poll::<()>::Pending
            })
            .fuse()
        );
        alongside(&Arc::new(Signals::default()), main, side).await;
        assert_eq!(main_polls.load(Ordering::Relaxed), 2, "the first poll, then once woken");
        assert_eq!(side_polls.load(Ordering::Relaxed), 5);
    }

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    pub(crate) struct Count(pub(crate) AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_gate_polls_only_after_its_signal_was_raised_or_a_ready_poll() {
        let task = Arc::new(Count::default());
        let signals = Arc::new(Signals::default());
        assert!(signals.take(MAIN), "main's first poll goes through");
        signals.register(&Waker::from(task.clone()));
        let gate = Gate::new(Signal::new(&signals, EVENTS));
        let runs = std::cell::Cell::new(0);
        let inner = std::cell::RefCell::new(None::<Waker>);
        let poll = |ready: bool| {
            gate.poll(|cx| {
                runs.set(runs.get() + 1);
                *inner.borrow_mut() = Some(cx.waker().clone());
                if ready { Poll::Ready(()) } else { Poll::Pending }
            })
        };
        assert!(poll(false).is_pending(), "the first poll goes through");
        assert!(poll(false).is_pending(), "not raised: not run");
        assert_eq!(task.0.load(Ordering::Relaxed), 0, "nobody woken so far");
        inner.take().expect("the gate's waker").wake();
        assert_eq!(task.0.load(Ordering::Relaxed), 1, "the gate's waker wakes the task");
        assert!(signals.take(MAIN), "and main");
        assert!(poll(true).is_ready(), "raised: run, and ready");
        assert!(poll(false).is_pending(), "after a ready poll, run again to arm the next");
        assert!(poll(true).is_pending(), "then not until raised");
        assert_eq!(runs.get(), 3);
    }

    #[test]
    fn a_raise_unless_another_bit_is_raised_happens_once() {
        let signals = Signals::default();
        assert!(signals.raise_unless(LAGGING, LAGGING | SHUTDOWN));
        assert!(!signals.raise_unless(SHUTDOWN, LAGGING | SHUTDOWN), "lagging is raised: shutdown is not");
        assert_eq!(signals.raised(LAGGING | SHUTDOWN), LAGGING);
        assert!(signals.take(LAGGING));
        assert!(!signals.take(LAGGING), "taken once");
    }
}
