//! Queues bounded in bytes: what waits for one client (outbound frames) and for one
//! connection's handlers (server-side events).
//!
//! A queue holds at most its budget of bytes; a single item larger than the whole
//! budget is let in when the queue is empty, alone, so that no message is too big to
//! send. Pushing never copies: items are the frame bytes shared by every receiver.

use std::sync::Arc;

use tokio::sync::{Semaphore, TryAcquireError, mpsc};

/// What an item costs against the budget.
pub(crate) trait Cost {
    /// Its size in bytes.
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

/// The sending half; cloneable.
#[derive(Debug)]
pub(crate) struct QueueSender<T> {
    tx: mpsc::UnboundedSender<(T, u32)>,
    budget: Arc<Semaphore>,
    limit: usize,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender { tx: self.tx.clone(), budget: self.budget.clone(), limit: self.limit }
    }
}

/// The receiving half: returns the budget of what it takes.
#[derive(Debug)]
pub(crate) struct QueueReceiver<T> {
    rx: mpsc::UnboundedReceiver<(T, u32)>,
    budget: Arc<Semaphore>,
    /// Reused by `recv_many`.
    scratch: Vec<(T, u32)>,
}

impl<T> Drop for QueueReceiver<T> {
    /// Senders waiting for room fail at once instead of waiting forever.
    fn drop(&mut self) {
        self.budget.close();
    }
}

/// A queue of at most `limit` bytes.
pub(crate) fn queue<T: Cost>(limit: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    // A semaphore holds at most `Semaphore::MAX_PERMITS`, and a permit count is a u32.
    let limit = limit.clamp(1, u32::MAX as usize >> 1);
    let budget = Arc::new(Semaphore::new(limit));
    let (tx, rx) = mpsc::unbounded_channel();
    (QueueSender { tx, budget: budget.clone(), limit }, QueueReceiver { rx, budget, scratch: Vec::new() })
}

impl<T: Cost> QueueSender<T> {
    fn permits(&self, item: &T) -> u32 {
        // Bounded by `limit`, which fits a u32.
        item.cost().clamp(1, self.limit) as u32
    }

    /// Queues `item` if the budget allows, without waiting.
    pub fn try_push(&self, item: T) -> Result<(), PushError> {
        let permits = self.permits(&item);
        match self.budget.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::NoPermits) => return Err(PushError::Full),
            Err(TryAcquireError::Closed) => return Err(PushError::Closed),
        }
        self.tx.send((item, permits)).map_err(|_| PushError::Closed)
    }

    /// Queues `item`, waiting while the queue is over budget.
    pub async fn push(&self, item: T) -> Result<(), PushError> {
        let permits = self.permits(&item);
        match self.budget.acquire_many(permits).await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(PushError::Closed),
        }
        self.tx.send((item, permits)).map_err(|_| PushError::Closed)
    }

    /// Whether the receiving side is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The bytes queued now.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.limit - self.budget.available_permits()
    }
}

impl<T> QueueReceiver<T> {
    /// The next item, or `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<T> {
        let (item, permits) = self.rx.recv().await?;
        self.budget.add_permits(permits as usize);
        Some(item)
    }

    /// Up to `max` items at once (waits for the first), appended to `batch`; 0 once
    /// every sender is gone. Their budget is returned in one step.
    pub async fn recv_many(&mut self, batch: &mut Vec<T>, max: usize) -> usize {
        let received = self.rx.recv_many(&mut self.scratch, max).await;
        let mut permits = 0usize;
        batch.extend(self.scratch.drain(..).map(|(item, cost)| {
            permits += cost as usize;
            item
        }));
        self.budget.add_permits(permits);
        received
    }

    /// An item if one is queued now.
    pub fn try_recv(&mut self) -> Option<T> {
        let (item, permits) = self.rx.try_recv().ok()?;
        self.budget.add_permits(permits as usize);
        Some(item)
    }

    /// Drops everything queued and refuses further items: waiting senders fail.
    pub fn close(&mut self) {
        self.budget.close();
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
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
        let mut batch = Vec::new();
        assert_eq!(rx.recv_many(&mut batch, 8).await, 1);
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

    #[tokio::test]
    async fn a_waiting_sender_gets_room_or_fails_on_close() {
        let (tx, mut rx) = queue::<Vec<u8>>(10);
        tx.try_push(vec![0; 10]).unwrap();
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.push(vec![1; 5]).await }
        });
        assert_eq!(rx.recv().await.map(|v| v.len()), Some(10));
        assert_eq!(waiting.await.unwrap(), Ok(()));
        tx.try_push(vec![0; 5]).unwrap();
        let blocked = tokio::spawn({
            let tx = tx.clone();
            async move { tx.push(vec![1; 9]).await }
        });
        tokio::task::yield_now().await;
        rx.close();
        assert_eq!(blocked.await.unwrap(), Err(PushError::Closed));
        assert_eq!(tx.try_push(vec![0; 1]), Err(PushError::Closed));
    }
}
