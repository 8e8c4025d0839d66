//! A compiled condition: typed predicates in a flat postfix program with short-circuit jumps.

use super::expr::CmpOp;
use super::features::{Facts, Feature, Val, Who};
use crate::number::Number;
use crate::numberlist::{ListKind, Membership, NumberList};
use crate::numtype::Region;
use std::sync::Arc;

/// A constant a feature is compared with (already checked against the feature's type).
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// `none`
    None,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text.
    Text(Box<str>),
    /// A word of a [`super::features::Ty::Sym`] feature, by index.
    Sym(u8),
    /// A region.
    Region(Region),
    /// An E.164 number.
    Number(Number),
}

impl Const {
    #[inline]
    fn matches(&self, v: &Val<'_>) -> bool {
        match (self, v) {
            (Const::None, Val::None) => true,
            (Const::Bool(a), Val::Bool(b)) => a == b,
            (Const::Num(a), Val::Num(b)) => a == b,
            (Const::Text(a), Val::Text(b)) => **a == **b,
            (Const::Sym(a), Val::Sym(b)) => a == b,
            (Const::Region(a), Val::Region(b)) => a == b,
            // Digits decide; the country-code split of a literal is not known.
            (Const::Number(a), Val::Number(b)) => a.value() == b.value() && a.len() == b.len(),
            _ => false,
        }
    }
}

/// One test, giving a boolean.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    /// A constant (`true` or `false` written as a condition).
    Const(bool),
    /// A boolean feature is `true`.
    True(Feature),
    /// `feature == constant` (equal values; `none` equals only `none`).
    Eq(Feature, Const),
    /// `a == b` for two features of one type.
    EqFeature(Feature, Feature),
    /// `feature op number`; false when the feature is `none`.
    Cmp(Feature, CmpOp, f64),
    /// `a op b` for two numeric features; false when either is `none`.
    CmpFeature(Feature, CmpOp, Feature),
    /// `feature in [constants]`; false when the feature is `none`.
    In(Feature, Box<[Const]>),
    /// The number is on the list (by index in the policy's lists). Definite hits count;
    /// probable (bloom-only) hits count except on `allow` lists.
    Listed(Who, u16),
    /// The number carries any of these tag bits.
    Tagged(Who, u64),
}

impl Pred {
    /// The features the predicate reads.
    pub fn features(&self) -> impl Iterator<Item = Feature> {
        let (a, b) = match self {
            Pred::True(f) | Pred::Eq(f, _) | Pred::Cmp(f, _, _) | Pred::In(f, _) => {
                (Some(*f), None)
            }
            Pred::EqFeature(x, y) | Pred::CmpFeature(x, _, y) => (Some(*x), Some(*y)),
            Pred::Const(_) | Pred::Listed(..) | Pred::Tagged(..) => (None, None),
        };
        a.into_iter().chain(b)
    }
}

/// One instruction (four bytes: the dispatch stays in one cache line per rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Push the value of the program's predicate at this index.
    Test(u16),
    /// Negate the top.
    Not,
    /// If the top is false, jump (keeping it); else pop it.
    JumpIfFalse(u32),
    /// If the top is true, jump (keeping it); else pop it.
    JumpIfTrue(u32),
}

/// A compiled condition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub(super) ops: Vec<Op>,
    pub(super) preds: Vec<Pred>,
}

impl Program {
    /// The instructions.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The predicates the instructions test.
    pub fn preds(&self) -> &[Pred] {
        &self.preds
    }

    /// Evaluates the condition for one call.
    pub fn eval(&self, facts: &Facts<'_>, lists: &[Arc<NumberList>]) -> bool {
        // A stack of booleans as bits; the compiler bounds its depth by the nesting depth.
        let (mut stack, mut depth) = (0u64, 0u32);
        let mut pc = 0usize;
        while let Some(&op) = self.ops.get(pc) {
            pc += 1;
            match op {
                Op::Test(i) => {
                    let hit = self
                        .preds
                        .get(usize::from(i))
                        .is_some_and(|p| test(p, facts, lists));
                    stack = (stack << 1) | u64::from(hit);
                    depth += 1;
                }
                Op::Not => stack ^= 1,
                Op::JumpIfFalse(to) => {
                    if stack & 1 == 0 {
                        pc = to as usize;
                    } else {
                        stack >>= 1;
                        depth = depth.saturating_sub(1);
                    }
                }
                Op::JumpIfTrue(to) => {
                    if stack & 1 == 1 {
                        pc = to as usize;
                    } else {
                        stack >>= 1;
                        depth = depth.saturating_sub(1);
                    }
                }
            }
        }
        depth > 0 && stack & 1 == 1
    }
}

#[inline]
fn test(p: &Pred, facts: &Facts<'_>, lists: &[Arc<NumberList>]) -> bool {
    match p {
        Pred::Const(b) => *b,
        Pred::True(f) => facts.value(*f) == Val::Bool(true),
        Pred::Eq(f, c) => c.matches(&facts.value(*f)),
        Pred::EqFeature(a, b) => facts.value(*a) == facts.value(*b),
        Pred::Cmp(f, op, n) => match facts.value(*f) {
            Val::Num(v) => op.num(v, *n),
            _ => false,
        },
        Pred::CmpFeature(a, op, b) => match (facts.value(*a), facts.value(*b)) {
            (Val::Num(x), Val::Num(y)) => op.num(x, y),
            _ => false,
        },
        Pred::In(f, set) => {
            let v = facts.value(*f);
            v != Val::None && set.iter().any(|c| c.matches(&v))
        }
        Pred::Listed(who, idx) => {
            let (Some(c), Some(list)) = (facts.number(*who), lists.get(usize::from(*idx))) else {
                return false;
            };
            match list.contains(c.number.value()) {
                Membership::Present => true,
                Membership::Probable => list.kind() != ListKind::Allow,
                Membership::Absent => false,
            }
        }
        Pred::Tagged(who, mask) => facts.number(*who).is_some_and(|c| c.tags & mask != 0),
    }
}
