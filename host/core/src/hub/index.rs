//! The subscription index: which subscriptions a publish on a topic must consider, already in
//! dispatch order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

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
/// found with one hash lookup. Substring wildcards (`topic=ftrack.*`) are kept apart and tested
/// with a substring search, and subscriptions that constrain no topic (`source.user.username=x`)
/// are always candidates. Candidates still get their full expression matched.
///
/// Each exact-topic bucket is kept in dispatch order, in a tree so that subscribing and
/// unsubscribing cost a logarithm of its size (a sorted vector made 200,000 subscriptions on
/// one topic take 24 s), and is also shared as a vector that the first publish after a change
/// makes: a publish on a topic with no wildcard or unconstrained subscriptions takes its
/// candidates without allocating or sorting anything.
#[derive(Default)]
pub(super) struct SubscriptionIndex {
    pub(super) by_id: HashMap<String, Arc<Subscription>>,
    /// The subscriber ids of each plugin (by [`PluginTag::id`]), to count and remove them
    /// without looking at anyone else's.
    by_plugin: HashMap<u64, HashSet<String>>,
    /// Looked up on every publish: foldhash instead of SipHash, whose cost showed in
    /// profiles. Topics come from plugins and the token-checked local endpoint, not from the
    /// network, and foldhash is still seeded per process.
    exact: HashMap<String, Bucket, foldhash::fast::RandomState>,
    /// Wildcard subscriptions by subscription order, with the substrings they look for.
    containing: BTreeMap<u64, (Vec<String>, Arc<Subscription>)>,
    /// Subscriptions that constrain no topic, by subscription order.
    unconstrained: BTreeMap<u64, Arc<Subscription>>,
    /// Plugins (by tag id) whose subscriptions wait here, counted but not dispatched to, until
    /// [`SubscriptionIndex::release`]: a reloading plugin's new version, so that no publish
    /// sees both versions or neither.
    held: HashMap<u64, Vec<Arc<Subscription>>>,
}

/// The subscriptions of one exact topic.
#[derive(Default)]
struct Bucket {
    ordered: BTreeMap<(i64, u64), Arc<Subscription>>,
    /// `ordered` as a vector publishes share; made by the first publish after a change.
    shared: OnceLock<Arc<Vec<Arc<Subscription>>>>,
}

impl Bucket {
    fn shared(&self) -> Arc<Vec<Arc<Subscription>>> {
        self.shared
            .get_or_init(|| Arc::new(self.ordered.values().cloned().collect()))
            .clone()
    }

    fn insert(&mut self, subscription: &Arc<Subscription>) {
        self.ordered
            .insert(dispatch_order(subscription), subscription.clone());
        self.shared = OnceLock::new();
    }

    fn remove(&mut self, subscription: &Subscription) {
        self.ordered.remove(&dispatch_order(subscription));
        self.shared = OnceLock::new();
    }
}

impl SubscriptionIndex {
    pub(super) fn insert(&mut self, subscription: Arc<Subscription>) {
        if let Some(plugin) = &subscription.plugin {
            self.by_plugin
                .entry(plugin.id)
                .or_default()
                .insert(subscription.id.clone());
            if let Some(waiting) = self.held.get_mut(&plugin.id) {
                waiting.push(subscription.clone());
                self.by_id.insert(subscription.id.clone(), subscription);
                return;
            }
        }
        self.dispatch_to(&subscription);
        self.by_id.insert(subscription.id.clone(), subscription);
    }

    /// Puts `subscription` where publishes find it.
    fn dispatch_to(&mut self, subscription: &Arc<Subscription>) {
        let seq = subscription.seq;
        match subscription.expression.topic_filter() {
            TopicFilter::Any => {
                self.unconstrained.insert(seq, subscription.clone());
            }
            TopicFilter::OneOf { exact, containing } => {
                for topic in exact {
                    self.exact.entry(topic).or_default().insert(subscription);
                }
                if !containing.is_empty() {
                    self.containing
                        .insert(seq, (containing, subscription.clone()));
                }
            }
        }
    }

    /// Holds back the subscriptions the plugin with tag id `plugin` makes from now on.
    pub(super) fn hold(&mut self, plugin: u64) {
        self.held.entry(plugin).or_default();
    }

    /// Lets publishes find the held subscriptions of the plugin with tag id `plugin`.
    pub(super) fn release(&mut self, plugin: u64) {
        for subscription in self.held.remove(&plugin).unwrap_or_default() {
            self.dispatch_to(&subscription);
        }
    }

    pub(super) fn remove(&mut self, id: &str) -> Option<Arc<Subscription>> {
        let removed = self.by_id.remove(id)?;
        if let Some(plugin) = &removed.plugin {
            if let Some(ids) = self.by_plugin.get_mut(&plugin.id) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_plugin.remove(&plugin.id);
                }
            }
            if let Some(waiting) = self.held.get_mut(&plugin.id) {
                waiting.retain(|s| s.seq != removed.seq);
                return Some(removed);
            }
        }
        if let TopicFilter::OneOf { exact, .. } = removed.expression.topic_filter() {
            for topic in exact {
                if let Some(bucket) = self.exact.get_mut(&topic) {
                    bucket.remove(&removed);
                    if bucket.ordered.is_empty() {
                        self.exact.remove(&topic);
                    }
                }
            }
        }
        self.containing.remove(&removed.seq);
        self.unconstrained.remove(&removed.seq);
        Some(removed)
    }

    /// Removes every subscription of the plugin with tag id `plugin`, held ones included, and
    /// stops holding it; returns their subscriber ids.
    pub(super) fn remove_plugin(&mut self, plugin: u64) -> Vec<String> {
        let ids = self.by_plugin.remove(&plugin).unwrap_or_default();
        for id in &ids {
            self.remove(id);
        }
        self.held.remove(&plugin);
        ids.into_iter().collect()
    }

    /// Every subscription, held ones included, in no particular order.
    pub(super) fn all(&self) -> impl Iterator<Item = &Arc<Subscription>> {
        self.by_id.values()
    }

    /// The name of the plugin with tag id `plugin`, while it holds a subscription.
    pub(super) fn plugin_name(&self, plugin: u64) -> Option<std::sync::Arc<str>> {
        let id = self.by_plugin.get(&plugin)?.iter().next()?;
        Some(self.by_id.get(id)?.plugin.as_ref()?.name.clone())
    }

    /// How many subscriptions the plugin with tag id `plugin` holds.
    pub(super) fn count_of(&self, plugin: u64) -> usize {
        self.by_plugin.get(&plugin).map_or(0, HashSet::len)
    }

    /// The subscriptions that may match an event on `topic`, in dispatch order.
    pub(super) fn candidates(&self, topic: &str) -> Candidates {
        let exact = self.exact.get(topic);
        let wanted = |needles: &Vec<String>| needles.iter().any(|n| topic.contains(n.as_str()));
        let any_containing = self.containing.values().any(|(needles, _)| wanted(needles));
        if !any_containing && self.unconstrained.is_empty() {
            return match exact {
                Some(bucket) => Candidates::Bucket(bucket.shared()),
                None => Candidates::Merged(Vec::new()),
            };
        }
        let mut found: Vec<Arc<Subscription>> = Vec::new();
        if let Some(bucket) = exact {
            found.extend(bucket.ordered.values().cloned());
        }
        for (needles, sub) in self.containing.values() {
            if wanted(needles) {
                found.push(sub.clone());
            }
        }
        found.extend(self.unconstrained.values().cloned());
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
