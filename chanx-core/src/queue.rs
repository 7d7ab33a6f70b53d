//! Queues bounded in bytes: what waits for one client (outbound frames) and for one
//! connection's handlers (server-side events).
//!
//! A queue holds at most its budget of bytes; a single item larger than the whole
//! budget is let in when the queue is empty, alone, so that no message is too big to
//! send. Pushing never copies: items are the frame bytes shared by every receiver.
//!
//! A push wakes the receiver's task, except a push through a [quiet](QueueSender::quiet)
//! sender: that one is for code the receiver's own task runs, which polls the receiver
//! after every poll of that code (see `connection::runtime`), so a wake-up would only
//! make the task run once more for nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::{Semaphore, TryAcquireError};

/// The most items an idle queue keeps room for (see [`QueueReceiver::give_back`]).
const KEPT_CAPACITY: usize = 8;

/// What an item costs against the budget.
pub(crate) trait Cost {
    /// Its size in bytes; the same each time it is asked (it is asked when the item is
    /// queued and again when it is taken).
    fn cost(&self) -> usize;
}

/// Why an item was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The queue is over its budget.
    Full,
    /// The receiving side is gone.
    Closed,
}

/// What both halves share: the queued items, the budget, and who is still there.
#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    /// The receiver's task, woken when an item arrives or the last sender leaves.
    ready: AtomicWaker,
    budget: Semaphore,
    limit: usize,
    /// Every sender is gone; set with the last sender's leaving, read without the lock.
    ended: AtomicBool,
}

#[derive(Debug)]
struct State<T> {
    /// Allocated on the first item, not before, and dropped when the receiver empties
    /// it, except the small storage the writer gives back: most connections never get
    /// an event, and an idle one keeps room for a few frames at most.
    items: VecDeque<T>,
    /// The budget the queued items took, returned when they are taken.
    permits: usize,
    senders: usize,
    /// The receiver is gone or closed the queue.
    closed: bool,
}

impl<T> Shared<T> {
    fn state(&self) -> MutexGuard<'_, State<T>> {
        // No code panics while holding this lock; recover the data if one ever did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Nothing is queued and a sender is still there: what a receiver finds most of the
    /// time, read from two atomics instead of the lock. An item whose budget is taken
    /// but which is not queued yet counts as queued (the receiver then looks under the
    /// lock).
    fn idle(&self) -> bool {
        self.budget.available_permits() == self.limit && !self.ended.load(Ordering::Acquire)
    }
}

impl<T: Cost> Shared<T> {
    /// What `item` takes of the budget.
    fn permits(&self, item: &T) -> u32 {
        // Bounded by `limit`, which fits a u32.
        item.cost().clamp(1, self.limit) as u32
    }
}

/// The sending half; cloneable.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    shared: Arc<Shared<T>>,
    /// Pushes wake the receiver's task: false only for a [quiet](Self::quiet) sender.
    wakes: bool,
}

impl<T> Clone for QueueSender<T> {
    /// A clone always wakes the receiver, even a quiet sender's: it may be used from
    /// any task.
    fn clone(&self) -> Self {
        self.shared.state().senders += 1;
        QueueSender { shared: self.shared.clone(), wakes: true }
    }
}

impl<T> Drop for QueueSender<T> {
    /// The last sender to leave wakes the receiver, which then sees the end.
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.senders -= 1;
        if state.senders == 0 {
            drop(state);
            self.shared.ended.store(true, Ordering::Release);
            self.shared.ready.wake();
        }
    }
}

/// The receiving half: returns the budget of what it takes.
#[derive(Debug)]
pub(crate) struct QueueReceiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Drop for QueueReceiver<T> {
    /// Senders waiting for room fail at once instead of waiting forever.
    fn drop(&mut self) {
        self.close();
    }
}

/// A queue of at most `limit` bytes.
pub(crate) fn queue<T: Cost>(limit: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    // A semaphore holds at most `Semaphore::MAX_PERMITS`, and a permit count is a u32.
    let limit = limit.clamp(1, u32::MAX as usize >> 1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State { items: VecDeque::new(), permits: 0, senders: 1, closed: false }),
        ready: AtomicWaker::new(),
        budget: Semaphore::new(limit),
        limit,
        ended: AtomicBool::new(false),
    });
    (QueueSender { shared: shared.clone(), wakes: true }, QueueReceiver { shared })
}

impl<T> QueueSender<T> {
    /// This sender, made quiet: its pushes do not wake the receiver's task. Only for
    /// code that the receiver's task runs and after which it polls the receiver.
    pub fn quiet(mut self) -> Self {
        self.wakes = false;
        self
    }
}

impl<T: Cost> QueueSender<T> {
    /// Queues an item whose budget, `permits`, is already taken.
    fn enqueue(&self, item: T, permits: u32) -> Result<(), PushError> {
        let mut state = self.shared.state();
        if state.closed {
            return Err(PushError::Closed);
        }
        state.items.push_back(item);
        state.permits += permits as usize;
        drop(state);
        if self.wakes {
            self.shared.ready.wake();
        }
        Ok(())
    }

    /// Queues `item` if the budget allows, without waiting.
    pub fn try_push(&self, item: T) -> Result<(), PushError> {
        let permits = self.shared.permits(&item);
        match self.shared.budget.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::NoPermits) => return Err(PushError::Full),
            Err(TryAcquireError::Closed) => return Err(PushError::Closed),
        }
        self.enqueue(item, permits)
    }

    /// Queues `item`, waiting while the queue is over budget, for at most `patience`
    /// (then [`PushError::Full`]). Takes the budget at once when there is room: a
    /// timer is only set for a wait.
    pub async fn push(&self, item: T, patience: Option<Duration>) -> Result<(), PushError> {
        let permits = self.shared.permits(&item);
        match self.shared.budget.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::Closed) => return Err(PushError::Closed),
            // Boxed: the wait (and its timer) is rare, and inline it would size the future
            // of every send, which is part of every frame's step.
            Err(TryAcquireError::NoPermits) => Box::pin(self.wait_for_room(permits, patience)).await?,
        }
        self.enqueue(item, permits)
    }

    /// Takes `permits` of the budget once there is room, waiting at most `patience`.
    async fn wait_for_room(&self, permits: u32, patience: Option<Duration>) -> Result<(), PushError> {
        let acquire = self.shared.budget.acquire_many(permits);
        let acquired = match patience {
            None => acquire.await,
            Some(patience) => tokio::time::timeout(patience, acquire).await.map_err(|_| PushError::Full)?,
        };
        acquired.map_err(|_| PushError::Closed)?.forget();
        Ok(())
    }

    /// Whether the receiving side is gone (its closing closes the budget too).
    pub fn is_closed(&self) -> bool {
        self.shared.budget.is_closed()
    }

    /// The bytes queued now.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.shared.limit - self.shared.budget.available_permits()
    }
}

impl<T: Cost> QueueReceiver<T> {
    /// Takes every queued item into `batch` now; `None` when there are none and every
    /// sender is gone (the end), `Some(0)` when there are none yet. Into an empty
    /// batch, the queue's storage is handed over whole (the queue gets the batch's).
    fn take(&self, batch: &mut VecDeque<T>) -> Option<usize> {
        if self.shared.idle() {
            return Some(0);
        }
        let mut state = self.shared.state();
        if state.items.is_empty() {
            return (state.senders > 0).then_some(0);
        }
        let start = batch.len();
        if start == 0 {
            std::mem::swap(&mut state.items, batch);
        } else {
            batch.extend(state.items.drain(..));
        }
        // The queue is empty now; whatever storage it got from the batch goes, and the
        // batch's comes back through `give_back` once it is written.
        let spare = std::mem::take(&mut state.items);
        let permits = std::mem::take(&mut state.permits);
        drop(state);
        drop(spare);
        self.shared.budget.add_permits(permits);
        Some(batch.len() - start)
    }

    /// The oldest queued item, if any; `Err(())` when there is none and every sender
    /// is gone.
    fn pop(&self) -> Result<Option<T>, ()> {
        if self.shared.idle() {
            return Ok(None);
        }
        let mut state = self.shared.state();
        match state.items.pop_front() {
            Some(item) => {
                let permits = self.shared.permits(&item) as usize;
                // What it took when it was queued: an item's cost does not change.
                debug_assert!(state.permits >= permits, "a queued item's cost changed");
                state.permits -= permits;
                // An emptied queue gives its storage back.
                let spare =
                    if state.items.is_empty() { std::mem::take(&mut state.items) } else { VecDeque::new() };
                drop(state);
                drop(spare);
                self.shared.budget.add_permits(permits);
                Ok(Some(item))
            }
            None if state.senders == 0 => Err(()),
            None => Ok(None),
        }
    }

    /// Runs `attempt`; when it finds nothing, registers the task and runs it once
    /// more, so that an item pushed in between is not missed. Every poll looks at the
    /// queue, so an item a quiet sender pushed is seen without a wake-up.
    fn poll<R>(&self, cx: &mut Context<'_>, mut attempt: impl FnMut() -> Option<R>) -> Poll<R> {
        if let Some(ready) = attempt() {
            return Poll::Ready(ready);
        }
        self.shared.ready.register(cx.waker());
        attempt().map_or(Poll::Pending, Poll::Ready)
    }

    /// The next item, or `None` once every sender is gone. (The connection's loop polls
    /// its event queue through [`poll_recv`](Self::poll_recv).)
    #[cfg(any(feature = "client", feature = "redis", test))]
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll(cx, || match self.pop() {
            Ok(Some(item)) => Some(Some(item)),
            Ok(None) => None,
            Err(()) => Some(None),
        })
    }

    /// Every queued item at once, appended to `batch`: ready with their count once
    /// there is one, or with 0 once every sender is gone. Their budget is returned in
    /// one step.
    pub fn poll_recv_many(&self, cx: &mut Context<'_>, batch: &mut VecDeque<T>) -> Poll<usize> {
        self.poll(cx, || match self.take(batch) {
            None => Some(0),
            Some(0) => None,
            Some(count) => Some(count),
        })
    }

    /// An item if one is queued now.
    pub fn try_recv(&mut self) -> Option<T> {
        self.pop().ok().flatten()
    }
}

impl<T> QueueReceiver<T> {
    /// Gives an emptied batch's storage back to the queue, which keeps it to store
    /// what comes next if it has none and the storage is small (a burst's large
    /// storage is dropped).
    pub fn give_back(&self, mut storage: VecDeque<T>) {
        storage.clear();
        if storage.capacity() > KEPT_CAPACITY {
            return;
        }
        let mut state = self.shared.state();
        if state.items.capacity() == 0 && !state.closed {
            std::mem::swap(&mut state.items, &mut storage);
        }
    }

    /// Drops everything queued and refuses further items: waiting senders fail.
    pub fn close(&mut self) {
        self.shared.budget.close();
        let dropped = {
            let mut state = self.shared.state();
            state.closed = true;
            state.permits = 0;
            std::mem::take(&mut state.items)
        };
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    impl Cost for Vec<u8> {
        fn cost(&self) -> usize {
            self.len()
        }
    }

    #[tokio::test]
    async fn bounded_in_bytes_not_items() {
        let (tx, mut rx) = queue::<Vec<u8>>(100);
        assert_eq!(tx.try_push(vec![0; 60]), Ok(()));
        assert_eq!(tx.try_push(vec![0; 60]), Err(PushError::Full), "120 bytes exceed 100");
        assert_eq!(tx.try_push(vec![0; 40]), Ok(()));
        assert_eq!(tx.queued(), 100);
        assert_eq!(rx.recv().await.map(|v| v.len()), Some(60));
        assert_eq!(tx.queued(), 40);
        let mut batch = VecDeque::new();
        assert_eq!(poll_fn(|cx| rx.poll_recv_many(cx, &mut batch)).await, 1);
        assert_eq!(tx.queued(), 0);
    }

    #[tokio::test]
    async fn an_item_larger_than_the_budget_goes_alone() {
        let (tx, mut rx) = queue::<Vec<u8>>(100);
        assert_eq!(tx.try_push(vec![0; 1000]), Ok(()));
        assert_eq!(tx.try_push(vec![0; 1]), Err(PushError::Full));
        assert_eq!(rx.recv().await.map(|v| v.len()), Some(1000));
        assert_eq!(tx.try_push(vec![0; 1]), Ok(()));
    }

    /// A waker that counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn a_quiet_sender_wakes_nobody_its_clones_do_and_every_poll_looks() {
        let (tx, rx) = queue::<Vec<u8>>(100);
        let quiet = tx.clone().quiet();
        let wakes = Arc::new(Count(Default::default()));
        let waker = std::task::Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let woken = || wakes.0.load(std::sync::atomic::Ordering::Relaxed);
        assert!(rx.poll_recv(&mut cx).is_pending());
        quiet.try_push(vec![1]).unwrap();
        assert_eq!(woken(), 0);
        // Not woken, but the next poll finds it.
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(item)) if item == [1]));
        assert!(rx.poll_recv(&mut cx).is_pending());
        quiet.clone().try_push(vec![2]).unwrap();
        assert_eq!(woken(), 1, "a clone of a quiet sender wakes");
        assert!(rx.poll_recv(&mut cx).is_ready());
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.try_push(vec![3]).unwrap();
        tx.try_push(vec![4]).unwrap();
        assert_eq!(woken(), 2, "one wake-up until the receiver polls again");
    }

    #[test]
    fn the_last_sender_leaving_ends_the_queue_after_its_items() {
        let (tx, rx) = queue::<Vec<u8>>(100);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(rx.poll_recv(&mut cx).is_pending(), "empty and open");
        tx.try_push(vec![1]).unwrap();
        drop(tx);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(item)) if item == [1]));
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(None)), "then the end");
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_or_fails_on_close() {
        let (tx, mut rx) = queue::<Vec<u8>>(10);
        tx.try_push(vec![0; 10]).unwrap();
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.push(vec![1; 5], None).await }
        });
        assert_eq!(rx.recv().await.map(|v| v.len()), Some(10));
        assert_eq!(waiting.await.unwrap(), Ok(()));
        tx.try_push(vec![0; 5]).unwrap();
        let blocked = tokio::spawn({
            let tx = tx.clone();
            async move { tx.push(vec![1; 9], None).await }
        });
        tokio::task::yield_now().await;
        rx.close();
        assert_eq!(blocked.await.unwrap(), Err(PushError::Closed));
        assert_eq!(tx.try_push(vec![0; 1]), Err(PushError::Closed));
    }
}
