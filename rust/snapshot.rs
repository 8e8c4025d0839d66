//! Snapshots: a policy, the files it reads and its lists' current contents in one file that
//! loads through a memory map.
//!
//! The file is the 24-byte header of every fraudcore file (magic `FCSNAP\0\0`, version, CRC-32
//! of the payload, payload length), then little-endian `u64` words: the number of texts and of
//! lists; each text as `[key length][key, padded to 8][text length][text, padded to 8]` — the
//! policy's own text under the key `""`, its source name under `"#source"`, then the overlay
//! and prefix files under the names the policy writes; each list as `[name length][name,
//! padded][file length][a complete list file (`*.fclist`), padded]`. List files start at
//! 8-byte boundaries so their arrays are used in place from the map, never copied; the
//! policy is recompiled from its text on load (about a millisecond), so a snapshot stays valid
//! across fraudcore versions that keep this format and the policy syntax.

use crate::engine::Engine;
use crate::numberlist::NumberList;
use crate::numplan::NumberingPlan;
use crate::persist::{self, FileWriter};
use crate::policy::{Files, Policy};
use crate::words::map_file;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const SNAP_MAGIC: &[u8; 8] = b"FCSNAP\0\0";
const SNAP_VERSION: u32 = 1;

/// Whether `bytes` start like a snapshot.
pub fn is_snapshot(bytes: &[u8]) -> bool {
    bytes.starts_with(SNAP_MAGIC)
}

fn padded(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.resize(bytes.len().div_ceil(8) * 8, 0);
    v
}

fn section(w: &mut FileWriter, bytes: &[u8]) -> Result<()> {
    w.write_words(&[bytes.len() as u64])?;
    w.write(&padded(bytes))
}

/// Writes the engine's policy, its files and its lists' current contents to `path`
/// (atomically: a temporary file, fsync, rename). Lists are compacted first.
pub fn save(engine: &Engine, path: &Path) -> Result<()> {
    let snap = engine.snapshot();
    let policy = &snap.policy;
    let mut texts: Vec<(&str, &str)> = vec![
        ("", policy.source_text()),
        ("#source", policy.source_name()),
    ];
    texts.extend(
        policy
            .file_texts()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut w = FileWriter::create(path, SNAP_MAGIC, SNAP_VERSION)?;
    w.write_words(&[texts.len() as u64, snap.lists.len() as u64])?;
    for (key, text) in &texts {
        section(&mut w, key.as_bytes())?;
        section(&mut w, text.as_bytes())?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    for list in &snap.lists {
        // Each list in its own file format, written beside the target and copied in.
        let tmp = dir.join(format!(
            ".{}.{}.list.tmp",
            path.file_name()
                .map_or("snapshot".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        let bytes = list.save(&tmp).and_then(|()| persist::read(&tmp));
        let _ = std::fs::remove_file(&tmp);
        section(&mut w, list.name().as_bytes())?;
        section(&mut w, &bytes?)?;
    }
    w.finish()
}

/// Opens a snapshot: the policy is recompiled from its text with `plan`, the lists are used
/// in place from the map. Damage is refused with [`Error::Corrupt`].
pub fn load(path: &Path, plan: Arc<NumberingPlan>) -> Result<Engine> {
    let name = path.display().to_string();
    let map = map_file(path)?;
    let payload = persist::decode(SNAP_MAGIC, SNAP_VERSION, &map, &name)?;
    let mut at = persist::HEADER_LEN;
    let end = persist::HEADER_LEN + payload.len();
    let corrupt = |at: usize, what: &str| Error::corrupt(&name, at as u64, what.to_owned());
    let word = |at: &mut usize| -> Result<usize> {
        let v = map
            .get(*at..*at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| corrupt(*at, "truncated"))?;
        *at += 8;
        usize::try_from(v).map_err(|_| corrupt(*at - 8, "length out of range"))
    };
    let take = |at: &mut usize| -> Result<(usize, usize)> {
        let len = word(at)?;
        let start = *at;
        let stop = len
            .div_ceil(8)
            .checked_mul(8)
            .and_then(|padded| start.checked_add(padded))
            .filter(|&s| s <= end)
            .ok_or_else(|| corrupt(start, "section runs past the end"))?;
        *at = stop;
        Ok((start, len))
    };
    let n_texts = word(&mut at)?;
    let n_lists = word(&mut at)?;
    let utf8 = |(s, l): (usize, usize)| -> Result<String> {
        let bytes = map
            .get(s..s.saturating_add(l))
            .ok_or_else(|| corrupt(s, "out of bounds"))?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| corrupt(s, "text is not UTF-8"))
    };
    let mut texts: HashMap<String, String> = HashMap::new();
    for _ in 0..n_texts.min(1 << 16) {
        let key = utf8(take(&mut at)?)?;
        let text = utf8(take(&mut at)?)?;
        texts.insert(key, text);
    }
    let mut lists: HashMap<String, Arc<NumberList>> = HashMap::new();
    for _ in 0..n_lists.min(1 << 16) {
        let list_name = utf8(take(&mut at)?)?;
        let (start, len) = take(&mut at)?;
        let list = NumberList::load_embedded(Arc::clone(&map), start, len, &name)?;
        if list.name() != list_name {
            return Err(corrupt(start, "list name disagrees with its section"));
        }
        lists.insert(list_name, Arc::new(list));
    }
    let text = texts
        .remove("")
        .ok_or_else(|| corrupt(persist::HEADER_LEN, "no policy text"))?;
    let source = texts.remove("#source").unwrap_or_default();
    let policy = Policy::parse_with(
        &text,
        &format!("{source} (snapshot {name})"),
        Files::Embedded {
            texts: &texts,
            lists: &lists,
        },
        plan,
    )?;
    Engine::new(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Call;
    use crate::engine::tests::TEST_POLICY;
    use crate::numberlist::ListKind;
    use crate::numplan::tests::sample_plan;

    #[test]
    fn round_trips_policy_files_and_lists_and_refuses_damage() {
        let dir = std::env::temp_dir().join(format!("fc-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ranges.csv"), "prefix,tags\n+7727,almaty\n").unwrap();
        let text = format!(
            "overlay = \"ranges.csv\"\n{TEST_POLICY}\n[[rules]]\nid = \"almaty\"\nwhen = \"'almaty' in callee.tags\"\nscore = 0.2\n"
        );
        let p = Policy::parse(&text, "p.toml", &dir, sample_plan()).unwrap();
        let e = Engine::new(p).unwrap();
        e.set_list(Arc::new(
            NumberList::build("fraud", ListKind::Block, vec![77011234567], 1e-4, 0).unwrap(),
        ))
        .unwrap();
        let call = Call {
            caller: "+77011234567",
            callee: "87272123456",
            ..Call::national()
        };
        let before: Vec<String> = e.score(&call).reason_ids().map(str::to_owned).collect();
        assert_eq!(before, ["blocklist", "almaty"]);
        let path = dir.join("engine.fcsnap");
        save(&e, &path).unwrap();
        std::fs::remove_file(dir.join("ranges.csv")).unwrap(); // self-contained
        let loaded = load(&path, sample_plan()).unwrap();
        let after: Vec<String> = loaded
            .score(&call)
            .reason_ids()
            .map(str::to_owned)
            .collect();
        assert_eq!(after, before);
        assert!(loaded.policy().source_name().contains("snapshot"));
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 10, 24, 40, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert!(
                matches!(load(&path, sample_plan()), Err(Error::Corrupt { .. })),
                "{cut}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Fuzz regression (snapshot, section-length-overflow): a section length near `u64::MAX`
    /// overflowed the padded-length arithmetic. Now refused as corrupt.
    #[test]
    fn huge_section_lengths_are_refused() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("fc-snap-huge-{}.fcsnap", std::process::id()));
        for len in [u64::MAX, u64::MAX - 7, 1 << 62, 17] {
            let mut payload = Vec::new();
            for w in [1u64, 0, len] {
                payload.extend_from_slice(&w.to_le_bytes());
            }
            std::fs::write(&path, persist::encode(SNAP_MAGIC, SNAP_VERSION, &payload)).unwrap();
            assert!(
                matches!(load(&path, sample_plan()), Err(Error::Corrupt { .. })),
                "{len}"
            );
        }
        let _ = std::fs::remove_file(&path);
    }
}
