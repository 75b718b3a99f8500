//! Dense indices over a problem: resources, regions, zones and pools become small integers so
//! that the hot loops work on flat arrays instead of maps of strings.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use crate::fargate::{FargateRates, FargateSize, fargate_size};
use crate::problem::Problem;
use crate::resources::{ResourceName, Resources};
use crate::workload::PodTemplate;

/// A resource vector in dense form: only the non-zero `(resource index, amount)` pairs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Request {
    pub items: Vec<(usize, i64)>,
    /// The size Fargate would give one replica, when the fleet has Fargate profiles and the
    /// replica is not too large for Fargate.
    pub fargate: Option<FargateSize>,
}

/// Where one pool sits.
#[derive(Clone, Debug)]
pub(crate) struct PoolRef {
    /// Index of its cluster in `Problem::clusters`.
    pub cluster: usize,
    /// Index in its cluster's `pools`.
    pub local: usize,
    /// Dense zone index, if the pool has a zone.
    pub zone: Option<usize>,
    /// For a Fargate profile: the index of its account and region in [`Index::buckets`].
    pub bucket: Option<usize>,
}

/// The Fargate capacity of one account in one region, shared by its clusters' profiles.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    /// The account.
    pub account: Option<String>,
    /// Dense region index.
    pub region: usize,
    /// The quota, in millicores.
    pub quota_millis: i64,
    /// The region's Fargate prices.
    pub rates: FargateRates,
}

/// Dense indices of one problem.
pub(crate) struct Index {
    /// Resource index to name; `pods` is always index 0.
    pub resources: Vec<ResourceName>,
    resource_ids: HashMap<ResourceName, usize>,
    /// Every pool of the fleet, cluster by cluster.
    pub pools: Vec<PoolRef>,
    /// For each cluster, its range in `pools`.
    pub cluster_pools: Vec<Range<usize>>,
    /// For each cluster, its dense region index.
    pub cluster_region: Vec<usize>,
    /// Region names by index.
    pub regions: Vec<String>,
    /// How many distinct zones there are.
    pub zone_count: usize,
    /// Fargate quotas per account and region in use by some Fargate profile.
    pub buckets: Vec<Bucket>,
}

impl Index {
    pub fn new(problem: &Problem) -> Self {
        let mut index = Index {
            resources: Vec::new(),
            resource_ids: HashMap::new(),
            pools: Vec::new(),
            cluster_pools: Vec::with_capacity(problem.clusters.len()),
            cluster_region: Vec::with_capacity(problem.clusters.len()),
            regions: Vec::new(),
            zone_count: 0,
            buckets: Vec::new(),
        };
        // Resource indices in a canonical order (pods first, then by name), so that no decision
        // depends on the order in which clusters or workloads happen to mention resources.
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for cluster in &problem.clusters {
            for pool in &cluster.pools {
                for group in &pool.nodes {
                    names.extend(group.free.iter().map(|(name, _)| name.as_str()));
                }
            }
        }
        for workload in &problem.workloads {
            let template = &workload.template;
            for container in template.containers.iter().chain(&template.init_containers) {
                names.extend(container.requests.iter().map(|(name, _)| name.as_str()));
            }
        }
        index.resource_id(ResourceName::PODS);
        for name in names {
            index.resource_id(name);
        }
        let mut regions: HashMap<&str, usize> = HashMap::new();
        let mut zones: HashMap<&str, usize> = HashMap::new();
        for (c, cluster) in problem.clusters.iter().enumerate() {
            let next = regions.len();
            let region = *regions.entry(cluster.region.as_str()).or_insert(next);
            if region == index.regions.len() {
                index.regions.push(cluster.region.clone());
            }
            index.cluster_region.push(region);
            let start = index.pools.len();
            for (local, pool) in cluster.pools.iter().enumerate() {
                let zone = pool.zone.as_deref().map(|z| {
                    let next = zones.len();
                    *zones.entry(z).or_insert(next)
                });
                let bucket = pool.fargate.as_ref().map(|_| {
                    let account = cluster.account.as_deref();
                    let found = index
                        .buckets
                        .iter()
                        .position(|b| b.account.as_deref() == account && b.region == region);
                    found.unwrap_or_else(|| {
                        let vcpus = problem.fargate.quota_vcpus(account, &cluster.region);
                        index.buckets.push(Bucket {
                            account: cluster.account.clone(),
                            region,
                            quota_millis: i64::from(vcpus) * 1000,
                            rates: problem.fargate.rates(&cluster.region),
                        });
                        index.buckets.len() - 1
                    })
                });
                index.pools.push(PoolRef {
                    cluster: c,
                    local,
                    zone,
                    bucket,
                });
            }
            index.cluster_pools.push(start..index.pools.len());
        }
        index.zone_count = zones.len();
        index
    }

    fn resource_id(&mut self, name: &str) -> usize {
        if let Some(&id) = self.resource_ids.get(name) {
            return id;
        }
        let id = self.resources.len();
        self.resources.push(ResourceName::new(name));
        self.resource_ids.insert(ResourceName::new(name), id);
        id
    }

    /// The dense form of a request; resources the index does not know are dropped (they
    /// cannot occur for requests of the indexed problem).
    pub fn request(&self, resources: &Resources) -> Request {
        let mut items: Vec<(usize, i64)> = resources
            .iter()
            .filter(|(_, amount)| *amount > 0)
            .filter_map(|(name, amount)| self.resource_ids.get(name).map(|&id| (id, amount)))
            .collect();
        items.sort_unstable();
        let fargate = if self.buckets.is_empty() {
            None
        } else {
            fargate_size(resources).ok()
        };
        Request { items, fargate }
    }

    /// What one replica of `template` needs, in dense form (see
    /// [`PodTemplate::effective_requests`]); the common single-container case skips building
    /// the intermediate map.
    pub fn replica_request(&self, template: &PodTemplate) -> Request {
        match (
            template.containers.as_slice(),
            template.init_containers.is_empty(),
        ) {
            ([only], true) => {
                let mut request = self.request(&only.requests);
                request.items.retain(|&(r, _)| r != 0);
                request.items.insert(0, (0, 1));
                request
            }
            _ => self.request(&template.effective_requests()),
        }
    }

    /// What one replica of every workload of `problem` needs, in workload order.
    pub fn replica_requests(&self, problem: &Problem) -> Vec<Request> {
        problem
            .workloads
            .iter()
            .map(|w| self.replica_request(&w.template))
            .collect()
    }

    /// The dense form of a free-resource set, one slot per known resource.
    pub fn dense(&self, resources: &Resources) -> Vec<i64> {
        let mut out = vec![0; self.resources.len()];
        for (name, amount) in resources.iter() {
            if let Some(&id) = self.resource_ids.get(name) {
                out[id] = amount;
            }
        }
        out
    }
}
