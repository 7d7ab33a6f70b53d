//! Counters of connections and of what the limits refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of connections and of what the limits refused, for metrics and tests.
/// Every refusal is also logged (at most one line per cause every few seconds).
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) open: Arc<AtomicU64>,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_origin: AtomicU64,
    pub(crate) refused_handshake: AtomicU64,
    pub(crate) refused_auth: AtomicU64,
    pub(crate) refused_limit: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) rate_limit_closes: AtomicU64,
    pub(crate) overflow_closes: AtomicU64,
    pub(crate) overflow_drops: AtomicU64,
    pub(crate) heartbeat_timeouts: AtomicU64,
    pub(crate) too_big: AtomicU64,
    pub(crate) group_limit: AtomicU64,
    pub(crate) subscription_limit: AtomicU64,
}

/// A copy of the [`Stats`] counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// WebSocket connections open now.
    pub open: u64,
    /// WebSocket connections accepted so far.
    pub accepted: u64,
    /// Upgrade requests refused by the origin policy (HTTP 403).
    pub refused_origin: u64,
    /// Malformed upgrade requests (HTTP 400, 426, 431).
    pub refused_handshake: u64,
    /// Upgrade requests refused by authentication before the upgrade.
    pub refused_auth: u64,
    /// Upgrade requests over a connection limit or the handshake timeout (HTTP 503).
    pub refused_limit: u64,
    /// Inbound frames dropped by the rate limit.
    pub rate_limited: u64,
    /// Connections closed by the rate limit (1008).
    pub rate_limit_closes: u64,
    /// Connections closed because their buffer overflowed (1013).
    pub overflow_closes: u64,
    /// Messages dropped for a connection whose buffer was full ([`Overflow::Drop`](crate::layer::Overflow::Drop)).
    pub overflow_drops: u64,
    /// Connections closed by the heartbeat (1011).
    pub heartbeat_timeouts: u64,
    /// Connections closed for a message over the size limit (1009).
    pub too_big: u64,
    /// Group joins refused by the per-connection group limit.
    pub group_limit: u64,
    /// Topic subscriptions refused by the per-connection subscription limit.
    pub subscription_limit: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            open: read(&self.open),
            accepted: read(&self.accepted),
            refused_origin: read(&self.refused_origin),
            refused_handshake: read(&self.refused_handshake),
            refused_auth: read(&self.refused_auth),
            refused_limit: read(&self.refused_limit),
            rate_limited: read(&self.rate_limited),
            rate_limit_closes: read(&self.rate_limit_closes),
            overflow_closes: read(&self.overflow_closes),
            overflow_drops: read(&self.overflow_drops),
            heartbeat_timeouts: read(&self.heartbeat_timeouts),
            too_big: read(&self.too_big),
            group_limit: read(&self.group_limit),
            subscription_limit: read(&self.subscription_limit),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
