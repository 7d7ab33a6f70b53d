//! The tutorial's named channel layers, shared by every example app and by the external
//! sender. A consumer picks one with `#[channel(layer = "alias")]`.
//!
//! Without `REDIS_URL`, every alias is an in-memory layer of its own, so an app runs
//! alone in one process. With `REDIS_URL`, the layers live on that Redis server and
//! several processes (the showcase and the external sender, or Python Chanx) share them:
//!
//! | alias | layer | prefix |
//! |---|---|---|
//! | `memory` | in memory | - |
//! | `chat` | Redis pub/sub | `chat` |
//! | `queue` | Redis queue, messages kept 900 s, at most 1000 per process | `queue` |
//! | `notifications` | Redis pub/sub | `notify` |
//! | `analytics` | Redis queue, messages kept 3600 s, at most 5000 per process | `analytics` |
//!
//! The default layer is in memory either way. Redis need not answer when an app starts:
//! see [`build`].

use std::time::Duration;

use chanx::layer::redis::{RedisPubSubLayer, RedisQueueLayer};
use chanx::layer::{InMemoryLayer, LayerError, Layers};

/// Every alias the tutorial's consumers may name.
pub const ALIASES: [&str; 5] = ["memory", "chat", "queue", "notifications", "analytics"];

/// A layer that could not be set up: which alias, on which server, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the channel layer `{alias}` on {url}: {source}")]
pub struct SetupError {
    /// The alias of the layer.
    pub alias: &'static str,
    /// The Redis URL, without its password.
    pub url: String,
    /// What went wrong.
    #[source]
    pub source: LayerError,
}

/// The Redis server from `REDIS_URL`, if it is set and not empty.
pub fn redis_url() -> Option<String> {
    std::env::var("REDIS_URL").ok().filter(|url| !url.trim().is_empty())
}

/// The tutorial's layers: on the Redis server at `redis_url`, or all in memory
/// without one. Never waits for Redis: with Redis down the app starts, logs it, and
/// closes the connections of consumers on its layers with 1011 until Redis answers.
/// Fails only for a URL that cannot be parsed. Must run inside a tokio runtime.
pub fn build(redis_url: Option<&str>) -> Result<Layers, SetupError> {
    let Some(url) = redis_url else { return Ok(in_memory()) };
    let failed = |alias| move |source| SetupError { alias, url: without_password(url), source };
    let chat = pub_sub_layer(url, "chat").map_err(failed("chat"))?;
    let notifications = pub_sub_layer(url, "notify").map_err(failed("notifications"))?;
    let queue = queue_layer(url, "queue", Duration::from_secs(900), 1000).map_err(failed("queue"))?;
    let analytics =
        queue_layer(url, "analytics", Duration::from_secs(3600), 5000).map_err(failed("analytics"))?;
    Ok(Layers::new(InMemoryLayer::new())
        .with("memory", InMemoryLayer::new())
        .with("chat", chat)
        .with("queue", queue)
        .with("notifications", notifications)
        .with("analytics", analytics))
}

/// Every alias in memory, each its own layer, as with Redis each has its own prefix.
pub fn in_memory() -> Layers {
    ALIASES
        .into_iter()
        .fold(Layers::new(InMemoryLayer::new()), |layers, alias| layers.with(alias, InMemoryLayer::new()))
}

fn pub_sub_layer(url: &str, prefix: &str) -> Result<RedisPubSubLayer, LayerError> {
    RedisPubSubLayer::builder().host(url).prefix(prefix).build()
}

/// A Redis queue layer: messages stored for `expiry`, at most `capacity` per process.
fn queue_layer(
    url: &str,
    prefix: &str,
    expiry: Duration,
    capacity: usize,
) -> Result<RedisQueueLayer, LayerError> {
    RedisQueueLayer::builder().host(url).prefix(prefix).expiry(expiry).capacity(capacity).build()
}

/// `url` with any password replaced by `***`, for logs.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((user_info, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://***@{host}"),
    }
}
