//! Type-checks a parsed condition against the feature catalogue and the policy's lists and
//! tags, and compiles it to a [`Program`]. A condition that compiles evaluates without errors.

use super::expr::{CmpOp, Expr, Lit, Operand, MAX_DEPTH};
use super::features::{self, Feature, FeatureDef, Ty, Who};
use super::program::{Check, Const, Node, Pred, Program, Target, FALSE, TRUE};
use super::suggest::did_you_mean;
use crate::number::Number;
use crate::numtype::Region;
use std::collections::HashMap;

/// The names a condition may refer to besides features.
#[derive(Debug, Default)]
pub struct Scope {
    /// Lists by name: their index.
    pub lists: HashMap<String, u16>,
    /// Prefix lists by name: their tag bit.
    pub prefix_lists: HashMap<String, u64>,
    /// Tags by name: their bit.
    pub tags: HashMap<String, u64>,
    /// Regions the numbering plan knows.
    pub regions: Vec<Region>,
}

/// A type error: the message and the byte offset of the offending word.
#[derive(Debug)]
pub struct CompileError {
    /// Byte offset in the condition.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

type R<T> = Result<T, CompileError>;

fn fail<T>(offset: usize, message: impl Into<String>) -> R<T> {
    Err(CompileError {
        offset,
        message: message.into(),
    })
}

/// Compiles a condition.
pub fn compile(expr: &Expr, scope: &Scope) -> R<Program> {
    let mut p = Program::default();
    emit(expr, scope, &mut p, 0, TRUE, FALSE)?;
    Ok(p)
}

/// Appends a node testing `pred` (reusing an equal predicate already in the program), going
/// to `on_true` or `on_false`; with `negate`, the other way round.
fn negatable_leaf(p: &mut Program, pred: Pred, negate: bool, on_true: Target, on_false: Target) {
    if negate {
        leaf(p, pred, on_false, on_true);
    } else {
        leaf(p, pred, on_true, on_false);
    }
}

/// Appends a node testing `pred` (reusing an equal predicate already in the program), going
/// to `on_true` or `on_false`.
fn leaf(p: &mut Program, pred: Pred, on_true: Target, on_false: Target) {
    let i = p.preds.iter().position(|q| *q == pred).unwrap_or_else(|| {
        p.preds.push(pred);
        p.preds.len() - 1
    });
    let check = Check::of(&p.preds[i]);
    p.nodes.push(Node {
        check,
        on_true,
        on_false,
    });
}

/// How many nodes a condition compiles to: one per test.
fn size(e: &Expr) -> usize {
    match e {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().map(size).sum(),
        Expr::Not(inner) => size(inner),
        Expr::Bare(..) | Expr::Cmp { .. } | Expr::In { .. } => 1,
    }
}

/// Emits `e`, continuing at `on_true` when it holds and at `on_false` when not. The nodes of
/// a part follow those of the part before: an `and` goes on to its next part when a part
/// holds, an `or` when it does not.
fn emit(
    e: &Expr,
    scope: &Scope,
    prog: &mut Program,
    depth: usize,
    on_true: Target,
    on_false: Target,
) -> R<()> {
    if depth > MAX_DEPTH + 1 {
        return fail(0, format!("nested more than {MAX_DEPTH} levels deep"));
    }
    match e {
        Expr::And(parts) | Expr::Or(parts) => {
            let and = matches!(e, Expr::And(_));
            for (i, p) in parts.iter().enumerate() {
                if i + 1 == parts.len() {
                    emit(p, scope, prog, depth + 1, on_true, on_false)?;
                } else {
                    let next = prog.nodes.len() + size(p);
                    let next = match Target::try_from(next) {
                        Ok(n) if n < FALSE => n,
                        _ => return fail(0, "too many tests"),
                    };
                    let (t, f) = if and {
                        (next, on_false)
                    } else {
                        (on_true, next)
                    };
                    emit(p, scope, prog, depth + 1, t, f)?;
                }
            }
        }
        Expr::Not(inner) => emit(inner, scope, prog, depth + 1, on_false, on_true)?,
        Expr::Bare(operand, at) => leaf(prog, bare(operand, *at)?, on_true, on_false),
        Expr::Cmp { left, op, right } => {
            let (pred, negate) = comparison(left, *op, right, scope)?;
            negatable_leaf(prog, pred, negate, on_true, on_false);
        }
        Expr::In {
            left,
            negated,
            right,
        } => {
            let pred = membership(left, right, scope)?;
            negatable_leaf(prog, pred, *negated, on_true, on_false);
        }
    }
    Ok(())
}

/// The number-valued, possibly unknown, entry every velocity counter shares.
const VELOCITY_DEF: FeatureDef = FeatureDef {
    name: "velocity counter",
    feature: |_| Feature::Emergency,
    ty: Ty::Num,
    nullable: true,
    doc: "",
};

fn feature(name: &str, at: usize) -> R<(Feature, &'static FeatureDef)> {
    if let Some(f) = features::lookup(name) {
        return Ok(f);
    }
    if let Some((f, _)) = features::lookup_velocity(name) {
        return Ok((f, &VELOCITY_DEF));
    }
    let hint = if Who::parse(name).is_some() {
        format!(
            "; '{name}' is a number: test one of its properties ({name}.valid, {name}.region, ...) or a list ({name} in LIST)"
        )
    } else {
        did_you_mean(name, features::all_names().iter().map(String::as_str))
    };
    fail(at, format!("unknown feature '{name}'{hint}"))
}

fn bare(operand: &Operand, at: usize) -> R<Pred> {
    match operand {
        Operand::Lit(Lit::Bool(b)) => Ok(Pred::Const(*b)),
        Operand::Lit(l) => fail(at, format!("{} is not a condition", l.kind())),
        Operand::Name(name) => {
            let (f, def) = feature(name, at)?;
            match (def.ty, def.nullable) {
                (Ty::Bool, false) => Ok(Pred::True(f)),
                (Ty::Bool, true) => fail(
                    at,
                    format!("'{name}' may be unknown: write '{name} == true', '{name} == false' or '{name} == none'"),
                ),
                _ => fail(
                    at,
                    format!("'{name}' is {}, not a condition; compare it with a value", ty_name(def.ty)),
                ),
            }
        }
    }
}

fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Bool => "a boolean",
        Ty::Num => "a number",
        Ty::Text => "text",
        Ty::Sym(_) => "a word",
        Ty::Region => "a region",
        Ty::Number => "a number in E.164",
        Ty::Tags => "a set of tags",
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// Returns the predicate and whether to negate it (for `!=`).
fn comparison(
    left: &(Operand, usize),
    op: (CmpOp, usize),
    right: &(Operand, usize),
    scope: &Scope,
) -> R<(Pred, bool)> {
    let (op, op_at) = op;
    match (&left.0, &right.0) {
        (Operand::Name(a), Operand::Name(b)) => {
            let (fa, da) = feature(a, left.1)?;
            let (fb, db) = feature(b, right.1)?;
            if da.ty != db.ty {
                return fail(
                    right.1,
                    format!(
                        "'{a}' is {} but '{b}' is {}",
                        ty_name(da.ty),
                        ty_name(db.ty)
                    ),
                );
            }
            match (op, da.ty) {
                (CmpOp::Eq | CmpOp::Ne, Ty::Tags) => {
                    fail(op_at, "tags are tested with 'in': 'TAG' in caller.tags")
                }
                (CmpOp::Eq, _) => Ok((Pred::EqFeature(fa, fb), false)),
                (CmpOp::Ne, _) => Ok((Pred::EqFeature(fa, fb), true)),
                (_, Ty::Num) => Ok((Pred::CmpFeature(fa, op, fb), false)),
                _ => fail(op_at, format!("'{}' compares numbers only", op.as_str())),
            }
        }
        (Operand::Name(name), Operand::Lit(lit)) => {
            feature_vs_literal(name, left.1, op, op_at, lit, right.1, scope)
        }
        (Operand::Lit(lit), Operand::Name(name)) => {
            feature_vs_literal(name, right.1, flip(op), op_at, lit, left.1, scope)
        }
        (Operand::Lit(_), Operand::Lit(_)) => fail(left.1, "compares two values; name a feature"),
    }
}

fn feature_vs_literal(
    name: &str,
    name_at: usize,
    op: CmpOp,
    op_at: usize,
    lit: &Lit,
    lit_at: usize,
    scope: &Scope,
) -> R<(Pred, bool)> {
    let (f, def) = feature(name, name_at)?;
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            let c = constant(name, def, lit, lit_at, scope)?;
            Ok((Pred::Eq(f, c), op == CmpOp::Ne))
        }
        _ => {
            if def.ty != Ty::Num {
                return fail(
                    op_at,
                    format!(
                        "'{}' compares numbers only, and '{name}' is {}",
                        op.as_str(),
                        ty_name(def.ty)
                    ),
                );
            }
            match lit {
                Lit::Num(n) => Ok((Pred::Cmp(f, op, *n), false)),
                other => fail(
                    lit_at,
                    format!(
                        "'{name}' is a number; {} cannot be compared with it",
                        other.show()
                    ),
                ),
            }
        }
    }
}

/// Checks a literal against a feature's type and turns it into a constant.
fn constant(name: &str, def: &FeatureDef, lit: &Lit, at: usize, scope: &Scope) -> R<Const> {
    let mismatch = || {
        fail(
            at,
            format!(
                "'{name}' is {}; {} does not fit",
                ty_name(def.ty),
                lit.show()
            ),
        )
    };
    match (def.ty, lit) {
        (_, Lit::None) if def.nullable => Ok(Const::None),
        (_, Lit::None) => fail(at, format!("'{name}' is never none")),
        (Ty::Bool, Lit::Bool(b)) => Ok(Const::Bool(*b)),
        (Ty::Num, Lit::Num(n)) => Ok(Const::Num(*n)),
        (Ty::Text, Lit::Str(s)) => Ok(Const::Text(s.as_str().into())),
        (Ty::Sym(words), Lit::Str(s)) => match words.iter().position(|w| w == s) {
            Some(i) => Ok(Const::Sym(i as u8)),
            None => fail(
                at,
                format!(
                    "'{s}' is not a value of '{name}' (one of {}){}",
                    words.join(", "),
                    did_you_mean(s, words.iter().copied())
                ),
            ),
        },
        (Ty::Region, Lit::Str(s)) => match Region::parse(s) {
            Some(r) if scope.regions.contains(&r) => Ok(Const::Region(r)),
            _ => fail(
                at,
                format!(
                    "'{s}' is not a region of the numbering plan{}",
                    did_you_mean(
                        &s.to_ascii_uppercase(),
                        scope.regions.iter().map(|r| r.as_str())
                    )
                ),
            ),
        },
        (Ty::Number, Lit::Str(s)) => {
            let digits = s.strip_prefix('+').filter(|d| {
                !d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit())
            });
            let number = digits
                .and_then(|d| Number::from_digits(d.as_bytes(), 1).filter(|n| n.to_e164() == *s));
            match number {
                Some(n) => Ok(Const::Number(n)),
                None => fail(at, format!("'{s}' is not an E.164 number ('+' and digits)")),
            }
        }
        (Ty::Tags, _) => fail(at, format!("test tags with 'in': 'TAG' in {name}")),
        _ => mismatch(),
    }
}

fn membership(left: &(Operand, usize), right: &(Operand, usize), scope: &Scope) -> R<Pred> {
    match (&left.0, &right.0) {
        // caller in LIST / callee in PREFIX_LIST
        (Operand::Name(number), Operand::Name(set)) if Who::parse(number).is_some() => {
            let who = Who::parse(number).unwrap_or(Who::Caller);
            if let Some(&idx) = scope.lists.get(set) {
                return Ok(Pred::Listed(who, idx));
            }
            if let Some(&bit) = scope.prefix_lists.get(set) {
                return Ok(Pred::Tagged(who, bit));
            }
            let names = scope.lists.keys().chain(scope.prefix_lists.keys());
            fail(
                right.1,
                format!(
                    "unknown list '{set}'{}",
                    did_you_mean(set, names.map(String::as_str))
                ),
            )
        }
        // 'tag' in callee.tags
        (Operand::Lit(Lit::Str(tag)), Operand::Name(name)) => {
            let (f, def) = feature(name, right.1)?;
            if def.ty != Ty::Tags {
                return fail(
                    right.1,
                    format!("'{name}' is {}; 'in' needs a list of values or tags", ty_name(def.ty)),
                );
            }
            let Feature::Number(who, _) = f else {
                return fail(right.1, "tags belong to numbers");
            };
            match scope.tags.get(tag) {
                Some(&bit) => Ok(Pred::Tagged(who, bit)),
                None => fail(
                    left.1,
                    format!(
                        "unknown tag '{tag}' (tags come from the overlay and prefix lists){}",
                        did_you_mean(tag, scope.tags.keys().map(String::as_str))
                    ),
                ),
            }
        }
        // feature in [values]
        (Operand::Name(name), Operand::Lit(Lit::List(items))) => {
            let (f, def) = feature(name, left.1)?;
            let mut set = Vec::with_capacity(items.len());
            for (lit, at) in items {
                if *lit == Lit::None {
                    return fail(*at, format!("none in a list never matches; test '{name} == none'"));
                }
                set.push(constant(name, def, lit, *at, scope)?);
            }
            Ok(Pred::In(f, set.into_boxed_slice()))
        }
        (Operand::Name(name), _) => {
            let what = if features::lookup(name).is_some() {
                "a list of values ([...])"
            } else {
                "a list of values, and the left side a feature, or 'caller', 'callee' or 'network_number' before a list name"
            };
            fail(right.1, format!("the right side of 'in' must be {what}"))
        }
        (Operand::Lit(_), _) => fail(left.1, "the left side of 'in' must be a feature, a number ('caller') or a tag ('TAG' in caller.tags)"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::expr::parse;
    use super::*;
    use crate::numberlist::Lists;

    fn scope() -> Scope {
        Scope {
            lists: [("dno".to_string(), 0u16), ("blocklist".into(), 1)].into(),
            prefix_lists: [("irsf_ranges".to_string(), 1u64)].into(),
            tags: [("irsf_ranges".to_string(), 1u64), ("irsf".into(), 2)].into(),
            regions: vec![Region::parse("KZ").unwrap(), Region::parse("RU").unwrap()],
        }
    }

    fn compile_str(src: &str) -> R<Program> {
        compile(
            &parse(src).map_err(|e| CompileError {
                offset: e.offset,
                message: e.message,
            })?,
            &scope(),
        )
    }

    #[test]
    fn well_typed_conditions_compile() {
        for src in [
            "ingress == 'international' and roaming != true and caller.is_home",
            "caller in dno or network_number in blocklist",
            "callee in irsf_ranges and 'irsf' in callee.tags",
            "callee.type in ['premium_rate', 'shared_cost'] and duration < 3",
            "caller.e164 != network_number.e164 and network_number.present",
            "attestation == none or attestation == 'C'",
            "hour >= 22 or hour < 6 and weekday in ['sat', 'sun']",
            "caller.region == 'RU' and 5 > caller.country_code",
            "trunk in ['gw-1', 'gw-2'] and caller.carrier == 'Beeline'",
            "not (caller.valid)",
            "caller.e164 == '+77011234567'",
        ] {
            compile_str(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        }
    }

    #[test]
    fn type_errors_name_the_word() {
        for (src, word, needle) in [
            (
                "caller.regoin == 'KZ'",
                "caller.regoin",
                "did you mean 'caller.region'",
            ),
            ("caller in dnoo", "dnoo", "did you mean 'dno'"),
            (
                "ingress == 'internatinal'",
                "'internatinal'",
                "did you mean 'international'",
            ),
            ("roaming", "roaming", "roaming == true"),
            ("duration > 'long'", "'long'", "number"),
            ("ingress < 3", "<", "numbers only"),
            ("caller.region == 'XX'", "'XX'", "not a region"),
            ("caller.is_home == none", "none", "never none"),
            ("'fraud' in caller.tags", "'fraud'", "unknown tag"),
            ("caller", "caller", "is a number"),
            ("caller.e164 == '8701'", "'8701'", "E.164"),
            (
                "caller.region == caller.country_code",
                "caller.country_code",
                "is a region",
            ),
            ("ingress in dno", "dno", "right side of 'in'"),
        ] {
            let e = compile_str(src).unwrap_err();
            let at = src.find(word).unwrap();
            assert_eq!(e.offset, at, "{src}: {e:?}");
            assert!(e.message.contains(needle), "{src}: {e:?}");
        }
    }

    /// Evaluates a condition the slow way: the tree itself, each predicate as written.
    fn reference(e: &Expr, facts: &super::super::features::Facts<'_>) -> bool {
        use super::super::program::test;
        match e {
            Expr::And(parts) => parts.iter().all(|p| reference(p, facts)),
            Expr::Or(parts) => parts.iter().any(|p| reference(p, facts)),
            Expr::Not(inner) => !reference(inner, facts),
            Expr::Bare(operand, at) => test(&bare(operand, *at).unwrap(), facts, Lists::EMPTY),
            Expr::Cmp { left, op, right } => {
                let (pred, negate) = comparison(left, *op, right, &scope()).unwrap();
                test(&pred, facts, Lists::EMPTY) != negate
            }
            Expr::In {
                left,
                negated,
                right,
            } => {
                test(
                    &membership(left, right, &scope()).unwrap(),
                    facts,
                    Lists::EMPTY,
                ) != *negated
            }
        }
    }

    #[test]
    fn programs_agree_with_the_conditions() {
        use crate::call::{Attestation, Call, Ingress};
        use crate::velocity::Counters;
        let conditions = [
            "ingress == 'international' and roaming != true and caller.is_home",
            "ingress != 'national' or ingress in ['onnet', 'national']",
            "not ingress in ['international']",
            "roaming == true or roaming == false",
            "roaming == none and not emergency",
            "roaming in [true] or roaming not in [false]",
            "emergency == false and caller.present",
            "caller.is_home and network_number.parsed and not network_number.is_home",
            "not caller.parsed and caller.invalid_reason != 'withheld'",
            "caller.invalid_reason == none or caller.invalid_reason in ['bad_character', 'too_short']",
            "caller.parsed and not caller.valid and (caller.is_home or caller.country_code == 7)",
            "caller.country_code != 7 and callee.country_code >= 1",
            "callee.type == 'premium_rate' and not callee.is_home",
            "callee.type in ['mobile', 'fixed_line'] or callee.type == none",
            "callee.type != 'fixed_line_or_mobile' and network_number.type == none",
            "attestation == 'C' or attestation == none",
            "attestation in ['A', 'B'] and not attestation != 'A'",
            "duration != none and duration < 5",
            "duration == none or duration >= 3 and duration <= 10",
            "duration in [3, 10] or duration > 100",
            "hour >= 22 or hour < 6 and weekday in ['sat', 'sun']",
            "weekday == 'sun' or weekday != 'mon' and hour == 11",
            "caller.calls_1m >= 20 and caller.distinct_callees >= 15",
            "caller.short_share == none or caller.short_share >= 0.8",
            "caller.short_share != none and caller.short_share < 0.5",
            "destination.calls_1m > 0 or trunk.calls_window < 3",
            "caller.sequential in [0, 1] and caller.repeat_callee != 2",
            "caller.e164 != network_number.e164 and network_number.present",
            "caller.region == 'RU' and 5 > caller.country_code",
            "caller.region == callee.region or callee.region == none",
            "trunk in ['gw-1', 'gw-2'] and caller.carrier == 'Beeline'",
            "caller.country_code < callee.country_code or caller.valid == callee.valid",
            "'irsf' in callee.tags or caller.e164 == '+77011234567'",
            "not (caller.valid or (callee.valid and not (ingress == 'onnet' or roaming == true)))",
            "not not (callee.present and not (caller.present)) or false",
            "true and not false",
            "false or (caller.parsed and (callee.parsed or network_number.parsed) and not (hour < 12 and duration > 1))",
        ];
        let plan = crate::numplan::tests::sample_plan();
        let policy = super::super::Policy::parse(
            "home_region = \"KZ\"\n[[rules]]\nid = \"r\"\nwhen = \"caller.valid\"\nscore = 0.5\n",
            "test",
            std::path::Path::new("."),
            plan,
        )
        .unwrap();
        let counters = [
            None,
            Some(Counters::default()),
            Some(Counters {
                calls_1m: 30,
                calls_window: 50,
                distinct_callees: 20,
                short_calls: 4,
                known_durations: 5,
                sequential: 1,
                repeat_callee: 2,
                ..Counters::default()
            }),
        ];
        let mut checked = 0;
        for src in conditions {
            let expr = parse(src).unwrap();
            let program = compile(&expr, &scope()).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            for caller in [
                "+77011234567",
                "+79161234567",
                "+12015550123",
                "abc",
                "",
                "8 701 123",
            ] {
                for (callee, network_number) in [
                    ("87272123456", None),
                    ("+18005550123", Some("+79161234567")),
                    ("1", Some("+77011234567")),
                    ("104", Some("x")),
                ] {
                    for k in 0..6 {
                        let call = Call {
                            caller,
                            callee,
                            network_number,
                            ingress: [Ingress::International, Ingress::National, Ingress::Onnet]
                                [k % 3],
                            roaming: [None, Some(true), Some(false)][k % 3],
                            attestation: [None, Some(Attestation::A), Some(Attestation::C)][k / 2],
                            duration: [None, Some(3.0), Some(10.0)][(k + 1) % 3],
                            trunk: ["", "gw-1"][k % 2],
                            timestamp: Some(1_795_932_000.0 + 3600.0 * (k * 5) as f64),
                        };
                        let lookup = |raw| policy.lookup(raw, Ingress::National);
                        let (a, b) = (lookup(caller), lookup(callee));
                        let n = network_number.map(lookup);
                        let facts = super::super::features::Facts {
                            call: &call,
                            caller: &a,
                            callee: &b,
                            network_number: n.as_ref(),
                            emergency: k == 5,
                            policy: &policy,
                            time: Default::default(),
                            velocity: [
                                counters[k % 3],
                                counters[(k + 1) % 3],
                                counters[(k + 2) % 3],
                            ],
                        };
                        assert_eq!(
                            program.eval(&facts, Lists::EMPTY),
                            reference(&expr, &facts),
                            "{src} on {call:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
