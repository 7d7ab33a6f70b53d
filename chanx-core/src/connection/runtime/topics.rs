//! The topic protocol on one connection: `subscribe` and `unsubscribe`, frames for a
//! subscribed topic, the standalone route's subscription, and leaving every topic when
//! the connection ends.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::protocol::frame::RawPayload;
use futures_util::FutureExt;

use super::{Connection, INTERNAL_ERROR, send, send_failure, settle};
use crate::connection::channel::Dispatch;
use crate::connection::consumer::{Consumer, Disconnect};
use crate::connection::context::Context;
use crate::connection::topic::{Subscription, TopicType};
use crate::log::{panic_text, throttled};
use crate::protocol::frame;
use crate::protocol::message::{
    ErrorMessage, ErrorPayload, Message, SubscribeMessage, SubscribedMessage, TopicErrorReason,
    UnsubscribeMessage, UnsubscribedMessage,
};
use crate::protocol::validate::ErrorItem;
use crate::settings::Settings;
use crate::stats::count;

/// Close code of a standalone route whose `authorize` refused the subscription.
const FORBIDDEN: u16 = 4403;
/// Close code of a standalone route whose path does not name a topic of its type.
const NOT_FOUND: u16 = 4404;

/// The topics a connection may subscribe to, and those it is subscribed to.
pub(super) struct Subscriptions {
    types: &'static [TopicType],
    active: HashMap<Arc<str>, Active>,
    limit: usize,
}

/// One subscription: its topic's value and type (which names its group in the layer).
struct Active {
    topic: Box<dyn Subscription>,
    kind: &'static TopicType,
}

/// How a `subscribe` ended.
#[derive(Debug, PartialEq, Eq)]
enum Subscribed {
    Yes,
    Refused(TopicErrorReason),
    Failed,
}

impl Subscriptions {
    pub(super) fn new(types: &'static [TopicType], settings: &Settings) -> Self {
        Subscriptions { types, active: HashMap::new(), limit: settings.max_subscriptions }
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.active.contains_key(name)
    }

    /// The actions of a subscribed topic (none for another name).
    pub(super) fn actions(&self, name: &str) -> &'static [&'static str] {
        self.active.get(name).map_or(&[], |active| active.kind.actions())
    }

    /// The name under which `name` is subscribed, shared with its frames.
    pub(super) fn name(&self, name: &str) -> Option<Arc<str>> {
        self.active.get_key_value(name).map(|(name, _)| name.clone())
    }

    /// Runs the `#[event_handler]` of the subscription to `name`.
    pub(super) async fn dispatch_event(
        &mut self,
        cx: &mut Context,
        name: &str,
        action: &str,
        payload: Option<RawPayload<'_>>,
    ) -> std::thread::Result<Dispatch> {
        match self.active.get_mut(name) {
            Some(active) => {
                AssertUnwindSafe(active.topic.dispatch_event(cx, action, payload)).catch_unwind().await
            }
            None => Ok(Dispatch::Unknown),
        }
    }
}

impl<C: Consumer> Connection<'_, C> {
    /// Handles a client frame for the topic `name` (in `cx.topic`); `Err` holds the
    /// errors that replace its answer.
    pub(super) async fn on_topic_action(
        &mut self,
        name: &Arc<str>,
        action: &str,
        payload: Option<RawPayload<'_>>,
    ) -> Result<(), Vec<ErrorItem>> {
        match action {
            SubscribeMessage::ACTION => {
                self.subscribe(name).await;
                Ok(())
            }
            UnsubscribeMessage::ACTION => {
                self.unsubscribe(name).await;
                Ok(())
            }
            _ => {
                let Some(active) = self.topics.active.get_mut(&**name) else {
                    self.not_subscribed().await;
                    return Ok(());
                };
                let cx = &mut self.cx;
                let dispatched =
                    AssertUnwindSafe(active.topic.dispatch(cx, action, payload)).catch_unwind().await;
                settle(cx, action, active.kind.actions(), dispatched).await
            }
        }
    }

    /// Answers a frame for a topic this connection is not subscribed to.
    pub(super) async fn not_subscribed(&mut self) {
        let detail = format!("Not subscribed to '{}'", self.topic_quote());
        self.topic_error(TopicErrorReason::NotSubscribed, detail).await;
    }

    /// Subscribes to `name` (in `cx.topic`) and acknowledges it, or says why not.
    async fn subscribe(&mut self, name: &Arc<str>) -> Subscribed {
        if self.topics.contains(name) {
            send(&self.cx, &SubscribedMessage, self.cx.keys()).await;
            return Subscribed::Yes;
        }
        if self.topics.active.len() >= self.topics.limit {
            let limit = self.topics.limit;
            count(&self.settings.stats.subscription_limit);
            throttled!(warn, limit, "subscription limit reached; subscribe refused");
            let detail = format!("Too many subscriptions: at most {limit} per connection");
            return self.refuse(TopicErrorReason::TooManySubscriptions, detail).await;
        }
        let Some((kind, mut topic)) =
            self.topics.types.iter().find_map(|kind| Some((kind, kind.open(name)?)))
        else {
            let detail = format!("Unknown topic '{}'", self.topic_quote());
            return self.refuse(TopicErrorReason::UnknownTopic, detail).await;
        };
        match AssertUnwindSafe(topic.authorize(&self.cx)).catch_unwind().await {
            Ok(true) => {}
            Ok(false) => {
                let detail = format!("Not allowed to subscribe to '{}'", self.topic_quote());
                return self.refuse(TopicErrorReason::Unauthorized, detail).await;
            }
            Err(panic) => {
                throttled!(error, topic = %name, panic = panic_text(&panic), "authorize panicked");
                send_failure(&self.cx, SubscribeMessage::ACTION).await;
                return Subscribed::Failed;
            }
        }
        let group = kind.group(name);
        if let Err(error) = self.cx.layer().layer().group_add(&group, self.cx.channel_name()).await {
            throttled!(error, %error, group, "cannot join a topic's group");
            send_failure(&self.cx, SubscribeMessage::ACTION).await;
            return Subscribed::Failed;
        }
        let active = Active { topic, kind };
        let active = self.topics.active.entry(name.clone()).insert_entry(active).into_mut();
        send(&self.cx, &SubscribedMessage, self.cx.keys()).await;
        // What the hook sends is state, not an answer to the request: no `ref`.
        let reference = self.cx.reference.take();
        let hooked = AssertUnwindSafe(active.topic.on_subscribe(&mut self.cx)).catch_unwind().await;
        let failure = match hooked {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(panic) => Some(panic_text(&panic).to_owned()),
        };
        if let Some(failure) = failure {
            throttled!(error, topic = %name, error = failure, "on_subscribe failed");
            send_failure(&self.cx, SubscribeMessage::ACTION).await;
        }
        self.cx.reference = reference;
        Subscribed::Yes
    }

    /// Leaves `name` (in `cx.topic`), if subscribed, and acknowledges it either way.
    async fn unsubscribe(&mut self, name: &str) {
        if let Some(active) = self.topics.active.remove(name) {
            self.leave(name, active).await;
        }
        send(&self.cx, &UnsubscribedMessage, self.cx.keys()).await;
    }

    /// Runs `on_unsubscribe` of the subscription to `name` and leaves its group.
    async fn leave(&mut self, name: &str, mut active: Active) {
        let hooked = AssertUnwindSafe(active.topic.on_unsubscribe(&mut self.cx)).catch_unwind().await;
        if let Err(panic) = hooked {
            throttled!(error, panic = panic_text(&panic), "on_unsubscribe panicked");
        }
        leave_group(&self.cx, &active.kind.group(name)).await;
    }

    /// Leaves every topic as the connection ends: each `on_unsubscribe`, all of them
    /// within the close timeout, then every group, whatever the hooks did.
    pub(super) async fn end_subscriptions(&mut self) {
        if self.topics.active.is_empty() {
            return;
        }
        let active: Vec<(Arc<str>, Active)> = self.topics.active.drain().collect();
        self.cx.reference = None;
        self.cx.seq = None;
        let groups: Vec<String> = active.iter().map(|(name, active)| active.kind.group(name)).collect();
        let limit = self.settings.close_timeout;
        let cx = &mut self.cx;
        let hooks = async {
            for (name, mut active) in active {
                cx.topic = Some(name);
                let hooked = AssertUnwindSafe(active.topic.on_unsubscribe(cx)).catch_unwind().await;
                if let Err(panic) = hooked {
                    throttled!(error, panic = panic_text(&panic), "on_unsubscribe panicked");
                }
            }
        };
        if tokio::time::timeout(limit, hooks).await.is_err() {
            throttled!(warn, "on_unsubscribe did not finish within the close timeout");
        }
        self.cx.topic = None;
        for group in groups {
            leave_group(&self.cx, &group).await;
        }
    }

    /// On a standalone route, subscribes to the topic the path names; `Some` when the
    /// connection ends there.
    pub(super) async fn open_standalone(&mut self) -> Option<Disconnect> {
        let kind = C::TOPICS.first()?;
        let name: Arc<str> = match fill(kind.pattern(), |parameter| self.cx.path_param(parameter)) {
            Ok(name) => Arc::from(name),
            Err(missing) => {
                throttled!(
                    error,
                    pattern = kind.pattern(),
                    parameter = missing,
                    "the route of a standalone topic has no path parameter for this pattern parameter"
                );
                return Some(self.server_close(INTERNAL_ERROR, "Internal error"));
            }
        };
        self.cx.topic = Some(name.clone());
        let subscribed = self.subscribe(&name).await;
        self.cx.topic = None;
        match subscribed {
            Subscribed::Yes => {
                self.default_topic = Some(name);
                None
            }
            Subscribed::Refused(TopicErrorReason::Unauthorized) => {
                Some(self.server_close(FORBIDDEN, "Unauthorized"))
            }
            Subscribed::Refused(_) => Some(self.server_close(NOT_FOUND, "Unknown topic")),
            Subscribed::Failed => Some(self.server_close(INTERNAL_ERROR, "Internal error")),
        }
    }

    /// Sends a topic error and says so.
    async fn refuse(&mut self, reason: TopicErrorReason, detail: String) -> Subscribed {
        self.topic_error(reason, detail).await;
        Subscribed::Refused(reason)
    }

    async fn topic_error(&mut self, reason: TopicErrorReason, detail: String) {
        tracing::debug!(topic = self.cx.topic(), ?reason, "topic error");
        let error = ErrorMessage { payload: ErrorPayload::Topic { reason, detail } };
        send(&self.cx, &error, self.cx.keys()).await;
    }

    /// The topic in `cx.topic`, cut as error messages quote client input.
    fn topic_quote(&self) -> String {
        frame::clip(self.cx.topic().unwrap_or_default()).into_owned()
    }
}

async fn leave_group(cx: &Context, group: &str) {
    if let Err(error) = cx.layer().layer().group_discard(group, cx.channel_name()).await {
        throttled!(warn, %error, group, "failed to leave a topic's group");
    }
}

/// `pattern` with each `{parameter}` replaced by its value; `Err` names a parameter
/// without one.
fn fill<'p, 'v>(pattern: &'p str, value: impl Fn(&str) -> Option<&'v str>) -> Result<String, &'p str> {
    let mut name = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        name.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { break };
        let parameter = &rest[start + 1..start + end];
        name.push_str(value(parameter).ok_or(parameter)?);
        rest = &rest[start + end + 1..];
    }
    name.push_str(rest);
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_filled_from_the_path() {
        let path = |parameter: &str| (parameter == "room").then_some("lobby");
        assert_eq!(fill("room:{room}", path), Ok("room:lobby".to_owned()));
        assert_eq!(fill("announcements", path), Ok("announcements".to_owned()));
        assert_eq!(fill("chat:{room}:{user}", path), Err("user"));
    }
}
