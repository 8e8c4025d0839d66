//! The CDR CSV scorer on arbitrary bytes: a summary or an error, never a panic; one output
//! row per data row, and the counts add up.
#![no_main]

mod common;

use _fraudcore::cdr::score_csv;
use _fraudcore::engine::Engine;
use _fraudcore::policy::Policy;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

const POLICY: &str = r#"
home_region = "KZ"
[[rules]]
id = "spoof"
when = "ingress == 'international' and roaming != true and caller.is_home"
action = "block"
[[rules]]
id = "busy"
when = "caller.calls_1m >= 3 or trunk.calls_1s >= 2"
score = 0.6
"#;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let p = Policy::parse(POLICY, "p.toml", Path::new("."), common::plan().clone())
            .expect("fuzz policy");
        Engine::new(p).expect("engine")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let Ok(s) = score_csv(engine(), data, &mut out, "fuzz.csv", false, None) else {
        return;
    };
    assert_eq!(s.actions.iter().sum::<u64>() + s.malformed, s.rows);
    assert!(s.first_malformed.len() as u64 <= s.malformed);
});
