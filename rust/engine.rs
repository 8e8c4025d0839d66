//! The engine: a policy and its lists, swapped atomically, and `score()`.
//!
//! Scoring reads one snapshot (policy + lists) and never blocks on writers: `reload`,
//! `set_list` and `clear_list` publish a new snapshot, and a call being scored sees the old
//! one or the new one, never a mix.

use crate::call::Call;
use crate::normalize::{Ingress, Invalid};
use crate::number::Number;
use crate::numberlist::NumberList;
use crate::numplan::Classification;
use crate::policy::features::Facts;
use crate::policy::Policy;
use crate::verdict::{NumberInfo, Verdict};
use crate::{Error, Result};
use arc_swap::ArcSwap;
use std::sync::Arc;

/// A policy with the current contents of its lists.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled policy.
    pub policy: Arc<Policy>,
    /// One list per declaration of the policy, in its order.
    pub lists: Vec<Arc<NumberList>>,
}

/// Scores calls. Thread-safe; share it behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    state: ArcSwap<Snapshot>,
}

impl Engine {
    /// An engine running `policy`, with the lists as the policy loaded them.
    pub fn new(policy: impl Into<Arc<Policy>>) -> Engine {
        let policy = policy.into();
        let lists = policy.lists().iter().map(|d| d.initial.clone()).collect();
        Engine {
            state: ArcSwap::from_pointee(Snapshot { policy, lists }),
        }
    }

    /// The current policy and lists.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.load_full()
    }

    /// The current policy.
    pub fn policy(&self) -> Arc<Policy> {
        self.state.load().policy.clone()
    }

    /// Replaces the policy atomically. A list whose declaration (name, kind, file and the
    /// file's size and modification time) is unchanged keeps its current contents, including
    /// updates made since it was loaded; other lists come from the new policy.
    pub fn reload(&self, policy: impl Into<Arc<Policy>>) {
        let policy = policy.into();
        self.state.rcu(|old| {
            let lists = policy
                .lists()
                .iter()
                .map(|decl| {
                    old.policy
                        .lists()
                        .iter()
                        .position(|o| {
                            o.name == decl.name && o.kind == decl.kind && o.file == decl.file
                        })
                        .and_then(|i| old.lists.get(i).cloned())
                        .unwrap_or_else(|| decl.initial.clone())
                })
                .collect();
            Snapshot {
                policy: policy.clone(),
                lists,
            }
        });
    }

    /// Replaces the contents of the list the policy declares under `list.name()`. The
    /// list's kind must match the declaration's.
    pub fn set_list(&self, list: Arc<NumberList>) -> Result<()> {
        let mut outcome = Ok(());
        self.state.rcu(|old| {
            let mut lists = old.lists.clone();
            match old
                .policy
                .lists()
                .iter()
                .position(|d| d.name == list.name())
            {
                Some(i) if old.policy.lists()[i].kind != list.kind() => {
                    outcome = Err(Error::invalid(
                        "list",
                        format!(
                            "list {:?} is a {} list; the policy declares it {}",
                            list.name(),
                            list.kind().as_str(),
                            old.policy.lists()[i].kind.as_str()
                        ),
                    ));
                }
                Some(i) => {
                    outcome = Ok(());
                    lists[i] = list.clone();
                }
                None => {
                    let names: Vec<&str> =
                        old.policy.lists().iter().map(|d| d.name.as_str()).collect();
                    outcome = Err(Error::invalid(
                        "list",
                        format!(
                            "the policy declares no list {:?} (declared: {})",
                            list.name(),
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    ));
                }
            }
            Snapshot {
                policy: old.policy.clone(),
                lists,
            }
        });
        outcome
    }

    /// Empties a declared list; returns whether it held numbers.
    pub fn clear_list(&self, name: &str) -> Result<bool> {
        let snap = self.snapshot();
        let Some(decl) = snap.policy.lists().iter().find(|d| d.name == name) else {
            return Err(Error::invalid(
                "list",
                format!("the policy declares no list {name:?}"),
            ));
        };
        let was = snap
            .lists
            .iter()
            .find(|l| l.name() == name)
            .is_some_and(|l| !l.is_empty());
        self.set_list(Arc::new(NumberList::build(
            name,
            decl.kind,
            Vec::new(),
            1e-4,
            0,
        )?))?;
        Ok(was)
    }

    /// The lists in use, in the policy's order.
    pub fn lists(&self) -> Vec<Arc<NumberList>> {
        self.state.load().lists.clone()
    }

    /// Normalises a raw number read on `ingress` with the current policy's dialling plan.
    #[inline]
    pub fn normalize(&self, raw: &str, ingress: Ingress) -> Result<Number, Invalid> {
        self.state.load().policy.normalize(raw, ingress)
    }

    /// Classifies a number with the plan and the current overlay.
    #[inline]
    pub fn classify(&self, number: Number) -> Classification {
        self.state.load().policy.classify(number)
    }

    /// Normalises and classifies in one step.
    #[inline]
    pub fn lookup(&self, raw: &str, ingress: Ingress) -> NumberInfo {
        self.state.load().policy.lookup(raw, ingress)
    }

    /// Whether `callee` (raw) is a home emergency number.
    pub fn is_emergency(&self, callee: &str) -> bool {
        self.state.load().policy.is_emergency(callee)
    }

    /// Scores one call. Never fails: every odd field is a fact the rules can test.
    pub fn score(&self, call: &Call<'_>) -> Verdict {
        let snap = self.state.load();
        score_with(&snap, call)
    }
}

/// Scores one call against a snapshot.
pub fn score_with(snap: &Snapshot, call: &Call<'_>) -> Verdict {
    let policy = &*snap.policy;
    let caller = policy.lookup(call.caller, call.ingress);
    // The dialled number was already translated to international format abroad, or is in
    // home format: read it with the home rules either way.
    let callee_ingress = match call.ingress {
        Ingress::International => Ingress::National,
        other => other,
    };
    let callee = policy.lookup(call.callee, callee_ingress);
    let network_number = call
        .network_number
        .map(|raw| policy.lookup(raw, call.ingress));
    let emergency = policy.is_emergency(call.callee);
    let facts = Facts {
        call,
        caller: &caller,
        callee: &callee,
        network_number: network_number.as_ref(),
        emergency,
        policy,
    };
    let d = policy.evaluate(&facts, &snap.lists);
    Verdict {
        action: d.action,
        would_action: d.would_action,
        score: d.score,
        reasons: d.reasons,
        caller,
        callee,
        network_number,
        policy: snap.policy.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::numberlist::ListKind;
    use crate::numplan::tests::sample_plan;
    use crate::verdict::Action;
    use std::path::Path;

    /// The built-in checks of the default policy, on the sample plan.
    pub(crate) const TEST_POLICY: &str = r#"
home_region = "KZ"
international_prefixes = ["00"]
emergency_numbers = ["104"]

[lists.fraud]
kind = "block"
[lists.beeline]
kind = "partner"
[lists.verified]
kind = "allow"

[[rules]]
id = "invalid_cli"
when = "not caller.parsed and caller.invalid_reason != 'withheld'"
score = 1.0
action = "block"

[[rules]]
id = "unallocated_cli"
when = "caller.parsed and not caller.valid"
score = 1.0
action = "block"

[[rules]]
id = "cli_withheld"
when = "caller.invalid_reason == 'withheld'"
score = 0.5

[[rules]]
id = "spoofed_home_cli"
when = "ingress == 'international' and roaming != true and caller.is_home"
score = 0.95
action = "block"

[[rules]]
id = "spoofed_home_network_number"
when = "ingress == 'international' and roaming != true and network_number.is_home"
score = 0.95
action = "block"

[[rules]]
id = "blocklist"
when = "(caller in fraud and not caller in verified) or network_number in fraud"
score = 1.0
action = "block"

[[rules]]
id = "partner"
when = "caller in beeline"
score = 0.6

[[rules]]
id = "allowlist"
when = "caller in verified"
action = "allow"
"#;

    pub(crate) fn policy(text: &str) -> Policy {
        Policy::parse(text, "test.toml", Path::new("."), sample_plan()).unwrap()
    }

    fn engine() -> Engine {
        Engine::new(policy(TEST_POLICY))
    }

    fn ids(v: &Verdict) -> Vec<&str> {
        v.reason_ids().collect()
    }

    fn list(name: &str, kind: ListKind, keys: Vec<u64>) -> Arc<NumberList> {
        Arc::new(NumberList::build(name, kind, keys, 1e-3, 0).unwrap())
    }

    #[test]
    fn lists_block_flag_and_allow() {
        let e = engine();
        let kz = 77011234567u64;
        e.set_list(list("fraud", ListKind::Block, vec![kz]))
            .unwrap();
        let call = Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::national()
        };
        let v = e.score(&call);
        assert_eq!((v.action, ids(&v)), (Action::Block, vec!["blocklist"]));
        let partner = NumberList::build("p", ListKind::Block, vec![79161234567], 1e-3, 0)
            .unwrap()
            .to_filter("beeline", ListKind::Partner, 100, 1e-3, 0)
            .unwrap();
        e.set_list(Arc::new(partner)).unwrap();
        let v = e.score(&Call {
            caller: "+79161234567",
            ..call
        });
        assert_eq!((v.action, ids(&v)), (Action::Flag, vec!["partner"]));
        e.set_list(list("verified", ListKind::Allow, vec![kz]))
            .unwrap();
        let v = e.score(&call);
        assert_eq!((v.action, ids(&v)), (Action::Allow, vec!["allowlist"]));
        // The allowlist vouches for the number, not the route: a hard block wins.
        let v = e.score(&Call {
            ingress: Ingress::International,
            ..call
        });
        assert_eq!(v.action, Action::Block);
        assert_eq!(ids(&v), ["spoofed_home_cli", "allowlist"]);
        // Undeclared lists and kind mismatches are refused.
        assert!(e.set_list(list("other", ListKind::Block, vec![])).is_err());
        assert!(e.set_list(list("fraud", ListKind::Allow, vec![])).is_err());
        assert!(e.clear_list("verified").unwrap());
        assert!(!e.clear_list("verified").unwrap());
        assert!(e.clear_list("nope").is_err());
        assert_eq!(e.score(&call).action, Action::Block);
    }

    #[test]
    fn home_cli_from_abroad_is_blocked_unless_roaming() {
        let e = engine();
        let call = Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::international()
        };
        let v = e.score(&call);
        assert_eq!(
            (v.action, ids(&v)),
            (Action::Block, vec!["spoofed_home_cli"])
        );
        let roaming = e.score(&Call {
            roaming: Some(true),
            ..call
        });
        assert_eq!(roaming.action, Action::Allow);
        assert!(roaming.reasons.is_empty() && roaming.score == 0.0);
        let national = e.score(&Call {
            ingress: Ingress::National,
            ..call
        });
        assert_eq!(national.action, Action::Allow);
        let russian = e.score(&Call {
            caller: "+79161234567",
            ..call
        });
        assert_eq!(russian.action, Action::Allow, "{:?}", russian.reasons);
    }

    #[test]
    fn invalid_unallocated_and_withheld_callers() {
        let e = engine();
        for (caller, action, reason) in [
            ("hello", Action::Block, "invalid_cli"),
            ("+76991234567", Action::Block, "unallocated_cli"),
            ("anonymous", Action::Flag, "cli_withheld"),
        ] {
            let v = e.score(&Call {
                caller,
                callee: "87011234567",
                ..Call::national()
            });
            assert_eq!((v.action, ids(&v)), (action, vec![reason]), "{caller}");
        }
    }

    #[test]
    fn emergency_calls_are_never_blocked() {
        let e = engine();
        for callee in ["112", "101", "103", "104"] {
            let v = e.score(&Call {
                caller: "garbage!",
                callee,
                ..Call::international()
            });
            assert_eq!(v.action, Action::Flag, "{callee}");
            assert_eq!(v.would_action, Action::Flag, "{callee}");
            assert!(ids(&v).contains(&"emergency_callee"));
        }
        assert!(!e.is_emergency("105") && !e.is_emergency("1120") && !e.is_emergency(""));
    }

    #[test]
    fn network_number_is_checked_too() {
        let v = engine().score(&Call {
            caller: "+12015550123",
            callee: "87011234567",
            network_number: Some("+77011234567"),
            ..Call::international()
        });
        assert_eq!(
            (v.action, ids(&v)),
            (Action::Block, vec!["spoofed_home_network_number"])
        );
    }

    #[test]
    fn observe_mode_reports_without_acting() {
        let observed = format!("mode = \"observe\"\n{TEST_POLICY}");
        let e = Engine::new(policy(&observed));
        let v = e.score(&Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::international()
        });
        assert_eq!((v.action, v.would_action), (Action::Allow, Action::Block));
        assert_eq!(ids(&v), ["spoofed_home_cli"]);
        assert!(v.reasons[0].observe && (v.score - 0.95).abs() < 1e-12);
        // One rule in observe mode: the others still act.
        let one = TEST_POLICY.replace(
            "id = \"cli_withheld\"",
            "id = \"cli_withheld\"\nobserve = true",
        );
        let e = Engine::new(policy(&one));
        let v = e.score(&Call {
            caller: "anonymous",
            callee: "87272123456",
            ..Call::national()
        });
        assert_eq!((v.action, v.would_action), (Action::Allow, Action::Flag));
    }

    #[test]
    fn reload_swaps_rules_and_keeps_unchanged_lists() {
        let e = engine();
        e.set_list(list("fraud", ListKind::Block, vec![77011234567]))
            .unwrap();
        e.set_list(list("verified", ListKind::Allow, vec![1]))
            .unwrap();
        let call = Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::national()
        };
        assert_eq!(e.score(&call).action, Action::Block);
        // A stricter policy: lists kept (same declarations), one rule changed.
        let stricter = TEST_POLICY
            .replace(
                "[lists.verified]\nkind = \"allow\"",
                "[lists.verified]\nkind = \"block\"",
            )
            .replace("score = 0.5", "score = 0.5\naction = \"block\"");
        e.reload(policy(&stricter));
        assert_eq!(e.score(&call).action, Action::Block, "fraud list kept");
        let by_name = |n: &str| e.lists().into_iter().find(|l| l.name() == n).unwrap();
        assert_eq!(by_name("fraud").len(), 1);
        assert!(
            by_name("verified").is_empty(),
            "verified changed kind: reloaded empty"
        );
        let v = e.score(&Call {
            caller: "anonymous",
            ..call
        });
        assert_eq!(v.action, Action::Block);
    }

    #[test]
    fn reasons_are_ordered_by_contribution() {
        let p = policy(
            r#"
home_region = "KZ"
[[rules]]
id = "weak"
when = "true"
score = 0.1
[[rules]]
id = "strong"
when = "true"
score = 0.4
[[rules]]
id = "flagger"
when = "true"
action = "flag"
[[rules]]
id = "blocker"
when = "ingress == 'onnet'"
action = "block"
"#,
        );
        let e = Engine::new(p);
        let v = e.score(&Call {
            callee: "87272123456",
            ..Call::national()
        });
        assert_eq!(ids(&v), ["flagger", "strong", "weak"]);
        assert_eq!(v.action, Action::Flag);
        assert!((v.score - (1.0 - 0.9 * 0.6)).abs() < 1e-12);
        let v = e.score(&Call {
            callee: "87272123456",
            ingress: Ingress::Onnet,
            ..Call::national()
        });
        assert_eq!(ids(&v)[0], "blocker");
        assert_eq!(v.action, Action::Block);
    }
}
