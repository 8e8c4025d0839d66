//! The engine: configuration, the shared numbering plan, and `score()`.
//!
//! Until the policy engine arrives, three built-in checks decide:
//! - an invalid (`invalid_cli`) or unallocated (`unallocated_cli`) caller is blocked, a withheld
//!   one (`cli_withheld`) flagged;
//! - a home-country caller on `international` ingress whose `roaming` is not `true` is blocked
//!   (`spoofed_home_cli`); the same for the network-asserted number (`spoofed_home_network_number`);
//! - a call to a home emergency number is never blocked (`emergency_callee`).
//!
//! Then the caller and the network number are looked up in the engine's lists
//! ([`NumberList`]): a definite hit on a blocklist (`blocklist:NAME`) or do-not-originate
//! list (`dno:NAME`) blocks; a bloom-only hit (`partner:NAME`, or a bloom-only blocklist)
//! adds [`PROBABLE_HIT_WEIGHT`]; a definite allowlist hit (`allowlist:NAME`) cancels the
//! list-based reasons — it vouches for the number, not for the route, so the spoofing and
//! validity checks still apply. Network-number hits carry the suffix `:network_number`.

use crate::call::Call;
use crate::normalize::{normalize, DialPlan, Ingress, Invalid};
use crate::number::{Number, MAX_DIGITS};
use crate::numberlist::{ListKind, Membership, NumberList};
use crate::numplan::{Classification, NumberingPlan};
use crate::overlay::{Overlay, OVERLAY_NAME};
use crate::verdict::{Action, NumberInfo, Reason, ReasonId, Verdict};
use crate::{Error, Result};
use arc_swap::ArcSwap;
use std::sync::Arc;

/// Score weight of a bloom-only (probable) list hit: enough to flag, not to block.
pub const PROBABLE_HIT_WEIGHT: f64 = 0.6;

fn builtin(id: &'static str, weight: f64, forces: Option<Action>) -> Reason {
    Reason {
        id: ReasonId::Builtin(id),
        weight,
        forces,
    }
}

/// Engine settings. `Default` is the Kazakhstan deployment.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Home region (ISO 3166 code); its dialling plan reads national-format numbers.
    pub home_region: String,
    /// International prefixes accepted beside the home region's own.
    pub international_prefixes: Vec<String>,
    /// Emergency numbers beside those phonenumbers lists for the home region.
    pub emergency_numbers: Vec<String>,
    /// Score at or above which a call is flagged.
    pub flag_threshold: f64,
    /// Score at or above which a call is blocked.
    pub block_threshold: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            home_region: "KZ".into(),
            // Kazakh subscribers dial 00 as well as the plan's 810.
            international_prefixes: vec!["00".into()],
            // 104 (gas emergency) is missing from phonenumbers' short-number data for KZ.
            emergency_numbers: vec!["104".into()],
            flag_threshold: 0.5,
            block_threshold: 0.9,
        }
    }
}

/// Scores calls. Immutable once built; share it between threads behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    plan: Arc<NumberingPlan>,
    dial: DialPlan,
    overlay: Overlay,
    emergency: Option<regex::Regex>,
    config: EngineConfig,
    lists: ArcSwap<Vec<Arc<NumberList>>>,
}

impl Engine {
    /// Builds an engine over a compiled plan.
    pub fn new(plan: Arc<NumberingPlan>, config: EngineConfig) -> Result<Engine> {
        Engine::with_overlay(plan, config, Overlay::empty())
    }

    /// Builds an engine with an operator range overlay.
    pub fn with_overlay(
        plan: Arc<NumberingPlan>,
        config: EngineConfig,
        overlay: Overlay,
    ) -> Result<Engine> {
        let dial = DialPlan::new(&plan, &config.home_region, &config.international_prefixes)?;
        let emergency = match plan.emergency_pattern(dial.region()) {
            Some(p) => Some(regex::Regex::new(&format!("(?-u)^(?:{p})$")).map_err(|e| {
                Error::invalid(
                    "home_region",
                    format!("emergency pattern of {}: {e}", dial.region()),
                )
            })?),
            None => None,
        };
        for n in &config.emergency_numbers {
            if n.is_empty() || n.len() > 8 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    "emergency_numbers",
                    format!("{n:?} is not a short number (1 to 8 digits)"),
                ));
            }
        }
        let (f, b) = (config.flag_threshold, config.block_threshold);
        if !(0.0..=1.0).contains(&f) || !(0.0..=1.0).contains(&b) || f > b {
            return Err(Error::invalid(
                "thresholds",
                format!(
                    "need 0 <= flag_threshold <= block_threshold <= 1, got flag {f} and block {b}"
                ),
            ));
        }
        Ok(Engine {
            plan,
            dial,
            overlay,
            emergency,
            config,
            lists: ArcSwap::from_pointee(Vec::new()),
        })
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The numbering plan.
    pub fn plan(&self) -> &NumberingPlan {
        &self.plan
    }

    /// The numbering plan, shared.
    pub fn plan_arc(&self) -> Arc<NumberingPlan> {
        self.plan.clone()
    }

    /// The overlay.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// The home dialling plan.
    pub fn dial_plan(&self) -> &DialPlan {
        &self.dial
    }

    /// Normalises a raw number read on `ingress`.
    #[inline]
    pub fn normalize(&self, raw: &str, ingress: Ingress) -> Result<Number, Invalid> {
        normalize(&self.plan, &self.dial, raw, ingress)
    }

    /// Classifies a number: the plan, then the overlay on top.
    #[inline]
    pub fn classify(&self, number: Number) -> Classification {
        let mut c = self.plan.classify(number);
        if !self.overlay.is_empty() {
            let mut buf = [0u8; MAX_DIGITS];
            self.overlay.apply(number.digits(&mut buf), &mut c);
        }
        c
    }

    /// Normalises and classifies in one step.
    #[inline]
    pub fn lookup(&self, raw: &str, ingress: Ingress) -> NumberInfo {
        self.normalize(raw, ingress).map(|n| self.classify(n))
    }

    /// Adds a list, or atomically replaces the list of the same name: a call being scored
    /// sees the old set of lists or the new one, never a mix.
    pub fn set_list(&self, list: Arc<NumberList>) {
        self.lists.rcu(|current| {
            let mut next: Vec<Arc<NumberList>> = current
                .iter()
                .filter(|l| l.name() != list.name())
                .cloned()
                .collect();
            next.push(list.clone());
            next
        });
    }

    /// Removes a list by name; returns whether one was there.
    pub fn remove_list(&self, name: &str) -> bool {
        let before = self.lists.rcu(|current| {
            current
                .iter()
                .filter(|l| l.name() != name)
                .cloned()
                .collect::<Vec<_>>()
        });
        before.iter().any(|l| l.name() == name)
    }

    /// The lists in use.
    pub fn lists(&self) -> Arc<Vec<Arc<NumberList>>> {
        self.lists.load_full()
    }

    /// Carrier and location of a classified number: the plan's, overridden by the overlay's.
    pub fn names(&self, c: &Classification) -> (Option<&str>, Option<&str>) {
        let (mut carrier, mut location) = self.plan.names(c);
        if !self.overlay.is_empty() {
            let mut buf = [0u8; MAX_DIGITS];
            let (oc, ol) = self.overlay.names(c.number.digits(&mut buf));
            carrier = oc.or(carrier);
            location = ol.or(location);
        }
        (
            carrier.map(|id| self.name(id)),
            location.map(|id| self.name(id)),
        )
    }

    /// A carrier or location name id from a classification.
    pub fn name(&self, id: u32) -> &str {
        if id & OVERLAY_NAME != 0 {
            self.overlay.name(id)
        } else {
            self.plan.name(id)
        }
    }

    /// Whether `callee` (raw) is a home emergency number.
    pub fn is_emergency(&self, callee: &str) -> bool {
        let mut digits = [0u8; 8];
        let mut n = 0;
        for b in callee.bytes() {
            match b {
                b'0'..=b'9' if n < digits.len() => {
                    digits[n] = b;
                    n += 1;
                }
                b' ' | b'-' => {}
                _ => return false,
            }
        }
        let d = &digits[..n];
        n > 0
            && (self
                .config
                .emergency_numbers
                .iter()
                .any(|e| e.as_bytes() == d)
                || self
                    .emergency
                    .as_ref()
                    .is_some_and(|re| std::str::from_utf8(d).is_ok_and(|s| re.is_match(s))))
    }

    fn is_home(&self, c: &Classification) -> bool {
        c.region == Some(self.dial.region())
    }

    /// Scores one call. Never fails: every odd field becomes a reason.
    pub fn score(&self, call: &Call<'_>) -> Verdict {
        let caller = self.lookup(call.caller, call.ingress);
        let callee = self.lookup(
            call.callee,
            match call.ingress {
                // The dialled number was already translated to international format abroad, or is
                // in home format: read it with the home rules either way.
                Ingress::International => Ingress::National,
                other => other,
            },
        );
        let network_number = call
            .network_number
            .map(|raw| self.lookup(raw, call.ingress));
        let mut reasons: Vec<Reason> = Vec::new();
        let from_abroad = call.ingress == Ingress::International && call.roaming != Some(true);
        match &caller {
            Err(Invalid::Withheld) => reasons.push(builtin("cli_withheld", 0.5, None)),
            Err(_) => reasons.push(builtin("invalid_cli", 1.0, Some(Action::Block))),
            Ok(c) => {
                if !c.valid {
                    reasons.push(builtin("unallocated_cli", 1.0, Some(Action::Block)));
                }
                if from_abroad && self.is_home(c) {
                    reasons.push(builtin("spoofed_home_cli", 0.95, Some(Action::Block)));
                }
            }
        }
        if let Some(Ok(n)) = &network_number {
            if from_abroad && self.is_home(n) {
                reasons.push(builtin(
                    "spoofed_home_network_number",
                    0.95,
                    Some(Action::Block),
                ));
            }
        }
        let lists = self.lists.load();
        if !lists.is_empty() {
            let network = network_number.as_ref().and_then(|n| n.as_ref().ok());
            list_reasons(&lists, caller.as_ref().ok(), network, &mut reasons);
        }
        let emergency = self.is_emergency(call.callee);
        if emergency {
            reasons.push(builtin("emergency_callee", 0.0, None));
        }
        reasons.sort_by(|a, b| b.forces.cmp(&a.forces).then(b.weight.total_cmp(&a.weight)));
        let score = 1.0
            - reasons
                .iter()
                .fold(1.0, |keep, r| keep * (1.0 - r.weight.clamp(0.0, 1.0)));
        let forced = reasons.iter().filter_map(|r| r.forces).max();
        let by_score = if score >= self.config.block_threshold {
            Action::Block
        } else if score >= self.config.flag_threshold {
            Action::Flag
        } else {
            Action::Allow
        };
        let mut action = forced.map_or(by_score, |f| f.max(by_score));
        if emergency && action == Action::Block {
            action = Action::Flag;
        }
        Verdict {
            action,
            score,
            reasons,
            caller,
            callee,
            network_number,
        }
    }
}

/// Appends the reasons list hits give. A definite allowlist hit cancels the other list
/// reasons of the same number only: an allowlisted CLI does not excuse a blocklisted
/// network number. A network number equal to the caller is not looked up twice.
fn list_reasons(
    lists: &[Arc<NumberList>],
    caller: Option<&Classification>,
    network: Option<&Classification>,
    out: &mut Vec<Reason>,
) {
    let network = network.filter(|n| caller.is_none_or(|c| c.number != n.number));
    for (number, is_network) in [(caller, false), (network, true)] {
        let Some(number) = number else { continue };
        let first = out.len();
        let mut allowed = false;
        for list in lists {
            let hit = list.contains(number.number.value());
            if hit == Membership::Absent {
                continue;
            }
            let id = if is_network {
                list.network_reason()
            } else {
                list.reason()
            };
            let id = ReasonId::List(id.clone());
            let (weight, forces) = match (list.kind(), hit) {
                (ListKind::Allow, Membership::Present) => {
                    allowed = true;
                    (0.0, None)
                }
                (ListKind::Allow, _) => continue, // a bloom false positive must not allow
                (ListKind::Block | ListKind::Dno, Membership::Present) => {
                    (1.0, Some(Action::Block))
                }
                _ => (PROBABLE_HIT_WEIGHT, None),
            };
            out.push(Reason { id, weight, forces });
        }
        if allowed {
            let mut i = first;
            while i < out.len() {
                if out[i].weight > 0.0 {
                    out.remove(i);
                } else {
                    i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numplan::tests::sample_plan;

    fn engine() -> Engine {
        Engine::new(sample_plan(), EngineConfig::default()).unwrap()
    }

    fn ids(v: &Verdict) -> Vec<&str> {
        v.reason_ids().collect()
    }

    #[test]
    fn lists_block_flag_and_allow() {
        let e = engine();
        let kz = 77011234567u64;
        e.set_list(Arc::new(
            NumberList::build("fraud", ListKind::Block, vec![kz], 1e-3, 0).unwrap(),
        ));
        let call = Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::national()
        };
        let v = e.score(&call);
        assert_eq!(
            (v.action, ids(&v)),
            (Action::Block, vec!["blocklist:fraud"])
        );
        let partner = NumberList::build("p", ListKind::Block, vec![79161234567], 1e-3, 0)
            .unwrap()
            .to_filter("beeline", ListKind::Partner, 100, 1e-3, 0)
            .unwrap();
        e.set_list(Arc::new(partner));
        let v = e.score(&Call {
            caller: "+79161234567",
            ..call
        });
        assert_eq!((v.action, ids(&v)), (Action::Flag, vec!["partner:beeline"]));
        e.set_list(Arc::new(
            NumberList::build("verified", ListKind::Allow, vec![kz], 1e-3, 0).unwrap(),
        ));
        let v = e.score(&call);
        assert_eq!(
            (v.action, ids(&v)),
            (Action::Allow, vec!["allowlist:verified"])
        );
        // The allowlist vouches for the number, not the route.
        let v = e.score(&Call {
            ingress: Ingress::International,
            ..call
        });
        assert_eq!(v.action, Action::Block);
        assert!(ids(&v).contains(&"spoofed_home_cli"));
        // ...and not for a blocklisted network number presented with it.
        let v = e.score(&Call {
            caller: "+77011234567",
            network_number: Some("+77051234567"),
            ..call
        });
        assert_eq!(v.action, Action::Allow);
        e.set_list(Arc::new(
            NumberList::build("pai", ListKind::Block, vec![77051234567], 1e-3, 0).unwrap(),
        ));
        let v = e.score(&Call {
            caller: "+77011234567",
            network_number: Some("+77051234567"),
            ..call
        });
        assert_eq!(
            (v.action, ids(&v)),
            (
                Action::Block,
                vec!["blocklist:pai:network_number", "allowlist:verified"]
            )
        );
        assert!(e.remove_list("pai"));
        assert!(e.remove_list("verified") && !e.remove_list("verified"));
        let v = e.score(&Call {
            network_number: Some("+77011234567"),
            caller: "+77051234567",
            ..call
        });
        assert_eq!(ids(&v), ["blocklist:fraud:network_number"]);
        e.set_list(Arc::new(
            NumberList::build("fraud", ListKind::Dno, vec![], 1e-3, 0).unwrap(),
        ));
        assert_eq!(
            e.score(&call).action,
            Action::Allow,
            "replaced by an empty list"
        );
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
        assert_eq!(v.action, Action::Block);
        assert_eq!(ids(&v), ["spoofed_home_cli"]);
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
    }

    #[test]
    fn russian_numbers_from_abroad_are_not_home_numbers() {
        let v = engine().score(&Call {
            caller: "+79161234567",
            callee: "87011234567",
            ..Call::international()
        });
        assert_eq!(v.action, Action::Allow, "{:?}", v.reasons);
    }

    #[test]
    fn invalid_and_unallocated_callers_are_blocked() {
        let e = engine();
        let v = e.score(&Call {
            caller: "hello",
            callee: "87011234567",
            ..Call::national()
        });
        assert_eq!((v.action, ids(&v)), (Action::Block, vec!["invalid_cli"]));
        let v = e.score(&Call {
            caller: "+76991234567",
            callee: "87011234567",
            ..Call::national()
        });
        assert_eq!(
            (v.action, ids(&v)),
            (Action::Block, vec!["unallocated_cli"])
        );
        let v = e.score(&Call {
            caller: "anonymous",
            callee: "87011234567",
            ..Call::national()
        });
        assert_eq!((v.action, ids(&v)), (Action::Flag, vec!["cli_withheld"]));
        assert!((v.score - 0.5).abs() < 1e-9);
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
            assert_ne!(v.action, Action::Block, "{callee}");
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
    fn config_is_validated() {
        let plan = sample_plan();
        let bad = EngineConfig {
            flag_threshold: 0.95,
            ..EngineConfig::default()
        };
        assert!(Engine::new(plan.clone(), bad)
            .unwrap_err()
            .to_string()
            .contains("thresholds"));
        let bad = EngineConfig {
            emergency_numbers: vec!["1x".into()],
            ..EngineConfig::default()
        };
        assert!(Engine::new(plan.clone(), bad)
            .unwrap_err()
            .to_string()
            .contains("emergency_numbers"));
        let bad = EngineConfig {
            home_region: "XX".into(),
            ..EngineConfig::default()
        };
        assert!(Engine::new(plan, bad)
            .unwrap_err()
            .to_string()
            .contains("home_region"));
    }
}
