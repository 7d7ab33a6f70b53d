//! A connection's loop and its writer in one task ([`alongside`]): a reply needs no hop
//! to another task (often on another thread), and a broadcast wakes the writer alone,
//! not the loop's wait for the next frame.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::FusedFuture;
use futures_util::task::AtomicWaker;

/// `main`'s waker: remembers that it fired, and wakes the task.
#[derive(Debug)]
struct Branch {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Branch {
    fn new() -> Arc<Self> {
        // Woken at first, so that the first poll polls it.
        Arc::new(Branch { woken: AtomicBool::new(true), task: AtomicWaker::new() })
    }

    /// Whether it fired since the last call. The task's waker is registered first, so
    /// that a wake-up between the two is not lost.
    fn take(&self, task: &Waker) -> bool {
        self.task.register(task);
        self.woken.swap(false, Ordering::AcqRel)
    }
}

impl Wake for Branch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// Polls `main` to its end with `side` alongside: `main` only when its own waker fired,
/// `side` on every poll, with the task's waker. So a broadcast or a writable socket
/// wakes the task to poll `side` alone, and what `main` pushed into `side`'s queue
/// through a [quiet](crate::queue::QueueSender::quiet) sender is written in the same
/// turn. When `main` ends, `side` is left as it is, for the caller to finish.
pub(crate) async fn alongside<M, S>(mut main: Pin<&mut M>, mut side: Pin<&mut S>) -> M::Output
where
    M: Future,
    S: FusedFuture<Output = ()>,
{
    let branch = Branch::new();
    let main_waker = Waker::from(branch.clone());
    std::future::poll_fn(|cx: &mut Context<'_>| {
        if branch.take(cx.waker())
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
}
