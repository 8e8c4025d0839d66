//! A compiled condition: typed predicates as nodes of a branching program (each check names
//! the next node for either outcome).

use super::expr::CmpOp;
use super::features::{kind_index, Counter, Facts, Family, Feature, NumberField, Val, Who};
use crate::number::Number;
use crate::numberlist::{ListKind, Lists, Membership};
use crate::numtype::Region;

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

/// Where a [`Node`] goes next: another node, or the condition's result.
pub type Target = u16;
/// The condition holds.
pub const TRUE: Target = Target::MAX;
/// The condition does not hold.
pub const FALSE: Target = Target::MAX - 1;

/// One step of a compiled condition: a check, then the node to go to on each outcome.
///
/// `and`, `or` and `not` compile to jumps between the checks (short-circuit evaluation with
/// true and false targets), so a condition runs one node per predicate it tests and keeps
/// no stack.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub(super) check: Check,
    pub(super) on_true: Target,
    pub(super) on_false: Target,
}

/// A predicate in the form it is evaluated: the common shapes read their feature directly,
/// without building a [`Val`]; every other predicate is tested as written.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Check {
    /// A constant.
    Const(bool),
    /// `ingress` is one of the words whose bit is set.
    Ingress(u8),
    /// `roaming`'s value is in the mask: bit 0 none, 1 false, 2 true.
    Roaming(u8),
    /// `attestation`'s index is in the mask; bit 3 stands for none.
    Attestation(u8),
    /// `*.parsed` is the boolean.
    Parsed(Who, bool),
    /// `*.valid` is the boolean.
    Valid(Who, bool),
    /// `*.is_home` is the boolean.
    IsHome(Who, bool),
    /// `*.type`'s index is in the mask; bit [`NONE_BIT`] stands for none.
    Type(Who, u16),
    /// `*.invalid_reason`'s index is in the mask; bit [`NONE_BIT`] stands for none.
    InvalidReason(Who, u16),
    /// Another boolean number field's value is in the mask: bit 1 false, 2 true.
    NumberFlag(Who, NumberField, u8),
    /// A boolean feature's value is in the mask: bit 0 none, 1 false, 2 true.
    Flag(Feature, u8),
    /// A word feature's index is in the mask; bit [`NONE_BIT`] stands for none.
    Sym(Feature, u16),
    /// `feature op number`; false when none.
    Num(Feature, CmpOp, f64),
    /// `counter op number` for the key kind at an index of [`Facts::velocity`]; false when
    /// none.
    Counter(u8, Counter, CmpOp, f64),
    /// A numeric feature is none.
    NumNone(Feature),
    /// As [`Pred::Listed`].
    Listed(Who, u16),
    /// As [`Pred::Tagged`].
    Tagged(Who, u64),
    /// Any other predicate, tested as written.
    Pred(Box<Pred>),
}

/// The bit of a [`Check::Sym`] mask that stands for none.
const NONE_BIT: u16 = 1 << 15;

impl Check {
    /// The fast form of a predicate, when it has one (types as the compiler checked them).
    pub(super) fn lower(p: &Pred) -> Option<Check> {
        Some(match *p {
            Pred::Const(b) => Check::Const(b),
            Pred::Listed(who, idx) => Check::Listed(who, idx),
            Pred::Tagged(who, mask) => Check::Tagged(who, mask),
            Pred::True(f) => flag_check(f, 0b100)?,
            Pred::Eq(f, ref c) => match (f.family(), c) {
                (Family::Bool, Const::None) => flag_check(f, 0b001)?,
                (Family::Bool, Const::Bool(b)) => flag_check(f, if *b { 0b100 } else { 0b010 })?,
                (Family::Sym, Const::None) => sym_check(f, NONE_BIT)?,
                (Family::Sym, Const::Sym(k)) => sym_check(f, sym_bit(*k)?)?,
                (Family::Num, Const::None) => Check::NumNone(f),
                (Family::Num, Const::Num(n)) => num_check(f, CmpOp::Eq, *n),
                _ => return None,
            },
            Pred::Cmp(f, op, n) if f.family() == Family::Num => num_check(f, op, n),
            Pred::In(f, ref set) => match f.family() {
                // `none` never matches inside a list: the masks leave its bit clear.
                Family::Sym => {
                    let mut mask = 0;
                    for c in set.iter() {
                        match c {
                            Const::Sym(k) => mask |= sym_bit(*k)?,
                            _ => return None,
                        }
                    }
                    sym_check(f, mask)?
                }
                Family::Bool => {
                    let mut mask = 0;
                    for c in set.iter() {
                        match c {
                            Const::Bool(b) => mask |= if *b { 0b100 } else { 0b010 },
                            _ => return None,
                        }
                    }
                    flag_check(f, mask)?
                }
                _ => return None,
            },
            _ => return None,
        })
    }

    /// The check of a predicate: its fast form, or the predicate as written.
    pub(super) fn of(p: &Pred) -> Check {
        Check::lower(p).unwrap_or_else(|| Check::Pred(Box::new(p.clone())))
    }

    /// Tests the check for one call (inlined into [`run`]'s loop: a call per check cost more
    /// than most checks do).
    #[inline(always)]
    pub(super) fn test(&self, facts: &Facts<'_>, lists: Lists<'_>) -> bool {
        match *self {
            Check::Const(b) => b,
            Check::Ingress(mask) => mask >> facts.call.ingress.index() & 1 == 1,
            Check::Roaming(mask) => mask >> flag_bit(facts.call.roaming) & 1 == 1,
            Check::Attestation(mask) => mask >> facts.attestation().unwrap_or(3) & 1 == 1,
            Check::Parsed(who, want) => facts.number(who).is_some() == want,
            Check::Valid(who, want) => facts.is_valid(who) == want,
            Check::IsHome(who, want) => facts.is_home(who) == want,
            Check::Type(who, mask) => mask & sym_mask(facts.number_type(who)) != 0,
            Check::InvalidReason(who, mask) => mask & sym_mask(facts.invalid_reason(who)) != 0,
            Check::NumberFlag(who, field, mask) => {
                let b = facts.number_flag(who, field).unwrap_or(false);
                mask >> (1 + u8::from(b)) & 1 == 1
            }
            Check::Flag(f, mask) => mask >> flag_bit(facts.flag(f)) & 1 == 1,
            Check::Sym(f, mask) => mask & sym_mask(facts.sym(f)) != 0,
            Check::Num(f, op, n) => facts.num(f).is_some_and(|v| op.num(v, n)),
            Check::Counter(kind, counter, op, n) => facts
                .counter(usize::from(kind), counter)
                .is_some_and(|v| op.num(v, n)),
            Check::NumNone(f) => facts.num(f).is_none(),
            Check::Listed(who, idx) => listed(who, idx, facts, lists),
            Check::Tagged(who, mask) => tagged(who, mask, facts),
            Check::Pred(ref p) => test(p, facts, lists),
        }
    }
}

/// The bit of a boolean (or none) in a [`Check::Flag`] mask: 0 none, 1 false, 2 true.
#[inline]
fn flag_bit(b: Option<bool>) -> u8 {
    b.map_or(0, |b| 1 + u8::from(b))
}

/// The bit of a word index (or none) in a [`Check::Sym`] mask.
#[inline]
fn sym_mask(index: Option<u8>) -> u16 {
    index.map_or(NONE_BIT, |k| 1 << (k & 15))
}

/// The check of a boolean feature against a mask (bit 0 none, 1 false, 2 true).
fn flag_check(f: Feature, mask: u8) -> Option<Check> {
    if f.family() != Family::Bool {
        return None;
    }
    Some(match (f, mask) {
        (Feature::Roaming, _) => Check::Roaming(mask),
        (Feature::Number(who, field), 0b010 | 0b100) => {
            let want = mask == 0b100;
            match field {
                NumberField::Parsed => Check::Parsed(who, want),
                NumberField::Valid => Check::Valid(who, want),
                NumberField::IsHome => Check::IsHome(who, want),
                _ => Check::NumberFlag(who, field, mask),
            }
        }
        (Feature::Number(who, field), _) if mask & 1 == 0 => Check::NumberFlag(who, field, mask),
        _ => Check::Flag(f, mask),
    })
}

/// The check of a word feature against a mask ([`NONE_BIT`] for none).
fn sym_check(f: Feature, mask: u16) -> Option<Check> {
    let small = u8::try_from(mask & !NONE_BIT).ok();
    Some(match (f, small) {
        (Feature::Ingress, Some(m)) if mask & NONE_BIT == 0 => Check::Ingress(m),
        (Feature::Attestation, Some(m)) if m < 8 => {
            Check::Attestation(m | if mask & NONE_BIT != 0 { 8 } else { 0 })
        }
        (Feature::Number(who, NumberField::Type), _) => Check::Type(who, mask),
        (Feature::Number(who, NumberField::InvalidReason), _) => Check::InvalidReason(who, mask),
        _ => Check::Sym(f, mask),
    })
}

fn sym_bit(k: u8) -> Option<u16> {
    (k < 15).then(|| 1 << k)
}

fn num_check(f: Feature, op: CmpOp, n: f64) -> Check {
    match f {
        Feature::Velocity(kind, counter) => Check::Counter(kind_index(kind) as u8, counter, op, n),
        _ => Check::Num(f, op, n),
    }
}

/// A compiled condition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub(super) nodes: Vec<Node>,
    pub(super) preds: Vec<Pred>,
}

impl Program {
    /// The steps; evaluation starts at the first (an empty program is false).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The distinct predicates the condition tests.
    pub fn preds(&self) -> &[Pred] {
        &self.preds
    }

    /// A program testing one predicate.
    pub(super) fn single(pred: Pred) -> Program {
        Program {
            nodes: vec![Node {
                check: Check::of(&pred),
                on_true: TRUE,
                on_false: FALSE,
            }],
            preds: vec![pred],
        }
    }

    /// Evaluates the condition for one call.
    pub fn eval(&self, facts: &Facts<'_>, lists: Lists<'_>) -> bool {
        run(&self.nodes, 0, facts, lists)
    }
}

/// Evaluates the program whose nodes start at `start` in `nodes` (its targets count from
/// there) for one call. A program without nodes would be false, were it not followed by
/// another's: programs stored together must have at least one node each.
#[inline]
pub(super) fn run(nodes: &[Node], start: usize, facts: &Facts<'_>, lists: Lists<'_>) -> bool {
    let mut at = start;
    while let Some(node) = nodes.get(at) {
        let next = if node.check.test(facts, lists) {
            node.on_true
        } else {
            node.on_false
        };
        if next >= FALSE {
            return next == TRUE;
        }
        at = start + usize::from(next);
    }
    false
}

/// Tests a predicate as written, through [`Facts::value`]: the reference the fast checks
/// agree with.
#[inline]
pub(super) fn test(p: &Pred, facts: &Facts<'_>, lists: Lists<'_>) -> bool {
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
        Pred::Listed(who, idx) => listed(*who, *idx, facts, lists),
        Pred::Tagged(who, mask) => tagged(*who, *mask, facts),
    }
}

/// The number is on the list at `idx`: definite hits count; probable (bloom-only) hits count
/// except on `allow` lists.
#[inline(always)]
fn listed(who: Who, idx: u16, facts: &Facts<'_>, lists: Lists<'_>) -> bool {
    let Some(c) = facts.number(who) else {
        return false;
    };
    match lists.contains(usize::from(idx), c.number.value()) {
        Some((_, Membership::Present)) => true,
        Some((kind, Membership::Probable)) => kind != ListKind::Allow,
        Some((_, Membership::Absent)) | None => false,
    }
}

/// The number carries any of the tag bits.
#[inline]
fn tagged(who: Who, mask: u64, facts: &Facts<'_>) -> bool {
    facts.number(who).is_some_and(|c| c.tags & mask != 0)
}
