//! Dividing one workload's replica target over its clusters and pools, one seat at a time.
//!
//! The division works like a parliament's apportionment, the method Karmada also uses:
//!
//! 1. **Keep** replicas that run where the rules still allow them (stability), trimmed to the
//!    per-cluster and per-region maximums.
//! 2. **Scale down** when more are kept than the target: remove one seat at a time from the
//!    cluster that the Webster (Sainte-Laguë) method would have filled last, never below a
//!    minimum while another cluster is above its own.
//! 3. **Scale up** when fewer are kept: give one seat at a time to the cluster with the
//!    highest priority: clusters below their minimum first, then clusters in regions below
//!    theirs, then the highest Webster quotient `weight / (2 * seats + 1)` (or, for `pack`,
//!    the most preferred cluster). Ties go to fewer seats, then to a hash of workload and
//!    cluster names, so that small workloads do not all land on the same cluster.
//!
//! Because each step depends only on the seats given so far, never on the target, a larger
//! target only ever adds seats and a smaller one only ever removes them (house monotonicity).
//! A seat needs room: a pool with a node where one more replica fits, the cluster and region
//! below their maximums, and every hard topology spread constraint still within its skew.
//! Within a cluster, seats go round-robin over the most preferred pools that have room.
//!
//! Planning time follows the problem's size, not the replica count. Without hard spread
//! constraints, region maximums or Fargate, the last tier is given in bulk (Webster shares
//! computed at once, the same seats as one by one). Under hard spread constraints a large
//! target is seated in **rounds**: a round ends when every constraint's smallest domain has
//! grown; when the round raised every eligible domain of every constraint by the same number
//! of seats, it is repeated in bulk as often as rooms, maximums and the target allow (the
//! skew between domains is unchanged by a uniform raise), leaving the last rounds to the
//! one-by-one loop. Which cluster of a domain gets a seat follows the round repeated, so
//! between clusters of one domain the split can differ by a few seats from a one-by-one
//! division; no rule is weakened.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::ops::Range;

use super::candidates::{Candidates, PoolChoice, Rules, may_keep};
use super::capacity::Capacity;
use super::index::{Index, Request};
use crate::cluster::Health;
use crate::explain::Reason;
use crate::problem::Problem;
use crate::workload::{Strategy, TopologyKey, WhenUnsatisfiable, Workload};

/// Replicas of the workload that run now: `(cluster, pool, replicas)`, sorted by cluster.
pub(crate) type RunningHere = [(usize, usize, u32)];

/// Why a cluster stopped taking seats during the scale-up.
#[derive(Clone, Debug)]
pub(crate) enum Stop {
    /// A fixed reason.
    Because(Reason),
    /// No pool has room: the reason is worked out from the capacity left.
    Full,
}

/// One cluster's share of the workload.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub cluster: usize,
    region: usize,
    weight: u64,
    min: u32,
    max: u32,
    pub seats: u32,
    accepts_new: bool,
    hash: u64,
    best_score: i64,
    /// The slot's pools in `Distributor::pools`, most preferred first.
    pub pools: Range<usize>,
    cursor: usize,
    /// Why the cluster took no more; `None` while it could take more.
    pub stop: Option<Stop>,
}

/// One pool's share of the workload.
#[derive(Clone, Debug)]
pub(crate) struct PoolSlot {
    pub pool: usize,
    score: i64,
    pub kept: u32,
    pub new: u32,
    /// Replicas that still fit, computed on first use; `Some(0)` for pools that keep running
    /// replicas but take no new ones.
    remaining: Option<u64>,
}

impl PoolSlot {
    /// A slot not filled in yet.
    const UNSET: PoolSlot = PoolSlot {
        pool: usize::MAX,
        score: 0,
        kept: 0,
        new: 0,
        remaining: None,
    };

    fn new(choice: PoolChoice) -> Self {
        PoolSlot {
            pool: choice.pool,
            score: choice.score,
            kept: 0,
            new: 0,
            remaining: None,
        }
    }

    pub fn seats(&self) -> u32 {
        self.kept + self.new
    }
}

/// One hard topology spread constraint's bookkeeping.
struct Spread {
    key: TopologyKey,
    max_skew: u32,
    counts: Vec<u32>,
    eligible: Vec<bool>,
    /// The smallest count over the eligible domains.
    min: u32,
    /// How many eligible domains have the smallest count.
    at_min: u32,
    /// How many clusters taking new replicas offer each domain: a scarce domain is used
    /// first where it is offered, since fewer places can fill it.
    offers: Vec<u32>,
}

impl Spread {
    fn recompute_min(&mut self) {
        let eligible = self
            .counts
            .iter()
            .zip(&self.eligible)
            .filter(|(_, e)| **e)
            .map(|(c, _)| *c);
        self.min = eligible.clone().min().unwrap_or(0);
        self.at_min = eligible.filter(|&c| c == self.min).count() as u32;
    }

    /// Counts one more replica in `domain`; returns true when the smallest count rose.
    fn add(&mut self, domain: usize) -> bool {
        self.counts[domain] += 1;
        if !self.eligible[domain] || self.counts[domain] - 1 != self.min {
            return false;
        }
        self.at_min -= 1;
        if self.at_min > 0 {
            return false;
        }
        self.recompute_min();
        true
    }

    fn allows(&self, domain: usize) -> bool {
        self.counts[domain] < self.min + self.max_skew
    }
}

/// The priority of a cluster for the next seat; larger is served first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SeatKey {
    tier: Reverse<u8>,
    rank: Rank,
    hash: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rank {
    /// Webster quotient `weight / (2 * seats + 1)`; ties to fewer seats.
    Share { weight: u64, seats: u32 },
    /// Fill order for `pack`: higher weight, clusters already running the workload, better
    /// pool preference.
    Pack { weight: u64, running: bool, score: i64 },
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (
                Rank::Share {
                    weight: wa,
                    seats: sa,
                },
                Rank::Share {
                    weight: wb,
                    seats: sb,
                },
            ) => {
                let a = u128::from(*wa) * u128::from(2 * u64::from(*sb) + 1);
                let b = u128::from(*wb) * u128::from(2 * u64::from(*sa) + 1);
                a.cmp(&b).then(sb.cmp(sa))
            }
            (
                Rank::Pack {
                    weight: wa,
                    running: ra,
                    score: pa,
                },
                Rank::Pack {
                    weight: wb,
                    running: rb,
                    score: pb,
                },
            ) => (wa, ra, pa).cmp(&(wb, rb, pb)),
            (Rank::Share { .. }, Rank::Pack { .. }) => Ordering::Less,
            (Rank::Pack { .. }, Rank::Share { .. }) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SeatKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.tier, self.rank, self.hash).cmp(&(other.tier, other.rank, other.hash))
    }
}

impl PartialOrd for SeatKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What one workload got.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub placed: u64,
    pub unplaced: u32,
    pub kept: u64,
    pub removed: u64,
}

/// Divides workloads one after another, reusing its buffers.
#[derive(Default)]
pub(crate) struct Distributor {
    pub slots: Vec<Slot>,
    pub pools: Vec<PoolSlot>,
    region_seats: Vec<u32>,
    region_min: Vec<u32>,
    region_max: Vec<u32>,
    spreads: Vec<Spread>,
    heap: BinaryHeap<(SeatKey, usize)>,
    blocked: Vec<usize>,
    /// Pool slots given new seats for the current workload.
    touched: Vec<usize>,
    /// Zones already weighed while choosing a pool.
    zones_seen: Vec<Option<usize>>,
    /// Per Fargate bucket: replicas of the current workload its quota still takes, counted
    /// on first use. Shared by every Fargate pool of the bucket, unlike a pool's `remaining`.
    bucket_left: Vec<Option<u64>>,
    /// The seats of the current round under hard spread constraints (see the module docs).
    round: Round,
}

/// The seats given since a round began, and which spread constraints' smallest domains have
/// grown since.
#[derive(Default)]
struct Round {
    /// `(slot, pool slot)` per seat, in order.
    seats: Vec<(usize, usize)>,
    rose: Vec<bool>,
}

/// Seats still wanted below which rounds are never repeated in bulk: small targets are
/// always divided one by one.
const BULK_ROUNDS_FROM: u32 = 4096;

/// A stable 64-bit hash (FNV-1a) for deterministic tie-breaking.
pub(crate) fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Mixes two hashes (splitmix64 finaliser).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What the distributor reads for one workload.
pub(crate) struct Job<'a> {
    pub problem: &'a Problem,
    pub index: &'a Index,
    pub workload: &'a Workload,
    pub rules: &'a Rules<'a>,
    pub candidates: &'a Candidates,
    pub request: &'a Request,
    pub running: &'a RunningHere,
    pub workload_hash: u64,
    pub cluster_hashes: &'a [u64],
}

impl Distributor {
    /// Divides one workload and takes the capacity its new replicas use.
    pub fn run(&mut self, job: &Job<'_>, capacity: &mut Capacity) -> Outcome {
        let mut outcome = Outcome::default();
        self.bucket_left.clear();
        self.bucket_left.resize(job.index.buckets.len(), None);
        self.build_slots(job);
        self.apply_maximums(job);
        let target = job.workload.replicas;
        let kept: u32 = self.slots.iter().map(|s| s.seats).sum();
        for _ in target..kept {
            self.remove_seat(job.workload.policy.strategy, |_| true);
        }
        let running: u64 = job.running.iter().map(|&(_, _, n)| u64::from(n)).sum();
        outcome.kept = self.slots.iter().map(|s| u64::from(s.seats)).sum();
        outcome.removed = running - outcome.kept;
        let placed = if kept < target {
            self.scale_up(job, capacity, target - kept)
        } else {
            0
        };
        outcome.placed = outcome.kept + u64::from(placed);
        outcome.unplaced = target - outcome.placed as u32;
        if job.workload.policy.gang && outcome.unplaced > 0 {
            self.give_up_gang(outcome.placed as u32, target);
            outcome.removed = running;
            outcome.kept = 0;
            outcome.placed = 0;
            outcome.unplaced = target;
        }
        for &p in &self.touched {
            let pool = &self.pools[p];
            if pool.new > 0 {
                capacity.take(pool.pool, job.request, u64::from(pool.new));
            }
        }
        outcome
    }

    /// An all-or-nothing workload that did not fit whole places nothing (before any capacity
    /// is taken); clusters that had room say why they took nothing.
    fn give_up_gang(&mut self, fit: u32, target: u32) {
        for pool in &mut self.pools {
            pool.kept = 0;
            pool.new = 0;
        }
        for slot in &mut self.slots {
            slot.seats = 0;
            if matches!(slot.stop, None | Some(Stop::Full)) {
                slot.stop = Some(Stop::Because(Reason::Gang { fit, target }));
            }
        }
    }

    /// Creates a slot for every cluster that may hold replicas, and counts kept replicas.
    fn build_slots(&mut self, job: &Job<'_>) {
        self.slots.clear();
        self.pools.clear();
        self.touched.clear();
        let policy = &job.workload.policy;
        let regions = job.index.regions.len();
        self.region_seats.clear();
        self.region_seats.resize(regions, 0);
        self.region_min.clear();
        self.region_max.clear();
        for name in &job.index.regions {
            self.region_min.push(policy.region_min.get(name).unwrap_or(0));
            self.region_max
                .push(policy.region_max.get(name).unwrap_or(u32::MAX));
        }
        let mut running = job.running.iter().peekable();
        for (c, cluster) in job.problem.clusters.iter().enumerate() {
            let mut here = Vec::new();
            while let Some(&&(rc, pool, n)) = running.peek() {
                if rc != c {
                    break;
                }
                here.push((pool, n));
                running.next();
            }
            let verdict = &job.candidates.clusters[c];
            if !cluster.health.keeps_running() {
                continue;
            }
            let weight = policy.weight_of(cluster.name.as_str(), &cluster.region);
            let start = self.pools.len();
            let hash = mix(job.workload_hash, job.cluster_hashes[c]);
            // Pool slots are filled in lazily (see `pool_slot`): most are never looked at.
            if let Ok(choices) = verdict {
                self.pools.resize(start + choices.pools.len(), PoolSlot::UNSET);
            }
            for &(pool, n) in &here {
                let local = pool - job.index.cluster_pools[c].start;
                let position = verdict.as_ref().ok().and_then(|choices| {
                    (0..choices.pools.len())
                        .map(|j| (j, choices.at(j, hash)))
                        .find(|(_, choice)| choice.pool == pool)
                });
                if let Some((j, choice)) = position {
                    self.pools[start + j] = PoolSlot::new(choice);
                    self.pools[start + j].kept += n;
                } else if may_keep(cluster, &cluster.pools[local], job.rules) {
                    self.pools.push(PoolSlot {
                        pool,
                        score: i64::MIN,
                        kept: n,
                        new: 0,
                        remaining: Some(0),
                    });
                }
            }
            if self.pools.len() == start {
                continue;
            }
            let stop = match verdict {
                Err(reason) => Some(Stop::Because(reason.clone())),
                Ok(_) if cluster.health == Health::Cordoned => Some(Stop::Because(Reason::ClusterCordoned)),
                Ok(_) if weight == 0 => Some(Stop::Because(Reason::ZeroWeight)),
                Ok(_) => None,
            };
            let seats: u32 = self.pools[start..].iter().map(|p| p.kept).sum();
            let region = job.index.cluster_region[c];
            self.region_seats[region] += seats;
            self.slots.push(Slot {
                cluster: c,
                region,
                weight,
                min: policy.cluster_min.get(cluster.name.as_str()).unwrap_or(0),
                max: policy.cluster_max.get(cluster.name.as_str()).unwrap_or(u32::MAX),
                seats,
                accepts_new: stop.is_none(),
                hash,
                best_score: match verdict {
                    Ok(choices) => choices.best_score,
                    Err(_) => i64::MIN,
                },
                pools: start..self.pools.len(),
                cursor: start,
                stop,
            });
        }
    }

    /// Trims kept replicas to the per-cluster and per-region maximums.
    fn apply_maximums(&mut self, job: &Job<'_>) {
        for s in 0..self.slots.len() {
            while self.slots[s].seats > self.slots[s].max {
                self.remove_from_slot(s);
            }
        }
        for region in 0..self.region_max.len() {
            while self.region_seats[region] > self.region_max[region] {
                self.remove_seat(job.workload.policy.strategy, |slot| slot.region == region);
            }
        }
    }

    /// Removes one seat from the slot that should give one up first, among those `allowed`.
    fn remove_seat(&mut self, strategy: Strategy, allowed: impl Fn(&Slot) -> bool) {
        let protected = |slot: &Slot, region_seats: &[u32], region_min: &[u32]| {
            slot.seats <= slot.min || region_seats[slot.region] <= region_min[slot.region]
        };
        let best = (0..self.slots.len())
            .filter(|&s| self.slots[s].seats > 0 && allowed(&self.slots[s]))
            .max_by(|&a, &b| {
                let (sa, sb) = (&self.slots[a], &self.slots[b]);
                // Clusters that take no new replicas give theirs up first, then clusters
                // above their minimums, then the seat Webster would have given last.
                (!sa.accepts_new)
                    .cmp(&!sb.accepts_new)
                    .then(
                        (!protected(sa, &self.region_seats, &self.region_min)).cmp(&!protected(
                            sb,
                            &self.region_seats,
                            &self.region_min,
                        )),
                    )
                    .then_with(|| match strategy {
                        // Last Webster seat: smallest weight / (2 * seats - 1).
                        Strategy::Spread | Strategy::Weighted => {
                            let qa = u128::from(sa.weight) * u128::from(2 * u64::from(sb.seats) - 1);
                            let qb = u128::from(sb.weight) * u128::from(2 * u64::from(sa.seats) - 1);
                            qb.cmp(&qa).then(sa.seats.cmp(&sb.seats))
                        }
                        Strategy::Pack => (sb.weight, sb.best_score).cmp(&(sa.weight, sa.best_score)),
                    })
                    .then(sb.hash.cmp(&sa.hash))
            });
        if let Some(s) = best {
            self.remove_from_slot(s);
        }
    }

    /// Removes one seat from the least preferred pool of slot `s` that has one.
    fn remove_from_slot(&mut self, s: usize) {
        let range = self.slots[s].pools.clone();
        let Some(p) = range
            .rev()
            .filter(|&p| self.pools[p].seats() > 0)
            .min_by_key(|&p| (self.pools[p].score, Reverse(self.pools[p].seats())))
        else {
            return;
        };
        let pool = &mut self.pools[p];
        if pool.new > 0 {
            pool.new -= 1;
        } else {
            pool.kept -= 1;
        }
        self.slots[s].seats -= 1;
        let region = self.slots[s].region;
        self.region_seats[region] -= 1;
    }

    fn key(&self, s: usize, strategy: Strategy) -> SeatKey {
        let slot = &self.slots[s];
        let tier = if slot.seats < slot.min {
            0
        } else if self.region_seats[slot.region] < self.region_min[slot.region] {
            1
        } else {
            2
        };
        let rank = match strategy {
            Strategy::Spread | Strategy::Weighted => Rank::Share {
                weight: slot.weight,
                seats: slot.seats,
            },
            Strategy::Pack => Rank::Pack {
                weight: slot.weight,
                running: slot.seats > 0,
                score: slot.best_score,
            },
        };
        SeatKey {
            tier: Reverse(tier),
            rank,
            hash: slot.hash,
        }
    }

    /// The domain of a cluster-level spread key for slot `s`.
    fn cluster_domain(&self, key: TopologyKey, s: usize) -> Option<usize> {
        match key {
            TopologyKey::Cluster => Some(self.slots[s].cluster),
            TopologyKey::Region => Some(self.slots[s].region),
            TopologyKey::Zone => None,
        }
    }

    /// Sets up the hard topology spread constraints from the seats kept so far.
    fn build_spreads(&mut self, job: &Job<'_>) {
        self.spreads.clear();
        for t in &job.workload.template.topology_spread {
            if t.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
                continue;
            }
            let domains = match t.topology_key {
                TopologyKey::Cluster => job.problem.clusters.len(),
                TopologyKey::Region => job.index.regions.len(),
                TopologyKey::Zone => job.index.zone_count,
            };
            let mut spread = Spread {
                key: t.topology_key,
                max_skew: t.max_skew.max(1),
                counts: vec![0; domains],
                eligible: vec![false; domains],
                min: 0,
                at_min: 0,
                offers: vec![0; domains],
            };
            for (s, slot) in self.slots.iter().enumerate() {
                let cluster_domain = self.cluster_domain(t.topology_key, s);
                let domain_of = |pool: usize| cluster_domain.or(job.index.pools[pool].zone);
                for p in self.pools[slot.pools.clone()].iter().filter(|p| p.kept > 0) {
                    if let Some(domain) = domain_of(p.pool) {
                        spread.counts[domain] += p.kept;
                    }
                }
                if let (true, Ok(choices)) = (slot.accepts_new, &job.candidates.clusters[slot.cluster]) {
                    let mut offered: Vec<usize> =
                        choices.pools.iter().filter_map(|c| domain_of(c.pool)).collect();
                    offered.sort_unstable();
                    offered.dedup();
                    for domain in offered {
                        spread.eligible[domain] = true;
                        spread.offers[domain] += 1;
                    }
                }
            }
            spread.recompute_min();
            self.spreads.push(spread);
        }
    }

    /// Gives up to `wanted` new seats; returns how many were given.
    fn scale_up(&mut self, job: &Job<'_>, capacity: &Capacity, wanted: u32) -> u32 {
        let strategy = job.workload.policy.strategy;
        self.build_spreads(job);
        // A cluster or region constraint whose skew even `wanted` more seats in one domain
        // cannot reach never blocks a seat: leave it out, so the seats may go in bulk. (A
        // zone constraint also picks the emptiest zone within a cluster, so it stays.)
        self.spreads.retain(|sp| {
            let max = sp.counts.iter().copied().max().unwrap_or(0);
            sp.key == TopologyKey::Zone
                || u64::from(sp.max_skew) + u64::from(sp.min) < u64::from(max) + u64::from(wanted)
        });
        self.new_round();
        self.heap.clear();
        self.blocked.clear();
        for s in 0..self.slots.len() {
            if self.slots[s].accepts_new {
                self.heap.push((self.key(s, strategy), s));
            }
        }
        // Seats in bulk count each cluster's room on its own, which a Fargate quota shared
        // between clusters would break: workloads that may use Fargate go seat by seat.
        let bulk =
            self.spreads.is_empty() && job.workload.policy.region_max.is_empty() && !job.candidates.fargate;
        let mut given = 0;
        while given < wanted {
            let Some((key, s)) = self.heap.pop() else { break };
            let now = self.key(s, strategy);
            if now != key {
                self.heap.push((now, s));
                continue;
            }
            if bulk && key.tier == Reverse(2) {
                self.heap.push((key, s));
                given += self.give_in_bulk(job, capacity, wanted - given);
                break;
            }
            let slot = &self.slots[s];
            if slot.seats >= slot.max {
                self.slots[s].stop = Some(Stop::Because(Reason::ClusterMax { max: slot.max }));
                continue;
            }
            if self.region_seats[slot.region] >= self.region_max[slot.region] {
                let region = &job.index.regions[slot.region];
                let max = self.region_max[slot.region];
                self.slots[s].stop = Some(Stop::Because(Reason::RegionMax {
                    region: region.clone(),
                    max,
                }));
                continue;
            }
            if let Some(spread) = self
                .spreads
                .iter()
                .find(|sp| self.cluster_domain(sp.key, s).is_some_and(|d| !sp.allows(d)))
            {
                let reason = Reason::TopologySpread {
                    key: spread.key,
                    max_skew: spread.max_skew,
                };
                self.slots[s].stop = Some(Stop::Because(reason));
                self.blocked.push(s);
                continue;
            }
            match self.pick_pool(s, job, capacity, u64::from(wanted - given)) {
                PoolPick::Pool(p) => {
                    given += 1;
                    let min_rose = self.seat(s, p, job);
                    if min_rose && self.round.rose.iter().all(|&r| r) {
                        given += self.repeat_round(job, capacity, wanted - given);
                        self.new_round();
                    }
                    if min_rose {
                        let unblocked = std::mem::take(&mut self.blocked);
                        for &b in &unblocked {
                            self.slots[b].stop = None;
                            self.heap.push((self.key(b, strategy), b));
                        }
                        self.blocked = unblocked;
                        self.blocked.clear();
                    }
                    self.heap.push((self.key(s, strategy), s));
                }
                PoolPick::Blocked(reason) => {
                    self.slots[s].stop = Some(Stop::Because(reason));
                    self.blocked.push(s);
                }
                PoolPick::Full => self.slots[s].stop = Some(Stop::Full),
            }
        }
        given
    }

    /// Records a new seat in pool slot `p` of slot `s`; returns true when the smallest count
    /// of a spread constraint rose (so blocked clusters may go on).
    fn seat(&mut self, s: usize, p: usize, job: &Job<'_>) -> bool {
        let pool = &mut self.pools[p];
        if pool.new == 0 {
            self.touched.push(p);
        }
        pool.new += 1;
        if let Some(r) = pool.remaining.as_mut() {
            *r -= 1;
        }
        if let Some(Some(left)) = job.index.pools[pool.pool]
            .bucket
            .map(|b| &mut self.bucket_left[b])
        {
            *left = left.saturating_sub(1);
        }
        let zone = job.index.pools[pool.pool].zone;
        self.slots[s].seats += 1;
        let region = self.slots[s].region;
        self.region_seats[region] += 1;
        let mut min_rose = false;
        for i in 0..self.spreads.len() {
            let Some(domain) = self.cluster_domain(self.spreads[i].key, s).or(zone) else {
                continue;
            };
            if self.spreads[i].add(domain) {
                min_rose = true;
                self.round.rose[i] = true;
            }
        }
        if !self.spreads.is_empty() {
            self.round.seats.push((s, p));
        }
        min_rose
    }

    /// Gives the seats of `times` repeats of a round (`per_slot`: seats per slot in it) to the
    /// same cluster and region domains, divided within each set of clusters sharing their
    /// domains by the strategy, as one by one (a round is too short to show that division).
    fn repeat_by_domains(
        &mut self,
        job: &Job<'_>,
        capacity: &Capacity,
        per_slot: &[(usize, u64)],
        times: u32,
    ) {
        let strategy = job.workload.policy.strategy;
        let domains_of = |this: &Self, s: usize| -> Vec<Option<usize>> {
            this.spreads
                .iter()
                .map(|sp| this.cluster_domain(sp.key, s))
                .collect()
        };
        let mut groups: Vec<(Vec<Option<usize>>, u64)> = Vec::new();
        for &(s, n) in per_slot {
            let domains = domains_of(self, s);
            match groups.iter_mut().find(|(d, _)| *d == domains) {
                Some((_, total)) => *total += n * u64::from(times),
                None => groups.push((domains, n * u64::from(times))),
            }
        }
        for (domains, wanted) in groups {
            let members: Vec<usize> = (0..self.slots.len())
                .filter(|&s| {
                    // Clusters the skew held back at the round's end take seats as well.
                    let slot = &self.slots[s];
                    slot.accepts_new
                        && matches!(
                            slot.stop,
                            None | Some(Stop::Because(Reason::TopologySpread { .. }))
                        )
                        && domains_of(self, s) == domains
                })
                .collect();
            let mut active: Vec<(usize, u64)> = members
                .into_iter()
                .map(|s| (s, self.slot_cap(s, job, capacity, wanted)))
                .collect();
            let shares = self.shares(strategy, &mut active, wanted);
            for (&(s, _), &share) in active.iter().zip(&shares) {
                self.fill_slot(s, share, job, capacity, wanted);
            }
        }
    }

    /// Starts a new round of seats.
    fn new_round(&mut self) {
        self.round.seats.clear();
        self.round.rose.clear();
        self.round.rose.resize(self.spreads.len(), false);
    }

    /// Repeats the round just ended as many times as fit below `left` seats (one round's
    /// worth is left to the one-by-one loop), the pools' rooms, the cluster and region
    /// maximums and every hard spread constraint's skew. Returns the seats given.
    fn repeat_round(&mut self, job: &Job<'_>, capacity: &Capacity, left: u32) -> u32 {
        let size = self.round.seats.len() as u64;
        if size == 0 || left < BULK_ROUNDS_FROM || job.candidates.fargate {
            return 0;
        }
        // Minimums pending still order seats differently from the rounds to come.
        let pending = self.slots.iter().any(|slot| {
            slot.accepts_new
                && slot.stop.is_none()
                && (slot.seats < slot.min || self.region_seats[slot.region] < self.region_min[slot.region])
        });
        if pending {
            return 0;
        }
        let mut per_pool: Vec<(usize, u64)> = Vec::new();
        let mut per_slot: Vec<(usize, u64)> = Vec::new();
        let mut per_region: Vec<(usize, u64)> = Vec::new();
        let mut per_domain: Vec<Vec<u64>> = self.spreads.iter().map(|sp| vec![0; sp.counts.len()]).collect();
        let bump = |list: &mut Vec<(usize, u64)>, key: usize| match list.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => list.push((key, 1)),
        };
        let mut seats = std::mem::take(&mut self.round.seats);
        seats.sort_unstable();
        for &(s, p) in &seats {
            bump(&mut per_pool, p);
            bump(&mut per_slot, s);
            bump(&mut per_region, self.slots[s].region);
            let zone = job.index.pools[self.pools[p].pool].zone;
            for (i, spread) in self.spreads.iter().enumerate() {
                if let Some(d) = self.cluster_domain(spread.key, s).or(zone) {
                    per_domain[i][d] += 1;
                }
            }
        }
        self.round.seats = seats;
        let mut times = u64::from(left) / size - 1;
        // Each repeat adds the round's seats to every domain again, so the gap between two
        // domains changes linearly: keep, for every pair, the domain that gains more at most
        // the skew above the other (then every repeat in between keeps it too). Past
        // `PAIRWISE_DOMAINS` eligible domains only a uniform raise is repeated.
        const PAIRWISE_DOMAINS: usize = 256;
        for (spread, gained) in self.spreads.iter().zip(&per_domain) {
            let eligible: Vec<usize> = (0..gained.len()).filter(|&d| spread.eligible[d]).collect();
            if eligible.len() > PAIRWISE_DOMAINS {
                let first = gained[eligible[0]];
                if eligible.iter().any(|&d| gained[d] != first) {
                    return 0;
                }
                continue;
            }
            for &d in eligible.iter().filter(|&&d| gained[d] > 0) {
                for &e in eligible.iter().filter(|&&e| gained[e] < gained[d]) {
                    let slack = (u64::from(spread.counts[e]) + u64::from(spread.max_skew))
                        .saturating_sub(u64::from(spread.counts[d]));
                    times = times.min(slack / (gained[d] - gained[e]));
                }
            }
        }
        for &(p, n) in &per_pool {
            times = times.min(self.pools[p].remaining.unwrap_or(0) / n);
        }
        for &(s, n) in &per_slot {
            times = times.min(u64::from(self.slots[s].max.saturating_sub(self.slots[s].seats)) / n);
        }
        for &(r, n) in &per_region {
            times = times.min(u64::from(self.region_max[r].saturating_sub(self.region_seats[r])) / n);
        }
        let Ok(times) = u32::try_from(times) else { return 0 };
        if times == 0 {
            return 0;
        }
        let scaled = |n: u64| n as u32 * times;
        if self.spreads.iter().any(|sp| sp.key == TopologyKey::Zone) {
            // Seats keep the round's pools: a zone constraint counts them by pool.
            for &(p, n) in &per_pool {
                let pool = &mut self.pools[p];
                pool.new += scaled(n);
                pool.remaining = pool.remaining.map(|r| r - u64::from(scaled(n)));
            }
            for &(s, n) in &per_slot {
                self.slots[s].seats += scaled(n);
            }
            for &(r, n) in &per_region {
                self.region_seats[r] += scaled(n);
            }
        } else {
            self.repeat_by_domains(job, capacity, &per_slot, times);
        }
        for (spread, gained) in self.spreads.iter_mut().zip(&per_domain) {
            for (count, &n) in spread.counts.iter_mut().zip(gained) {
                *count += scaled(n);
            }
            spread.recompute_min();
        }
        scaled(size)
    }

    /// Pool slot `p` of slot `s`, filled in from the cluster's choices on first use.
    fn pool_slot(&mut self, s: usize, p: usize, job: &Job<'_>) -> &mut PoolSlot {
        if self.pools[p].pool == usize::MAX {
            let slot = &self.slots[s];
            if let Ok(choices) = &job.candidates.clusters[slot.cluster] {
                self.pools[p] = PoolSlot::new(choices.at(p - slot.pools.start, slot.hash));
            }
        }
        &mut self.pools[p]
    }

    /// Replicas that still fit in pool slot `p`, counted on first use up to `limit`, the seats
    /// the workload still wants (it never wants more later, so the count stays valid).
    fn room(&mut self, s: usize, p: usize, job: &Job<'_>, capacity: &Capacity, limit: u64) -> u64 {
        let pool = self.pool_slot(s, p, job);
        if let Some(b) = job.index.pools[pool.pool].bucket {
            return *self.bucket_left[b].get_or_insert_with(|| capacity.bucket_fit(b, job.request));
        }
        *pool
            .remaining
            .get_or_insert_with(|| capacity.fit_up_to(pool.pool, job.request, limit))
    }

    /// Chooses the pool for the next seat of slot `s`: the first pool, in preference order,
    /// with room and a zone the spread constraints allow. Filling one pool before the next
    /// keeps the plan compact; the cluster's own scheduler still picks the nodes.
    fn pick_pool(&mut self, s: usize, job: &Job<'_>, capacity: &Capacity, limit: u64) -> PoolPick {
        let range = self.slots[s].pools.clone();
        let Some(z) = self.spreads.iter().position(|sp| sp.key == TopologyKey::Zone) else {
            for p in self.slots[s].cursor..range.end {
                if self.room(s, p, job, capacity, limit) > 0 {
                    return PoolPick::Pool(p);
                }
                self.slots[s].cursor = p + 1;
            }
            return PoolPick::Full;
        };
        // With a hard zone spread: the allowed pool whose zone holds the fewest replicas, then
        // whose zone the fewest clusters offer; within a zone, the first pool with room. Only
        // the first pool with room of each zone is looked at.
        let mut zone_blocked = None;
        let mut all_full_so_far = true;
        let mut emptiest_zone: Option<((u32, u32), usize)> = None;
        self.zones_seen.clear();
        for p in self.slots[s].cursor..range.end {
            let zone = job.index.pools[self.pool_slot(s, p, job).pool].zone;
            if self.zones_seen.contains(&zone) {
                all_full_so_far = false;
                continue;
            }
            let blocking = self
                .spreads
                .iter()
                .find(|sp| sp.key == TopologyKey::Zone && zone.is_some_and(|z| !sp.allows(z)))
                .map(|sp| Reason::TopologySpread {
                    key: sp.key,
                    max_skew: sp.max_skew,
                });
            if blocking.is_some() && zone_blocked.is_some() {
                all_full_so_far = false;
                continue;
            }
            if self.room(s, p, job, capacity, limit) == 0 {
                if all_full_so_far {
                    self.slots[s].cursor = p + 1;
                }
                continue;
            }
            all_full_so_far = false;
            if blocking.is_some() {
                zone_blocked = blocking;
                continue;
            }
            self.zones_seen.push(zone);
            let spread = &self.spreads[z];
            let rank = zone.map_or((u32::MAX, u32::MAX), |zone| {
                (spread.counts[zone], spread.offers[zone])
            });
            if emptiest_zone.is_none_or(|(best, _)| rank < best) {
                emptiest_zone = Some((rank, p));
            }
        }
        match (emptiest_zone, zone_blocked) {
            (Some((_, p)), _) => PoolPick::Pool(p),
            (None, Some(reason)) => PoolPick::Blocked(reason),
            (None, None) => PoolPick::Full,
        }
    }

    /// Gives `wanted` seats at once to the clusters in the heap, with the same result as
    /// giving them one by one: all are in the last tier, no spread constraint or region
    /// maximum applies, so seats go in Webster order (or pack order) until each cluster's
    /// maximum or room. Returns how many were given.
    fn give_in_bulk(&mut self, job: &Job<'_>, capacity: &Capacity, wanted: u32) -> u32 {
        let strategy = job.workload.policy.strategy;
        let mut slots: Vec<usize> = self.heap.drain().map(|(_, s)| s).collect();
        slots.sort_unstable();
        let wanted64 = u64::from(wanted);
        let mut active: Vec<(usize, u64)> = slots
            .into_iter()
            .map(|s| (s, self.slot_cap(s, job, capacity, wanted64)))
            .collect();
        let shares = self.shares(strategy, &mut active, wanted64);
        let mut given = 0u64;
        for (&(s, cap), &share) in active.iter().zip(&shares) {
            self.fill_slot(s, share, job, capacity, wanted64);
            given += share;
            if share == cap && share < wanted64 {
                let slot = &self.slots[s];
                self.slots[s].stop = Some(if slot.seats >= slot.max {
                    Stop::Because(Reason::ClusterMax { max: slot.max })
                } else {
                    Stop::Full
                });
            }
        }
        if given == wanted64 {
            for &(s, _) in &active {
                self.slots[s].stop = None;
            }
        }
        given as u32
    }

    /// Slot `s`'s cap: its room below the maximum, counted up to `wanted`.
    fn slot_cap(&mut self, s: usize, job: &Job<'_>, capacity: &Capacity, wanted: u64) -> u64 {
        let below_max = u64::from(self.slots[s].max.saturating_sub(self.slots[s].seats));
        let needed = wanted.min(below_max);
        let mut room = 0u64;
        for p in self.slots[s].pools.clone() {
            if room >= needed {
                break;
            }
            room += self.room(s, p, job, capacity, wanted);
        }
        room.min(needed)
    }

    /// The shares of `wanted` new seats over `active` slots with their caps, in the order the
    /// strategy gives seats one by one (`active` is put in pack order for `pack`).
    fn shares(&self, strategy: Strategy, active: &mut [(usize, u64)], wanted: u64) -> Vec<u64> {
        match strategy {
            Strategy::Pack => {
                active.sort_by_key(|&(s, _)| Reverse(self.key(s, strategy)));
                let mut left = wanted;
                active
                    .iter()
                    .map(|&(_, cap)| {
                        let give = cap.min(left);
                        left -= give;
                        give
                    })
                    .collect()
            }
            Strategy::Spread | Strategy::Weighted => self.webster_shares(active, wanted),
        }
    }

    /// Webster shares of `wanted` new seats over `active` slots with their caps: the seats a
    /// one-by-one Webster division would give, computed from a threshold estimate and then
    /// corrected seat by seat in exact priority order.
    fn webster_shares(&self, active: &[(usize, u64)], wanted: u64) -> Vec<u64> {
        let total_weight: u128 = active
            .iter()
            .map(|&(s, _)| u128::from(self.slots[s].weight))
            .sum();
        let total_seats: u128 = active
            .iter()
            .map(|&(s, _)| u128::from(self.slots[s].seats))
            .sum::<u128>()
            + u128::from(wanted);
        // Quotient weight / (2k + 1) > W / (2S)  <=>  (2k + 1) * W < weight * 2S.
        let (p, q) = (total_weight.max(1), 2 * total_seats.max(1));
        let mut shares: Vec<u64> = active
            .iter()
            .map(|&(s, cap)| {
                let slot = &self.slots[s];
                let wq = u128::from(slot.weight) * q;
                let count = if wq <= p { 0 } else { ((wq - 1) / p).div_ceil(2) };
                let count = u64::try_from(count).unwrap_or(u64::MAX);
                count.saturating_sub(u64::from(slot.seats)).min(cap)
            })
            .collect();
        let item = |i: usize, seats: u64| {
            let slot = &self.slots[active[i].0];
            SeatKey {
                tier: Reverse(2),
                rank: Rank::Share {
                    weight: slot.weight,
                    seats: u32::try_from(u64::from(slot.seats) + seats).unwrap_or(u32::MAX),
                },
                hash: slot.hash,
            }
        };
        let mut given: u64 = shares.iter().sum();
        if given < wanted {
            let mut next: BinaryHeap<(SeatKey, usize)> = (0..active.len())
                .filter(|&i| shares[i] < active[i].1)
                .map(|i| (item(i, shares[i]), i))
                .collect();
            while given < wanted {
                let Some((_, i)) = next.pop() else { break };
                shares[i] += 1;
                given += 1;
                if shares[i] < active[i].1 {
                    next.push((item(i, shares[i]), i));
                }
            }
        } else if given > wanted {
            let mut last: BinaryHeap<Reverse<(SeatKey, usize)>> = (0..active.len())
                .filter(|&i| shares[i] > 0)
                .map(|i| Reverse((item(i, shares[i] - 1), i)))
                .collect();
            while given > wanted {
                let Some(Reverse((_, i))) = last.pop() else { break };
                shares[i] -= 1;
                given -= 1;
                if shares[i] > 0 {
                    last.push(Reverse((item(i, shares[i] - 1), i)));
                }
            }
        }
        shares
    }

    /// Puts `seats` new seats into slot `s`'s pools in preference order.
    fn fill_slot(&mut self, s: usize, seats: u64, job: &Job<'_>, capacity: &Capacity, limit: u64) {
        let mut left = seats;
        let range = self.slots[s].pools.clone();
        for p in range {
            if left == 0 {
                break;
            }
            let take = self.room(s, p, job, capacity, limit).min(left);
            if take == 0 {
                continue;
            }
            let pool = &mut self.pools[p];
            if pool.new == 0 {
                self.touched.push(p);
            }
            pool.new += take as u32;
            pool.remaining = pool.remaining.map(|r| r - take);
            left -= take;
        }
        debug_assert_eq!(left, 0, "a slot was given more seats than it has room for");
        let placed = (seats - left) as u32;
        self.slots[s].seats += placed;
        let region = self.slots[s].region;
        self.region_seats[region] += placed;
    }
}

enum PoolPick {
    Pool(usize),
    Blocked(Reason),
    Full,
}
