//! The invalidation bus: messages on a Redis pub/sub channel telling the other instances which
//! entries changed. The subscriber connects at start, resubscribes after every disconnect, and
//! tells its sink when it is (re)subscribed so the sink can drop what it cached meanwhile.

use super::redis_tier::RedisTier;
use futures::StreamExt;
use jamey_protocol::MemoryId;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Most memory ids one message or one pending batch holds before it becomes a full reset.
pub(crate) const MAX_IDS: usize = 10_000;

/// One message: what the sending instance changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Invalidation {
    /// The sending instance; an instance ignores its own messages.
    pub(crate) origin: uuid::Uuid,
    /// Memories that changed or were deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) ids: Vec<MemoryId>,
    /// Sessions whose search results changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) sessions: Vec<String>,
    /// Unscoped search results changed (every write does this).
    #[serde(default)]
    pub(crate) any: bool,
    /// Search results of every session may have changed (a delete whose session is unknown).
    #[serde(default)]
    pub(crate) every_session: bool,
    /// Drop everything cached in process.
    #[serde(default)]
    pub(crate) reset: bool,
}

impl Invalidation {
    /// Adds `other` to this one.
    pub(crate) fn merge(&mut self, other: Invalidation) {
        self.ids.extend(other.ids);
        self.ids.sort_unstable();
        self.ids.dedup();
        self.sessions.extend(other.sessions);
        self.sessions.sort_unstable();
        self.sessions.dedup();
        self.any |= other.any;
        self.every_session |= other.every_session;
        self.reset |= other.reset;
        if self.ids.len() > MAX_IDS {
            self.ids.clear();
            self.reset = true;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.sessions.is_empty()
            && !self.any
            && !self.every_session
            && !self.reset
    }
}

/// What the subscriber reports to.
pub(crate) trait InvalidationSink: Send + Sync {
    /// A message from another instance.
    fn apply(&self, invalidation: &Invalidation);
    /// The subscription is (again) in place: anything cached without it may be stale.
    fn subscribed(&self);
    /// The subscription is lost: invalidations from others no longer arrive.
    fn unsubscribed(&self);
}

/// Invalidations waiting for the coalescing window to end.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pending: Mutex<Option<Invalidation>>,
}

impl Outbox {
    /// Queues `invalidation`; true when it opened a new batch (the caller schedules the flush).
    pub(crate) fn add(&self, invalidation: Invalidation) -> bool {
        let mut pending = self.pending.lock();
        match pending.as_mut() {
            Some(batch) => {
                batch.merge(invalidation);
                false
            }
            None => {
                *pending = Some(invalidation);
                true
            }
        }
    }

    pub(crate) fn take(&self) -> Option<Invalidation> {
        self.pending.lock().take()
    }
}

/// Runs the subscription until `stop` closes or the sink is gone.
pub(crate) fn spawn_subscriber(
    tier: Arc<RedisTier>,
    channel: String,
    origin: uuid::Uuid,
    sink: Weak<dyn InvalidationSink>,
    mut stop: watch::Receiver<()>,
) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            if sink.upgrade().is_none() {
                return;
            }
            let connect = async {
                let mut pubsub = tier.client().get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let attempt = tokio::select! {
                _ = stop.changed() => return,
                attempt = tokio::time::timeout(tier.config().connect_timeout * 2, connect) => attempt,
            };
            match attempt {
                Ok(Ok(pubsub)) => {
                    backoff = Duration::from_millis(50);
                    if let Some(sink) = sink.upgrade() {
                        sink.subscribed();
                    }
                    tracing::info!(%channel, "subscribed to cache invalidations");
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let message = tokio::select! {
                            _ = stop.changed() => return,
                            message = messages.next() => message,
                        };
                        let Some(message) = message else { break };
                        let Some(sink) = sink.upgrade() else { return };
                        match serde_json::from_slice::<Invalidation>(message.get_payload_bytes()) {
                            Ok(invalidation) if invalidation.origin != origin => {
                                sink.apply(&invalidation)
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "ignoring a malformed invalidation message")
                            }
                        }
                    }
                    tracing::warn!(%channel, "cache invalidation subscription lost; resubscribing");
                    if let Some(sink) = sink.upgrade() {
                        sink.unsubscribed();
                    }
                }
                Ok(Err(error)) => tracing::debug!(%error, "cannot subscribe to invalidations"),
                Err(_) => tracing::debug!("subscribing to invalidations timed out"),
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_merge_without_duplicates_and_overflow_into_a_reset() {
        let outbox = Outbox::default();
        let id = uuid::Uuid::new_v4();
        assert!(outbox.add(Invalidation {
            ids: vec![id],
            sessions: vec!["s".into()],
            ..Default::default()
        }));
        assert!(!outbox.add(Invalidation {
            ids: vec![id],
            any: true,
            ..Default::default()
        }));
        let batch = outbox.take().unwrap();
        assert_eq!(batch.ids, vec![id]);
        assert!(batch.any && batch.sessions == vec!["s".to_string()]);
        assert!(outbox.take().is_none());

        let mut big = Invalidation::default();
        big.merge(Invalidation {
            ids: (0..=MAX_IDS).map(|_| uuid::Uuid::new_v4()).collect(),
            ..Default::default()
        });
        assert!(big.reset && big.ids.is_empty() && !big.is_empty());
    }

    #[test]
    fn messages_are_small_json() {
        let message = Invalidation {
            origin: uuid::Uuid::nil(),
            any: true,
            ..Default::default()
        };
        let text = serde_json::to_string(&message).unwrap();
        assert!(!text.contains("ids") && text.len() < 120, "{text}");
        assert_eq!(
            serde_json::from_str::<Invalidation>(&text).unwrap(),
            message
        );
    }
}
