//! Small helpers over `SmallRng`: one stream per generation stage, weighted choices and a
//! heavy-tailed size distribution, written here so that only `rand`'s core API is relied on.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// An independent stream for `stage`, derived from the user's seed (splitmix64), so that
/// changing one stage (such as the current state) leaves the others' draws unchanged.
pub(crate) fn stream(seed: u64, stage: u64) -> SmallRng {
    let mut z = seed ^ stage.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    SmallRng::seed_from_u64(z ^ (z >> 31))
}

/// One item, chosen with probability proportional to its weight.
pub(crate) fn pick<T: Copy>(rng: &mut SmallRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for &(item, weight) in items {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    items[items.len() - 1].0
}

/// A choice among `n` items with Zipf-like weights `1 / (i + 1)^exponent`, precomputed.
pub(crate) struct Skewed {
    cumulative: Vec<f64>,
}

impl Skewed {
    pub fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Skewed { cumulative }
    }

    pub fn sample(&self, rng: &mut SmallRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let roll = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= roll)
            .min(self.cumulative.len() - 1)
    }
}

/// A Pareto draw with shape `alpha` and scale 1, capped at `cap`: most values are near 1,
/// a few are large.
pub(crate) fn pareto(rng: &mut SmallRng, alpha: f64, cap: f64) -> f64 {
    let u: f64 = rng.random();
    (1.0 - u).powf(-1.0 / alpha).min(cap)
}

/// `k` distinct items of `items`, in random order (a partial Fisher-Yates shuffle).
pub(crate) fn sample<T: Copy>(rng: &mut SmallRng, items: &[T], k: usize) -> Vec<T> {
    let mut pool = items.to_vec();
    let k = k.min(pool.len());
    for i in 0..k {
        let j = rng.random_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool
}
