//! Shared by the fuzz targets: the sample plan compiled once, the Kazakh dialling plan, and a
//! small edit language for structure-aware fuzzing of saved files.
#![allow(dead_code)] // each target uses its own part

use _fraudcore::metadata::PlanSource;
use _fraudcore::normalize::{normalize, DialPlan, Ingress, Invalid};
use _fraudcore::number::Number;
use _fraudcore::numplan::NumberingPlan;
use _fraudcore::persist::{self, HEADER_LEN};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The same real extract of phonenumbers' metadata the unit tests use (KZ, RU, US, CA, +800).
pub const PLAN_JSON: &str = include_str!("../../../rust/testdata/plan_sample.json");

pub fn plan() -> &'static Arc<NumberingPlan> {
    static PLAN: OnceLock<Arc<NumberingPlan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let src = PlanSource::from_json(PLAN_JSON).expect("sample plan source parses");
        Arc::new(NumberingPlan::compile(&src).expect("sample plan compiles"))
    })
}

/// Home KZ with `00` beside the plan's `810`, as the default deployment has it.
pub fn dial() -> &'static DialPlan {
    static DIAL: OnceLock<DialPlan> = OnceLock::new();
    DIAL.get_or_init(|| DialPlan::new(plan(), "KZ", &["00".into()]).expect("KZ dial plan"))
}

/// What an engine or policy passes to the list parser: normalise with the home plan.
pub fn normalize_kz(raw: &str, ingress: Ingress) -> Result<Number, Invalid> {
    normalize(plan(), dial(), raw, ingress)
}

/// Values that header words and lengths are most often wrong in interesting ways.
const INTERESTING: [u64; 24] = [
    0,
    1,
    2,
    3,
    7,
    8,
    9,
    32,
    33,
    63,
    64,
    65,
    255,
    256,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
    1 << 32,
    1 << 36,
    1 << 63,
    u64::MAX,
    u64::MAX - 7,
    0x3F1A_36E2_EB1C_432D, // 1e-4 as f64 bits
    0x3FF0_0000_0000_0000, // 1.0
    0x3662_44CE_242C_5561, // 1e-46: a valid fpr that sizes a filter of many GB
];

/// Applies an edit script to `base`. The script is read five bytes at a time,
/// `op, a0, a1, a2, v`: the offset is the 24-bit `a` modulo the current length (modulo 128
/// when `op`'s top bit is set, to aim at headers); `op & 7` picks the edit:
/// 0 xor the byte with `v` (at least 1), 1 set it to `v`, 2 truncate there, 3 insert `v`,
/// 4 delete `v % 16 + 1` bytes, 5 overwrite the aligned 8-byte word with an interesting
/// value, 6 add `v` to the byte, 7 copy the aligned word at `8 v` over the aligned word there.
pub fn edit(base: &[u8], script: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for op in script.chunks_exact(5) {
        let (kind, v) = (op[0], op[4]);
        let raw = u32::from_le_bytes([op[1], op[2], op[3], 0]) as usize;
        let span = if kind & 0x80 != 0 {
            out.len().min(128)
        } else {
            out.len()
        };
        if span == 0 {
            if kind & 7 == 3 {
                out.push(v);
            }
            continue;
        }
        let at = raw % span;
        let word_at = at & !7;
        match kind & 7 {
            0 => out[at] ^= v.max(1),
            1 => out[at] = v,
            2 => out.truncate(at),
            3 => out.insert(at, v),
            4 => {
                let end = (at + usize::from(v % 16) + 1).min(out.len());
                out.drain(at..end);
            }
            5 => {
                let value = INTERESTING[usize::from(v) % INTERESTING.len()].to_le_bytes();
                let end = (word_at + 8).min(out.len());
                out[word_at..end].copy_from_slice(&value[..end - word_at]);
            }
            6 => out[at] = out[at].wrapping_add(v),
            _ => {
                let from = (usize::from(v) * 8) % out.len();
                let from = from & !7;
                let n = 8.min(out.len() - from).min(out.len() - word_at);
                let word: Vec<u8> = out[from..from + n].to_vec();
                out[word_at..word_at + n].copy_from_slice(&word);
            }
        }
    }
    out
}

/// Rewrites the checksum and length fields of a fraudcore file header to match its payload
/// (keeping whatever magic and version are there), so that edits reach the payload decoder
/// instead of stopping at the checksum.
pub fn fix_header(bytes: &mut Vec<u8>) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let magic: [u8; 8] = bytes[..8].try_into().expect("8 bytes");
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    *bytes = persist::encode(&magic, version, &bytes[HEADER_LEN..]);
}

/// A scratch file of this process (in /dev/shm when there is one, so nothing hits the disk).
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from("/dev/shm");
    let dir = if dir.is_dir() {
        dir
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("fraudcore-fuzz-{}-{name}", std::process::id()))
}

/// Little-endian `u64` words of `bytes` (a partial last word is zero-padded).
pub fn words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

pub fn bytes_of(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}
