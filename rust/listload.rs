//! Reading list files: one number per line in any format the normaliser reads, `#` comments.
//!
//! The text is split at line boundaries into one chunk per core and parsed in parallel; every
//! line is normalised with the engine's home dialling plan (`national` ingress). Lines that do
//! not parse are counted and the first few reported with their line numbers; in strict mode
//! the first one is an error.

use crate::normalize::Ingress;
use crate::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// Told the bytes parsed so far, from the parsing threads, about every [`PROGRESS_STEP`] bytes.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);
/// Bytes between two progress reports.
pub const PROGRESS_STEP: u64 = 4 << 20;

/// How many bad lines a report quotes.
pub const REPORTED_BAD_LINES: usize = 10;
/// Longest quote of a bad line.
const QUOTE_MAX: usize = 60;

/// A line that did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: u64,
    /// The line (cut to 60 characters).
    pub text: String,
    /// Why (`bad_character`, `too_short`, ...).
    pub reason: &'static str,
}

/// What loading a list file found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Lines read.
    pub lines: u64,
    /// Numbers parsed (before removing duplicates).
    pub numbers: u64,
    /// Lines that did not parse.
    pub bad: u64,
    /// The first [`REPORTED_BAD_LINES`] of them.
    pub first_bad: Vec<BadLine>,
}

struct Chunk {
    keys: Vec<u64>,
    lines: u64,
    bad: u64,
    first_bad: Vec<BadLine>,
}

/// Reads one number as the home dialling plan does (an engine's or a policy's `normalize`).
pub type Normalizer<'a> =
    &'a (dyn Fn(&str, Ingress) -> Result<crate::number::Number, crate::normalize::Invalid> + Sync);

/// Parses list text. `source_name` names the file in errors; `progress`, if given, hears how
/// many bytes are done.
pub fn parse_list(
    engine: Normalizer<'_>,
    text: &[u8],
    source_name: &str,
    strict: bool,
    progress: Option<Progress<'_>>,
) -> Result<(Vec<u64>, LoadReport)> {
    let done = AtomicU64::new(0);
    let done = &done;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunks = split_at_lines(text, if text.len() < (1 << 20) { 1 } else { threads });
    let parsed: Option<Vec<Chunk>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|c| s.spawn(move || parse_chunk(engine, c, done, progress)))
            .collect();
        // A chunk that panicked must not silently drop its numbers.
        handles
            .into_iter()
            .map(|h| h.join().ok())
            .collect::<Option<Vec<Chunk>>>()
    });
    let parsed =
        parsed.ok_or_else(|| Error::invalid("list", format!("{source_name}: parsing failed")))?;
    let mut report = LoadReport::default();
    let mut keys = Vec::with_capacity(parsed.iter().map(|c| c.keys.len()).sum());
    for chunk in parsed {
        for mut b in chunk.first_bad {
            b.line += report.lines;
            if report.first_bad.len() < REPORTED_BAD_LINES {
                report.first_bad.push(b);
            }
        }
        report.lines += chunk.lines;
        report.bad += chunk.bad;
        keys.extend(chunk.keys);
    }
    report.numbers = keys.len() as u64;
    if strict {
        if let Some(b) = report.first_bad.first() {
            return Err(Error::Parse {
                source_name: source_name.to_owned(),
                line: b.line as usize,
                column: 1,
                message: format!("{:?} is not a number ({})", b.text, b.reason),
            });
        }
    }
    Ok((keys, report))
}

fn split_at_lines(text: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = text;
    for i in (1..=parts).rev() {
        if rest.is_empty() {
            break;
        }
        if i == 1 {
            out.push(rest);
            break;
        }
        let target = rest.len() / i;
        let cut = rest[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| target + p + 1);
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

fn parse_chunk(
    engine: Normalizer<'_>,
    text: &[u8],
    done: &AtomicU64,
    progress: Option<Progress<'_>>,
) -> Chunk {
    let mut pending = 0u64;
    let mut chunk = Chunk {
        keys: Vec::with_capacity(text.len() / 13),
        lines: 0,
        bad: 0,
        first_bad: Vec::new(),
    };
    for raw in text.split(|&b| b == b'\n') {
        chunk.lines += 1;
        pending += raw.len() as u64 + 1;
        if pending >= PROGRESS_STEP {
            let total = done.fetch_add(pending, Ordering::Relaxed) + pending;
            pending = 0;
            if let Some(report) = progress {
                report(total);
            }
        }
        let line = match raw.iter().position(|&b| b == b'#') {
            Some(i) => &raw[..i],
            None => raw,
        };
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let result = std::str::from_utf8(line)
            .map_err(|_| crate::normalize::Invalid::BadCharacter)
            .and_then(|s| engine(s, Ingress::National));
        match result {
            Ok(n) => chunk.keys.push(n.value()),
            Err(why) => {
                chunk.bad += 1;
                if chunk.first_bad.len() < REPORTED_BAD_LINES {
                    let text: String = String::from_utf8_lossy(line)
                        .chars()
                        .take(QUOTE_MAX)
                        .collect();
                    chunk.first_bad.push(BadLine {
                        line: chunk.lines,
                        text,
                        reason: why.as_str(),
                    });
                }
            }
        }
    }
    let total = done.fetch_add(pending, Ordering::Relaxed) + pending;
    if let Some(report) = progress {
        report(total.min(done.load(Ordering::Relaxed)));
    }
    // A final newline leaves an empty last piece that is not a line.
    if text.ends_with(b"\n") {
        chunk.lines -= 1;
    }
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{policy, TEST_POLICY};
    use crate::policy::Policy;

    fn engine() -> Policy {
        policy(TEST_POLICY)
    }

    #[test]
    fn reads_formats_comments_and_reports_bad_lines() {
        let p = engine();
        let text = b"# fraud numbers\n+77011234567\n8 (701) 123-45-68  # from case 12\n\nhello\r\n87011234569\r\n+7\n";
        let (keys, report) =
            parse_list(&|s, i| p.normalize(s, i), text, "f.txt", false, None).unwrap();
        assert_eq!(keys, [77011234567, 77011234568, 77011234569]);
        assert_eq!((report.lines, report.numbers, report.bad), (7, 3, 2));
        assert_eq!(
            report.first_bad[0],
            BadLine {
                line: 5,
                text: "hello".into(),
                reason: "bad_character"
            }
        );
        assert_eq!(report.first_bad[1].line, 7);
        let e = parse_list(&|s, i| p.normalize(s, i), text, "f.txt", true, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.txt:5:1:") && e.contains("hello"), "{e}");
    }

    #[test]
    fn chunked_parsing_keeps_line_numbers() {
        let mut text = String::new();
        for i in 0..200_000u64 {
            if i == 150_000 {
                text.push_str("not a number\n");
            } else {
                text.push_str(&format!("+7701{:07}\n", i));
            }
        }
        let seen = AtomicU64::new(0);
        let progress = |done: u64| {
            seen.fetch_max(done, Ordering::Relaxed);
        };
        let p = engine();
        let (keys, report) = parse_list(
            &|s, i| p.normalize(s, i),
            text.as_bytes(),
            "big.txt",
            false,
            Some(&progress),
        )
        .unwrap();
        assert!(seen.load(Ordering::Relaxed) >= text.len() as u64);
        assert_eq!(keys.len(), 199_999);
        assert_eq!(report.first_bad[0].line, 150_001);
        assert_eq!(report.lines, 200_000);
        assert_eq!(split_at_lines(b"a\nb\nc\n", 3).concat(), b"a\nb\nc\n");
    }
}
