//! Policy files: TOML read with positions, validated, its files loaded and its rules compiled.

use super::compile::{compile, Scope};
use super::expr;
use super::suggest::did_you_mean;
use super::{Mode, Policy, Rule, EMERGENCY_REASON, MAX_LISTS, MAX_POLICY_BYTES, MAX_RULES};
use crate::listload::parse_list;
use crate::normalize::DialPlan;
use crate::numberlist::{ListKind, NumberList};
use crate::numplan::NumberingPlan;
use crate::overlay::OverlayBuilder;
use crate::velocity::VelocityConfig;
use crate::verdict::Action;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// Default false-positive rate of the bloom filter in front of a list read from text.
const DEFAULT_FPR: f64 = 1e-4;
/// Most prefixes in one prefix list.
const MAX_PREFIXES: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    home_region: Spanned<String>,
    #[serde(default)]
    international_prefixes: Vec<Spanned<String>>,
    #[serde(default)]
    emergency_numbers: Vec<Spanned<String>>,
    utc_offset: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    overlay: Option<Spanned<String>>,
    thresholds: Option<RawThresholds>,
    #[serde(default)]
    lists: BTreeMap<Spanned<String>, RawList>,
    #[serde(default)]
    prefixes: BTreeMap<Spanned<String>, RawPrefixList>,
    #[serde(default)]
    rules: Vec<RawRule>,
    velocity: Option<RawVelocity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVelocity {
    max_keys: Option<Spanned<u64>>,
    window: Option<Spanned<u32>>,
    short_call: Option<Spanned<f64>>,
    sequential_gap: Option<Spanned<u64>>,
    late_tolerance: Option<Spanned<u32>>,
    shards: Option<Spanned<u64>>,
}

/// Keys tracked when a policy does not say: about 72 MiB at most (752 bytes a key).
pub const DEFAULT_VELOCITY_KEYS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    flag: Option<Spanned<f64>>,
    block: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    kind: Spanned<String>,
    file: Option<Spanned<String>>,
    fpr: Option<Spanned<f64>>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrefixList {
    #[serde(default)]
    prefixes: Vec<Spanned<String>>,
    file: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    description: String,
    when: Spanned<String>,
    score: Option<Spanned<f64>>,
    action: Option<Spanned<String>>,
    #[serde(default)]
    observe: bool,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// Size and modification time of a file, to tell whether it changed between loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStamp {
    /// The file.
    pub path: PathBuf,
    /// Its length.
    pub len: u64,
    /// Its modification time.
    pub modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> Result<FileStamp> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(FileStamp {
            path: path.to_owned(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// A list the policy declares.
#[derive(Clone, Debug)]
pub struct ListDecl {
    /// Its name, as rules refer to it.
    pub name: String,
    /// What it holds.
    pub kind: ListKind,
    /// What it is for.
    pub description: String,
    /// The file it was read from, if any.
    pub file: Option<FileStamp>,
    /// The list as loaded (empty when no file is given).
    pub initial: Arc<NumberList>,
}

/// A prefix list the policy declares: its name is a tag of every number it covers.
#[derive(Clone, Debug)]
pub struct PrefixListDecl {
    /// Its name.
    pub name: String,
    /// Extra tags its numbers carry.
    pub tags: Vec<String>,
    /// What it is for.
    pub description: String,
    /// How many prefixes it holds.
    pub len: usize,
}

/// Where a policy's files come from.
#[derive(Clone, Copy, Debug)]
pub enum Files<'a> {
    /// The file system; relative paths are read from this folder.
    Disk(&'a Path),
    /// A snapshot: file texts by the path as the policy writes it, lists by declared name.
    Embedded {
        /// Texts of the overlay and prefix files.
        texts: &'a HashMap<String, String>,
        /// The lists.
        lists: &'a HashMap<String, Arc<NumberList>>,
    },
}

/// 1-based line and column of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Ctx<'a> {
    text: &'a str,
    source_name: &'a str,
    files: Files<'a>,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> Error {
        let (line, column) = line_col(self.text, span.start);
        Error::Parse {
            source_name: self.source_name.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        let p = Path::new(file);
        match self.files {
            Files::Disk(base) if !p.is_absolute() => base.join(p),
            _ => p.to_owned(),
        }
    }

    /// The text of a file the policy names (as written), remembered for snapshots.
    fn text_file(
        &self,
        written: &str,
        span: Range<usize>,
        seen: &mut Vec<(String, String)>,
    ) -> Result<(PathBuf, String)> {
        let path = self.path(written);
        let text = match self.files {
            Files::Disk(_) => read_text(self, &path, span)?,
            Files::Embedded { texts, .. } => texts
                .get(written)
                .cloned()
                .ok_or_else(|| self.err(span, format!("the snapshot holds no file {written:?}")))?,
        };
        seen.push((written.to_owned(), text.clone()));
        Ok((path, text))
    }

    /// Byte offset in the file of byte `offset` inside the string value at `span`.
    fn inside(&self, span: &Range<usize>, offset: usize) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        span.start + quote + offset
    }
}

pub(super) fn parse(
    text: &str,
    source_name: &str,
    files: Files<'_>,
    plan: Arc<NumberingPlan>,
) -> Result<Policy> {
    let cx = Ctx {
        text,
        source_name,
        files,
    };
    let mut texts: Vec<(String, String)> = Vec::new();
    if text.len() > MAX_POLICY_BYTES {
        return Err(cx.err(0..0, format!("larger than {MAX_POLICY_BYTES} bytes")));
    }
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().replace('\n', " ");
        cx.err(span, message)
    })?;

    let region = raw.home_region.as_ref();
    let prefixes: Vec<String> = raw
        .international_prefixes
        .iter()
        .map(|p| p.get_ref().clone())
        .collect();
    let dial = DialPlan::new(&plan, region, &prefixes).map_err(|e| {
        let span = match &e {
            Error::InvalidValue { field, .. } if field == "international_prefixes" => raw
                .international_prefixes
                .first()
                .map_or(raw.home_region.span(), |p| p.span()),
            _ => raw.home_region.span(),
        };
        cx.err(span, e.to_string())
    })?;
    let emergency = match plan.emergency_pattern(dial.region()) {
        Some(p) => Some(
            regex::Regex::new(&format!("(?-u)^(?:{p})$"))
                .map_err(|e| cx.err(raw.home_region.span(), format!("emergency pattern: {e}")))?,
        ),
        None => None,
    };
    for n in &raw.emergency_numbers {
        let v = n.get_ref();
        if v.is_empty() || v.len() > 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(cx.err(
                n.span(),
                format!("emergency_numbers: {v:?} is not a short number (1 to 8 digits)"),
            ));
        }
    }
    let utc_offset = match &raw.utc_offset {
        Some(s) => parse_offset(s.get_ref()).ok_or_else(|| {
            cx.err(
                s.span(),
                format!(
                    "utc_offset {:?} is not an offset like \"+05:00\" or \"-03:30\" (within ±14:00)",
                    s.get_ref()
                ),
            )
        })?,
        None => 0,
    };
    let mode = match raw.mode.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
        None | Some(("enforce", _)) => Mode::Enforce,
        Some(("observe", _)) => Mode::Observe,
        Some((other, span)) => {
            return Err(cx.err(
                span,
                format!(
                    "mode {other:?} is not \"enforce\" or \"observe\"{}",
                    did_you_mean(other, ["enforce", "observe"].into_iter())
                ),
            ))
        }
    };
    let (flag_threshold, block_threshold) = thresholds(&cx, raw.thresholds.as_ref())?;

    // The overlay: the operator's CSV, then the prefix lists' tags.
    let mut overlay = OverlayBuilder::default();
    if let Some(file) = &raw.overlay {
        let (path, csv) = cx.text_file(file.get_ref(), file.span(), &mut texts)?;
        overlay.add_csv(&csv, &path.display().to_string())?;
    }
    let mut scope = Scope {
        regions: plan.regions().collect(),
        ..Scope::default()
    };
    let mut prefix_lists = Vec::new();
    for (name, decl) in &raw.prefixes {
        check_name(&cx, name, "prefix list")?;
        let mut entries: Vec<(String, Range<usize>)> = decl
            .prefixes
            .iter()
            .map(|p| (p.get_ref().clone(), p.span()))
            .collect();
        if let Some(file) = &decl.file {
            let (path, body) = cx.text_file(file.get_ref(), file.span(), &mut texts)?;
            for (i, line) in body.lines().enumerate() {
                // Spaces and dashes inside a prefix are layout ("+371 90").
                let line: String = line
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '-')
                    .collect();
                if line.is_empty() {
                    continue;
                }
                // Errors in the prefix file point at the file's own line.
                if let Err(message) = crate::overlay::check_prefix(&line) {
                    return Err(Error::Parse {
                        source_name: path.display().to_string(),
                        line: i + 1,
                        column: 1,
                        message,
                    });
                }
                entries.push((line, file.span()));
            }
        }
        if entries.len() > MAX_PREFIXES {
            return Err(cx.err(name.span(), format!("more than {MAX_PREFIXES} prefixes")));
        }
        let mut tags: Vec<&str> = vec![name.get_ref().as_str()];
        tags.extend(decl.tags.iter().map(|t| t.get_ref().as_str()));
        let bit = overlay
            .declare_tag(name.get_ref())
            .map_err(|m| cx.err(name.span(), m))?;
        for (prefix, span) in &entries {
            overlay
                .add_tagged(prefix, &tags)
                .map_err(|m| cx.err(span.clone(), m))?;
        }
        scope.prefix_lists.insert(name.get_ref().clone(), bit);
        prefix_lists.push(PrefixListDecl {
            name: name.get_ref().clone(),
            tags: decl.tags.iter().map(|t| t.get_ref().clone()).collect(),
            description: decl.description.clone(),
            len: entries.len(),
        });
    }
    let overlay = overlay.build()?;
    for (i, tag) in overlay.tags().iter().enumerate() {
        scope.tags.insert(tag.clone(), 1u64 << i);
    }

    // The lists.
    if raw.lists.len() > MAX_LISTS {
        return Err(cx.err(0..0, format!("more than {MAX_LISTS} lists")));
    }
    let normalizer = |s: &str, ingress| crate::normalize::normalize(&plan, &dial, s, ingress);
    let mut lists = Vec::new();
    for (name, decl) in &raw.lists {
        check_name(&cx, name, "list")?;
        if scope.prefix_lists.contains_key(name.get_ref()) {
            return Err(cx.err(
                name.span(),
                format!("'{}' names both a list and a prefix list", name.get_ref()),
            ));
        }
        let kind = ListKind::parse(decl.kind.get_ref()).map_err(|_| {
            cx.err(
                decl.kind.span(),
                format!(
                    "kind {:?} is not one of block, dno, allow, partner{}",
                    decl.kind.get_ref(),
                    did_you_mean(
                        decl.kind.get_ref(),
                        ["block", "dno", "allow", "partner"].into_iter()
                    )
                ),
            )
        })?;
        let fpr = match &decl.fpr {
            Some(f) if !(crate::bloom::MIN_FPR..0.5).contains(f.get_ref()) => {
                return Err(cx.err(
                    f.span(),
                    format!(
                        "fpr = {:e} is not in [{:e}, 0.5)",
                        f.get_ref(),
                        crate::bloom::MIN_FPR
                    ),
                ))
            }
            Some(f) => *f.get_ref(),
            None => DEFAULT_FPR,
        };
        let embedded = match cx.files {
            Files::Embedded { lists, .. } => {
                Some(lists.get(name.get_ref()).cloned().ok_or_else(|| {
                    cx.err(
                        name.span(),
                        format!("the snapshot holds no list {:?}", name.get_ref()),
                    )
                })?)
            }
            Files::Disk(_) => None,
        };
        let (list, file) = match (&decl.file, embedded) {
            (_, Some(list)) => {
                if list.kind() != kind {
                    return Err(cx.err(decl.kind.span(), "the snapshot's list is of another kind"));
                }
                (list, None)
            }
            (None, None) => (
                Arc::new(NumberList::build(name.get_ref(), kind, Vec::new(), fpr, 0)?),
                None,
            ),
            (Some(file), None) => {
                let path = cx.path(file.get_ref());
                let stamp = FileStamp::of(&path)?;
                let bytes = crate::persist::read(&path)?;
                let list = if NumberList::is_list_file(&bytes) {
                    drop(bytes);
                    NumberList::load_as(&path, name.get_ref(), kind)?
                } else {
                    let (keys, _) =
                        parse_list(&normalizer, &bytes, &path.display().to_string(), true, None)?;
                    NumberList::build(name.get_ref(), kind, keys, fpr, 0)?
                };
                (Arc::new(list), Some(stamp))
            }
        };
        scope
            .lists
            .insert(name.get_ref().clone(), lists.len() as u16);
        lists.push(ListDecl {
            name: name.get_ref().clone(),
            kind,
            description: decl.description.clone(),
            file,
            initial: list,
        });
    }

    // The rules.
    if raw.rules.len() > MAX_RULES {
        return Err(cx.err(0..0, format!("more than {MAX_RULES} rules")));
    }
    let mut rules = Vec::with_capacity(raw.rules.len());
    let mut ids: HashMap<&str, Range<usize>> = HashMap::new();
    for r in &raw.rules {
        let id = r.id.get_ref();
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
        {
            return Err(cx.err(
                r.id.span(),
                format!("rule id {id:?}: 1 to 64 letters, digits, '_', '-', '.' or ':'"),
            ));
        }
        if id == EMERGENCY_REASON {
            return Err(cx.err(r.id.span(), format!("rule id {id:?} is reserved")));
        }
        if let Some(first) = ids.insert(id, r.id.span()) {
            let (line, _) = line_col(text, first.start);
            return Err(cx.err(
                r.id.span(),
                format!("duplicate rule id {id:?} (first on line {line})"),
            ));
        }
        let score = match &r.score {
            Some(s) if !(0.0..=1.0).contains(s.get_ref()) => {
                return Err(cx.err(s.span(), format!("score {} is not in [0, 1]", s.get_ref())))
            }
            Some(s) => *s.get_ref(),
            None => 0.0,
        };
        let action = match &r.action {
            None => None,
            Some(a) => Some(match a.get_ref().as_str() {
                "block" => Action::Block,
                "flag" => Action::Flag,
                "allow" => Action::Allow,
                other => {
                    return Err(cx.err(
                        a.span(),
                        format!(
                            "action {other:?} is not \"block\", \"flag\" or \"allow\"{}",
                            did_you_mean(other, ["block", "flag", "allow"].into_iter())
                        ),
                    ))
                }
            }),
        };
        if score == 0.0 && action.is_none() {
            return Err(cx.err(
                r.id.span(),
                format!("rule {id:?} has no effect: give it a score, an action, or both"),
            ));
        }
        let when = r.when.get_ref();
        let span = r.when.span();
        let parsed = expr::parse(when).map_err(|e| {
            let at = cx.inside(&span, e.offset);
            cx.err(at..at, format!("rule {id:?}: {}", e.message))
        })?;
        let program = compile(&parsed, &scope).map_err(|e| {
            let at = cx.inside(&span, e.offset);
            cx.err(at..at, format!("rule {id:?}: {}", e.message))
        })?;
        if !r.enabled {
            continue; // checked like any rule, then left out: a threshold set to "off"
        }
        rules.push(Rule {
            id: id.clone(),
            description: r.description.clone(),
            when: when.clone(),
            score,
            action,
            observe: r.observe,
            program,
        });
    }

    let mut velocity_keys = [false; 3];
    for r in &rules {
        for f in r.program.preds().iter().flat_map(|p| p.features()) {
            if let super::features::Feature::Velocity(kind, _) = f {
                velocity_keys[super::features::kind_index(kind)] = true;
            }
        }
    }
    let velocity = match (&raw.velocity, velocity_keys.contains(&true)) {
        (None, false) => None,
        (section, _) => Some(velocity_config(&cx, section.as_ref())?),
    };

    let mut policy = Policy {
        source_name: source_name.to_owned(),
        source_text: text.into(),
        texts,
        velocity,
        velocity_keys,
        home_region: dial.region().to_string(),
        international_prefixes: prefixes,
        emergency_numbers: raw
            .emergency_numbers
            .iter()
            .map(|n| n.get_ref().clone())
            .collect(),
        plan,
        dial,
        overlay,
        emergency,
        utc_offset,
        mode,
        flag_threshold,
        block_threshold,
        ranking: super::rank::Ranking::new(&rules),
        rules,
        lists,
        prefix_lists,
    };
    policy.ranking.variants = super::specialize::variants(&policy.ranking, &policy);
    Ok(policy)
}

fn velocity_config(cx: &Ctx<'_>, raw: Option<&RawVelocity>) -> Result<VelocityConfig> {
    let mut c = VelocityConfig {
        max_keys: DEFAULT_VELOCITY_KEYS,
        ..VelocityConfig::default()
    };
    let Some(raw) = raw else { return Ok(c) };
    let mut first = None;
    let mut note = |span: Range<usize>| {
        first.get_or_insert(span);
    };
    if let Some(v) = &raw.max_keys {
        c.max_keys = usize::try_from(*v.get_ref()).unwrap_or(usize::MAX);
        note(v.span());
    }
    if let Some(v) = &raw.window {
        c.window = *v.get_ref();
        note(v.span());
    }
    if let Some(v) = &raw.short_call {
        c.short_call = *v.get_ref();
        note(v.span());
    }
    if let Some(v) = &raw.sequential_gap {
        c.sequential_gap = *v.get_ref();
        note(v.span());
    }
    if let Some(v) = &raw.late_tolerance {
        c.late_tolerance = *v.get_ref();
        note(v.span());
    }
    if let Some(v) = &raw.shards {
        c.shards = usize::try_from(*v.get_ref()).unwrap_or(usize::MAX);
        note(v.span());
    }
    c.validate().map_err(|e| {
        // Point at the offending key.
        let field = match &e {
            Error::InvalidValue { field, .. } => field.trim_start_matches("velocity.").to_owned(),
            _ => String::new(),
        };
        let span = match field.as_str() {
            "max_keys" => raw.max_keys.as_ref().map(|v| v.span()),
            "window" => raw.window.as_ref().map(|v| v.span()),
            "short_call" => raw.short_call.as_ref().map(|v| v.span()),
            "sequential_gap" => raw.sequential_gap.as_ref().map(|v| v.span()),
            "late_tolerance" => raw.late_tolerance.as_ref().map(|v| v.span()),
            "shards" => raw.shards.as_ref().map(|v| v.span()),
            _ => None,
        };
        cx.err(span.or(first.clone()).unwrap_or(0..0), e.to_string())
    })?;
    Ok(c)
}

fn thresholds(cx: &Ctx<'_>, raw: Option<&RawThresholds>) -> Result<(f64, f64)> {
    let flag = raw.and_then(|t| t.flag.as_ref());
    let block = raw.and_then(|t| t.block.as_ref());
    let f = flag.map_or(0.5, |f| *f.get_ref());
    let b = block.map_or(0.9, |b| *b.get_ref());
    for (v, s, name) in [(f, flag, "flag"), (b, block, "block")] {
        if !(v > 0.0 && v <= 1.0) {
            return Err(cx.err(
                s.map_or(0..0, |s| s.span()),
                format!("thresholds.{name} = {v} is not in (0, 1]"),
            ));
        }
    }
    if f > b {
        return Err(cx.err(
            flag.map_or(0..0, |s| s.span()),
            format!("thresholds.flag = {f} is above thresholds.block = {b}"),
        ));
    }
    Ok((f, b))
}

fn check_name(cx: &Ctx<'_>, name: &Spanned<String>, what: &str) -> Result<()> {
    let n = name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let reserved = matches!(
        n.as_str(),
        "caller"
            | "callee"
            | "network_number"
            | "and"
            | "or"
            | "not"
            | "in"
            | "true"
            | "false"
            | "none"
    );
    if !ok || reserved {
        return Err(cx.err(
            name.span(),
            format!("{what} name {n:?}: a letter, then letters, digits or '_' (at most 64), not a keyword"),
        ));
    }
    Ok(())
}

fn read_text(cx: &Ctx<'_>, path: &Path, span: Range<usize>) -> Result<String> {
    let bytes = crate::persist::read(path)?;
    String::from_utf8(bytes)
        .map_err(|_| cx.err(span, format!("{} is not UTF-8 text", path.display())))
}

/// `"+05:00"`, `"-03:30"`, `"+5"`, `"Z"` → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" || s == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let digits = |t: &str| !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    let secs = h * 3600 + m * 60;
    (m < 60 && secs <= 14 * 3600).then_some(sign * secs)
}

/// The text of `Policy::summary`.
pub(super) fn summary(p: &Policy) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let offset = p.utc_offset;
    let _ = writeln!(s, "policy {}", p.source_name);
    let _ = writeln!(
        s,
        "  home {} (international prefixes: {}; extra emergency numbers: {}; UTC{}{:02}:{:02})",
        p.home_region,
        if p.international_prefixes.is_empty() {
            "plan's own".to_string()
        } else {
            p.international_prefixes.join(", ")
        },
        if p.emergency_numbers.is_empty() {
            "none".to_string()
        } else {
            p.emergency_numbers.join(", ")
        },
        if offset < 0 { '-' } else { '+' },
        offset.abs() / 3600,
        offset.abs() % 3600 / 60
    );
    let _ = writeln!(
        s,
        "  mode {}; flag at {}, block at {}; overlay: {} prefixes",
        p.mode.as_str(),
        p.flag_threshold,
        p.block_threshold,
        p.overlay.len()
    );
    for l in &p.lists {
        let _ = writeln!(
            s,
            "  list {} ({}): {} numbers{}",
            l.name,
            l.kind.as_str(),
            l.initial.len(),
            l.file
                .as_ref()
                .map_or(String::new(), |f| format!(" from {}", f.path.display()))
        );
    }
    for pl in &p.prefix_lists {
        let _ = writeln!(s, "  prefix list {}: {} prefixes", pl.name, pl.len);
    }
    let _ = writeln!(s, "  {} rules:", p.rules.len());
    for r in &p.rules {
        let effect = match (r.action, r.score) {
            (Some(a), s) if s > 0.0 => format!("{} +{s}", a.as_str()),
            (Some(a), _) => a.as_str().to_string(),
            (None, s) => format!("+{s}"),
        };
        let _ = writeln!(
            s,
            "    {:<32} {:<12}{} when {}",
            r.id,
            effect,
            if r.observe { " (observe)" } else { "" },
            r.when
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+05:00"), Some(18000));
        assert_eq!(parse_offset("-03:30"), Some(-12600));
        assert_eq!(parse_offset("+5"), Some(18000));
        assert_eq!(parse_offset("Z"), Some(0));
        for bad in ["05:00", "+15:00", "+05:60", "+", "+5:5:5", "+123"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
