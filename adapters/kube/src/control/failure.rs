//! Failure detection: what one registered cluster counts as in a pass, from whether it
//! answered now, how long it has been silent and what is known of it.
//!
//! A cluster that has not answered for the failure threshold is Unreachable: its replicas
//! count as lost, and the plan places them on the others at once. Until then its last
//! snapshot stands in for it, so a blip moves nothing. A newly registered cluster that has
//! not answered yet holds planning back (for up to the threshold), so that the first plan
//! does not pile everything on the clusters that answered first.

use std::time::Duration;

/// What a cluster counts as in one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It answered: plan with what it holds now, and apply to it.
    Answered,
    /// It did not answer, within the threshold, and answered before: its last snapshot
    /// stands in for it and nothing moves; nothing is applied to it.
    Late,
    /// Newly registered, never read, within the threshold: plan nothing this pass.
    Waiting,
    /// Silent past the threshold (or never read past it): its replicas are placed elsewhere.
    Unreachable,
}

/// What a cluster counts as: `answered` now or not, `silent` for how long since it last
/// answered (or since it was registered, if it never did), whether a snapshot of it is
/// known (`known`), against `threshold`.
pub fn judge(answered: bool, silent: Duration, known: bool, threshold: Duration) -> Verdict {
    let within = silent < threshold;
    match (answered, known, within) {
        (true, _, _) => Verdict::Answered,
        (false, false, true) => Verdict::Waiting,
        (false, true, true) => Verdict::Late,
        (false, _, false) => Verdict::Unreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLD: Duration = Duration::from_secs(10);

    #[test]
    fn an_answer_always_counts() {
        for (silent, known) in [(0, false), (3, true), (60, true)] {
            assert_eq!(
                judge(true, Duration::from_secs(silent), known, THRESHOLD),
                Verdict::Answered
            );
        }
    }

    #[test]
    fn a_blip_moves_nothing_and_a_long_silence_is_a_failure() {
        assert_eq!(
            judge(false, Duration::from_secs(9), true, THRESHOLD),
            Verdict::Late
        );
        assert_eq!(
            judge(false, Duration::from_secs(10), true, THRESHOLD),
            Verdict::Unreachable
        );
        assert_eq!(
            judge(false, Duration::from_secs(600), true, THRESHOLD),
            Verdict::Unreachable
        );
    }

    #[test]
    fn a_new_cluster_is_waited_for_up_to_the_threshold() {
        assert_eq!(
            judge(false, Duration::from_secs(2), false, THRESHOLD),
            Verdict::Waiting
        );
        assert_eq!(
            judge(false, Duration::from_secs(11), false, THRESHOLD),
            Verdict::Unreachable
        );
    }
}
