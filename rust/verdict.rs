//! What scoring returns: an action, a score in [0, 1] and the reasons behind them.

use crate::normalize::Invalid;
use crate::numplan::Classification;
use crate::policy::Policy;
use std::sync::Arc;

/// What to do with the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Connect it.
    Allow,
    /// Connect it, but mark it for review.
    Flag,
    /// Reject it.
    Block,
}

impl Action {
    /// 0, 1, 2 for allow, flag, block: an index into per-action tallies.
    pub fn index(self) -> usize {
        self as usize
    }

    /// `"allow"`, `"flag"` or `"block"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Block => "block",
        }
    }
}

/// A reason's identifier: a built-in safeguard, or a policy rule by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasonId {
    /// A built-in safeguard, e.g. `"emergency_callee"`.
    Builtin(&'static str),
    /// The policy's rule at this index.
    Rule(u16),
}

/// One reason contributing to a verdict: a rule that matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// Which rule.
    pub id: ReasonId,
    /// Contribution to the score, in [0, 1].
    pub weight: f64,
    /// The rule's hard effect, if any.
    pub effect: Option<Action>,
    /// The rule only reports (observe mode).
    pub observe: bool,
}

/// A normalised and classified number, or why it could not be normalised.
pub type NumberInfo = Result<Classification, Invalid>;

/// The decision for one call.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// What the policy would do if every rule acted (differs from `action` in observe mode).
    pub would_action: Action,
    /// `1 - Π(1 - weight)` over the reasons: independent evidence combined.
    pub score: f64,
    /// Reasons, most important first (block, allow, flag effects, then by weight).
    pub reasons: Vec<Reason>,
    /// The caller (CLI).
    pub caller: NumberInfo,
    /// The callee.
    pub callee: NumberInfo,
    /// The network-asserted number, when the call carried one.
    pub network_number: Option<NumberInfo>,
    /// The policy that decided (it names the reasons).
    pub policy: Arc<Policy>,
}

impl Verdict {
    /// The reason identifiers, most important first.
    pub fn reason_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.reasons.iter().map(|r| self.policy.reason_name(&r.id))
    }
}
