//! The models our flow and exact solvers solve, handed out as plain data so that other solvers
//! (the benchmark peers: OR-Tools, networkx, scipy's HiGHS, CP-SAT) can solve the identical
//! model, and the cluster-level view of a problem that cluster-level schedulers such as Karmada
//! work from.
//!
//! Nothing here plans: each function builds the same model the solver builds for `problem`
//! and returns it. See `benches/INSTANCES.md` for the JSON forms the benchmark harness writes.

use super::flow;
use super::min_cost_flow::FlowNetwork;
use super::model::Model;
use crate::error::Error;
use crate::objective::Weights;
use crate::problem::Problem;

/// The network the flow solver builds for `problem` (node weight: supply; arc weight: capacity
/// and integer cost), before it is solved by [`super::min_cost_flow::min_cost_flow`].
///
/// # Errors
/// When the problem is invalid.
pub fn flow_network(problem: &Problem, weights: Weights) -> Result<FlowNetwork, Error> {
    problem.validate()?;
    let model = Model::new(problem, weights);
    Ok(flow::network(&model).net)
}

/// A mixed-integer linear program in the column and row form most solvers take (that of
/// `scipy.optimize.milp`): minimise `objective · x + constant` subject to
/// `lower <= x <= upper`, `row_lower <= A x <= row_upper`, and `x[j]` integral where
/// `integer[j]`. Infinite bounds are `f64::INFINITY` or `f64::NEG_INFINITY`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MilpMatrix {
    /// Cost of each column.
    pub objective: Vec<f64>,
    /// Constant added to the objective.
    pub constant: f64,
    /// Whether each column must be an integer.
    pub integer: Vec<bool>,
    /// Lower bound of each column.
    pub lower: Vec<f64>,
    /// Upper bound of each column.
    pub upper: Vec<f64>,
    /// Compressed sparse rows of `A`: row `i` holds `columns[row_starts[i]..row_starts[i + 1]]`
    /// with the matching `values` (one more entry than rows).
    pub row_starts: Vec<usize>,
    /// Column of each non-zero, ascending within a row.
    pub columns: Vec<usize>,
    /// Value of each non-zero.
    pub values: Vec<f64>,
    /// Lower bound of each row.
    pub row_lower: Vec<f64>,
    /// Upper bound of each row.
    pub row_upper: Vec<f64>,
}

/// The MILP the exact solver hands to HiGHS for `problem`, column for column and row for row.
///
/// # Errors
/// When the problem is invalid, or the exact solver is not built in.
pub fn milp(problem: &Problem, weights: Weights) -> Result<MilpMatrix, Error> {
    problem.validate()?;
    #[cfg(any(feature = "highs", feature = "microlp"))]
    {
        let model = Model::new(problem, weights);
        Ok(super::exact::matrix(&model))
    }
    #[cfg(not(any(feature = "highs", feature = "microlp")))]
    {
        let _ = weights;
        Err(Error::ExactUnavailable)
    }
}

/// Per workload, the clusters (indices into `problem.clusters`) that may take new replicas of
/// it: those whose health, cluster-level rules and at least one node pool allow it. This is what
/// a cluster-level scheduler's filters would leave for the same rules.
///
/// # Errors
/// When the problem is invalid.
pub fn candidate_clusters(problem: &Problem) -> Result<Vec<Vec<usize>>, Error> {
    problem.validate()?;
    let model = Model::new(problem, Weights::default());
    Ok(model
        .workloads
        .iter()
        .map(|m| {
            let mut clusters: Vec<usize> = m
                .arcs
                .iter()
                .filter(|a| a.new_ok)
                .map(|a| m.clusters[a.slot].cluster)
                .collect();
            clusters.sort_unstable();
            clusters.dedup();
            clusters
        })
        .collect())
}

#[cfg(all(test, feature = "highs"))]
mod tests {

    use super::*;
    use crate::cluster::{Cluster, HourlyPrice, NodePool};
    use crate::resources::Resources;
    use crate::workload::{PerName, Strategy, Workload};

    /// Three clusters of two priced pools, five workloads with a cluster maximum, a cluster
    /// minimum, a gang, a `pack` and a `weighted` policy, and less room than demand.
    fn problem() -> Problem {
        let clusters = (0..3)
            .map(|c| {
                let mut cluster = Cluster::new(&format!("c{c}"), &format!("r{}", c % 2));
                for (p, cpu) in [(0, 2000), (1, 4000)] {
                    let mut pool = NodePool::uniform(
                        &format!("p{p}"),
                        2 + c,
                        Resources::new()
                            .with("cpu", cpu)
                            .with("memory", 8 << 30)
                            .with("pods", 20),
                    );
                    pool.node_price = HourlyPrice::from_units(0.1 + 0.05 * (c + p) as f64);
                    cluster.pools.push(pool);
                }
                cluster
            })
            .collect();
        let request = |cpu: i64| Resources::new().with("cpu", cpu).with("memory", 1 << 30);
        let mut workloads: Vec<Workload> = (0..5)
            .map(|i| {
                Workload::new(
                    "ns",
                    &format!("w{i}"),
                    6 + 3 * i,
                    request(250 * (1 + i64::from(i % 3))),
                )
            })
            .collect();
        workloads[0].policy.cluster_max = PerName {
            default: Some(3),
            named: Default::default(),
        };
        workloads[1].policy.cluster_min.named.insert("c2".into(), 2);
        workloads[2].policy.gang = true;
        workloads[3].policy.strategy = Strategy::Pack;
        workloads[4].policy.strategy = Strategy::Weighted;
        workloads[4].policy.cluster_weights.named.insert("c0".into(), 3);
        Problem {
            clusters,
            workloads,
            ..Problem::default()
        }
    }

    #[test]
    fn the_exported_milp_has_the_exact_solvers_optimum() {
        let problem = problem();
        let weights = Weights::default();
        let m = milp(&problem, weights).unwrap();
        assert_eq!(m.row_starts.len(), m.row_lower.len() + 1);
        assert_eq!(m.columns.len(), m.values.len());
        assert!(m.integer.iter().any(|&i| i) && m.integer.iter().any(|&i| !i));

        let mut highs = highs::RowProblem::default();
        let cols: Vec<_> = (0..m.objective.len())
            .map(|j| highs.add_column_with_integrality(m.objective[j], m.lower[j]..=m.upper[j], m.integer[j]))
            .collect();
        for i in 0..m.row_lower.len() {
            let row = (m.row_starts[i]..m.row_starts[i + 1]).map(|k| (cols[m.columns[k]], m.values[k]));
            highs.add_row(m.row_lower[i]..=m.row_upper[i], row);
        }
        let mut model = highs.optimise(highs::Sense::Minimise);
        model.set_option("threads", 1);
        let exported = model.solve().objective_value() + m.constant;

        let model = Model::new(&problem, weights);
        let ours = super::super::exact::solve(&model, None).unwrap();
        let value = model.evaluate(&ours.assignment).total;
        assert!(ours.optimal);
        assert!(
            (exported - value).abs() <= 1e-6 * value.abs().max(1.0),
            "exported {exported}, ours {value}"
        );
    }

    #[test]
    fn the_flow_network_is_balanced_and_candidates_name_ready_clusters() {
        let mut problem = problem();
        problem.clusters[1].health = crate::cluster::Health::NotReady;
        let network = flow_network(&problem, Weights::default()).unwrap();
        assert_eq!(network.node_weights().sum::<i64>(), 0);
        let candidates = candidate_clusters(&problem).unwrap();
        assert_eq!(candidates.len(), 5);
        assert!(candidates.iter().all(|c| c == &vec![0, 2]));
    }
}
