//! The one ordered list of actions that carries a change of placement out, for replicas and
//! for the global DNS (or anycast) records that send users to them. The simulator produces
//! it for every step; whoever carries a step out follows it in order.
//!
//! Replicas ([`replica_actions`]): replacements for replicas lost with a failed cluster start
//! at once; planned moves are make-before-break, in batches of [`Disruption::max_surge`]:
//! grow the destination, wait until the new replicas are ready, then stop old ones while the
//! ready replicas stay at or above the start minus [`Disruption::max_unavailable`].
//!
//! Traffic ([`ordered`] weaves it in, from the hosts' traffic before and after the change):
//! - the records of a failed cluster go first, at once (its replicas are gone already);
//! - a cluster gets its record, or a higher weight, only once the new replicas there are
//!   ready (right after the [`Action::WaitReady`] that covers them, or, for replacements,
//!   after a wait added for them);
//! - a cluster about to lose replicas gets its lower weight (0 when it will hold none)
//!   and the records' TTL is waited out **before** its first replica stops, so resolvers
//!   stop sending users there before the replicas go;
//! - last, the other weights that changed, and the records of clusters left with none.
//!
//! ```
//! use std::collections::{BTreeSet, HashSet};
//! use fleetplan::actions::{Action, Change, Disruption, TrafficChange, ordered};
//!
//! // shop/web moves its one replica from `old` to `new` (a drain), no traffic involved.
//! let changes = [
//!     Change { workload: "shop/web".into(), cluster: "new".into(), before: 0, after: 1 },
//!     Change { workload: "shop/web".into(), cluster: "old".into(), before: 1, after: 0 },
//! ];
//! let none = TrafficChange { routes: &[], before: &[], after: &[], failed: &BTreeSet::new() };
//! let actions = ordered(&changes, &HashSet::new(), Disruption::default(), &none);
//! assert!(matches!(actions[0], Action::Grow { .. }));
//! assert!(matches!(actions[1], Action::WaitReady { .. }));
//! assert!(matches!(actions[2], Action::Shrink { .. }));
//! ```

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterName;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::traffic::{HostTraffic, Route, Serving, traffic};

/// One ordered action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum Action {
    /// Start `replicas` more replicas in the cluster (a failure's replacements, or the first
    /// half of a move).
    Grow {
        /// The workload, `namespace/name`.
        workload: String,
        /// The cluster.
        cluster: ClusterName,
        /// How many more.
        replicas: u32,
    },
    /// Wait until the replicas just started are ready.
    WaitReady {
        /// The workload, `namespace/name`.
        workload: String,
        /// The cluster.
        cluster: ClusterName,
    },
    /// Stop `replicas` replicas in the cluster.
    Shrink {
        /// The workload, `namespace/name`.
        workload: String,
        /// The cluster.
        cluster: ClusterName,
        /// How many fewer.
        replicas: u32,
    },
    /// Create the cluster's record for the host, or change its weight (`0..=255`; 0 while it
    /// is being emptied).
    SetWeight {
        /// The host.
        host: String,
        /// The cluster's region.
        region: String,
        /// The cluster.
        cluster: ClusterName,
        /// The new weight.
        weight: u32,
    },
    /// Remove the cluster's record for the host (a failed cluster, or one left with no
    /// replica behind it).
    RemoveRecord {
        /// The host.
        host: String,
        /// The cluster's region.
        region: String,
        /// The cluster.
        cluster: ClusterName,
    },
    /// Wait until resolvers have dropped the answers cached before the weights just lowered:
    /// the longest TTL of the hosts concerned.
    WaitTtl {
        /// The hosts whose weights were lowered.
        hosts: Vec<String>,
        /// How long, in seconds.
        seconds: u32,
    },
}

/// How one workload's replicas changed in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The workload, `namespace/name`.
    pub workload: String,
    /// The cluster.
    pub cluster: ClusterName,
    /// Replicas before.
    pub before: u32,
    /// Replicas after.
    pub after: u32,
}

/// How fast planned moves go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// New replicas started before old ones stop, per batch (at least 1).
    pub max_surge: u32,
    /// Replicas that may be missing while moving (0: always grow before shrinking).
    pub max_unavailable: u32,
}

impl Default for Disruption {
    fn default() -> Self {
        Disruption {
            max_surge: 1,
            max_unavailable: 0,
        }
    }
}

/// Where the hosts' users went before a change and go after it.
#[derive(Clone, Copy, Debug)]
pub struct TrafficChange<'a> {
    /// The hosts and their backends.
    pub routes: &'a [Route],
    /// Each host's traffic before the change.
    pub before: &'a [HostTraffic],
    /// Each host's traffic after it.
    pub after: &'a [HostTraffic],
    /// Clusters that failed: their records go at once.
    pub failed: &'a BTreeSet<ClusterName>,
}

/// The ordered actions that carry `changes` out: see the [module](self) documentation.
/// `lost` names the `(workload, cluster)` pairs whose replicas were lost (not stopped).
pub fn ordered(
    changes: &[Change],
    lost: &HashSet<(String, ClusterName)>,
    disruption: Disruption,
    traffic: &TrafficChange<'_>,
) -> Vec<Action> {
    let replicas = replica_actions(changes, lost, disruption);
    if traffic.before.is_empty() && traffic.after.is_empty() {
        return replicas;
    }
    weave(replicas, traffic)
}

/// The replica actions alone: replacements of lost replicas at once, then each workload's
/// moves in batches of `max_surge`: grow, wait until ready, shrink.
pub fn replica_actions(
    changes: &[Change],
    lost: &HashSet<(String, ClusterName)>,
    disruption: Disruption,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut by_workload: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in changes {
        by_workload.entry(&c.workload).or_default().push(c);
    }
    for (workload, changes) in by_workload {
        let is_lost = |c: &Change| lost.contains(&(workload.to_owned(), c.cluster.clone()));
        let lost_here: u32 = changes
            .iter()
            .filter(|c| c.after < c.before && is_lost(c))
            .map(|c| c.before - c.after)
            .sum();
        let mut grows: Vec<(ClusterName, u32)> = changes
            .iter()
            .filter(|c| c.after > c.before)
            .map(|c| (c.cluster.clone(), c.after - c.before))
            .collect();
        let mut shrinks: Vec<(ClusterName, u32)> = changes
            .iter()
            .filter(|c| c.after < c.before && !is_lost(c))
            .map(|c| (c.cluster.clone(), c.before - c.after))
            .collect();
        // Replacements for lost replicas first, all at once.
        let mut replace = lost_here;
        for (cluster, n) in &mut grows {
            let now = (*n).min(replace);
            if now > 0 {
                actions.push(Action::Grow {
                    workload: workload.to_owned(),
                    cluster: cluster.clone(),
                    replicas: now,
                });
                *n -= now;
                replace -= now;
            }
        }
        // Then moves, make-before-break, in batches of `max_surge`: grow, stop old replicas
        // while the budget allows, wait until the new ones are ready, stop more.
        let surge = disruption.max_surge.max(1);
        let budget = i64::from(disruption.max_unavailable);
        // Ready replicas below where the workload started.
        let mut deficit: i64 = 0;
        while let Some((to, g)) = grows.iter_mut().find(|(_, n)| *n > 0) {
            let batch = surge.min(*g);
            *g -= batch;
            let to = to.clone();
            actions.push(Action::Grow {
                workload: workload.to_owned(),
                cluster: to.clone(),
                replicas: batch,
            });
            if shrinks.iter().all(|(_, n)| *n == 0) {
                continue;
            }
            deficit += shrink(&mut shrinks, (budget - deficit).max(0), workload, &mut actions);
            actions.push(Action::WaitReady {
                workload: workload.to_owned(),
                cluster: to,
            });
            deficit -= i64::from(batch);
            deficit += shrink(&mut shrinks, (budget - deficit).max(0), workload, &mut actions);
        }
        // Left over: a scale-down, or replicas with nowhere else to go.
        shrink(&mut shrinks, i64::MAX, workload, &mut actions);
    }
    actions
}

/// Stops up to `most` replicas from `shrinks`, cluster by cluster; returns how many.
fn shrink(shrinks: &mut [(ClusterName, u32)], most: i64, workload: &str, actions: &mut Vec<Action>) -> i64 {
    let mut left = most;
    for (cluster, n) in shrinks.iter_mut().filter(|(_, n)| *n > 0) {
        if left <= 0 {
            break;
        }
        let now = u32::try_from(left).unwrap_or(u32::MAX).min(*n);
        actions.push(Action::Shrink {
            workload: workload.to_owned(),
            cluster: cluster.clone(),
            replicas: now,
        });
        *n -= now;
        left -= i64::from(now);
    }
    most - left
}

/// A record: `(host, cluster)`.
type RecordKey = (String, ClusterName);

/// Each cluster's record per host: its region and weight.
fn records(hosts: &[HostTraffic]) -> BTreeMap<RecordKey, (String, u32)> {
    hosts
        .iter()
        .flat_map(|h| {
            h.regions.iter().flat_map(move |r| {
                r.clusters
                    .iter()
                    .map(move |c| ((h.host.clone(), c.cluster.clone()), (r.region.clone(), c.weight)))
            })
        })
        .collect()
}

/// The replica actions with the traffic actions woven in: see the [module](self) documentation.
fn weave(replicas: Vec<Action>, traffic: &TrafficChange<'_>) -> Vec<Action> {
    let before = records(traffic.before);
    let after = records(traffic.after);
    let ttl: BTreeMap<&str, u32> = traffic
        .before
        .iter()
        .chain(traffic.after)
        .map(|h| (h.host.as_str(), h.ttl))
        .collect();
    // workload -> the hosts it serves, and host -> its backends.
    let mut hosts_of: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut backends_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for route in traffic.routes {
        for w in &route.backends {
            hosts_of.entry(w.to_string()).or_default().insert(&route.host);
            backends_of.entry(&route.host).or_default().insert(w.to_string());
        }
    }
    let no_hosts = BTreeSet::new();
    let mut out = Vec::with_capacity(replicas.len());
    // Records whose final weight is already set (or that are gone).
    let mut settled: BTreeSet<RecordKey> = BTreeSet::new();
    // A failed cluster's records go first, at once.
    for ((host, cluster), (region, _)) in &before {
        if traffic.failed.contains(cluster) {
            out.push(Action::RemoveRecord {
                host: host.clone(),
                region: region.clone(),
                cluster: cluster.clone(),
            });
            settled.insert((host.clone(), cluster.clone()));
        }
    }
    // Replicas grown and waited for, per (workload, cluster).
    let mut grown: BTreeSet<(String, ClusterName)> = BTreeSet::new();
    let mut waited: BTreeSet<(String, ClusterName)> = BTreeSet::new();
    for action in replicas {
        match &action {
            Action::Shrink {
                workload, cluster, ..
            } => {
                // Lower the weights first and wait the TTL out.
                let hosts = hosts_of.get(workload).unwrap_or(&no_hosts);
                let lowered = settle(
                    &mut out,
                    hosts,
                    cluster,
                    &before,
                    &after,
                    &mut settled,
                    Direction::Lower,
                );
                if !lowered.is_empty() {
                    let seconds = lowered.iter().filter_map(|h| ttl.get(h.as_str())).copied().max();
                    out.push(Action::WaitTtl {
                        hosts: lowered,
                        seconds: seconds.unwrap_or(0),
                    });
                }
                out.push(action);
            }
            Action::WaitReady { workload, cluster } => {
                // The records rise once the replicas are ready: after the wait.
                let pair = (workload.clone(), cluster.clone());
                out.push(action);
                let hosts = hosts_of.get(&pair.0).unwrap_or(&no_hosts);
                settle(
                    &mut out,
                    hosts,
                    &pair.1,
                    &before,
                    &after,
                    &mut settled,
                    Direction::Raise,
                );
                waited.insert(pair);
            }
            Action::Grow {
                workload, cluster, ..
            } => {
                grown.insert((workload.clone(), cluster.clone()));
                out.push(action);
            }
            _ => out.push(action),
        }
    }
    // The rest: a new record waits for the replicas grown behind it, then weights change.
    for (key, (region, new)) in &after {
        if settled.contains(key) || before.get(key).map(|b| b.1) == Some(*new) {
            continue;
        }
        let (host, cluster) = key;
        if !before.contains_key(key) {
            for w in backends_of.get(host.as_str()).into_iter().flatten() {
                let pair = (w.clone(), cluster.clone());
                if grown.contains(&pair) && waited.insert(pair) {
                    out.push(Action::WaitReady {
                        workload: w.clone(),
                        cluster: cluster.clone(),
                    });
                }
            }
        }
        out.push(Action::SetWeight {
            host: host.clone(),
            region: region.clone(),
            cluster: cluster.clone(),
            weight: *new,
        });
    }
    // Last, the records of clusters left with nothing behind them.
    for (key, (region, _)) in &before {
        if !after.contains_key(key) && !traffic.failed.contains(&key.1) {
            out.push(Action::RemoveRecord {
                host: key.0.clone(),
                region: region.clone(),
                cluster: key.1.clone(),
            });
        }
    }
    out
}

/// Which way [`settle`] moves weights.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// To the final, lower weight (0 when the record goes): before replicas stop.
    Lower,
    /// To the final weight of a new or higher record: once replicas are ready.
    Raise,
}

/// Sets the records of `cluster` for `hosts` that move in `direction` to their final
/// weight, each record once; returns the hosts whose records were set.
fn settle(
    out: &mut Vec<Action>,
    hosts: &BTreeSet<&str>,
    cluster: &ClusterName,
    before: &BTreeMap<RecordKey, (String, u32)>,
    after: &BTreeMap<RecordKey, (String, u32)>,
    settled: &mut BTreeSet<RecordKey>,
    direction: Direction,
) -> Vec<String> {
    let mut set = Vec::new();
    for &host in hosts {
        let key = (host.to_string(), cluster.clone());
        let (old, new) = (before.get(&key), after.get(&key));
        let weight = match (direction, old, new) {
            (Direction::Lower, Some(o), n) if n.map_or(0, |n| n.1) < o.1 => n.map_or(0, |n| n.1),
            (Direction::Raise, o, Some(n)) if o.is_none_or(|o| n.1 > o.1) => n.1,
            _ => continue,
        };
        if !settled.insert(key) {
            continue;
        }
        let Some((region, _)) = new.or(old) else {
            continue;
        };
        out.push(Action::SetWeight {
            host: host.to_string(),
            region: region.clone(),
            cluster: cluster.clone(),
            weight,
        });
        set.push(host.to_string());
    }
    set
}

/// `hosts` (sorted by host, as [`crate::traffic::traffic`] gives them) after `action`: a
/// record set, changed or removed (replica actions and waits change nothing). A record set to a weight keeps its replicas and share as they were (or
/// 0 for a new one): the weights are what DNS answers by.
pub fn apply_to(hosts: &mut [HostTraffic], action: &Action) {
    let (host, region, cluster, weight) = match action {
        Action::SetWeight {
            host,
            region,
            cluster,
            weight,
        } => (host, region, cluster, Some(*weight)),
        Action::RemoveRecord {
            host,
            region,
            cluster,
        } => (host, region, cluster, None),
        _ => return,
    };
    // Sorted by host: the first of that host, found by bisection (a controller applies up to
    // one action per record of every host).
    let at = hosts.partition_point(|h| h.host < *host);
    let Some(h) = hosts.get_mut(at).filter(|h| &h.host == host) else {
        return;
    };
    let at = h.regions.binary_search_by(|r| r.region.as_str().cmp(region));
    let r = match (at, weight) {
        (Ok(i), _) => &mut h.regions[i],
        (Err(i), Some(_)) => {
            h.regions.insert(
                i,
                crate::traffic::RegionTraffic {
                    region: region.clone(),
                    clusters: Vec::new(),
                },
            );
            &mut h.regions[i]
        }
        (Err(_), None) => return,
    };
    let at = r.clusters.binary_search_by(|c| c.cluster.cmp(cluster));
    match (at, weight) {
        (Ok(i), Some(w)) => r.clusters[i].weight = w,
        (Ok(i), None) => {
            r.clusters.remove(i);
        }
        (Err(i), Some(w)) => r.clusters.insert(
            i,
            crate::traffic::ClusterTraffic {
                cluster: cluster.clone(),
                replicas: 0,
                weight: w,
                share: 0.0,
                endpoint: None,
            },
        ),
        (Err(_), None) => {}
    }
    h.regions.retain(|r| !r.clusters.is_empty());
}

/// The records an executor writes when it carries an action list out in phases rather than
/// one action at a time: it grows every cluster, waits until every new replica is ready,
/// then stops replicas everywhere. The list's order is kept between phases:
/// - [`RecordStages::at_once`]: before any replica action, the failed clusters' records go;
/// - [`RecordStages::before_shrink`]: once every new replica is ready, every weight is set
///   (raised where replicas were added, lowered, to 0 for a cluster being emptied, where
///   they will stop), then [`RecordStages::wait_seconds`] (the longest TTL waited out in the
///   list) pass before the first replica stops;
/// - [`RecordStages::after`]: once the replicas stopped, the records of emptied clusters go.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordStages {
    /// The records before any replica changes.
    pub at_once: Vec<HostTraffic>,
    /// The records once the new replicas are ready, before any replica stops.
    pub before_shrink: Vec<HostTraffic>,
    /// Seconds to wait between writing [`RecordStages::before_shrink`] and stopping replicas:
    /// the longest TTL of a host with a record lowered (0 when none was).
    pub wait_seconds: u32,
    /// The records at the end: the hosts' traffic after the change.
    pub after: Vec<HostTraffic>,
}

/// The [`RecordStages`] of `actions` (from [`ordered`]) taking the records from `before` to
/// `after`. A record that appears during the change takes its endpoint from `after`.
pub fn record_stages(actions: &[Action], before: &[HostTraffic], after: &[HostTraffic]) -> RecordStages {
    let mut state: Vec<HostTraffic> = before.to_vec();
    for h in after {
        if !state.iter().any(|s| s.host == h.host) {
            state.push(HostTraffic {
                regions: Vec::new(),
                ..h.clone()
            });
        }
    }
    state.sort_by(|a, b| a.host.cmp(&b.host).then_with(|| a.source.cmp(&b.source)));
    let is_traffic = |a: &Action| matches!(a, Action::SetWeight { .. } | Action::RemoveRecord { .. });
    let first_replica = actions
        .iter()
        .position(|a| !is_traffic(a))
        .unwrap_or(actions.len());
    for action in &actions[..first_replica] {
        apply_to(&mut state, action);
    }
    let at_once = with_endpoints(state.clone(), after);
    let mut wait_seconds = 0;
    for action in &actions[first_replica..] {
        match action {
            Action::SetWeight { .. } => apply_to(&mut state, action),
            Action::WaitTtl { seconds, .. } => wait_seconds = wait_seconds.max(*seconds),
            _ => {}
        }
    }
    // A record lowered (or set to 0) from where it was needs its TTL waited out even when
    // the list has no shrink behind it (an executor that knows more of what runs than the
    // list may still stop replicas there).
    let was = records(before);
    let ttl: BTreeMap<&str, u32> = state.iter().map(|h| (h.host.as_str(), h.ttl)).collect();
    for (key, (_, weight)) in records(&state) {
        if was.get(&key).is_some_and(|(_, w)| weight < *w)
            && let Some(&seconds) = ttl.get(key.0.as_str())
        {
            wait_seconds = wait_seconds.max(seconds);
        }
    }
    RecordStages {
        at_once,
        before_shrink: with_endpoints(state, after),
        wait_seconds,
        after: after.to_vec(),
    }
}

/// `hosts` with each record's endpoint, replicas and share taken from `after` where the
/// record is there (a record added by [`apply_to`] knows only its weight).
fn with_endpoints(mut hosts: Vec<HostTraffic>, after: &[HostTraffic]) -> Vec<HostTraffic> {
    let known: BTreeMap<(&str, &ClusterName), &crate::traffic::ClusterTraffic> = after
        .iter()
        .flat_map(|h| {
            h.regions
                .iter()
                .flat_map(move |r| r.clusters.iter().map(move |c| ((h.host.as_str(), &c.cluster), c)))
        })
        .collect();
    for h in &mut hosts {
        for r in &mut h.regions {
            for c in &mut r.clusters {
                if let Some(k) = known.get(&(h.host.as_str(), &c.cluster)) {
                    c.endpoint = c.endpoint.take().or_else(|| k.endpoint.clone());
                    if c.replicas == 0 {
                        c.replicas = k.replicas;
                        c.share = k.share;
                    }
                }
            }
        }
    }
    hosts
}

/// Where the hosts' users go while the replicas of `problem.current` serve (every cluster
/// counted, failed or not: the records as they were).
pub(crate) fn running_traffic(problem: &Problem) -> Vec<HostTraffic> {
    if problem.routes.is_empty() {
        return Vec::new();
    }
    let regions: BTreeMap<&ClusterName, &str> = problem
        .clusters
        .iter()
        .map(|c| (&c.name, c.region.as_str()))
        .collect();
    let serving: Vec<Serving<'_>> = problem
        .current
        .iter()
        .filter_map(|r| {
            Some(Serving {
                workload: &r.workload,
                cluster: &r.cluster,
                region: regions.get(&r.cluster)?,
                replicas: u64::from(r.replicas),
            })
        })
        .collect();
    traffic(&problem.routes, &serving, &BTreeSet::new())
}

/// How a controller carries a plan out: the ordered actions from what runs now
/// (`problem.current`) to `plan`, and the records a phased executor writes on the way
/// ([`record_stages`]). The records start from `written` (what the controller wrote last),
/// or, when it wrote nothing yet, from where the running replicas would send users. A
/// cluster that is down (not ready or unreachable) counts as failed: its replicas are lost,
/// and its records go at once.
pub fn carry_out(
    problem: &Problem,
    plan: &Plan,
    written: Option<&[HostTraffic]>,
    disruption: Disruption,
) -> (Vec<Action>, RecordStages) {
    let failed: BTreeSet<ClusterName> = problem
        .clusters
        .iter()
        .filter(|c| crate::simulate::is_down(c.health))
        .map(|c| c.name.clone())
        .collect();
    let mut counts: BTreeMap<(String, ClusterName), (u32, u32)> = BTreeMap::new();
    for r in &problem.current {
        let entry = counts
            .entry((r.workload.to_string(), r.cluster.clone()))
            .or_default();
        entry.0 = entry.0.saturating_add(r.replicas);
    }
    for p in &plan.placements {
        let entry = counts
            .entry((p.workload.to_string(), p.cluster.clone()))
            .or_default();
        entry.1 = entry.1.saturating_add(p.replicas);
    }
    let changes: Vec<Change> = counts
        .into_iter()
        .filter(|(_, (before, after))| before != after)
        .map(|((workload, cluster), (before, after))| Change {
            workload,
            cluster,
            before,
            after,
        })
        .collect();
    let lost: HashSet<(String, ClusterName)> = changes
        .iter()
        .filter(|c| failed.contains(&c.cluster))
        .map(|c| (c.workload.clone(), c.cluster.clone()))
        .collect();
    let running;
    let before = match written {
        Some(written) => written,
        None => {
            running = running_traffic(problem);
            &running
        }
    };
    let change = TrafficChange {
        routes: &problem.routes,
        before,
        after: &plan.traffic,
        failed: &failed,
    };
    let actions = ordered(&changes, &lost, disruption, &change);
    let stages = record_stages(&actions, before, &plan.traffic);
    (actions, stages)
}
