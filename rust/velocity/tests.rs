use super::window::{fingerprint, CALLEE_SLOTS};
use super::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};

const SEED: u64 = 0x5eed_f00d;
const T0: f64 = 1_700_000_000.0;
/// Callees the exact property tests draw from: fewer than 64, extremes included.
const POOL: usize = 60;

fn pool(i: usize) -> u64 {
    match i {
        0 => 1,
        1 => 2,
        2 => u64::MAX,
        3 => u64::MAX - 3,
        _ => 77_010_000_000 + (i as u64 % 40) * 3 + (i as u64 / 40),
    }
}

fn config(max_keys: usize, shards: usize) -> VelocityConfig {
    VelocityConfig {
        max_keys,
        shards,
        ..VelocityConfig::default()
    }
}

fn velocity(c: VelocityConfig) -> Velocity {
    Velocity::with_seed(c, SEED).unwrap()
}

fn ev(timestamp: f64, callee: u64) -> Event {
    Event {
        timestamp,
        callee,
        duration: None,
    }
}

fn check_shards(v: &Velocity) {
    for slot in v.slots.iter() {
        slot.lock().check(&v.params);
    }
}

// ---------------------------------------------------------------------------------------------
// The reference: every counted event of a key since it started afresh, in arrival order.

#[derive(Clone, Copy, Debug)]
struct Ev {
    s: u32,
    callee: u64,
    duration: Option<f64>,
}

struct Model {
    cfg: VelocityConfig,
    keys: HashMap<Key, Vec<Ev>>,
}

impl Model {
    fn new(cfg: VelocityConfig) -> Model {
        Model {
            cfg,
            keys: HashMap::new(),
        }
    }

    fn second(ts: f64) -> Option<u32> {
        (ts.is_finite() && (0.0..4_294_967_296.0).contains(&ts)).then(|| ts.floor() as u32)
    }

    fn bucket(&self, s: u32) -> u64 {
        u64::from(s) / u64::from(self.cfg.window / 12)
    }

    fn newest(events: &[Ev]) -> u32 {
        events.iter().map(|e| e.s).max().unwrap()
    }

    /// Whether `record` would count an event at `ts` for `key` (and start it afresh).
    fn classify(&self, key: Key, ts: f64) -> (bool, bool) {
        let Some(s) = Model::second(ts) else {
            return (false, false);
        };
        match self.keys.get(&key) {
            None => (true, false),
            Some(evs) => {
                let t = Model::newest(evs);
                let late = i64::from(s) < i64::from(t) - i64::from(self.cfg.late_tolerance);
                (!late, !late && self.bucket(s) > self.bucket(t) + 12)
            }
        }
    }

    fn record(&mut self, key: Key, e: &Event) -> Counters {
        let (counted, afresh) = self.classify(key, e.timestamp);
        if !counted {
            let c = self.peek(key, f64::NAN).unwrap_or_default();
            return Counters { late: true, ..c };
        }
        let evs = self.keys.entry(key).or_default();
        if afresh {
            evs.clear();
        }
        evs.push(Ev {
            s: Model::second(e.timestamp).unwrap(),
            callee: e.callee,
            duration: e.duration,
        });
        self.peek(key, f64::NAN).unwrap()
    }

    fn peek(&self, key: Key, now: f64) -> Option<Counters> {
        let evs = self.keys.get(&key)?;
        let newest = Model::newest(evs);
        let t = Model::second(now).unwrap_or(0).max(newest);
        if self.bucket(t) > self.bucket(newest) + 12 {
            return Some(Counters::default());
        }
        let minute: Vec<&Ev> = evs.iter().filter(|e| t - e.s < 60).collect();
        let window: Vec<&Ev> = evs
            .iter()
            .filter(|e| self.bucket(t) - self.bucket(e.s) <= 12)
            .collect();
        let known = |e: &&&Ev| e.duration.is_some_and(|d| d.is_finite() && d >= 0.0);
        let callees: Vec<u64> = evs.iter().map(|e| e.callee).filter(|&c| c != 0).collect();
        let trailing = |ok: &dyn Fn(u64, u64) -> bool| {
            callees
                .windows(2)
                .rev()
                .take_while(|w| ok(w[0], w[1]))
                .count() as u32
        };
        let gap = self.cfg.sequential_gap;
        Some(Counters {
            calls_1s: evs.iter().filter(|e| e.s == t).count() as u32,
            calls_1m: minute.len() as u32,
            calls_window: window.len() as u32,
            distinct_callees: minute
                .iter()
                .filter(|e| e.callee != 0)
                .map(|e| e.callee)
                .collect::<HashSet<_>>()
                .len() as u32,
            short_calls: window
                .iter()
                .filter(known)
                .filter(|e| e.duration.unwrap() < self.cfg.short_call)
                .count() as u32,
            known_durations: window.iter().filter(known).count() as u32,
            sequential: trailing(&|a, b| a != b && a.abs_diff(b) <= gap),
            repeat_callee: trailing(&|a, b| a == b),
            late: false,
        })
    }
}

/// The reference eviction policy: the model plus the two segments as plain lists.
struct SlruModel {
    model: Model,
    cap: usize,
    probation: VecDeque<Key>,
    protected: VecDeque<Key>,
    clock: u32,
    evicted: (u64, u64),
}

impl SlruModel {
    fn new(cfg: VelocityConfig) -> SlruModel {
        SlruModel {
            cap: cfg.max_keys,
            model: Model::new(cfg),
            probation: VecDeque::new(),
            protected: VecDeque::new(),
            clock: 0,
            evicted: (0, 0),
        }
    }

    fn expired(&self, key: Key) -> bool {
        let newest = Model::newest(&self.model.keys[&key]);
        self.model.bucket(self.clock) > self.model.bucket(newest) + 12
    }

    fn record(&mut self, key: Key, e: &Event) -> Counters {
        let (counted, _) = self.model.classify(key, e.timestamp);
        if counted {
            self.clock = self.clock.max(Model::second(e.timestamp).unwrap());
            let protected_cap = self.cap - (self.cap / 5).max(1);
            if self.model.keys.contains_key(&key) {
                self.probation.retain(|&k| k != key);
                self.protected.retain(|&k| k != key);
                self.protected.push_front(key);
                if self.protected.len() > protected_cap {
                    let demoted = self.protected.pop_back().unwrap();
                    self.probation.push_front(demoted);
                }
            } else {
                if self.model.keys.len() == self.cap {
                    let (p, q) = (self.probation.back(), self.protected.back());
                    let victim = if p.is_some_and(|&k| self.expired(k)) {
                        self.evicted.0 += 1;
                        self.probation.pop_back()
                    } else if q.is_some_and(|&k| self.expired(k)) {
                        self.evicted.0 += 1;
                        self.protected.pop_back()
                    } else if p.is_some() {
                        self.evicted.1 += 1;
                        self.probation.pop_back()
                    } else {
                        self.evicted.1 += 1;
                        self.protected.pop_back()
                    };
                    self.model.keys.remove(&victim.unwrap());
                }
                self.probation.push_front(key);
            }
        }
        self.model.record(key, e)
    }
}

// ---------------------------------------------------------------------------------------------
// Random streams.

#[derive(Clone, Debug)]
enum Step {
    /// The stream's clock moves ahead by this many seconds.
    Ahead(f64),
    /// ... by this many windows.
    Windows(f64),
    /// An event this fraction of the tolerance behind the clock.
    Back(f64),
    /// An event this many seconds more than the tolerance behind the clock.
    TooFar(f64),
    /// This timestamp, whatever the clock.
    Raw(f64),
}

fn step() -> impl Strategy<Value = Step> {
    let raw = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-1.0),
        Just(-0.25),
        Just(4_294_967_296.0),
        Just(4_294_967_295.5),
        Just(1e300),
    ];
    prop_oneof![
        8 => (0.0..2.0f64).prop_map(Step::Ahead),
        3 => (0.0..150.0f64).prop_map(Step::Ahead),
        1 => (0.9..3.0f64).prop_map(Step::Windows),
        3 => (0.0..=1.0f64).prop_map(Step::Back),
        1 => (0.0..200.0f64).prop_map(Step::TooFar),
        1 => raw.prop_map(Step::Raw),
    ]
}

fn duration() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        3 => Just(None),
        4 => (0.0..20.0f64).prop_map(Some),
        1 => Just(Some(6.0)),
        1 => prop_oneof![Just(f64::NAN), Just(-1.0), Just(f64::INFINITY), Just(-0.0)].prop_map(Some),
    ]
}

fn callee() -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 6 => (0..POOL).prop_map(pool)]
}

#[derive(Clone, Debug)]
struct Op {
    key: usize,
    step: Step,
    callee: u64,
    duration: Option<f64>,
    peek: bool,
}

fn ops(keys: usize, n: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = (
        0..keys,
        step(),
        callee(),
        duration(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(key, step, callee, duration, peek)| Op {
            key,
            step,
            callee,
            duration,
            peek,
        });
    proptest::collection::vec(op, 1..n)
}

fn test_config() -> impl Strategy<Value = VelocityConfig> {
    (
        prop::sample::select(vec![60u32, 120, 300, 3600, 86_400]),
        prop::sample::select(vec![0u32, 1, 5, 30, 59, 60, 90]),
        1u64..20,
        prop::sample::select(vec![0.0, 6.0, 10.5]),
        prop::sample::select(vec![1usize, 2, 8]),
    )
        .prop_map(|(window, tol, gap, short_call, shards)| VelocityConfig {
            max_keys: 1 << 10,
            window,
            short_call,
            sequential_gap: gap,
            late_tolerance: tol.min(window),
            shards,
        })
}

/// Turns a step into a timestamp, moving the stream's clock.
fn timestamp(clock: &mut f64, step: &Step, cfg: &VelocityConfig) -> f64 {
    let tol = f64::from(cfg.late_tolerance);
    match *step {
        Step::Ahead(dt) => *clock += dt,
        Step::Windows(x) => *clock += x * f64::from(cfg.window),
        Step::Back(x) => return *clock - x * tol,
        Step::TooFar(x) => return *clock - tol - 1.0 - x,
        Step::Raw(ts) => return ts,
    }
    *clock
}

fn key_of(i: usize) -> Key {
    [
        Key::caller(77_011_234_567),
        Key::caller(77_011_234_568),
        Key::destination(77_011_234_567),
        Key::trunk("sip-gw-1"),
        Key::caller(u64::MAX),
        Key::caller(0),
    ][i % 6]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn agrees_with_the_reference_model(
        cfg in test_config(),
        start in prop::sample::select(vec![0.0, T0 + 0.37, 4_294_960_000.0]),
        ops in ops(6, 250),
    ) {
        let v = velocity(cfg.clone());
        let mut model = Model::new(cfg.clone());
        let mut clock = start;
        let (mut late, mut recorded) = (0, 0);
        for op in &ops {
            let ts = timestamp(&mut clock, &op.step, &cfg);
            let key = key_of(op.key);
            if op.peek {
                prop_assert_eq!(v.peek(key, ts), model.peek(key, ts), "peek {:?} at {}", key, ts);
                continue;
            }
            let e = Event { timestamp: ts, callee: op.callee, duration: op.duration };
            // A prefetch reads the shard in whatever state it is in, and changes nothing.
            v.prefetch(key_of(op.key + 1));
            let want = model.record(key, &e);
            let got = if op.callee % 2 == 0 { v.record(key, &e) } else { v.record_prefetched(v.prefetch(key), &e) };
            prop_assert_eq!(got, want, "{:?} {:?}", key, e);
            prop_assert!(got.calls_1s <= got.calls_1m && got.calls_1m <= got.calls_window);
            prop_assert!(got.short_calls <= got.known_durations);
            prop_assert!(got.known_durations <= got.calls_window);
            late += u64::from(got.late);
            recorded += 1;
        }
        let stats = v.stats();
        prop_assert_eq!(stats.recorded, recorded);
        prop_assert_eq!(stats.late_events, late);
        prop_assert_eq!(stats.tracked_keys, model.keys.len() as u64);
        prop_assert_eq!((stats.evicted_expired, stats.evicted_lru), (0, 0));
        check_shards(&v);
    }

    #[test]
    fn eviction_follows_the_segmented_lru(
        cap in 1usize..10,
        tol in prop::sample::select(vec![0u32, 30]),
        ops in proptest::collection::vec((0u64..25, step(), callee()), 1..300),
    ) {
        let cfg = VelocityConfig { max_keys: cap, shards: 1, window: 60, late_tolerance: tol, ..VelocityConfig::default() };
        let v = velocity(cfg.clone());
        let mut model = SlruModel::new(cfg.clone());
        let mut clock = T0;
        for (k, step, callee) in &ops {
            let key = Key::caller(*k);
            let e = ev(timestamp(&mut clock, step, &cfg), *callee);
            v.prefetch(key);
            prop_assert_eq!(v.record(key, &e), model.record(key, &e), "{:?} {:?}", key, e);
            let shard = v.slots[0].lock();
            shard.check(&v.params);
            prop_assert_eq!(shard.segment(false), Vec::from(model.probation.clone()));
            prop_assert_eq!(shard.segment(true), Vec::from(model.protected.clone()));
        }
        let stats = v.stats();
        prop_assert_eq!((stats.evicted_expired, stats.evicted_lru), model.evicted);
        prop_assert_eq!(stats.tracked_keys, model.model.keys.len() as u64);
        for k in 0..25 {
            let key = Key::caller(k);
            prop_assert_eq!(v.peek(key, clock), model.model.peek(key, clock));
        }
    }

    #[test]
    fn distinct_callees_beyond_64_is_bounded(
        calls in proptest::collection::vec((0.0..3.0f64, 0u64..400, prop::bool::weighted(0.2)), 1..400),
    ) {
        let cfg = VelocityConfig { late_tolerance: 30, ..config(16, 1) };
        let v = velocity(cfg.clone());
        let mut model = Model::new(cfg);
        let key = Key::caller(7);
        let mut clock = T0;
        for (dt, callee, back) in calls {
            clock += dt;
            let ts = if back { clock - 20.0 * dt } else { clock };
            let e = ev(ts, 77_000_000_000 + callee * 11);
            let want = model.record(key, &e);
            let got = v.record(key, &e);
            prop_assert_eq!(
                Counters { distinct_callees: 0, ..got },
                Counters { distinct_callees: 0, ..want }
            );
            prop_assert!(want.distinct_callees <= got.distinct_callees);
            prop_assert!(got.distinct_callees <= got.calls_1m);
            if got.calls_1m <= CALLEE_SLOTS as u32 {
                prop_assert_eq!(got.distinct_callees, want.distinct_callees);
            }
        }
    }

    #[test]
    fn distinct_callees_beyond_64_is_exact_without_recalls(
        calls in proptest::collection::vec((prop_oneof![40 => 0.0..0.5f64, 1 => 55.0..70.0], prop::bool::weighted(0.15)), 1..600),
    ) {
        // Every other call goes to one of three hot callees in turn, so none of them is ever the
        // least recently called of 65; the others are fresh, some arriving 45 s late (older
        // than every callee in the set). No pushed-out callee is called again, so the estimate
        // must be exact although far more than 64 callees are live.
        let cfg = VelocityConfig { late_tolerance: 50, ..config(16, 1) };
        let v = velocity(cfg.clone());
        let mut model = Model::new(cfg);
        let key = Key::caller(7);
        let mut clock = T0;
        for (i, (dt, back)) in calls.into_iter().enumerate() {
            clock += dt;
            let i = i as u64;
            let (callee, ts) = match i % 2 {
                0 => (77_000_000_000 + i / 2 % 3, clock),
                _ => (78_000_000_000 + i, if back { clock - 45.0 } else { clock }),
            };
            let e = ev(ts, callee);
            prop_assert_eq!(v.record(key, &e), model.record(key, &e));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn reused_entries_count_like_new_ones(
        cfg in test_config(),
        cap in 1usize..4,
        ops in proptest::collection::vec((0u64..8, step(), callee(), duration()), 1..300),
    ) {
        // A tiny cap: almost every new key takes over an evicted key's entry, whose rings are
        // stale; every counter must still be the model's.
        let cfg = VelocityConfig { max_keys: cap, shards: 1, ..cfg };
        let v = velocity(cfg.clone());
        let mut model = SlruModel::new(cfg.clone());
        let mut clock = T0;
        for (k, step, callee, duration) in &ops {
            let key = Key::caller(*k);
            let e = Event { timestamp: timestamp(&mut clock, step, &cfg), callee: *callee, duration: *duration };
            prop_assert_eq!(v.record(key, &e), model.record(key, &e), "{:?} {:?}", key, e);
            v.slots[0].lock().check(&v.params);
        }
        for k in 0..8 {
            let key = Key::caller(k);
            prop_assert_eq!(v.peek(key, clock + 30.0), model.model.peek(key, clock + 30.0));
        }
    }
}

#[test]
fn a_reused_entry_forgets_displaced_callees() {
    let v = velocity(VelocityConfig {
        late_tolerance: 30,
        ..config(1, 1)
    });
    let (a, b) = (Key::caller(1), Key::caller(2));
    // Key a fills every ring: 200 distinct callees in 50 s, some of them late, with durations.
    for i in 0..200u64 {
        let ts = T0 + i as f64 * 0.25 - if i % 7 == 0 && i > 100 { 20.0 } else { 0.0 };
        let e = Event {
            timestamp: ts,
            callee: 77_000_000_000 + i,
            duration: Some(i as f64 % 9.0),
        };
        v.record(a, &e);
    }
    let c = v.peek(a, f64::NAN).unwrap();
    assert_eq!(
        (c.calls_1m, c.distinct_callees, c.calls_window),
        (200, 200, 200)
    );
    // Key b takes over its entry a little later, then calls again, late and on time.
    let fresh = velocity(config(1, 1));
    for (dt, callee) in [(55.0, 5), (35.0, 6), (56.0, 5), (100.0, 7)] {
        let e = Event {
            timestamp: T0 + dt,
            callee,
            duration: Some(2.0),
        };
        assert_eq!(v.record(b, &e), fresh.record(b, &e), "{dt}");
    }
    assert_eq!(v.peek(a, T0 + 100.0), None);
    assert_eq!(v.stats().evicted_lru, 1);
    check_shards(&v);
}

#[test]
fn the_exact_regime_exceeds_64_distinct() {
    // The property above reaches the estimating regime: 4 calls a second for a minute.
    let v = velocity(config(16, 1));
    let k = Key::caller(7);
    let mut c = Counters::default();
    for i in 0..240u64 {
        let callee = if i % 2 == 0 { 1 + i / 2 % 3 } else { 1000 + i };
        c = v.record(k, &ev(T0 + i as f64 * 0.25, callee));
    }
    assert_eq!((c.distinct_callees, c.calls_1m), (123, 240));
}

// ---------------------------------------------------------------------------------------------
// Each counter by hand.

#[test]
fn the_test_pool_has_no_fingerprint_collision() {
    let fps: HashSet<u32> = (0..POOL).map(|i| fingerprint(pool(i), SEED)).collect();
    assert_eq!(fps.len(), POOL);
    let fps: HashSet<u32> = (0..400)
        .map(|c| fingerprint(77_000_000_000 + c * 11, SEED))
        .collect();
    assert_eq!(fps.len(), 400);
}

#[test]
fn calls_per_second_minute_and_window() {
    let v = velocity(config(64, 1)); // window 3600: buckets of 300 s
    let k = Key::caller(1);
    let t = 3_000_000.0; // a multiple of 300
    for ts in [t, t + 0.5, t + 0.99] {
        v.record(k, &ev(ts, 0));
    }
    let c = v.record(k, &ev(t + 1.0, 0));
    assert_eq!((c.calls_1s, c.calls_1m, c.calls_window), (1, 4, 4));
    let c = v.record(k, &ev(t + 59.9, 0));
    assert_eq!((c.calls_1s, c.calls_1m), (1, 5));
    // Second t leaves the minute at t + 60, second t + 1 at t + 61.
    let c = v.record(k, &ev(t + 60.0, 0));
    assert_eq!((c.calls_1s, c.calls_1m, c.calls_window), (1, 3, 6));
    let c = v.peek(k, t + 61.5).unwrap();
    assert_eq!((c.calls_1s, c.calls_1m, c.calls_window), (0, 2, 6));
    // The window keeps bucket(t) until bucket(now) = bucket(t) + 13, i.e. now = t + 3900.
    assert_eq!(v.peek(k, t + 3899.0).unwrap().calls_window, 6);
    assert_eq!(v.peek(k, t + 3900.0).unwrap(), Counters::default());
    let c = v.record(k, &ev(t + 3600.0, 0));
    assert_eq!((c.calls_1m, c.calls_window), (1, 7));
}

#[test]
fn short_calls_and_known_durations() {
    let v = velocity(config(64, 1));
    let k = Key::trunk("gw");
    let durations = [
        Some(0.0),
        Some(5.99),
        Some(6.0),
        None,
        Some(f64::NAN),
        Some(-3.0),
    ];
    let mut c = Counters::default();
    for d in durations {
        c = v.record(
            k,
            &Event {
                timestamp: T0,
                callee: 5,
                duration: d,
            },
        );
    }
    assert_eq!(
        (c.short_calls, c.known_durations, c.calls_window),
        (2, 3, 6)
    );
}

#[test]
fn distinct_callees_in_the_minute() {
    let v = velocity(config(64, 1));
    let k = Key::caller(1);
    for (dt, callee) in [(0.0, 10), (1.0, 20), (2.0, 10), (3.0, 0), (30.0, 30)] {
        v.record(k, &ev(T0 + dt, callee));
    }
    assert_eq!(v.peek(k, T0 + 30.0).unwrap().distinct_callees, 3);
    // Callee 20 (second T0 + 1) leaves at T0 + 61; 10 was called again at T0 + 2.
    assert_eq!(v.peek(k, T0 + 61.0).unwrap().distinct_callees, 2);
    assert_eq!(v.peek(k, T0 + 62.0).unwrap().distinct_callees, 1);
    // 100 different callees in one minute: an estimate between the truth and calls_1m.
    let k = Key::caller(2);
    let mut c = Counters::default();
    for i in 0..100u64 {
        c = v.record(k, &ev(T0 + i as f64 * 0.5, 77_000_000_000 + i));
    }
    assert_eq!((c.distinct_callees, c.calls_1m), (100, 100));
    // Re-calling a pushed-out callee counts it twice; the cap at calls_1m holds.
    let c = v.record(k, &ev(T0 + 50.0, 77_000_000_000));
    assert_eq!((c.distinct_callees, c.calls_1m), (101, 101));
}

#[test]
fn sequential_and_repeated_callees() {
    let v = velocity(VelocityConfig {
        sequential_gap: 10,
        ..config(64, 1)
    });
    let k = Key::caller(1);
    let run = |callee: u64| {
        let c = v.record(k, &ev(T0, callee));
        (c.sequential, c.repeat_callee)
    };
    assert_eq!(run(100), (0, 0));
    assert_eq!(run(101), (1, 0));
    assert_eq!(run(111), (2, 0));
    assert_eq!(run(0), (2, 0)); // unknown callee: no part of either run
    assert_eq!(run(101), (3, 0)); // downwards counts too
    assert_eq!(run(101), (0, 1));
    assert_eq!(run(101), (0, 2));
    assert_eq!(run(90), (0, 0)); // 11 apart
    assert_eq!(run(92), (1, 0));
    assert_eq!(run(u64::MAX), (0, 0));
    assert_eq!(run(u64::MAX - 10), (1, 0));
}

#[test]
fn late_and_invalid_events_change_nothing() {
    let v = velocity(VelocityConfig {
        late_tolerance: 30,
        ..config(64, 1)
    });
    let k = Key::caller(1);
    v.record(k, &ev(T0 + 100.0, 5));
    let within = v.record(k, &ev(T0 + 70.0, 6)); // 30 s behind: counted, in the minute
    assert!(!within.late);
    assert_eq!((within.calls_1m, within.distinct_callees), (2, 2));
    let before = v.peek(k, f64::NAN).unwrap();
    for ts in [
        T0 + 69.9,
        T0,
        f64::NAN,
        f64::INFINITY,
        -1.0,
        4_294_967_296.0,
        1e308,
    ] {
        let c = v.record(k, &ev(ts, 7));
        assert_eq!(
            c,
            Counters {
                late: true,
                ..before
            },
            "{ts}"
        );
    }
    assert_eq!(v.peek(k, f64::NAN), Some(before));
    let s = v.stats();
    assert_eq!((s.recorded, s.late_events, s.tracked_keys), (9, 7, 1));
    // An unusable timestamp creates no key.
    let c = v.record(Key::caller(2), &ev(f64::NAN, 7));
    assert_eq!(
        c,
        Counters {
            late: true,
            ..Counters::default()
        }
    );
    assert_eq!(v.peek(Key::caller(2), T0), None);
}

#[test]
fn extreme_timestamps_never_underflow() {
    let v = velocity(VelocityConfig {
        window: 60,
        late_tolerance: 60,
        ..config(64, 1)
    });
    let k = Key::caller(1);
    for ts in [
        0.0,
        0.5,
        59.0,
        4_294_967_295.9,
        4_294_967_236.0,
        0.0,
        4_294_967_295.0,
    ] {
        let c = v.record(k, &ev(ts, 1));
        assert!(c.calls_1m <= c.calls_window);
    }
    assert_eq!(v.peek(k, 0.0).unwrap().calls_1s, 2);
}

#[test]
fn an_expired_key_starts_afresh() {
    let v = velocity(VelocityConfig {
        window: 60,
        ..config(64, 1)
    }); // buckets of 5 s
    let k = Key::caller(1);
    v.record(k, &ev(T0, 1));
    v.record(k, &ev(T0, 2));
    // bucket(T0 + 64) = bucket(T0) + 12: still in the window; + 65 is past it.
    assert_eq!(v.peek(k, T0 + 64.0).unwrap().calls_window, 2);
    assert_eq!(v.peek(k, T0 + 64.0).unwrap().sequential, 1);
    assert_eq!(v.peek(k, T0 + 65.0).unwrap(), Counters::default());
    let c = v.record(k, &ev(T0 + 65.0, 3));
    assert_eq!((c.calls_window, c.sequential), (1, 0));
}

#[test]
fn peek_neither_counts_nor_moves_a_key() {
    let v = velocity(VelocityConfig {
        max_keys: 5,
        shards: 1,
        ..VelocityConfig::default()
    });
    for k in 0..5 {
        v.record(Key::caller(k), &ev(T0, 1));
    }
    let before = v.stats();
    assert_eq!(v.peek(Key::caller(0), T0).unwrap().calls_1m, 1);
    assert_eq!(v.peek(Key::caller(9), T0), None);
    assert_eq!(v.stats(), before);
    v.record(Key::caller(5), &ev(T0, 1)); // evicts caller 0, peeked or not
    assert_eq!(v.peek(Key::caller(0), T0), None);
}

#[test]
fn an_established_caller_survives_a_flood_of_one_off_clis() {
    let cfg = VelocityConfig {
        max_keys: 64 * 100,
        ..VelocityConfig::default()
    };
    let v = velocity(cfg);
    let fraudster = Key::caller(77_012_345_678);
    v.record(fraudster, &ev(T0, 77_070_000_000));
    v.record(fraudster, &ev(T0 + 0.5, 77_070_000_001));
    let mut x = 1u64;
    for i in 0..200_000u64 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        v.record(Key::caller(x >> 20), &ev(T0 + 1.0 + i as f64 * 1e-4, 1));
    }
    let c = v.record(fraudster, &ev(T0 + 30.0, 77_070_000_002));
    assert_eq!((c.calls_1m, c.sequential), (3, 2));
    let s = v.stats();
    assert_eq!((s.tracked_keys, s.max_keys), (6400, 6400));
    assert_eq!(s.evicted_lru + s.tracked_keys, 200_001);
    check_shards(&v);
}

#[test]
fn expired_keys_go_first() {
    let v = velocity(VelocityConfig {
        max_keys: 3,
        shards: 1,
        window: 60,
        ..VelocityConfig::default()
    });
    let (old, a, b) = (Key::caller(1), Key::caller(2), Key::caller(3));
    v.record(old, &ev(T0, 1));
    v.record(old, &ev(T0, 1)); // protected, then idle
    v.record(a, &ev(T0 + 100.0, 1));
    v.record(b, &ev(T0 + 100.0, 1));
    v.record(Key::caller(4), &ev(T0 + 100.0, 1));
    assert_eq!(v.peek(old, T0), None);
    assert!(v.peek(a, T0).is_some() && v.peek(b, T0).is_some());
    let s = v.stats();
    assert_eq!(
        (s.evicted_expired, s.evicted_lru, s.tracked_keys),
        (1, 0, 3)
    );
}

#[test]
fn threads_add_up() {
    fn shared<T: Send + Sync>() {}
    shared::<Velocity>();
    let v = velocity(config(1 << 12, 8));
    let (threads, per_thread, keys) = (4u64, 25_000u64, 50u64);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let v = &v;
            scope.spawn(move || {
                for i in 0..per_thread {
                    let key = Key::caller((i * 7 + t) % keys);
                    let c = v.record(key, &ev(T0 + (i % 20) as f64, i % 100));
                    assert!(!c.late && c.calls_1m >= 1);
                }
            });
        }
    });
    let s = v.stats();
    assert_eq!(
        (s.recorded, s.late_events, s.tracked_keys),
        (threads * per_thread, 0, keys)
    );
    let mut want = vec![0u32; keys as usize];
    for t in 0..threads {
        for i in 0..per_thread {
            want[((i * 7 + t) % keys) as usize] += 1;
        }
    }
    for (k, &n) in want.iter().enumerate() {
        let c = v.peek(Key::caller(k as u64), f64::NAN).unwrap();
        assert_eq!((c.calls_1m, c.calls_window), (n, n));
    }
    check_shards(&v);
}

#[test]
fn a_poisoned_shard_keeps_counting() {
    let v = velocity(config(8, 1));
    v.record(Key::caller(1), &ev(T0, 1));
    let poisoned = std::thread::scope(|s| {
        s.spawn(|| {
            let _guard = v.slots[0].lock();
            panic!("poison the shard");
        })
        .join()
    });
    assert!(poisoned.is_err() && v.slots[0].shard.is_poisoned());
    assert_eq!(v.record(Key::caller(1), &ev(T0, 1)).calls_1s, 2);
}

/// A number's caller and destination keys hash apart (a seed per kind), so one cannot be
/// aimed at the other's probe run; and the hash follows the store's seed.
#[test]
fn the_key_hash_depends_on_the_kind_and_the_seed() {
    let kinds = [KeyKind::Caller, KeyKind::Destination, KeyKind::Trunk];
    for value in (0..2000u64).map(|i| 77_000_000_000 + i * 7919) {
        let hashes = kinds.map(|kind| shard::key_hash(Key { kind, value }, SEED));
        assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2] && hashes[0] != hashes[2]);
        assert_ne!(hashes[0], shard::key_hash(Key::caller(value), SEED ^ 1));
    }
}

/// Before each new key at a full shard, the lines `prefetch` is told about (without the lock)
/// name the entry the key will take (its victim's), and after it the index slot of that
/// victim, whose removal waits for the shard's next call; calls of tracked keys in between
/// (which move keys to the protected segment and back) do not spoil that.
#[test]
fn the_eviction_hints_name_the_victim_and_the_stale_slot() {
    let v = velocity(config(8, 1));
    let slot = &v.slots[0];
    let hints = || slot.eviction_lines.each_ref().map(|h| h.load(Relaxed));
    let hash = |k: u64| shard::key_hash(Key::caller(k), v.params.seed);
    for k in 0..8 {
        v.record(Key::caller(k), &ev(T0, 1));
    }
    for k in 8..200u64 {
        // Now and then a call of a tracked key (one of the last few newcomers).
        if k % 3 == 0 {
            v.record(Key::caller(k - 1 - k % 2), &ev(T0, 1));
        }
        let before = hints();
        let entries: HashMap<usize, u64> = {
            let shard = slot.lock();
            (0..k)
                .filter_map(|j| Some((shard.entry_address(Key::caller(j), hash(j))?, j)))
                .collect()
        };
        v.record(Key::caller(k), &ev(T0, 1));
        let shard = slot.lock();
        let at = shard.entry_address(Key::caller(k), hash(k)).unwrap();
        assert!(before[1..].contains(&at), "{k}: {at:#x} not in {before:x?}");
        let victim = entries[&at];
        assert_eq!(hints()[0], shard.home_slot_address(hash(victim)), "{k}");
    }
}

#[test]
fn keys_of_different_kinds_are_different_keys() {
    let v = velocity(config(64, 4));
    v.record(Key::caller(42), &ev(T0, 1));
    v.record(Key::destination(42), &ev(T0, 1));
    v.record(Key::destination(42), &ev(T0, 1));
    assert_eq!(v.peek(Key::caller(42), T0).unwrap().calls_1s, 1);
    assert_eq!(v.peek(Key::destination(42), T0).unwrap().calls_1s, 2);
    assert_eq!(
        v.peek(
            Key {
                kind: KeyKind::Trunk,
                value: 42
            },
            T0
        ),
        None
    );
    assert_eq!(Key::trunk("sip-gw-1"), Key::trunk("sip-gw-1"));
    assert_ne!(Key::trunk("sip-gw-1").value, Key::trunk("sip-gw-2").value);
    assert_eq!(Key::trunk("").value, xxhash_rust::xxh3::xxh3_64(b""));
}

#[test]
fn the_documented_sizes_hold() {
    assert_eq!(shard::ENTRY_HEADER_BYTES, 64);
    assert_eq!(ENTRY_BYTES, 720);
    assert_eq!(Velocity::bytes_per_key(), 752);
    let c = VelocityConfig::default();
    assert_eq!(c.max_memory(), 736_777_216); // 64 × (32 768 × 8 + 15 625 × 720)
    assert!(c.max_memory() <= c.max_keys * Velocity::bytes_per_key());
}

#[test]
fn the_index_stays_at_most_half_full_and_under_32_bytes_a_key() {
    for cap in (1..5_000).chain([15_625, 1 << 20, (1 << 31) - 1, 1 << 31]) {
        let slots = shard::index_slots(cap);
        assert!(slots.is_power_of_two(), "{cap}");
        assert!(slots >= 2 * cap && slots * 8 < 32 * cap, "{cap}: {slots}");
    }
    for (keys, shards) in [(1, 1), (5, 1), (100_000, 64), (1_000_000, 64), (4096, 4096)] {
        let c = config(keys, shards);
        assert!(
            c.max_memory() <= keys * Velocity::bytes_per_key(),
            "{keys}/{shards}"
        );
    }
}

#[test]
fn prefetch_addresses_the_index_and_knows_a_full_shard() {
    let v = velocity(config(4, 1));
    let slot = &v.slots[0];
    for k in 0..6u64 {
        let key = Key::caller(k);
        let p = v.prefetch(key);
        let shard = slot.lock();
        assert_eq!(
            slot.index.home_slot(p.hash),
            shard.home_slot_address(p.hash)
        );
        assert_eq!(p.hash, shard::key_hash(key, v.params.seed));
        // Full from the fourth key on, and for good.
        assert_eq!(slot.full.load(Relaxed), k >= 4, "{k}");
        drop(shard);
        v.record_prefetched(p, &ev(T0, 1));
        assert_eq!(slot.full.load(Relaxed), k >= 3, "{k}");
    }
    // A key prefetched by another store (another seed) is still counted as itself.
    let other = Velocity::with_seed(config(4, 1), SEED ^ 1).unwrap();
    let c = v.record_prefetched(other.prefetch(Key::caller(5)), &ev(T0, 1));
    assert_eq!(c.calls_1m, 2);
}

#[test]
fn every_setting_is_validated() {
    let good = VelocityConfig::default();
    assert!(good.validate().is_ok());
    type Spoil = fn(&mut VelocityConfig);
    let cases: [(&str, Spoil); 12] = [
        ("shards", |c| c.shards = 0),
        ("shards", |c| c.shards = 48),
        ("shards", |c| c.shards = 1 << 17),
        ("max_keys", |c| c.max_keys = 63),
        ("max_keys", |c| c.max_keys = (1 << 32) + 1),
        ("window", |c| c.window = 59),
        ("window", |c| c.window = 90),
        ("window", |c| c.window = 86_460),
        ("short_call", |c| c.short_call = f64::NAN),
        ("short_call", |c| c.short_call = -1.0),
        ("sequential_gap", |c| c.sequential_gap = 0),
        ("late_tolerance", |c| c.late_tolerance = 3601),
    ];
    for (field, spoil) in cases {
        let mut c = good.clone();
        spoil(&mut c);
        match Velocity::new(c) {
            Err(Error::InvalidValue { field: f, .. }) => assert_eq!(f, format!("velocity.{field}")),
            other => panic!("{field}: {other:?}"),
        }
    }
    let edge = VelocityConfig {
        max_keys: 1,
        shards: 1,
        window: 86_400,
        late_tolerance: 86_400,
        short_call: 0.0,
        ..good
    };
    assert!(Velocity::new(edge).is_ok());
}
