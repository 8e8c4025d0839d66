//! Deciding many calls in a row (a CSV file, a table) against one snapshot, with the
//! statistics gathered locally. Per call, [`Engine::decide`] loads the snapshot (`arc-swap`'s
//! load and release, each an atomic read-modify-write) and adds to the engine's shared
//! counters (one atomic add per count, after a thread-local lookup, which in the Python
//! extension is a call). An uncontended atomic read-modify-write takes about 9 ns on the
//! benchmark machine: a few of them are several percent of a CSV row.

use super::{decide_with, score_in, Engine, Snapshot, ACTION_SLOTS, EMERGENCY_SLOT, TALLY_SLOTS};
use super::{WOULD_ADDED, WOULD_REMOVED};
use crate::call::Call;
use crate::numberlist::{Lists, PinnedBase};
use crate::policy::{Decision, Policy};
use crate::verdict::{Action, Reason, ReasonId, Verdict};
use std::sync::Arc;

/// Calls decided one after another against the snapshot current when the batch began (or was
/// last [renewed](Batch::renew)). Their counts reach [`Engine::stats`] when the batch is
/// renewed or dropped; until then they are held here (ten counters and one per rule).
///
/// A reload, `set_list` or `clear_list` during a batch reaches its calls at the next
/// [`Batch::renew`]: the batch paths renew at each read of input (CSV) or every
/// [`Batch::ROWS`] calls (tables, `score_many`).
#[derive(Debug)]
pub struct Batch<'e> {
    engine: &'e Engine,
    snap: Arc<Snapshot>,
    counts: [u64; TALLY_SLOTS],
    /// Matches per rule index of `snap`'s policy.
    rule_hits: Vec<u64>,
    /// The bases of `snap`'s lists, pinned when the batch took the snapshot.
    pinned: Vec<PinnedBase>,
}

impl Batch<'_> {
    /// Calls a table path or a list of calls decides between renewals.
    pub const ROWS: usize = 1024;

    /// Decides one call, counts it, and hands the decision and the policy that made it (it
    /// names the reasons) to `then`, whose result it returns. As [`Engine::decide`].
    #[inline]
    pub fn decide<R>(
        &mut self,
        call: &Call<'_>,
        then: impl FnOnce(Decision, &Arc<Policy>) -> R,
    ) -> R {
        let (d, _) = decide_with(&self.snap, self.lists(), call);
        self.count(d.action, d.would_action, &d.reasons);
        then(d, &self.snap.policy)
    }

    /// Scores one call and counts it: [`Engine::score`] within the batch.
    #[inline]
    pub fn score(&mut self, call: &Call<'_>) -> Verdict {
        let v = score_in(&self.snap, self.lists(), call);
        self.count(v.action, v.would_action, &v.reasons);
        v
    }

    #[inline]
    fn count(&mut self, action: Action, would: Action, reasons: &[Reason]) {
        let (action, would) = (action.index(), would.index());
        self.counts[ACTION_SLOTS + action] += 1;
        if would != action {
            self.counts[WOULD_ADDED + would] += 1;
            self.counts[WOULD_REMOVED + action] += 1;
        }
        for r in reasons {
            match r.id {
                ReasonId::Rule(i) => {
                    if let Some(n) = self.rule_hits.get_mut(usize::from(i)) {
                        *n += 1;
                    }
                }
                ReasonId::Builtin(_) => self.counts[EMERGENCY_SLOT] += 1,
            }
        }
    }

    #[inline]
    fn lists(&self) -> Lists<'_> {
        Lists::pinned(&self.snap.lists, &self.pinned)
    }

    /// Renews the batch when `done`, the calls it has decided since the caller began, is a
    /// positive multiple of [`Batch::ROWS`]: the table and `score_many` paths' cadence.
    #[inline]
    pub fn renew_if_due(&mut self, done: usize) {
        if done > 0 && done % Self::ROWS == 0 {
            self.renew();
        }
    }

    /// The policy the batch decides with now.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.snap.policy
    }

    /// Adds the counts held to the engine's statistics and takes the engine's current
    /// snapshot.
    pub fn renew(&mut self) {
        self.flush();
        let snap = self.engine.snapshot();
        if !Arc::ptr_eq(&snap, &self.snap) {
            self.rule_hits = vec![0; snap.policy.rules().len()];
            self.snap = snap;
        }
        // A compaction since: lookups through the old base would go to the thread's cache.
        self.pinned = self.snap.lists.iter().map(|l| l.pin()).collect();
    }

    fn flush(&mut self) {
        for (slot, n) in self.counts.iter_mut().enumerate() {
            if *n > 0 {
                self.engine.tally.add(slot, std::mem::take(n));
            }
        }
        if self.rule_hits.iter().all(|&n| n == 0) {
            return;
        }
        // Into the current snapshot's counters: after a reload the batch's are no longer
        // read. The rules are matched by id, as a reload carries its counts over.
        let now = self.engine.state.load();
        let rules = self.snap.policy.rules();
        for (i, n) in self.rule_hits.iter_mut().enumerate() {
            let n = std::mem::take(n);
            if n == 0 {
                continue;
            }
            let slot = if Arc::ptr_eq(&now.rule_hits, &self.snap.rule_hits) {
                Some(i)
            } else {
                let id = &rules[i].id;
                now.policy.rules().iter().position(|r| &r.id == id)
            };
            if let Some(slot) = slot {
                now.rule_hits.add(slot, n);
            }
        }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Engine {
    /// A [`Batch`] on the current snapshot.
    pub fn batch(&self) -> Batch<'_> {
        let snap = self.snapshot();
        Batch {
            engine: self,
            rule_hits: vec![0; snap.policy.rules().len()],
            pinned: snap.lists.iter().map(|l| l.pin()).collect(),
            snap,
            counts: [0; TALLY_SLOTS],
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::call::Call;
    use crate::engine::tests::{policy, TEST_POLICY};
    use crate::engine::{Batch, Engine};

    fn spoof() -> Call<'static> {
        Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::international()
        }
    }

    fn clean() -> Call<'static> {
        Call {
            caller: "+998901234567",
            ..spoof()
        }
    }

    fn hits(e: &Engine, rule: &str) -> u64 {
        e.stats().reasons.get(rule).copied().unwrap_or(0)
    }

    #[test]
    fn a_batch_decides_as_score_does_and_its_counts_arrive_when_renewed_or_dropped() {
        let (one, many) = (
            Engine::new(policy(TEST_POLICY)).unwrap(),
            Engine::new(policy(TEST_POLICY)).unwrap(),
        );
        let calls = [
            spoof(),
            clean(),
            spoof(),
            Call {
                caller: "",
                ..clean()
            },
        ];
        let mut batch = many.batch();
        for call in &calls {
            let v = one.score(call);
            let (action, score, reasons) = batch.decide(call, |d, p| {
                let names: Vec<String> = d
                    .reasons
                    .iter()
                    .map(|r| p.reason_name(&r.id).to_owned())
                    .collect();
                (d.action, d.score, names)
            });
            assert_eq!((action, score), (v.action, v.score));
            assert_eq!(
                reasons,
                v.reason_ids().map(str::to_owned).collect::<Vec<_>>()
            );
        }
        // Held in the batch until it is renewed.
        assert_eq!(many.stats().calls, 0);
        batch.renew();
        assert_eq!(many.stats(), one.stats());
        batch.decide(&spoof(), |_, _| ());
        drop(batch);
        assert_eq!(many.stats().calls, 5);
        assert_eq!(hits(&many, "spoofed_home_cli"), 3);
    }

    #[test]
    fn renew_if_due_renews_every_rows_calls() {
        let e = Engine::new(policy(TEST_POLICY)).unwrap();
        let mut batch = e.batch();
        for i in 0..=2 * Batch::ROWS {
            batch.renew_if_due(i);
            // Counted so far: the calls before the latest multiple of ROWS.
            assert_eq!(e.stats().calls, (i - i % Batch::ROWS) as u64, "{i}");
            batch.decide(&clean(), |_, _| ());
        }
    }

    #[test]
    fn a_reload_reaches_a_batch_at_its_renewal_and_rule_counts_follow_the_rule_id() {
        let e = Engine::new(policy(TEST_POLICY)).unwrap();
        let lenient = TEST_POLICY.replace("score = 0.95\naction = \"block\"", "score = 0.6");
        // The same rules, spoofing first: other indexes for every rule.
        let mut blocks: Vec<&str> = lenient.split("[[rules]]").collect();
        let settings = blocks.remove(0);
        blocks.reverse();
        let reordered = format!("{settings}[[rules]]{}", blocks.join("[[rules]]"));
        let mut batch = e.batch();
        let block = |b: &mut crate::engine::Batch<'_>| b.decide(&spoof(), |d, _| d.action.as_str());
        assert_eq!(block(&mut batch), "block");
        e.reload(policy(&reordered)).unwrap();
        // Still the snapshot the batch began with.
        assert_eq!(block(&mut batch), "block");
        // The two calls counted by the old policy's indexes land on the new policy's rule.
        batch.renew();
        assert_eq!(hits(&e, "spoofed_home_cli"), 2);
        assert_eq!(block(&mut batch), "flag");
        drop(batch);
        assert_eq!(hits(&e, "spoofed_home_cli"), 3);
        assert_eq!(e.stats().actions, [0, 1, 2]);
    }
}
