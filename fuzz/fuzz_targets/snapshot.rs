//! Snapshot files: arbitrary bytes, and a valid snapshot damaged by an edit script with its
//! checksum fixed up, must load or be refused; never a panic or a huge allocation.
#![no_main]

mod common;

use _fraudcore::call::Call;
use _fraudcore::engine::Engine;
use _fraudcore::numberlist::{ListKind, NumberList};
use _fraudcore::policy::Policy;
use _fraudcore::snapshot;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::{Arc, OnceLock};

const POLICY: &str = r#"
home_region = "KZ"
[lists.fraud]
kind = "block"
[[rules]]
id = "fraud"
when = "caller in fraud"
action = "block"
"#;

fn valid() -> &'static Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let p = Policy::parse(POLICY, "p.toml", Path::new("."), common::plan().clone())
            .expect("policy");
        let e = Engine::new(p).expect("engine");
        let list = NumberList::build("fraud", ListKind::Block, vec![77011234567, 77051234567], 1e-3, 0)
            .expect("list");
        e.set_list(Arc::new(list)).expect("declared");
        let path = common::scratch("snapshot-seed");
        snapshot::save(&e, &path).expect("save");
        std::fs::read(&path).expect("read back")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = if mode & 1 == 0 { rest.to_vec() } else { common::edit(valid(), rest) };
    if mode & 2 != 0 {
        common::fix_header(&mut bytes);
    }
    let path = common::scratch("snapshot");
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    if let Ok(engine) = snapshot::load(&path, common::plan().clone()) {
        let call = Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::national()
        };
        let _ = engine.score(&call);
    }
});
