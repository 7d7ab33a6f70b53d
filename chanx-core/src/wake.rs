//! A connection's loop and its writer in one task ([`alongside`]): a reply needs no hop
//! to another task (often on another thread), and a broadcast wakes the writer alone,
//! not the loop's wait for the next frame.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::FusedFuture;
use futures_util::task::AtomicWaker;

/// A waker that remembers that it fired, then passes the wake-up on: `main`'s waker
/// under [`alongside`] (on to the task), and a [`Gate`]'s (on to `main`).
#[derive(Debug)]
struct Flag<T> {
    fired: AtomicBool,
    then: T,
}

/// Where a [`Flag`] passes its wake-ups on.
trait PassOn: Send + Sync + 'static {
    fn pass_on(&self);
}

/// The task's waker, registered on each poll.
impl PassOn for AtomicWaker {
    fn pass_on(&self) {
        self.wake();
    }
}

/// A waker that does not change.
impl PassOn for Waker {
    fn pass_on(&self) {
        self.wake_by_ref();
    }
}

impl<T> Flag<T> {
    /// Fired at first, so that the first poll goes through.
    fn new(then: T) -> Arc<Self> {
        Arc::new(Flag { fired: AtomicBool::new(true), then })
    }

    /// Whether it fired since the last call.
    fn take(&self) -> bool {
        self.fired.swap(false, Ordering::AcqRel)
    }
}

impl<T: PassOn> Wake for Flag<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.then.pass_on();
    }
}

/// A gate for what a loop polls on each of its turns but is rarely ready (the event
/// queue): it is polled with the gate's own waker, and only after that waker fired, so
/// that the other turns cost one atomic swap instead of a waker registration. The
/// waker it forwards to (`outer`) must be the waker of whoever polls the gate, for as
/// long as it does: `main`'s waker under [`alongside`], which never changes.
#[derive(Debug)]
pub(crate) struct Gate {
    fired: Arc<Flag<Waker>>,
    waker: Waker,
}

impl Gate {
    /// A gate that lets the first poll through.
    pub(crate) fn new(outer: Waker) -> Self {
        let fired = Flag::new(outer);
        Gate { waker: Waker::from(fired.clone()), fired }
    }

    /// Runs `poll` with the gate's waker if it fired since the last run (or if the
    /// last run was ready, so that the next readiness is armed); pending otherwise.
    pub(crate) fn poll<T>(&self, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        if !self.fired.take() {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            self.fired.fired.store(true, Ordering::Release);
        }
        polled
    }
}

/// Polls `main` to its end with `side` alongside: `main` only when its own waker fired,
/// `side` on every poll, with the task's waker. So a broadcast or a writable socket
/// wakes the task to poll `side` alone, and what `main` pushed into `side`'s queue
/// through a [quiet](crate::queue::QueueSender::quiet) sender is written in the same
/// turn. When `main` ends, `side` is left as it is, for the caller to finish. `main` is
/// always polled with the same waker, so that it may hand its waker out once (see
/// [`Gate`]).
pub(crate) async fn alongside<M, S>(mut main: Pin<&mut M>, mut side: Pin<&mut S>) -> M::Output
where
    M: Future,
    S: FusedFuture<Output = ()>,
{
    let branch = Flag::new(AtomicWaker::new());
    let main_waker = Waker::from(branch.clone());
    std::future::poll_fn(|cx: &mut Context<'_>| {
        // The task's waker registered first, so that a wake-up between the two is not
        // lost.
        branch.then.register(cx.waker());
        if branch.take()
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
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

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
        alongside(main, side).await;
        assert_eq!(main_polls.load(Ordering::Relaxed), 2, "the first poll, then once woken");
        assert_eq!(side_polls.load(Ordering::Relaxed), 5);
    }

    /// A waker that counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_gate_polls_only_after_its_waker_fired_or_a_ready_poll() {
        let outer = Arc::new(Count(AtomicUsize::new(0)));
        let gate = Gate::new(Waker::from(outer.clone()));
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
        assert!(poll(false).is_pending(), "not fired: not run");
        inner.take().expect("the gate's waker").wake();
        assert_eq!(outer.0.load(Ordering::Relaxed), 1, "the wake-up is forwarded");
        assert!(poll(true).is_ready(), "fired: run, and ready");
        assert!(poll(false).is_pending(), "after a ready poll, run again to arm the next");
        assert!(poll(true).is_pending(), "then not until fired");
        assert_eq!(runs.get(), 3);
    }
}
