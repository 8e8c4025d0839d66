//! `Policy::parse` on arbitrary text: Ok or a positioned error, never a panic. A policy that
//! loads must evaluate without errors: it scores a few calls through an engine.
#![no_main]

mod common;

use _fraudcore::call::Call;
use _fraudcore::engine::Engine;
use _fraudcore::policy::Policy;
use _fraudcore::Error;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // No file may be read: relative paths point into an empty folder.
    let dir = Path::new("/nonexistent-fuzz-dir");
    let policy = match Policy::parse(&text, "fuzz.toml", dir, common::plan().clone()) {
        Ok(p) => p,
        Err(Error::Parse { line, column, .. }) => {
            assert!(line >= 1 && column >= 1, "positions are 1-based");
            return;
        }
        Err(_) => return,
    };
    let Ok(engine) = Engine::new(policy) else { return };
    for (caller, callee) in [("+77011234567", "87272123456"), ("anonymous", "112"), ("x", "")] {
        for call in [
            Call { caller, callee, ..Call::international() },
            Call { caller, callee, timestamp: Some(1.8e9), duration: Some(3.0), ..Call::national() },
        ] {
            let v = engine.score(&call);
            assert!((0.0..=1.0).contains(&v.score));
        }
    }
});
