//! The subscription index: which subscriptions a publish on a topic must consider, already in
//! dispatch order.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::PluginTag;
use crate::expression::{Expression, TopicFilter};
use crate::handler::Handler;

pub(super) struct Subscription {
    pub(super) seq: u64,
    pub(super) id: String,
    pub(super) expression: Expression,
    /// What dispatch tests of `expression`: nothing when it only tests the topic (every event
    /// that finds the subscription in its exact-topic bucket matches), and without its topic
    /// test when the subscription is indexed by that topic ([`Expression::after_topic`]).
    pub(super) test: Option<Expression>,
    pub(super) metadata: Map<String, Value>,
    pub(super) priority: i64,
    pub(super) handler: Arc<dyn Handler>,
    pub(super) plugin: Option<PluginTag>,
}

impl Subscription {
    pub(super) fn plugin_name(&self) -> &str {
        self.plugin.as_ref().map_or("host", |p| &p.name)
    }
}

/// Subscriptions, indexed by what their expression requires of the event's topic.
///
/// Most subscriptions name an exact topic (`topic=ftrack.action.discover and ...`); those are
/// found with one hash lookup. Substring wildcards (`topic=ftrack.*`) are kept in a list tested
/// with a substring search, and subscriptions that constrain no topic (`source.user.username=x`)
/// are always candidates. Candidates still get their full expression matched.
///
/// Each exact-topic bucket is kept in dispatch order and shared copy-on-write, so a publish on
/// a topic with no wildcard or unconstrained subscriptions takes its candidates without
/// allocating or sorting anything.
#[derive(Default)]
pub(super) struct SubscriptionIndex {
    pub(super) by_id: HashMap<String, Arc<Subscription>>,
    /// Looked up on every publish: foldhash instead of SipHash, whose cost showed in
    /// profiles. Topics come from plugins and the token-checked local endpoint, not from the
    /// network, and foldhash is still seeded per process.
    pub(super) exact: HashMap<String, Arc<Vec<Arc<Subscription>>>, foldhash::fast::RandomState>,
    pub(super) containing: Vec<(String, Arc<Subscription>)>,
    pub(super) unconstrained: Vec<Arc<Subscription>>,
}

impl SubscriptionIndex {
    pub(super) fn insert(&mut self, subscription: Arc<Subscription>) {
        match subscription.expression.topic_filter() {
            TopicFilter::Any => self.unconstrained.push(subscription.clone()),
            TopicFilter::OneOf { exact, containing } => {
                for topic in exact {
                    let bucket = Arc::make_mut(self.exact.entry(topic).or_default());
                    if bucket.iter().any(|s| s.seq == subscription.seq) {
                        continue;
                    }
                    let order = dispatch_order(&subscription);
                    let at = bucket.partition_point(|s| dispatch_order(s) < order);
                    bucket.insert(at, subscription.clone());
                }
                for needle in containing {
                    self.containing.push((needle, subscription.clone()));
                }
            }
        }
        self.by_id.insert(subscription.id.clone(), subscription);
    }

    pub(super) fn remove(&mut self, id: &str) -> Option<Arc<Subscription>> {
        let removed = self.by_id.remove(id)?;
        let seq = removed.seq;
        self.exact.retain(|_, subs| {
            if subs.iter().any(|s| s.seq == seq) {
                Arc::make_mut(subs).retain(|s| s.seq != seq);
            }
            !subs.is_empty()
        });
        self.containing.retain(|(_, s)| s.seq != seq);
        self.unconstrained.retain(|s| s.seq != seq);
        Some(removed)
    }

    /// The subscriptions that may match an event on `topic`, in dispatch order.
    pub(super) fn candidates(&self, topic: &str) -> Candidates {
        let exact = self.exact.get(topic);
        let any_containing = self
            .containing
            .iter()
            .any(|(needle, _)| topic.contains(needle.as_str()));
        if !any_containing && self.unconstrained.is_empty() {
            return match exact {
                Some(bucket) => Candidates::Bucket(bucket.clone()),
                None => Candidates::Merged(Vec::new()),
            };
        }
        let mut found: Vec<Arc<Subscription>> = Vec::new();
        if let Some(subs) = exact {
            found.extend(subs.iter().cloned());
        }
        for (needle, sub) in &self.containing {
            if topic.contains(needle.as_str()) {
                found.push(sub.clone());
            }
        }
        found.extend(self.unconstrained.iter().cloned());
        found.sort_by_key(|s| dispatch_order(s));
        found.dedup_by_key(|s| s.seq);
        Candidates::Merged(found)
    }
}

/// Ascending priority, then subscription order.
fn dispatch_order(subscription: &Subscription) -> (i64, u64) {
    (subscription.priority, subscription.seq)
}

/// The subscriptions one publish considers, in dispatch order.
pub(super) enum Candidates {
    /// An exact-topic bucket as it was when the publish began.
    Bucket(Arc<Vec<Arc<Subscription>>>),
    /// Several kinds merged and sorted.
    Merged(Vec<Arc<Subscription>>),
}

impl std::ops::Deref for Candidates {
    type Target = [Arc<Subscription>];

    fn deref(&self) -> &Self::Target {
        match self {
            Candidates::Bucket(bucket) => bucket,
            Candidates::Merged(found) => found,
        }
    }
}
