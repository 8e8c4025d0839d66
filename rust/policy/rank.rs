//! The rules in the order their reasons are reported, prepared once per policy so that an
//! evaluation visits them in that order and never sorts.
//!
//! Reasons are reported block first, then allow, then flag, then score-only rules; by score,
//! highest first, within each; in file order among equals. The emergency safeguard is ranked
//! as a rule too (condition `emergency`, no effect, weight 0, never observed), after every
//! rule it does not precede in that order: where a stable sort of the rules' reasons followed
//! by it would put it.

use super::features::Feature;
use super::program::{Check, Node, Pred, Program, FALSE};
use super::specialize::Variant;
use super::{Rule, EMERGENCY_REASON};
use crate::verdict::{Action, ReasonId};
use std::cmp::Ordering;

/// One rule, with what its reason and the score need.
#[derive(Clone, Debug)]
pub(super) struct Ranked {
    /// The reason it gives.
    pub id: ReasonId,
    /// Its score.
    pub weight: f64,
    /// `1 - weight` (clamped to [0, 1]): its factor in the noisy-OR product.
    pub keep: f64,
    /// Its hard effect.
    pub effect: Option<Action>,
    /// Its reason only reports: in `enforce` and in `observe` mode.
    pub observe: [bool; 2],
    /// Where its condition's nodes start in [`Ranking::nodes`].
    pub start: usize,
}

/// The rules in reason order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ranking {
    pub(super) rules: Vec<Ranked>,
    /// The conditions' nodes, one program after another (none empty).
    pub(super) nodes: Vec<Node>,
    /// The rules and nodes specialised to each context a call can be in (see
    /// [`super::specialize`]); filled in once the policy is built.
    pub(super) variants: Vec<Variant>,
}

impl Ranking {
    /// Orders `rules` (in file order).
    pub(super) fn new(rules: &[Rule]) -> Ranking {
        let mut ranked: Vec<(Ranked, &Program)> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let rule = Ranked {
                    id: ReasonId::Rule(i as u16),
                    weight: r.score,
                    keep: keep(r.score),
                    effect: r.action,
                    observe: [r.observe, true],
                    start: 0,
                };
                (rule, &r.program)
            })
            .collect();
        // A stable sort: file order among equals.
        ranked.sort_by(|(a, _), (b, _)| order(a.effect, a.weight, b.effect, b.weight));
        let at = ranked
            .partition_point(|(r, _)| order(r.effect, r.weight, None, 0.0) != Ordering::Greater);
        let emergency_program = Program::single(Pred::True(Feature::Emergency));
        let emergency = Ranked {
            id: ReasonId::Builtin(EMERGENCY_REASON),
            weight: 0.0,
            keep: keep(0.0),
            effect: None,
            observe: [false, false],
            start: 0,
        };
        ranked.insert(at, (emergency, &emergency_program));
        let mut nodes = Vec::new();
        let rules = ranked
            .into_iter()
            .map(|(mut rule, program)| {
                rule.start = nodes.len();
                nodes.extend_from_slice(program.nodes());
                if program.nodes().is_empty() {
                    nodes.push(Node {
                        check: Check::Const(false),
                        on_true: FALSE,
                        on_false: FALSE,
                    });
                }
                rule
            })
            .collect();
        Ranking {
            rules,
            nodes,
            variants: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_as_a_stable_sort_of_the_reasons_with_the_emergency_reason_last() {
        let effects = [
            None,
            Some(Action::Flag),
            Some(Action::Allow),
            Some(Action::Block),
        ];
        let weights = [0.0, -0.0, 0.1, 0.5, 0.5, 1.0];
        let rules: Vec<Rule> = (0..40)
            .map(|i| Rule {
                id: format!("r{i}"),
                description: String::new(),
                when: String::new(),
                score: weights[(i * 7) % weights.len()],
                action: effects[(i * 3) % effects.len()],
                observe: false,
                program: Program::default(),
            })
            .collect();
        for n in [0, 1, 5, 40] {
            let rules = &rules[..n];
            // What evaluation used to do: the reasons in file order, then the emergency one,
            // stably sorted.
            let mut expected: Vec<(ReasonId, Option<Action>, f64)> = rules
                .iter()
                .enumerate()
                .map(|(i, r)| (ReasonId::Rule(i as u16), r.action, r.score))
                .chain([(ReasonId::Builtin(EMERGENCY_REASON), None, 0.0)])
                .collect();
            expected.sort_by(|a, b| order(a.1, a.2, b.1, b.2));
            let ranking = Ranking::new(rules);
            let got: Vec<ReasonId> = ranking.rules.iter().map(|r| r.id).collect();
            let expected: Vec<ReasonId> = expected.iter().map(|r| r.0).collect();
            assert_eq!(got, expected, "{n} rules");
            // Every condition has a node of its own, the empty ones included.
            assert!(ranking.rules.windows(2).all(|w| w[0].start < w[1].start));
            assert!(ranking
                .rules
                .last()
                .is_some_and(|r| r.start < ranking.nodes.len()));
        }
    }
}
