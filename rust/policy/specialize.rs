//! The ranked rules specialised, once per policy, to what is known of a call before any rule
//! runs: its ingress, whether it carries a network number, and whether its caller parsed and
//! is valid. Checks those settle are skipped, checks whose outcome no longer matters (both
//! lead to the same place) too, and rules they make false dropped, so an evaluation runs only
//! the checks whose outcome the call can still change.
//!
//! Each check's outcome under a context is found by testing the check itself on a call that
//! has only what the context fixes (see [`Known`]), so the skipped checks cannot disagree
//! with the ones run; which checks a context settles is decided by what they read
//! ([`reads`]).

use super::features::{Facts, Feature, NumberField, Who};
use super::program::{Check, Node, Pred, Target, FALSE, TRUE};
use super::rank::{Ranked, Ranking};
use super::Policy;
use crate::call::{Call, Ingress};
use crate::normalize::Invalid;
use crate::number::Number;
use crate::numberlist::Lists;
use crate::numplan::Classification;
use crate::numtype::NumberType;
use crate::verdict::NumberInfo;

/// Caller states: not parsed, parsed but not valid, valid.
const CALLER_STATES: usize = 3;
/// Contexts: ingress, network number absent or not, caller state.
const CONTEXTS: usize = Ingress::ALL.len() * 2 * CALLER_STATES;

/// The ranked rules (in reason order) and their conditions under one context.
#[derive(Clone, Debug, Default)]
pub(super) struct Variant {
    /// The rules whose condition the context leaves possible.
    pub rules: Vec<Ranked>,
    /// Their conditions' nodes, one program after another (none empty).
    pub nodes: Vec<Node>,
}

/// The index of a call's context in [`variants`].
#[inline]
pub(super) fn context(facts: &Facts<'_>) -> usize {
    let caller = match facts.caller {
        Ok(c) => 1 + usize::from(c.valid),
        Err(_) => 0,
    };
    let ingress = usize::from(facts.call.ingress.index());
    (ingress * 2 + usize::from(facts.network_number.is_none())) * CALLER_STATES + caller
}

/// The ranking specialised to every context, by [`context`] index; empty if a context cannot
/// be set up (evaluation then runs the general ranking).
pub(super) fn variants(ranking: &Ranking, policy: &Policy) -> Vec<Variant> {
    // Any number: a parsed caller's digits are never read by a check a context settles.
    let Some(number) = Number::from_parts(1, b"00") else {
        return Vec::new();
    };
    (0..CONTEXTS)
        .map(|i| {
            let ingress = Ingress::ALL[i / (2 * CALLER_STATES)];
            let network_number_absent = i / CALLER_STATES % 2 == 1;
            let caller: NumberInfo = match i % CALLER_STATES {
                0 => Err(Invalid::BadCharacter),
                state => Ok(Classification {
                    number,
                    region: None,
                    valid: state == 2,
                    number_type: NumberType::Unknown,
                    tags: 0,
                }),
            };
            let callee: NumberInfo = Err(Invalid::Empty);
            let call = Call {
                ingress,
                ..Call::international()
            };
            let facts = Facts {
                call: &call,
                caller: &caller,
                callee: &callee,
                network_number: None,
                emergency: false,
                policy,
                time: Default::default(),
                velocity: [None; 3],
            };
            variant(
                ranking,
                &Known {
                    facts,
                    network_number_absent,
                    caller_parsed: i % CALLER_STATES != 0,
                },
            )
        })
        .collect()
}

/// A context: a call with what it fixes (ingress, caller state, no network number), whether
/// the network number's absence is part of it, and whether the caller parsed.
struct Known<'a> {
    facts: Facts<'a>,
    network_number_absent: bool,
    caller_parsed: bool,
}

impl Known<'_> {
    /// The outcome of `check` on every call in this context, if the context settles it.
    fn outcome(&self, check: &Check) -> Option<bool> {
        let r = reads(check);
        let settled = r & OTHER == 0
            && (r & NETWORK_NUMBER == 0 || self.network_number_absent)
            && (r & CALLER_NUMBER == 0 || !self.caller_parsed)
            && (r & CALLER_REASON == 0 || self.caller_parsed);
        settled.then(|| check.test(&self.facts, Lists::EMPTY))
    }
}

/// What a check reads: the ingress.
const INGRESS: u8 = 1;
/// The network number (a check reading nothing else has one outcome when it is absent).
const NETWORK_NUMBER: u8 = 2;
/// Whether the caller parsed, and whether it is valid.
const CALLER_STATE: u8 = 4;
/// The caller's classification, when it parsed (none of it when it did not).
const CALLER_NUMBER: u8 = 8;
/// Why the caller did not parse, when it did not (no reason when it did).
const CALLER_REASON: u8 = 16;
/// Anything else.
const OTHER: u8 = 32;

/// What a check's outcome depends on (a set of the bits above).
fn reads(check: &Check) -> u8 {
    match *check {
        Check::Const(_) => 0,
        Check::Ingress(_) => INGRESS,
        Check::Roaming(_) | Check::Attestation(_) | Check::Counter(..) => OTHER,
        Check::Parsed(who, _) => feature_reads(Feature::Number(who, NumberField::Parsed)),
        Check::Valid(who, _) => feature_reads(Feature::Number(who, NumberField::Valid)),
        Check::IsHome(who, _) => feature_reads(Feature::Number(who, NumberField::IsHome)),
        Check::Type(who, _) => feature_reads(Feature::Number(who, NumberField::Type)),
        Check::InvalidReason(who, _) => {
            feature_reads(Feature::Number(who, NumberField::InvalidReason))
        }
        // The number's value, as `e164` reads it.
        Check::Listed(who, _) => feature_reads(Feature::Number(who, NumberField::E164)),
        Check::Tagged(who, _) => feature_reads(Feature::Number(who, NumberField::Tags)),
        Check::NumberFlag(who, field, _) => feature_reads(Feature::Number(who, field)),
        Check::Flag(f, _) | Check::Sym(f, _) | Check::Num(f, ..) | Check::NumNone(f) => {
            feature_reads(f)
        }
        Check::Pred(ref p) => match **p {
            Pred::Listed(who, _) => feature_reads(Feature::Number(who, NumberField::E164)),
            Pred::Tagged(who, _) => feature_reads(Feature::Number(who, NumberField::Tags)),
            _ => p.features().fold(0, |r, f| r | feature_reads(f)),
        },
    }
}

/// What a feature's value depends on.
fn feature_reads(f: Feature) -> u8 {
    match f {
        Feature::Ingress => INGRESS,
        // Absent, every property of the network number has one value.
        Feature::Number(Who::NetworkNumber, _) => NETWORK_NUMBER,
        Feature::Number(Who::Caller, field) => match field {
            NumberField::Parsed | NumberField::Valid => CALLER_STATE,
            NumberField::InvalidReason => CALLER_REASON,
            // The raw text too.
            NumberField::Present => OTHER,
            NumberField::Region
            | NumberField::IsHome
            | NumberField::Type
            | NumberField::CountryCode
            | NumberField::Carrier
            | NumberField::Location
            | NumberField::E164
            | NumberField::Tags => CALLER_NUMBER,
        },
        _ => OTHER,
    }
}

/// Every rule of `ranking` under the context `known`.
fn variant(ranking: &Ranking, known: &Known<'_>) -> Variant {
    let mut out = Variant::default();
    for (i, rule) in ranking.rules.iter().enumerate() {
        let end = ranking
            .rules
            .get(i + 1)
            .map_or(ranking.nodes.len(), |next| next.start);
        let program = ranking.nodes.get(rule.start..end).unwrap_or_default();
        let nodes = match specialize(program, known) {
            Specialized::Never => continue,
            Specialized::Always => vec![Node {
                check: Check::Const(true),
                on_true: TRUE,
                on_false: TRUE,
            }],
            Specialized::Nodes(nodes) => nodes,
            Specialized::Unchanged => program.to_vec(),
        };
        out.rules.push(Ranked {
            start: out.nodes.len(),
            ..rule.clone()
        });
        out.nodes.extend(nodes);
    }
    out
}

/// A condition under a context.
enum Specialized {
    /// False on every call of the context.
    Never,
    /// True on every call of the context.
    Always,
    /// The checks the context leaves open, from the first one to run.
    Nodes(Vec<Node>),
    /// As it was (a program whose jumps are not all forward and in range, which compiling
    /// never makes).
    Unchanged,
}

/// The program `nodes` (targets counted from its first node) under `known`: jumps to a
/// settled check go where its outcome leads, and nodes no longer reached are dropped.
fn specialize(nodes: &[Node], known: &Known<'_>) -> Specialized {
    if nodes.is_empty() {
        return Specialized::Never;
    }
    let forward = nodes.iter().enumerate().all(|(i, n)| {
        [n.on_true, n.on_false]
            .iter()
            .all(|&t| t >= FALSE || (usize::from(t) > i && usize::from(t) < nodes.len()))
    });
    if !forward || nodes.len() >= usize::from(FALSE) {
        return Specialized::Unchanged;
    }
    // Where a jump to each node leads: past a settled check to where its outcome goes, past
    // one whose outcomes go to the same place to that place. Jumps go forward, so the nodes
    // after a node are resolved before it.
    let mut to: Vec<Target> = vec![0; nodes.len()];
    for (i, node) in nodes.iter().enumerate().rev() {
        let follow = |t: Target| to.get(usize::from(t)).copied().unwrap_or(t);
        let (on_true, on_false) = (follow(node.on_true), follow(node.on_false));
        to[i] = match known.outcome(&node.check) {
            Some(true) => on_true,
            Some(false) => on_false,
            None if on_true == on_false => on_true,
            None => i as Target,
        };
    }
    let resolve = |t: Target| to.get(usize::from(t)).copied().unwrap_or(t);
    let entry = resolve(0);
    match entry {
        TRUE => return Specialized::Always,
        FALSE => return Specialized::Never,
        _ => {}
    }
    // The nodes reached from the entry, in order (jumps go forward), numbered anew.
    let mut number: Vec<Option<Target>> = vec![None; nodes.len()];
    let mut reached = vec![false; nodes.len()];
    reached[usize::from(entry)] = true;
    let mut kept = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if !reached[i] {
            continue;
        }
        number[i] = Target::try_from(kept.len()).ok();
        let (on_true, on_false) = (resolve(node.on_true), resolve(node.on_false));
        for t in [on_true, on_false] {
            if let Some(r) = reached.get_mut(usize::from(t)) {
                *r = true;
            }
        }
        kept.push((node, on_true, on_false));
    }
    let renumber = |t: Target| match number.get(usize::from(t)) {
        Some(&Some(n)) => Some(n),
        Some(None) => None,
        None => Some(t),
    };
    let mut out = Vec::with_capacity(kept.len());
    for (node, on_true, on_false) in kept {
        let (Some(on_true), Some(on_false)) = (renumber(on_true), renumber(on_false)) else {
            return Specialized::Unchanged;
        };
        out.push(Node {
            check: node.check.clone(),
            on_true,
            on_false,
        });
    }
    Specialized::Nodes(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Attestation;
    use crate::numberlist::{ListKind, NumberList};
    use crate::velocity::Counters;
    use std::sync::Arc;

    /// Conditions over every kind of check, those a context settles mixed with others.
    const CONDITIONS: &[&str] = &[
        "ingress == 'international' and roaming != true and caller.is_home",
        "ingress == 'international' and roaming != true and network_number.is_home",
        "caller.is_home and network_number.parsed and not network_number.is_home",
        "caller in dno or network_number in dno",
        "(caller in blocklist and not caller in allowlist) or network_number in blocklist",
        "caller in partner or network_number in partner",
        "not caller.parsed and caller.invalid_reason != 'withheld'",
        "caller.parsed and not caller.valid and (caller.is_home or caller.country_code == 7)",
        "caller.parsed and not caller.valid and caller.country_code != 7",
        "caller.invalid_reason == 'withheld' and ingress == 'international'",
        "callee.type == 'premium_rate' and not callee.is_home",
        "ingress == 'international' and duration != none and duration < 5",
        "ingress == 'international' and (attestation == 'C' or attestation == none)",
        "caller in allowlist",
        "ingress != 'national' or ingress in ['onnet', 'national']",
        "not ingress in ['international'] and caller.valid",
        "caller.valid == true or caller.parsed == false",
        "caller.parsed in [true] and network_number.present",
        "network_number.present == false and not network_number.valid",
        "network_number.type == none or network_number.invalid_reason in ['too_short']",
        "network_number.region == 'RU' or network_number.e164 == '+77011234567'",
        "caller.e164 != network_number.e164 and network_number.country_code >= 7",
        "network_number.carrier == 'Beeline' or network_number.location != none",
        "caller.valid and (network_number.parsed or ingress == 'onnet')",
        "roaming == none and not emergency",
        "caller.calls_1m >= 20 and caller.distinct_callees >= 15",
        "hour >= 22 or hour < 6 and weekday in ['sat', 'sun']",
        "trunk in ['gw-1', 'gw-2'] and caller.present",
        "caller.region == callee.region or callee.region == none",
        "not (caller.valid or (callee.valid and not (ingress == 'onnet' or roaming == true)))",
        "true and not false",
        "false or ingress == 'national'",
        "ingress == 'onnet' or true",
        "caller.type == none or caller.type in ['mobile'] and caller.invalid_reason == none",
        "caller.invalid_reason in ['withheld', 'empty'] or caller.region == 'KZ'",
        "caller.present and (caller.e164 == '+77011234567' or caller.carrier == none)",
        "caller.country_code == network_number.country_code or caller.location != none",
        "caller.valid == network_number.valid and caller.is_home != network_number.is_home",
    ];

    /// A policy with a rule for each condition: every effect, several weights, some observed.
    fn policy(mode: &str) -> Policy {
        let mut text = format!(
            "home_region = \"KZ\"\nemergency_numbers = [\"104\"]\nmode = \"{mode}\"\n\
             [lists.dno]\nkind = \"dno\"\n[lists.blocklist]\nkind = \"block\"\n\
             [lists.partner]\nkind = \"partner\"\n[lists.allowlist]\nkind = \"allow\"\n"
        );
        let effects = [
            "",
            "action = \"block\"\n",
            "action = \"flag\"\n",
            "action = \"allow\"\n",
        ];
        for (i, when) in CONDITIONS.iter().enumerate() {
            text.push_str(&format!(
                "[[rules]]\nid = \"r{i}\"\nwhen = \"{when}\"\nscore = {}\n{}observe = {}\n",
                [0.1, 0.5, 0.95, 1.0][i % 4],
                effects[i * 7 % 4],
                i % 5 == 3
            ));
        }
        crate::engine::tests::policy(&text)
    }

    fn list(name: &str, kind: ListKind, keys: Vec<u64>) -> Arc<NumberList> {
        Arc::new(NumberList::build(name, kind, keys, 1e-3, 0).unwrap())
    }

    /// The specialised rule sets decide every call as the general one does: same reasons in
    /// the same order, same score to the bit, same actions.
    #[test]
    fn specialised_rules_decide_as_the_general_ones() {
        let lists = [
            list("dno", ListKind::Dno, vec![77011234567]),
            list("blocklist", ListKind::Block, vec![79161234567, 77011234567]),
            list("partner", ListKind::Partner, vec![12015550123]),
            list("allowlist", ListKind::Allow, vec![77011234567]),
        ];
        let counters = [
            None,
            Some(Counters {
                calls_1m: 30,
                distinct_callees: 20,
                ..Counters::default()
            }),
        ];
        let callers = [
            "+77011234567",
            "+79161234567",
            "+12015550123",
            "+77001234567",
            "+70001234567",
            "+12005550123",
            "anonymous",
            "abc",
            "",
        ];
        let callees = ["87272123456", "+18005550123", "104", "+79161234567"];
        let network_numbers = [
            None,
            Some("+79161234567"),
            Some("+77011234567"),
            Some("x"),
            Some("+7700"),
        ];
        let mut contexts = [0usize; CONTEXTS];
        let mut checked = 0;
        for mode in ["enforce", "observe"] {
            let policy = policy(mode);
            assert_eq!(policy.ranking.variants.len(), CONTEXTS);
            for caller in callers {
                for callee in callees {
                    for network_number in network_numbers {
                        for ingress in Ingress::ALL {
                            for k in 0..6 {
                                let call = Call {
                                    caller,
                                    callee,
                                    network_number,
                                    ingress,
                                    roaming: [None, Some(true), Some(false)][k % 3],
                                    attestation: [None, Some(Attestation::A), Some(Attestation::C)]
                                        [k / 2],
                                    duration: [None, Some(3.0), Some(10.0)][(k + 1) % 3],
                                    trunk: ["", "gw-1"][k % 2],
                                    timestamp: Some(1_795_932_000.0 + 3600.0 * (k * 5) as f64),
                                };
                                let a = policy.lookup(caller, ingress);
                                let b = policy.lookup(callee, Ingress::National);
                                let n = network_number.map(|raw| policy.lookup(raw, ingress));
                                let facts = Facts {
                                    call: &call,
                                    caller: &a,
                                    callee: &b,
                                    network_number: n.as_ref(),
                                    emergency: policy.is_emergency(callee),
                                    policy: &policy,
                                    time: Default::default(),
                                    velocity: [counters[k % 2], counters[k / 3], None],
                                };
                                let fast = policy.evaluate(&facts, Lists::new(&lists));
                                let general = policy.evaluate_general(&facts, Lists::new(&lists));
                                assert_eq!(fast.reasons, general.reasons, "{call:?}");
                                assert_eq!(fast.score.to_bits(), general.score.to_bits());
                                assert_eq!(fast.action, general.action, "{call:?}");
                                assert_eq!(fast.would_action, general.would_action, "{call:?}");
                                contexts[context(&facts)] += 1;
                                checked += 1;
                            }
                        }
                    }
                }
            }
            // The contexts settle checks: fewer nodes to run than the general rules have.
            let general = policy.ranking.nodes.len();
            assert!(policy
                .ranking
                .variants
                .iter()
                .all(|v| v.nodes.len() < general && v.rules.len() < policy.ranking.rules.len()));
        }
        assert!(contexts.iter().all(|&n| n > 0), "{contexts:?}");
        assert!(checked > 5000);
    }
}
