//! The rules in the order their reasons are reported, prepared once per policy so that an
//! evaluation visits them in that order and never sorts.
//!
//! Reasons are reported block first, then allow, then flag, then score-only rules; by score,
//! highest first, within each; in file order among equals. The emergency reason (no effect,
//! weight 0) goes after every rule it does not precede in that order, as a stable sort of
//! the rules' reasons followed by it would put it.

use super::program::Program;
use super::Rule;
use crate::verdict::Action;
use std::cmp::Ordering;

/// One rule, with what its reason and the score need.
#[derive(Clone, Debug)]
pub(super) struct Ranked {
    /// The rule's index in the policy.
    pub index: u16,
    /// Its score.
    pub weight: f64,
    /// `1 - weight` (clamped to [0, 1]): its factor in the noisy-OR product.
    pub keep: f64,
    /// Its hard effect.
    pub effect: Option<Action>,
    /// It only reports (whatever the policy's mode).
    pub observe: bool,
    /// Its condition.
    pub program: Program,
}

/// The rules in reason order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ranking {
    pub(super) rules: Vec<Ranked>,
    /// How many of `rules` report before the emergency reason.
    pub(super) emergency_at: usize,
}

impl Ranking {
    /// Orders `rules` (in file order).
    pub(super) fn new(rules: &[Rule]) -> Ranking {
        let mut ranked: Vec<Ranked> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| Ranked {
                index: i as u16,
                weight: r.score,
                keep: keep(r.score),
                effect: r.action,
                observe: r.observe,
                program: r.program.clone(),
            })
            .collect();
        // A stable sort: file order among equals.
        ranked.sort_by(|a, b| order(a.effect, a.weight, b.effect, b.weight));
        let emergency_at =
            ranked.partition_point(|r| order(r.effect, r.weight, None, 0.0) != Ordering::Greater);
        Ranking {
            rules: ranked,
            emergency_at,
        }
    }
}

/// A reason's factor in `Π(1 - s)`.
#[inline]
pub(super) fn keep(weight: f64) -> f64 {
    1.0 - weight.clamp(0.0, 1.0)
}

/// Reason order: by effect, then by weight, highest first.
fn order(
    a_effect: Option<Action>,
    a_weight: f64,
    b_effect: Option<Action>,
    b_weight: f64,
) -> Ordering {
    effect_rank(a_effect)
        .cmp(&effect_rank(b_effect))
        .then(b_weight.total_cmp(&a_weight))
}

/// Block first, then allow, then flag, then score-only rules.
fn effect_rank(effect: Option<Action>) -> u8 {
    match effect {
        Some(Action::Block) => 0,
        Some(Action::Allow) => 1,
        Some(Action::Flag) => 2,
        None => 3,
    }
}
