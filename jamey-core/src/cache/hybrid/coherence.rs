//! Keeping the instances coherent: writes go through to Redis and are announced on the bus (now
//! or in a coalesced batch, as the policy decides), announcements from others are applied to L1,
//! and whatever failed to reach Redis is repaired once it is back.

use super::{Inner, Shared};
use crate::cache::bus::{Invalidation, InvalidationSink};
use crate::cache::policy::Dispatch;
use crate::cache::stats::CacheStats;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

impl Shared {
    fn remember_repair(&self, invalidation: Invalidation) {
        self.repair.lock().merge(invalidation);
    }
}

impl Inner {
    /// Writes `entries` to Redis and tells the other instances `invalidation`, now or with the
    /// next coalesced batch as the policy decides. Anything that did not reach Redis is
    /// remembered and repaired when Redis is back.
    pub(super) async fn write_through(
        self: &Arc<Self>,
        entries: Vec<(String, Vec<u8>)>,
        mut invalidation: Invalidation,
        reads: u32,
    ) {
        let Some(shared) = &self.shared else { return };
        let ttl = self.config.times.redis_ttl();
        match self.decider.decide(reads) {
            Dispatch::Now => {
                invalidation.origin = shared.origin;
                let message = encode_invalidation(&invalidation)
                    .map(|payload| (shared.channel.clone(), payload));
                let announced = message.is_some();
                // One round trip: Redis runs the SETs before the PUBLISH on the one connection,
                // so an instance that drops its copy on the message finds the new value in L2.
                match shared.tier.set_and_publish(entries, ttl, message).await {
                    Ok(()) if announced => CacheStats::bump(&self.stats.invalidations_sent),
                    Ok(()) => {}
                    Err(_) => shared.remember_repair(invalidation),
                }
            }
            Dispatch::Batched => {
                if shared
                    .tier
                    .set_and_publish(entries, ttl, None)
                    .await
                    .is_err()
                {
                    shared.remember_repair(invalidation.clone());
                }
                if shared.outbox.add(invalidation) {
                    let inner = Arc::downgrade(self);
                    let delay = self.config.delay;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let Some(inner) = inner.upgrade() else { return };
                        let batch = inner.shared.as_ref().and_then(|s| s.outbox.take());
                        if let Some(batch) = batch {
                            inner.publish(batch).await;
                        }
                    });
                }
            }
        }
    }

    async fn publish(&self, mut invalidation: Invalidation) {
        let Some(shared) = &self.shared else { return };
        if invalidation.is_empty() {
            return;
        }
        invalidation.origin = shared.origin;
        let Some(payload) = encode_invalidation(&invalidation) else {
            return;
        };
        match shared.tier.publish(shared.channel.clone(), payload).await {
            Ok(()) => CacheStats::bump(&self.stats.invalidations_sent),
            Err(_) => shared.remember_repair(invalidation),
        }
    }

    /// Replays writes that did not reach Redis: stale shared entries are deleted and the other
    /// instances told. More than the bus's id limit of them: every shared memory entry is dropped.
    async fn repair(self: &Arc<Self>) {
        let Some(shared) = &self.shared else { return };
        let pending = std::mem::take(&mut *shared.repair.lock());
        if pending.is_empty() {
            return;
        }
        let cleared = if pending.reset {
            shared
                .tier
                .delete_matching(format!("{}:m:*", shared.key_prefix))
                .await
        } else {
            let keys = pending
                .ids
                .iter()
                .map(|id| shared.memory_key(*id))
                .collect();
            shared.tier.delete(keys).await
        };
        if cleared.is_err() {
            shared.remember_repair(pending);
            return;
        }
        tracing::info!(
            ids = pending.ids.len(),
            reset = pending.reset,
            "repaired the shared cache after a redis outage"
        );
        self.publish(pending).await;
    }
}

impl InvalidationSink for Inner {
    fn apply(&self, invalidation: &Invalidation) {
        CacheStats::bump(&self.stats.invalidations_received);
        if invalidation.reset {
            self.reset_local();
            return;
        }
        for id in &invalidation.ids {
            self.ids.bump(id);
            self.memories.remove(id);
        }
        if invalidation.every_session {
            self.scopes.reset();
        }
        if invalidation.any {
            self.scopes.bump_any();
        }
        for session in &invalidation.sessions {
            self.scopes.bump(session.as_str());
        }
    }

    fn subscribed(&self) {
        self.reset_local();
        if let Some(shared) = &self.shared {
            shared.subscribed.send_replace(true);
            shared.tier.healed.notify_one();
        }
    }

    fn unsubscribed(&self) {
        if let Some(shared) = &self.shared {
            shared.subscribed.send_replace(false);
            shared.tier.trip();
        }
    }
}

/// Waits for Redis to heal and replays what failed meanwhile.
pub(super) fn spawn_repairer(inner: std::sync::Weak<Inner>, mut stop: watch::Receiver<()>) {
    tokio::spawn(async move {
        loop {
            let healed = {
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                let Some(shared) = &strong.shared else { return };
                let tier = shared.tier.clone();
                drop(strong);
                tier
            };
            tokio::select! {
                _ = stop.changed() => return,
                () = healed.healed.notified() => {}
            }
            // Let the reconnect settle before replaying.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Some(strong) = inner.upgrade() else {
                return;
            };
            strong.repair().await;
        }
    });
}

/// The message for the bus; `None` when there is nothing to say or it cannot be encoded.
fn encode_invalidation(invalidation: &Invalidation) -> Option<Vec<u8>> {
    if invalidation.is_empty() {
        return None;
    }
    match serde_json::to_vec(invalidation) {
        Ok(payload) => Some(payload),
        Err(error) => {
            tracing::error!(%error, "cannot encode an invalidation");
            None
        }
    }
}
