//! The engine: a policy, its lists and velocity counters, swapped atomically, and `score()`.
//!
//! Scoring reads one snapshot (policy + lists + counters) and never blocks on writers:
//! `reload`, `set_list` and `clear_list` publish a new snapshot, and a call being scored sees
//! the old one or the new one, never a mix. Counters survive a reload whose `[velocity]`
//! settings are unchanged; statistics survive every reload (per rule id).

use crate::call::Call;
use crate::normalize::{Ingress, Invalid};
use crate::number::Number;
use crate::numberlist::{Lists, NumberList};
use crate::numplan::Classification;
use crate::policy::features::Facts;
use crate::policy::{Decision, Policy};
use crate::tally::ShardedCounters;
use crate::velocity::{Event, Key, Velocity, VelocityStats};
use crate::verdict::{Action, NumberInfo, Reason, ReasonId, Verdict};
use crate::{Error, Result};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::Arc;

mod batch;
pub use batch::Batch;

/// A policy with the current contents of its lists.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled policy.
    pub policy: Arc<Policy>,
    /// One list per declaration of the policy, in its order.
    pub lists: Vec<Arc<NumberList>>,
    /// The counters, when the policy configures them (`[velocity]`, or a rule reading one).
    pub velocity: Option<Arc<Velocity>>,
    /// Calls each rule matched (by index), since the rule first appeared.
    pub rule_hits: Arc<ShardedCounters>,
}

/// What an engine has seen: calls by action, reasons, and the counters' state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineStats {
    /// Calls scored.
    pub calls: u64,
    /// Calls by action taken: allow, flag, block.
    pub actions: [u64; 3],
    /// Calls by the action the policy would take (differs in observe mode).
    pub would_actions: [u64; 3],
    /// Calls each rule of the current policy matched, and emergency calls.
    pub reasons: BTreeMap<String, u64>,
    /// The counters' state, when the policy configures counters.
    pub velocity: Option<VelocityStats>,
}

/// Engine-wide counts, in the slots of a [`ShardedCounters`]: calls by action taken, then
/// (observe mode) the would-be action where it differs from the action taken, then that
/// action taken, then emergency calls. Calls in all are the sum of the first three.
const ACTION_SLOTS: usize = 0;
const WOULD_ADDED: usize = 3;
const WOULD_REMOVED: usize = 6;
const EMERGENCY_SLOT: usize = 9;
const TALLY_SLOTS: usize = 10;

/// Scores calls. Thread-safe; share it behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    state: ArcSwap<Snapshot>,
    tally: ShardedCounters,
}

fn zeroed(n: usize) -> Arc<ShardedCounters> {
    Arc::new(ShardedCounters::new(n))
}

impl Engine {
    /// An engine running `policy`, with the lists as the policy loaded them.
    pub fn new(policy: impl Into<Arc<Policy>>) -> Result<Engine> {
        let policy = policy.into();
        let lists = policy.lists().iter().map(|d| d.initial.clone()).collect();
        let velocity = match policy.velocity() {
            Some(c) => Some(Arc::new(Velocity::new(c.clone())?)),
            None => None,
        };
        Ok(Engine {
            state: ArcSwap::from_pointee(Snapshot {
                rule_hits: zeroed(policy.rules().len()),
                policy,
                lists,
                velocity,
            }),
            tally: ShardedCounters::new(TALLY_SLOTS),
        })
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
    pub fn reload(&self, policy: impl Into<Arc<Policy>>) -> Result<()> {
        let policy = policy.into();
        let current = self.snapshot();
        // Built outside the swap: a new counter store is allocated once.
        let fresh = match policy.velocity() {
            Some(c) if current.velocity.as_ref().is_some_and(|v| v.config() == c) => None,
            Some(c) => Some(Arc::new(Velocity::new(c.clone())?)),
            None => None,
        };
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
            let velocity = match policy.velocity() {
                None => None,
                Some(c) => match &old.velocity {
                    Some(v) if v.config() == c => Some(v.clone()),
                    _ => fresh.clone(),
                },
            };
            let rule_hits = zeroed(policy.rules().len());
            for (i, r) in policy.rules().iter().enumerate() {
                if let Some(j) = old.policy.rules().iter().position(|o| o.id == r.id) {
                    rule_hits.add(i, old.rule_hits.get(j));
                }
            }
            Snapshot {
                policy: policy.clone(),
                lists,
                velocity,
                rule_hits,
            }
        });
        Ok(())
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
                velocity: old.velocity.clone(),
                rule_hits: old.rule_hits.clone(),
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
        let v = score_with(&snap, call);
        self.count(&snap, v.action, v.would_action, &v.reasons);
        v
    }

    /// Decides one call and counts it as [`Engine::score`] does, then hands the decision and
    /// the policy that made it (it names the reasons) to `then`, whose result it returns.
    ///
    /// No verdict is built, so no handle on the policy is taken (its reference count, shared
    /// by every thread scoring, would bounce between cores) and no looked-up numbers are kept.
    /// The snapshot is held only while `then` runs. For many calls in a row, a [`Batch`]
    /// (which the CSV, table and `score_many` paths use) saves the per-call atomics.
    pub fn decide<R>(&self, call: &Call<'_>, then: impl FnOnce(Decision, &Arc<Policy>) -> R) -> R {
        let snap = self.state.load();
        let (d, _) = decide_with(&snap, Lists::new(&snap.lists), call);
        self.count(&snap, d.action, d.would_action, &d.reasons);
        then(d, &snap.policy)
    }

    fn count(&self, snap: &Snapshot, action: Action, would: Action, reasons: &[Reason]) {
        let t = &self.tally;
        let (action, would) = (action.index(), would.index());
        t.add(ACTION_SLOTS + action, 1);
        if would != action {
            t.add(WOULD_ADDED + would, 1);
            t.add(WOULD_REMOVED + action, 1);
        }
        for r in reasons {
            match r.id {
                ReasonId::Rule(i) => snap.rule_hits.add(usize::from(i), 1),
                ReasonId::Builtin(_) => t.add(EMERGENCY_SLOT, 1),
            }
        }
    }

    /// Calls by action and reason, and the counters' state.
    pub fn stats(&self) -> EngineStats {
        let snap = self.snapshot();
        let t = &self.tally;
        let mut reasons: BTreeMap<String, u64> = snap
            .policy
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), snap.rule_hits.get(i)))
            .collect();
        reasons.insert(
            crate::policy::EMERGENCY_REASON.to_owned(),
            t.get(EMERGENCY_SLOT),
        );
        let actions = [0, 1, 2].map(|i| t.get(ACTION_SLOTS + i));
        let would_actions = [0, 1, 2].map(|i| {
            (actions[i] + t.get(WOULD_ADDED + i)).saturating_sub(t.get(WOULD_REMOVED + i))
        });
        EngineStats {
            calls: actions.iter().sum(),
            actions,
            would_actions,
            reasons,
            velocity: snap.velocity.as_ref().map(|v| v.stats()),
        }
    }

    /// A key's counters without counting a call, at `now` (Unix seconds), for analysts.
    /// `None` when the policy keeps no counters or the key is not tracked.
    pub fn counters(&self, key: Key, now: f64) -> Option<crate::velocity::Counters> {
        self.snapshot().velocity.as_ref()?.peek(key, now)
    }
}

/// When a call happened: its finite `timestamp`, else now.
pub fn event_time(call: &Call<'_>) -> f64 {
    call.timestamp
        .filter(|t| t.is_finite())
        .unwrap_or_else(unix_now)
}

/// Unix seconds now: the event time of a call without a timestamp.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The numbers a call was decided on: caller, callee and network number, looked up.
type LookedUp = (NumberInfo, NumberInfo, Option<NumberInfo>);

/// Scores one call against a snapshot.
pub fn score_with(snap: &Snapshot, call: &Call<'_>) -> Verdict {
    score_in(snap, Lists::new(&snap.lists), call)
}

/// [`score_with`], looking numbers up in `lists` (the snapshot's, perhaps pinned).
fn score_in(snap: &Snapshot, lists: Lists<'_>, call: &Call<'_>) -> Verdict {
    let (d, (caller, callee, network_number)) = decide_with(snap, lists, call);
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

/// Decides one call against a snapshot, with the numbers it looked up.
fn decide_with(snap: &Snapshot, lists: Lists<'_>, call: &Call<'_>) -> (Decision, LookedUp) {
    let policy = &*snap.policy;
    let caller = policy.lookup(call.caller, call.ingress);
    let store = snap.velocity.as_ref().filter(|_| policy.reads_counters());
    let [by_caller, by_destination, by_trunk] = policy.velocity_keys();
    // Most callers are new keys, whose counting waits on memory: start it now, so that it
    // arrives while the other numbers are looked up.
    let caller_key = match (store, by_caller, &caller) {
        (Some(store), true, Ok(c)) => Some(store.prefetch(Key::caller(c.number.value()))),
        _ => None,
    };
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
    let mut velocity = [None; 3];
    let time = std::cell::OnceCell::new();
    if let Some(store) = store {
        let event = Event {
            timestamp: *time.get_or_init(|| event_time(call)),
            callee: callee.as_ref().map_or(0, |c| c.number.value()),
            duration: call.duration,
        };
        // Caller, destination, trunk: in this order, as before the prefetch (a new key of
        // one can evict another's entry from a full shard, so the order is observable).
        if let Some(key) = caller_key {
            velocity[0] = Some(store.record_prefetched(key, &event));
        }
        if let (true, Ok(c)) = (by_destination, &callee) {
            let cc = u64::from(c.number.country_code());
            velocity[1] = Some(store.record(Key::destination(cc), &event));
        }
        if by_trunk && !call.trunk.is_empty() {
            velocity[2] = Some(store.record(Key::trunk(call.trunk), &event));
        }
    }
    let facts = Facts {
        call,
        caller: &caller,
        callee: &callee,
        network_number: network_number.as_ref(),
        emergency,
        policy,
        time,
        velocity,
    };
    let d = policy.evaluate(&facts, lists);
    (d, (caller, callee, network_number))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::numberlist::ListKind;
    use crate::numplan::tests::sample_plan;
    use crate::velocity::Key;
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
        Engine::new(policy(TEST_POLICY)).unwrap()
    }

    fn ids(v: &Verdict) -> Vec<&str> {
        v.reason_ids().collect()
    }

    fn list(name: &str, kind: ListKind, keys: Vec<u64>) -> Arc<NumberList> {
        Arc::new(NumberList::build(name, kind, keys, 1e-3, 0).unwrap())
    }

    #[test]
    fn decisions_equal_scores_and_count_alike() {
        let (scored, decided) = (engine(), engine());
        for e in [&scored, &decided] {
            e.set_list(list("fraud", ListKind::Block, vec![77011234568]))
                .unwrap();
        }
        let calls = [
            ("+77011234567", "87272123456", Ingress::International),
            ("+77011234568", "87272123456", Ingress::National),
            ("+79161234567", "112", Ingress::International),
            ("not a number", "87272123456", Ingress::Onnet),
        ];
        for (caller, callee, ingress) in calls {
            let call = Call {
                caller,
                callee,
                ingress,
                ..Call::national()
            };
            let v = scored.score(&call);
            let (d, names) = decided.decide(&call, |d, p| {
                let names: Vec<String> = d
                    .reasons
                    .iter()
                    .map(|r| p.reason_name(&r.id).to_owned())
                    .collect();
                (d, names)
            });
            assert_eq!((d.action, d.would_action), (v.action, v.would_action));
            assert_eq!((d.score, &d.reasons), (v.score, &v.reasons));
            assert_eq!(names, ids(&v));
        }
        assert_eq!(scored.stats(), decided.stats());
        assert!(decided.stats().calls == 4 && decided.stats().actions[2] >= 2);
        // The policy handed over is the one that decided.
        decided.reload(policy("home_region = \"KZ\"\n")).unwrap();
        let spoof = Call {
            caller: "+77011234567",
            ingress: Ingress::International,
            ..Call::national()
        };
        let (action, rules) = decided.decide(&spoof, |d, p| (d.action, p.rules().len()));
        assert_eq!((action, rules), (Action::Allow, 0));
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
        let e = Engine::new(policy(&observed)).unwrap();
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
        let e = Engine::new(policy(&one)).unwrap();
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
        e.reload(policy(&stricter)).unwrap();
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
        let e = Engine::new(p).unwrap();
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

    const BURST: &str = r#"
home_region = "KZ"
[velocity]
max_keys = 1000
shards = 4
[[rules]]
id = "burst"
when = "caller.calls_1m >= 5 and caller.distinct_callees >= 5"
action = "block"
[[rules]]
id = "trunk_busy"
when = "trunk.calls_1s >= 3"
score = 0.6
"#;

    #[test]
    fn velocity_rules_see_counters_including_this_call() {
        let e = Engine::new(policy(BURST)).unwrap();
        let callees: Vec<String> = (0..6).map(|i| format!("8727212345{i}")).collect();
        let mut actions = Vec::new();
        for (i, callee) in callees.iter().enumerate() {
            let v = e.score(&Call {
                caller: "+77011234567",
                callee,
                timestamp: Some(1_800_000_000.0 + i as f64),
                ..Call::national()
            });
            actions.push(v.action);
        }
        assert_eq!(actions[..4], [Action::Allow; 4]);
        assert_eq!(actions[4..], [Action::Block; 2]);
        // Same-second calls on one trunk.
        for _ in 0..3 {
            e.score(&Call {
                caller: "+77051234567",
                callee: "87272123456",
                trunk: "gw-1",
                timestamp: Some(1_800_000_100.0),
                ..Call::national()
            });
        }
        let stats = e.stats();
        assert_eq!(stats.calls, 9);
        assert_eq!(stats.actions, [6, 1, 2]);
        assert_eq!(
            (stats.reasons["burst"], stats.reasons["trunk_busy"]),
            (2, 1)
        );
        let v = stats.velocity.unwrap();
        assert_eq!((v.tracked_keys, v.recorded), (3, 9 + 3));
        let c = e
            .counters(Key::caller(77011234567), 1_800_000_005.0)
            .unwrap();
        assert_eq!((c.calls_1m, c.distinct_callees, c.sequential), (6, 6, 5));
        // A reload with the same [velocity] keeps the counters and the statistics.
        e.reload(policy(&BURST.replace("score = 0.6", "score = 0.7")))
            .unwrap();
        assert_eq!(e.stats().reasons["burst"], 2);
        assert!(e
            .counters(Key::caller(77011234567), 1_800_000_005.0)
            .is_some());
        // Other settings start afresh.
        e.reload(policy(&BURST.replace("max_keys = 1000", "max_keys = 2000")))
            .unwrap();
        assert!(e
            .counters(Key::caller(77011234567), 1_800_000_005.0)
            .is_none());
        // No counters read: none kept.
        e.reload(policy(TEST_POLICY)).unwrap();
        assert!(e.stats().velocity.is_none());
    }

    #[test]
    fn velocity_settings_are_validated_where_written() {
        let err = Policy::parse(
            "home_region = \"KZ\"\n[velocity]\nshards = 3\n",
            "p.toml",
            Path::new("."),
            sample_plan(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("p.toml:3:10:") && err.contains("shards"),
            "{err}"
        );
    }
}
