//! Policies: what an operator blocks, flags and allows, as a TOML file the fraud team edits.
//!
//! A policy names the home region and its dialling additions, the action thresholds, the
//! mode (`enforce` or `observe`), the number lists and prefix lists, the range overlay, and
//! the rules. Loading parses, validates and compiles everything; a policy that loads
//! evaluates without errors. See the README's "Policy reference" for the format.
//!
//! # Combination semantics
//! Each rule whose condition holds gives a [`Reason`] with its score and effect. Then:
//! 1. a matching rule with `action = "block"` blocks (hard block);
//! 2. else a matching rule with `action = "allow"` allows (allowlist override);
//! 3. else the score decides: `score = 1 - Π(1 - s)` over the matching rules' scores
//!    (independent evidence), `block` at or above the block threshold, `flag` at or above the
//!    flag threshold; a matching rule with `action = "flag"` flags at least;
//! 4. a call to a home emergency number is never blocked (a block becomes a flag), whatever
//!    the policy says.
//!
//! Rules in observe mode (`observe = true`, or every rule when the policy's `mode` is
//! `observe`) take part in `would_action` and the score, not in `action`.

mod compile;
pub mod expr;
pub mod features;
mod load;
pub mod program;
mod rank;
mod specialize;
mod suggest;

pub use compile::Scope;
pub use load::{FileStamp, Files, ListDecl, PrefixListDecl, DEFAULT_VELOCITY_KEYS};

use crate::normalize::{normalize, normalize_classify, DialPlan, Ingress, Invalid};
use crate::number::{Number, MAX_DIGITS};
use crate::numberlist::Lists;
use crate::numplan::{Classification, NumberingPlan};
use crate::overlay::{Overlay, OVERLAY_NAME};
use crate::velocity::VelocityConfig;
use crate::verdict::{Action, NumberInfo, Reason, ReasonId};
use crate::Result;
use features::Facts;
use program::Program;
use std::path::Path;
use std::sync::Arc;

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 1 << 20;
/// Most rules in a policy.
pub const MAX_RULES: usize = 1000;
/// Most lists in a policy.
pub const MAX_LISTS: usize = 256;
/// Reason id of the built-in emergency safeguard.
pub const EMERGENCY_REASON: &str = "emergency_callee";

/// Whether the policy's rules act, or only report what they would have done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Rules act.
    Enforce,
    /// Nothing is blocked or flagged; verdicts say what would have been.
    Observe,
}

impl Mode {
    /// `"enforce"` or `"observe"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Observe => "observe",
        }
    }
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Stable identifier, reported as the reason.
    pub id: String,
    /// What the rule is for.
    pub description: String,
    /// The condition as written.
    pub when: String,
    /// Contribution to the score, in [0, 1].
    pub score: f64,
    /// Hard effect: block, flag or allow.
    pub action: Option<Action>,
    /// Reports without acting.
    pub observe: bool,
    /// The compiled condition.
    pub program: Program,
}

/// A loaded, validated and compiled policy. Immutable; engines share it behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) source_name: String,
    pub(crate) plan: Arc<NumberingPlan>,
    pub(crate) home_region: String,
    pub(crate) international_prefixes: Vec<String>,
    pub(crate) emergency_numbers: Vec<String>,
    pub(crate) dial: DialPlan,
    pub(crate) overlay: Overlay,
    pub(crate) emergency: Option<regex::Regex>,
    pub(crate) utc_offset: i64,
    pub(crate) mode: Mode,
    pub(crate) flag_threshold: f64,
    pub(crate) block_threshold: f64,
    pub(crate) rules: Vec<Rule>,
    pub(crate) ranking: rank::Ranking,
    pub(crate) lists: Vec<ListDecl>,
    pub(crate) prefix_lists: Vec<PrefixListDecl>,
    pub(crate) velocity: Option<VelocityConfig>,
    pub(crate) velocity_keys: [bool; 3],
    pub(crate) source_text: Arc<str>,
    pub(crate) texts: Vec<(String, String)>,
}

/// What the rules decided for one call.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The action taken (observed rules left out).
    pub action: Action,
    /// The action every matching rule together would take.
    pub would_action: Action,
    /// `1 - Π(1 - score)` over every matching rule.
    pub score: f64,
    /// Matching rules, most important first.
    pub reasons: Vec<Reason>,
}

impl Policy {
    /// Reads and compiles a policy file; relative paths in it are read from its folder.
    pub fn from_file(path: &Path, plan: Arc<NumberingPlan>) -> Result<Policy> {
        let bytes = crate::persist::read(path)?;
        let name = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, column) = load::line_col(
                &String::from_utf8_lossy(e.as_bytes()),
                e.utf8_error().valid_up_to(),
            );
            crate::Error::Parse {
                source_name: name.clone(),
                line,
                column,
                message: "not UTF-8 text".into(),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Policy::parse(&text, &name, base, plan)
    }

    /// Compiles policy text; `source_name` names it in errors, `base_dir` anchors relative
    /// file paths.
    pub fn parse(
        text: &str,
        source_name: &str,
        base_dir: &Path,
        plan: Arc<NumberingPlan>,
    ) -> Result<Policy> {
        load::parse(text, source_name, Files::Disk(base_dir), plan)
    }

    /// Compiles policy text whose files come from `files` (a folder or a snapshot).
    pub fn parse_with(
        text: &str,
        source_name: &str,
        files: Files<'_>,
        plan: Arc<NumberingPlan>,
    ) -> Result<Policy> {
        load::parse(text, source_name, files, plan)
    }

    /// The policy text as loaded.
    pub fn source_text(&self) -> &str {
        &self.source_text
    }

    /// The texts of the files the policy read (overlay, prefix lists), by the name it wrote.
    pub fn file_texts(&self) -> &[(String, String)] {
        &self.texts
    }

    /// Where the policy came from.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The numbering plan.
    pub fn plan(&self) -> &Arc<NumberingPlan> {
        &self.plan
    }

    /// The home region as configured.
    pub fn home_region(&self) -> &str {
        &self.home_region
    }

    /// International prefixes accepted beside the home region's own.
    pub fn international_prefixes(&self) -> &[String] {
        &self.international_prefixes
    }

    /// Emergency numbers beside phonenumbers' own for the home region.
    pub fn emergency_numbers(&self) -> &[String] {
        &self.emergency_numbers
    }

    /// Seconds east of UTC used for `hour` and `weekday`.
    pub fn utc_offset(&self) -> i64 {
        self.utc_offset
    }

    /// `enforce` or `observe`.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The same policy in another mode (e.g. to replay traffic in observe mode).
    pub fn with_mode(&self, mode: Mode) -> Policy {
        Policy {
            mode,
            ..self.clone()
        }
    }

    /// Flag and block score thresholds.
    pub fn thresholds(&self) -> (f64, f64) {
        (self.flag_threshold, self.block_threshold)
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The declared lists, by name.
    pub fn lists(&self) -> &[ListDecl] {
        &self.lists
    }

    /// The declared prefix lists.
    pub fn prefix_lists(&self) -> &[PrefixListDecl] {
        &self.prefix_lists
    }

    /// Velocity settings, when the policy's rules read counters (or it has a `[velocity]`).
    pub fn velocity(&self) -> Option<&VelocityConfig> {
        self.velocity.as_ref()
    }

    /// Which key kinds (caller, destination, trunk) the rules read counters of.
    pub fn velocity_keys(&self) -> [bool; 3] {
        self.velocity_keys
    }

    /// Some rule reads a counter, so scoring records calls (a `[velocity]` section alone
    /// configures the counters but records nothing).
    pub fn reads_counters(&self) -> bool {
        self.velocity_keys.contains(&true)
    }

    /// The range overlay (the overlay file and the prefix lists).
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
        let mut buf = [0u8; MAX_DIGITS];
        let digits = number.digits(&mut buf);
        let mut c = self.plan.classify_digits(number, digits);
        self.overlay.apply(digits, &mut c);
        c
    }

    /// Normalises and classifies in one step (the same as [`Policy::normalize`], then
    /// [`Policy::classify`], with what normalising learnt carried over).
    #[inline]
    pub fn lookup(&self, raw: &str, ingress: Ingress) -> NumberInfo {
        normalize_classify(&self.plan, &self.dial, raw, ingress, &self.overlay)
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
    #[inline]
    pub fn is_emergency(&self, callee: &str) -> bool {
        // Nine digits in a row at the start are more than an emergency number has: what
        // most callees are, answered without the byte loop (which gives up at the ninth).
        if let Some((word, [ninth, ..])) = callee.as_bytes().split_first_chunk::<8>() {
            if crate::number::eight_ascii_digits(word) && ninth.is_ascii_digit() {
                return false;
            }
        }
        self.is_emergency_bytes(callee)
    }

    /// [`Policy::is_emergency`] a byte at a time: up to eight digits, spaces and dashes.
    fn is_emergency_bytes(&self, callee: &str) -> bool {
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
            && (self.emergency_numbers.iter().any(|e| e.as_bytes() == d)
                || self
                    .emergency
                    .as_ref()
                    .is_some_and(|re| std::str::from_utf8(d).is_ok_and(|s| re.is_match(s))))
    }

    /// The reason identifier behind a [`ReasonId`].
    pub fn reason_name(&self, id: &ReasonId) -> &str {
        match id {
            ReasonId::Builtin(s) => s,
            ReasonId::Rule(i) => self
                .rules
                .get(usize::from(*i))
                .map_or("?", |r| r.id.as_str()),
        }
    }

    /// Evaluates the rules for one call whose numbers are already looked up.
    ///
    /// The rules (and the emergency safeguard) are visited in reason order (see [`rank`]), so
    /// the reasons come out sorted, and the score and both decisions are tallied on the way,
    /// in that order. They are the rules specialised to the call's context (see
    /// [`specialize`]): the checks its ingress, network number and caller state settle are
    /// not run again.
    pub fn evaluate(&self, facts: &Facts<'_>, lists: Lists<'_>) -> Decision {
        let (rules, nodes) = match self.ranking.variants.get(specialize::context(facts)) {
            Some(v) => (&v.rules, &v.nodes),
            None => (&self.ranking.rules, &self.ranking.nodes),
        };
        self.evaluate_ranked(rules, nodes, facts, lists)
    }

    /// [`Policy::evaluate`] over every rule, unspecialised: what the specialised rule sets
    /// must agree with.
    #[cfg(test)]
    fn evaluate_general(&self, facts: &Facts<'_>, lists: Lists<'_>) -> Decision {
        self.evaluate_ranked(&self.ranking.rules, &self.ranking.nodes, facts, lists)
    }

    /// Evaluates `rules` (in reason order) whose conditions' nodes are in `nodes`.
    #[inline]
    fn evaluate_ranked(
        &self,
        rules: &[rank::Ranked],
        nodes: &[program::Node],
        facts: &Facts<'_>,
        lists: Lists<'_>,
    ) -> Decision {
        let mode = usize::from(self.mode == Mode::Observe);
        let mut pass = Pass::default();
        for r in rules {
            if program::run(nodes, r.start, facts, lists) {
                pass.add(r, r.observe[mode]);
            }
        }
        let score = pass.all.score();
        let would_action = self.decide(&pass.all, facts.emergency);
        // Without observed reasons both decisions are the same one.
        let action = if pass.observed {
            self.decide(&pass.acting, facts.emergency)
        } else {
            would_action
        };
        Decision {
            action,
            would_action,
            score,
            reasons: pass.reasons,
        }
    }

    fn decide(&self, tally: &Tally, emergency: bool) -> Action {
        let mut action = if tally.block {
            Action::Block
        } else if tally.allow {
            Action::Allow
        } else {
            let score = tally.score();
            let by_score = if score >= self.block_threshold {
                Action::Block
            } else if score >= self.flag_threshold {
                Action::Flag
            } else {
                Action::Allow
            };
            if tally.flag {
                by_score.max(Action::Flag)
            } else {
                by_score
            }
        };
        if emergency && action == Action::Block {
            action = Action::Flag;
        }
        action
    }

    /// A human-readable summary: settings, lists and rules.
    pub fn summary(&self) -> String {
        load::summary(self)
    }
}

/// The reasons of one evaluation so far, and what the decisions need of them.
#[derive(Default)]
struct Pass {
    reasons: Vec<Reason>,
    /// Every reason (`would_action`, the score).
    all: Tally,
    /// The reasons that act (`action`).
    acting: Tally,
    /// Some reason only reports.
    observed: bool,
}

impl Pass {
    /// Adds the reason of a matching rule.
    #[inline]
    fn add(&mut self, r: &rank::Ranked, observe: bool) {
        self.all.add(r.keep, r.effect);
        if observe {
            self.observed = true;
        } else {
            self.acting.add(r.keep, r.effect);
        }
        self.reasons.push(Reason {
            id: r.id,
            weight: r.weight,
            effect: r.effect,
            observe,
        });
    }
}

/// What a decision needs of a set of reasons, added in reason order.
struct Tally {
    /// `Π(1 - score)` so far.
    keep: f64,
    block: bool,
    allow: bool,
    flag: bool,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            keep: 1.0,
            block: false,
            allow: false,
            flag: false,
        }
    }
}

impl Tally {
    #[inline]
    fn add(&mut self, keep: f64, effect: Option<Action>) {
        self.keep *= keep;
        match effect {
            Some(Action::Block) => self.block = true,
            Some(Action::Allow) => self.allow = true,
            Some(Action::Flag) => self.flag = true,
            None => {}
        }
    }

    /// `1 - Π(1 - score)`: independent evidence combined.
    #[inline]
    fn score(&self) -> f64 {
        1.0 - self.keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy with an eight-digit emergency number, the longest the byte loop can match.
    fn emergency_policy() -> &'static Policy {
        static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        POLICY.get_or_init(|| {
            crate::engine::tests::policy(
                "home_region = \"KZ\"\nemergency_numbers = [\"104\", \"12345678\"]\n",
            )
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The nine-digit shortcut answers as the byte loop does.
        #[test]
        fn emergency_shortcut_agrees_with_the_byte_loop(
            before in "[0-9 -]{0,3}",
            number in proptest::sample::select(vec!["104", "112", "12345678", "1234567", "", "7"]),
            after in "[0-9 +x-]{0,10}",
        ) {
            let policy = emergency_policy();
            let callee = format!("{before}{number}{after}");
            proptest::prop_assert_eq!(
                policy.is_emergency(&callee),
                policy.is_emergency_bytes(&callee),
                "{:?}",
                callee
            );
        }
    }
}
