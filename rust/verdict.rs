//! What scoring returns: an action, a score in [0, 1] and the reasons behind them.

use crate::normalize::Invalid;
use crate::numplan::Classification;
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
    /// `"allow"`, `"flag"` or `"block"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Block => "block",
        }
    }
}

/// A reason's identifier: a built-in name, or one derived from a list's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReasonId {
    /// A built-in check, e.g. `"spoofed_home_cli"`.
    Builtin(&'static str),
    /// A list hit, e.g. `"blocklist:fraud_kz"`.
    List(Arc<str>),
}

impl ReasonId {
    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        match self {
            ReasonId::Builtin(s) => s,
            ReasonId::List(s) => s,
        }
    }
}

/// One reason contributing to a verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// Stable identifier.
    pub id: ReasonId,
    /// Contribution to the score, in [0, 1].
    pub weight: f64,
    /// An action this reason forces regardless of the score.
    pub forces: Option<Action>,
}

/// A normalised and classified number, or why it could not be normalised.
pub type NumberInfo = Result<Classification, Invalid>;

/// The decision for one call.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// `1 - Π(1 - weight)` over the reasons: independent evidence combined.
    pub score: f64,
    /// Reasons, most important first (forced actions, then by weight).
    pub reasons: Vec<Reason>,
    /// The caller (CLI).
    pub caller: NumberInfo,
    /// The callee.
    pub callee: NumberInfo,
    /// The network-asserted number, when the call carried one.
    pub network_number: Option<NumberInfo>,
}

impl Verdict {
    /// The reason identifiers, most important first.
    pub fn reason_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.reasons.iter().map(|r| r.id.as_str())
    }
}
