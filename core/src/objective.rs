//! What makes one plan better than another: the objective every solver minimises and every
//! plan is scored by.
//!
//! The objective is a weighted sum of terms, each counted per replica so that the weights are
//! comparable. Hard rules (capacity, maximums, required rules, hard topology spread, gangs)
//! are never traded against it; they bound the plans that are scored at all.
//!
//! | term | counts | default weight |
//! |---|---|---|
//! | `unplaced` | replicas left unplaced, times `1 + tier` where tier 0 is the lowest pod priority in the problem, 1 the next, ... | 1000 |
//! | `below_minimum` | replicas missing from cluster and region minimums, plus regions missing from `min-regions` | 100 |
//! | `moved` | running replicas the plan removes from their pool (disruption) | 10 |
//! | `imbalance` | for `spread` and `weighted`: the L1 distance between the replicas per cluster and the weighted share of the target; for `pack`: each replica times its cluster's rank in fill order divided by the number of clusters | 1 |
//! | `preference` | per replica: unmatched preferred node-affinity weight / 100, plus 1 per untolerated `PreferNoSchedule` taint | 1 |
//! | `cost` | per replica: its price divided by the price of the workload's most expensive pool (so 0 to 1); a replica's price is its node's price times the largest share of the node's allocatable it requests, or on Fargate its size at the region's rates | 1 |
//! | `demand` | per replica: `1 - demand(region) / max demand` for workloads with `region-demand` | 1 |
//! | `fixed` | per cluster running any planned replica: its fixed price divided by the largest fixed price | 1 |
//!
//! The currency amounts behind the cost terms are reported beside the score
//! ([`ObjectiveValue::cost_per_hour`], [`ObjectiveValue::fixed_per_hour`]).

use serde::{Deserialize, Serialize};

/// The weight of every objective term (see the module documentation for what each counts).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Weights {
    /// Per unplaced replica (times `1 + priority tier`).
    pub unplaced: f64,
    /// Per replica (or region) short of a minimum.
    pub below_minimum: f64,
    /// Per running replica moved or removed.
    pub moved: f64,
    /// Per replica away from the strategy's division.
    pub imbalance: f64,
    /// Per unit of unmet preference.
    pub preference: f64,
    /// Per replica at the workload's most expensive pool's price.
    pub cost: f64,
    /// Per replica away from the regions with the most demand.
    pub demand: f64,
    /// Per cluster used at the largest fixed price.
    pub fixed: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            unplaced: 1000.0,
            below_minimum: 100.0,
            moved: 10.0,
            imbalance: 1.0,
            preference: 1.0,
            cost: 1.0,
            demand: 1.0,
            fixed: 1.0,
        }
    }
}

impl Weights {
    /// The weight names accepted by [`Weights::set`], in order.
    pub const NAMES: [&'static str; 8] = [
        "unplaced",
        "below-minimum",
        "moved",
        "imbalance",
        "preference",
        "cost",
        "demand",
        "fixed",
    ];

    /// The largest weight [`Weights::set`] takes. Above it the solvers' integer costs would
    /// overflow on large fleets; the defaults span 0.1 to 1000, so a million leaves room to
    /// make any term dominate.
    pub const MAX: f64 = 1_000_000.0;

    /// Sets the weight called `name` (one of [`Weights::NAMES`]) to `value`, which must be a
    /// number from 0 to [`Weights::MAX`]; the error says which of the two is wrong.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        let slot = match name {
            "unplaced" => &mut self.unplaced,
            "below-minimum" => &mut self.below_minimum,
            "moved" => &mut self.moved,
            "imbalance" => &mut self.imbalance,
            "preference" => &mut self.preference,
            "cost" => &mut self.cost,
            "demand" => &mut self.demand,
            "fixed" => &mut self.fixed,
            _ => {
                return Err(format!(
                    "unknown weight `{name}` (names: {})",
                    Weights::NAMES.join(", ")
                ));
            }
        };
        if !(0.0..=Self::MAX).contains(&value) {
            return Err(format!("weight `{name}`: {value} is outside 0 to {}", Self::MAX));
        }
        *slot = value;
        Ok(())
    }
}

/// A plan's score: the weighted total and the raw measure behind every term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveValue {
    /// The weighted sum that solvers minimise.
    pub total: f64,
    /// Unplaced replicas.
    pub unplaced: u64,
    /// Replicas (and regions) short of minimums.
    pub below_minimum: u64,
    /// Running replicas moved or removed.
    pub moved: u64,
    /// Replicas away from the strategy's division (see the module documentation).
    pub imbalance: f64,
    /// Unmet preference.
    pub preference: f64,
    /// Price of the planned replicas per hour, in currency units.
    pub cost_per_hour: f64,
    /// Normalised cost term (0 to 1 per replica).
    pub cost: f64,
    /// Replicas away from demand.
    pub demand: f64,
    /// Fixed prices of the clusters used, per hour, in currency units.
    pub fixed_per_hour: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_set_by_name_within_range() {
        let mut w = Weights::default();
        w.set("cost", 5.0).unwrap();
        assert_eq!(w.cost, 5.0);
        w.set("moved", Weights::MAX).unwrap();
        assert!(
            w.set("speed", 1.0)
                .unwrap_err()
                .starts_with("unknown weight `speed` (names: unplaced,")
        );
        for bad in [-1.0, 1e15, f64::INFINITY, f64::NAN] {
            let message = w.set("unplaced", bad).unwrap_err();
            assert!(message.contains("is outside 0 to 1000000"), "{message}");
        }
        assert_eq!(
            w.unplaced,
            Weights::default().unplaced,
            "a refused value changes nothing"
        );
    }
}
