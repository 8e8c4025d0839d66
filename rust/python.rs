//! The only module that knows Python: type conversion, error mapping, GIL handling.
//!
//! Every core error becomes one `fraudcore.FraudcoreError` subclass here ([`to_py_err`]); call
//! fields are converted once, borrowing Python strings where the ABI allows.

use crate::call::{Attestation, Call};
use crate::engine::{Engine as CoreEngine, EngineConfig};
use crate::listload::{parse_list, LoadReport};
use crate::metadata::PlanSource;
use crate::normalize::{Ingress, Invalid};
use crate::numberlist::{ListKind, Membership, NumberList};
use crate::numplan::NumberingPlan as CorePlan;
use crate::overlay::Overlay;
use crate::verdict::{NumberInfo as CoreInfo, Verdict as CoreVerdict};
use crate::Error;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple, PyType};
use pyo3::{intern, IntoPyObjectExt};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

/// Longest slice of a bad value quoted back in an error message.
const QUOTE_MAX: usize = 40;

fn error_type<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("fraudcore._errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

fn raise<'py>(py: Python<'py>, class: &str, args: impl pyo3::call::PyCallArgs<'py>) -> PyErr {
    match error_type(py, class).and_then(|t| t.call1(args)) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// Maps a core error to its Python exception. The one place this happens.
pub(crate) fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::InvalidValue { .. } => raise(py, "InvalidValueError", (message,)),
        Error::Parse { .. } => raise(py, "ParseError", (message,)),
        Error::Corrupt { .. } => raise(py, "CorruptFileError", (message,)),
        Error::Io { path, source } => {
            let errno = source.raw_os_error().unwrap_or(0);
            raise(
                py,
                "FileError",
                (errno, message, path.display().to_string()),
            )
        }
    }
}

fn type_error(py: Python<'_>, field: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let got = got
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    raise(
        py,
        "InvalidTypeError",
        (format!("{field}: expected {expected}, got {got}"),),
    )
}

fn value_error(py: Python<'_>, field: &str, message: String) -> PyErr {
    to_py_err(py, Error::invalid(field, message))
}

/// Python's `repr` of an optional string.
fn py_repr(s: Option<&str>) -> String {
    match s {
        None => "None".into(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

fn quote(s: &str) -> String {
    let cut: String = s.chars().take(QUOTE_MAX).collect();
    if cut.len() < s.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// A free-text field: `str`, `bytes` (UTF-8, lossy), a non-negative `int` (a number stored
/// as an integer), or `None`/missing (empty). Undecodable strings (lone surrogates) become
/// U+FFFD, which the normaliser rejects.
fn text<'a>(
    py: Python<'_>,
    field: &str,
    v: Option<&'a Bound<'_, PyAny>>,
) -> PyResult<Cow<'a, str>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Cow::Borrowed(""));
    };
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_cow().unwrap_or(Cow::Borrowed("\u{FFFD}")));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Cow::Owned(
            String::from_utf8_lossy(b.as_bytes()).into_owned(),
        ));
    }
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        if let Ok(n) = v.extract::<u64>() {
            return Ok(Cow::Owned(n.to_string()));
        }
    }
    Err(type_error(
        py,
        field,
        "str, bytes, a non-negative int or None",
        v,
    ))
}

fn ingress(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Ingress> {
    let Some(v) = v else {
        return Err(value_error(
            py,
            "ingress",
            "missing; expected 'international', 'national' or 'onnet'".into(),
        ));
    };
    let s = v
        .cast::<PyString>()
        .map_err(|_| type_error(py, "ingress", "str", v))?;
    ingress_arg(py, &s.to_cow().unwrap_or(Cow::Borrowed("")))
}

fn ingress_arg(py: Python<'_>, s: &str) -> PyResult<Ingress> {
    Ingress::parse(s).ok_or_else(|| {
        value_error(
            py,
            "ingress",
            format!("{} is not 'international', 'national' or 'onnet'", quote(s)),
        )
    })
}

fn roaming(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<bool>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Some(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        return match v.extract::<i64>() {
            Ok(0) => Ok(Some(false)),
            Ok(1) => Ok(Some(true)),
            _ => Err(value_error(py, "roaming", "an int must be 0 or 1".into())),
        };
    }
    let s = v
        .cast::<PyString>()
        .map_err(|_| type_error(py, "roaming", "bool, 0/1, str or None", v))?;
    let s = s.to_cow().unwrap_or(Cow::Borrowed("?"));
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" => Ok(Some(true)),
        "false" | "0" | "no" | "n" | "f" => Ok(Some(false)),
        "" | "unknown" | "none" | "null" => Ok(None),
        _ => Err(value_error(
            py,
            "roaming",
            format!("{} is not true/false/1/0/yes/no/unknown", quote(&s)),
        )),
    }
}

fn attestation(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Attestation>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let s = v
        .cast::<PyString>()
        .map_err(|_| type_error(py, "attestation", "'A', 'B', 'C' or None", v))?;
    let s = s.to_cow().unwrap_or(Cow::Borrowed("?"));
    if s.trim().is_empty() {
        return Ok(None);
    }
    Attestation::parse(&s).map(Some).ok_or_else(|| {
        value_error(
            py,
            "attestation",
            format!("{} is not 'A', 'B', 'C' or empty", quote(&s)),
        )
    })
}

/// Seconds: `int`, `float`, a numeric `str` or `None`/empty; finite, and `>= 0` for durations.
fn seconds(
    py: Python<'_>,
    field: &str,
    v: Option<&Bound<'_, PyAny>>,
    non_negative: bool,
) -> PyResult<Option<f64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let x = if v.is_instance_of::<PyBool>() {
        return Err(type_error(py, field, "a number of seconds", v));
    } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
        v.extract::<f64>()
            .map_err(|_| value_error(py, field, "out of range".into()))?
    } else if let Ok(s) = v.cast::<PyString>() {
        let s = s.to_cow().unwrap_or(Cow::Borrowed("?"));
        if s.trim().is_empty() {
            return Ok(None);
        }
        s.trim()
            .parse::<f64>()
            .map_err(|_| value_error(py, field, format!("{} is not a number", quote(&s))))?
    } else {
        return Err(type_error(py, field, "int, float, numeric str or None", v));
    };
    if !x.is_finite() || (non_negative && x < 0.0) {
        return Err(value_error(
            py,
            field,
            format!("{x} is not a valid number of seconds"),
        ));
    }
    Ok(Some(x))
}

/// A call read from a dict or Mapping, borrowing its strings.
fn field<'py>(
    py: Python<'py>,
    dict: Option<&Bound<'py, PyDict>>,
    obj: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match dict {
        Some(d) => d.get_item(key),
        None => match obj.get_item(key) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_instance_of::<PyKeyError>(py) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

fn score_mapping<'py>(
    py: Python<'py>,
    engine: &CoreEngine,
    obj: &Bound<'py, PyAny>,
) -> PyResult<CoreVerdict> {
    let dict = obj.cast::<PyDict>().ok();
    let get = |key: &Bound<'py, PyString>| field(py, dict, obj, key);
    let caller = get(intern!(py, "caller"))?;
    let callee = get(intern!(py, "callee"))?;
    let ingress_v = get(intern!(py, "ingress"))?;
    let roaming_v = get(intern!(py, "roaming"))?;
    let attestation_v = get(intern!(py, "attestation"))?;
    let timestamp_v = get(intern!(py, "timestamp"))?;
    let duration_v = get(intern!(py, "duration"))?;
    let trunk = get(intern!(py, "trunk"))?;
    let network = get(intern!(py, "network_number"))?;
    let caller = text(py, "caller", caller.as_ref())?;
    let callee = text(py, "callee", callee.as_ref())?;
    let trunk = text(py, "trunk", trunk.as_ref())?;
    let network = text(py, "network_number", network.as_ref())?;
    let call = Call {
        timestamp: seconds(py, "timestamp", timestamp_v.as_ref(), false)?,
        caller: &caller,
        callee: &callee,
        ingress: ingress(py, ingress_v.as_ref())?,
        roaming: roaming(py, roaming_v.as_ref())?,
        attestation: attestation(py, attestation_v.as_ref())?,
        duration: seconds(py, "duration", duration_v.as_ref(), true)?,
        trunk: &trunk,
        network_number: (!network.is_empty()).then_some(&*network),
    };
    Ok(engine.score(&call))
}

/// One call, validated at construction (`fraudcore.Call`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "Call")]
struct PyCall {
    timestamp: Option<f64>,
    caller: String,
    callee: String,
    ingress: Ingress,
    roaming: Option<bool>,
    attestation: Option<Attestation>,
    duration: Option<f64>,
    trunk: String,
    network_number: Option<String>,
}

impl PyCall {
    fn as_call(&self) -> Call<'_> {
        Call {
            timestamp: self.timestamp,
            caller: &self.caller,
            callee: &self.callee,
            ingress: self.ingress,
            roaming: self.roaming,
            attestation: self.attestation,
            duration: self.duration,
            trunk: &self.trunk,
            network_number: self.network_number.as_deref(),
        }
    }
}

#[pymethods]
impl PyCall {
    #[new]
    #[pyo3(signature = (caller, callee, ingress, *, timestamp=None, roaming=None, attestation=None, duration=None, trunk=None, network_number=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        caller: &Bound<'_, PyAny>,
        callee: &Bound<'_, PyAny>,
        ingress: &Bound<'_, PyAny>,
        timestamp: Option<&Bound<'_, PyAny>>,
        roaming: Option<&Bound<'_, PyAny>>,
        attestation: Option<&Bound<'_, PyAny>>,
        duration: Option<&Bound<'_, PyAny>>,
        trunk: Option<&Bound<'_, PyAny>>,
        network_number: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let network = text(py, "network_number", network_number)?.into_owned();
        Ok(PyCall {
            timestamp: seconds(py, "timestamp", timestamp, false)?,
            caller: text(py, "caller", Some(caller))?.into_owned(),
            callee: text(py, "callee", Some(callee))?.into_owned(),
            ingress: self::ingress(py, Some(ingress))?,
            roaming: self::roaming(py, roaming)?,
            attestation: self::attestation(py, attestation)?,
            duration: seconds(py, "duration", duration, true)?,
            trunk: text(py, "trunk", trunk)?.into_owned(),
            network_number: (!network.is_empty()).then_some(network),
        })
    }

    /// Unix seconds, or None.
    #[getter]
    fn timestamp(&self) -> Option<f64> {
        self.timestamp
    }
    /// The presented CLI, raw.
    #[getter]
    fn caller(&self) -> &str {
        &self.caller
    }
    /// The dialled number, raw.
    #[getter]
    fn callee(&self) -> &str {
        &self.callee
    }
    /// `"international"`, `"national"` or `"onnet"`.
    #[getter]
    fn ingress(&self) -> &'static str {
        self.ingress.as_str()
    }
    /// True, False or None (unknown).
    #[getter]
    fn roaming(&self) -> Option<bool> {
        self.roaming
    }
    /// `"A"`, `"B"`, `"C"` or None.
    #[getter]
    fn attestation(&self) -> Option<&'static str> {
        self.attestation.map(Attestation::as_str)
    }
    /// Seconds, or None before the call ends.
    #[getter]
    fn duration(&self) -> Option<f64> {
        self.duration
    }
    /// Trunk, free text.
    #[getter]
    fn trunk(&self) -> &str {
        &self.trunk
    }
    /// The network-asserted identity, or None.
    #[getter]
    fn network_number(&self) -> Option<&str> {
        self.network_number.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "Call(caller={:?}, callee={:?}, ingress={:?}, roaming={:?}, attestation={:?})",
            self.caller,
            self.callee,
            self.ingress.as_str(),
            self.roaming,
            self.attestation.map(Attestation::as_str)
        )
    }
}

/// A normalised and classified number (`fraudcore.NumberInfo`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "NumberInfo")]
struct PyNumberInfo {
    info: CoreInfo,
    engine: Arc<CoreEngine>,
}

#[pymethods]
impl PyNumberInfo {
    /// E.164 form (`"+77011234567"`), or None if the input was not a number.
    #[getter]
    fn e164(&self) -> Option<String> {
        self.info.as_ref().ok().map(|c| c.number.to_e164())
    }
    /// ISO region (`"KZ"`, `"001"` for non-geographic), or None.
    #[getter]
    fn region(&self) -> Option<&str> {
        self.info
            .as_ref()
            .ok()
            .and_then(|c| c.region.as_ref())
            .map(|r| r.as_str())
    }
    /// Whether the number plan (and overlay) call the number valid.
    #[getter]
    fn valid(&self) -> bool {
        self.info.as_ref().is_ok_and(|c| c.valid)
    }
    /// phonenumbers' type name in lower case (`"mobile"`, ..., `"unknown"`).
    #[getter]
    fn r#type(&self) -> &'static str {
        self.info
            .as_ref()
            .map_or("unknown", |c| c.number_type.as_str())
    }
    /// Carrier the range was allocated to, for mobile and pager numbers; else None.
    #[getter]
    fn carrier(&self) -> Option<&str> {
        self.info.as_ref().ok().and_then(|c| self.engine.names(c).0)
    }
    /// Area of a valid geographic number, where known; else None.
    #[getter]
    fn location(&self) -> Option<&str> {
        self.info.as_ref().ok().and_then(|c| self.engine.names(c).1)
    }
    /// Overlay tags of the number's ranges.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let bits = self.info.as_ref().map_or(0, |c| c.tags);
        PyTuple::new(
            py,
            self.engine.overlay().tag_names(bits).collect::<Vec<_>>(),
        )
    }
    /// Why the input is not a number (`"bad_character"`, `"too_long"`, ...), or None.
    #[getter]
    fn invalid_reason(&self) -> Option<&'static str> {
        self.info.as_ref().err().map(|i| i.as_str())
    }

    fn __repr__(&self) -> String {
        match &self.info {
            Ok(c) => format!(
                "NumberInfo(e164={}, region={}, valid={}, type={}, carrier={}, location={})",
                py_repr(Some(&c.number.to_e164())),
                py_repr(self.region()),
                if c.valid { "True" } else { "False" },
                py_repr(Some(c.number_type.as_str())),
                py_repr(self.carrier()),
                py_repr(self.location())
            ),
            Err(i) => format!(
                "NumberInfo(e164=None, valid=False, invalid_reason={})",
                py_repr(Some(i.as_str()))
            ),
        }
    }
}

/// The decision for one call (`fraudcore.Verdict`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "Verdict")]
struct PyVerdict {
    inner: CoreVerdict,
    engine: Arc<CoreEngine>,
}

impl PyVerdict {
    fn info(&self, info: &CoreInfo) -> PyNumberInfo {
        PyNumberInfo {
            info: *info,
            engine: self.engine.clone(),
        }
    }
}

#[pymethods]
impl PyVerdict {
    /// `"allow"`, `"flag"` or `"block"`.
    #[getter]
    fn action(&self) -> &'static str {
        self.inner.action.as_str()
    }
    /// Combined score in [0, 1].
    #[getter]
    fn score(&self) -> f64 {
        self.inner.score
    }
    /// Reason identifiers, most important first.
    #[getter]
    fn reasons<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.reason_ids().collect::<Vec<_>>())
    }
    /// The caller, normalised and classified.
    #[getter]
    fn caller(&self) -> PyNumberInfo {
        self.info(&self.inner.caller)
    }
    /// The callee, normalised and classified.
    #[getter]
    fn callee(&self) -> PyNumberInfo {
        self.info(&self.inner.callee)
    }
    /// The network-asserted number, or None when the call had none.
    #[getter]
    fn network_number(&self) -> Option<PyNumberInfo> {
        self.inner.network_number.as_ref().map(|i| self.info(i))
    }

    fn __repr__(&self) -> String {
        let reasons: Vec<String> = self.inner.reason_ids().map(|r| py_repr(Some(r))).collect();
        let comma = if reasons.len() == 1 { "," } else { "" };
        format!(
            "Verdict(action={}, score={:.3}, reasons=({}{comma}))",
            py_repr(Some(self.inner.action.as_str())),
            self.inner.score,
            reasons.join(", ")
        )
    }
}

/// The compiled numbering plan (`fraudcore.NumberingPlan`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "NumberingPlan")]
struct PyPlan {
    inner: Arc<CorePlan>,
}

#[pymethods]
impl PyPlan {
    /// Compiles a plan from the JSON that `fraudcore._plan.extract_source()` produces.
    #[staticmethod]
    fn compile(py: Python<'_>, source_json: &str) -> PyResult<Self> {
        let result =
            py.detach(|| PlanSource::from_json(source_json).and_then(|s| CorePlan::compile(&s)));
        result
            .map(|p| PyPlan { inner: Arc::new(p) })
            .map_err(|e| to_py_err(py, e))
    }

    /// Loads a plan file written by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let result = py.detach(|| CorePlan::load(&path));
        result
            .map(|p| PyPlan { inner: Arc::new(p) })
            .map_err(|e| to_py_err(py, e))
    }

    /// Writes the plan atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path))
            .map_err(|e| to_py_err(py, e))
    }

    /// Where the data came from, e.g. `"phonenumbers 9.0.43"`.
    #[getter]
    fn source(&self) -> &str {
        self.inner.source()
    }

    /// Sizes: country codes, carrier/area prefixes, trie nodes and trie bytes.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (prefixes, nodes, bytes) = self.inner.range_stats();
        let d = PyDict::new(py);
        d.set_item("country_codes", self.inner.country_codes().count())?;
        d.set_item("range_prefixes", prefixes)?;
        d.set_item("range_nodes", nodes)?;
        d.set_item("range_bytes", bytes)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("NumberingPlan(source={:?})", self.inner.source())
    }
}

fn load_default_plan(py: Python<'_>) -> PyResult<Arc<CorePlan>> {
    let plan = py.import("fraudcore._plan")?.call_method0("load_plan")?;
    Ok(plan.cast::<PyPlan>()?.get().inner.clone())
}

fn read_overlay(path: &std::path::Path) -> crate::Result<Overlay> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Overlay::parse(&text, &path.display().to_string())
}

/// Scores calls (`fraudcore.Engine`). Immutable and thread-safe.
#[pyclass(frozen, subclass, module = "fraudcore._fraudcore", name = "Engine")]
struct PyEngine {
    inner: Arc<CoreEngine>,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (home_region="KZ", *, international_prefixes=Vec::new(), emergency_numbers=Vec::new(), overlay=None, flag_threshold=0.5, block_threshold=0.9, plan=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        home_region: &str,
        international_prefixes: Vec<String>,
        emergency_numbers: Vec<String>,
        overlay: Option<PathBuf>,
        flag_threshold: f64,
        block_threshold: f64,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<Self> {
        let plan = match plan {
            Some(p) => p.get().inner.clone(),
            None => load_default_plan(py)?,
        };
        let config = EngineConfig {
            home_region: home_region.to_owned(),
            international_prefixes,
            emergency_numbers,
            flag_threshold,
            block_threshold,
        };
        let overlay = match overlay {
            Some(path) => read_overlay(&path).map_err(|e| to_py_err(py, e))?,
            None => Overlay::empty(),
        };
        let engine =
            CoreEngine::with_overlay(plan, config, overlay).map_err(|e| to_py_err(py, e))?;
        Ok(PyEngine {
            inner: Arc::new(engine),
        })
    }

    /// Scores one call: a dict or Mapping with the call fields, or a `fraudcore.Call`.
    fn score(&self, py: Python<'_>, call: &Bound<'_, PyAny>) -> PyResult<PyVerdict> {
        let inner = if let Ok(c) = call.cast::<PyCall>() {
            self.inner.score(&c.get().as_call())
        } else if call.is_instance_of::<PyDict>() || call.hasattr(intern!(py, "keys"))? {
            score_mapping(py, &self.inner, call)?
        } else {
            return Err(type_error(
                py,
                "call",
                "a dict, a Mapping or fraudcore.Call",
                call,
            ));
        };
        Ok(PyVerdict {
            inner,
            engine: self.inner.clone(),
        })
    }

    /// E.164 form of a raw number read on `ingress`, or None if it is not a number.
    #[pyo3(signature = (raw, ingress="national"))]
    fn normalize(
        &self,
        py: Python<'_>,
        raw: &Bound<'_, PyAny>,
        ingress: &str,
    ) -> PyResult<Option<String>> {
        let raw = text(py, "raw", Some(raw))?;
        let ingress = ingress_arg(py, ingress)?;
        Ok(self
            .inner
            .normalize(&raw, ingress)
            .ok()
            .map(|n| n.to_e164()))
    }

    /// Classifies a number in international form (`+` and country code first).
    fn classify(&self, py: Python<'_>, number: &Bound<'_, PyAny>) -> PyResult<PyNumberInfo> {
        let raw = text(py, "number", Some(number))?;
        let info = self.inner.lookup(&raw, Ingress::International);
        Ok(PyNumberInfo {
            info,
            engine: self.inner.clone(),
        })
    }

    /// Normalises a raw number read on `ingress` and classifies it.
    #[pyo3(signature = (raw, ingress="national"))]
    fn lookup(
        &self,
        py: Python<'_>,
        raw: &Bound<'_, PyAny>,
        ingress: &str,
    ) -> PyResult<PyNumberInfo> {
        let raw = text(py, "raw", Some(raw))?;
        let ingress = ingress_arg(py, ingress)?;
        Ok(PyNumberInfo {
            info: self.inner.lookup(&raw, ingress),
            engine: self.inner.clone(),
        })
    }

    /// Whether a dialled number is a home emergency number.
    fn is_emergency(&self, py: Python<'_>, callee: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.is_emergency(&text(py, "callee", Some(callee))?))
    }

    /// Adds a list, or atomically replaces the list of the same name.
    fn set_list(&self, list: &Bound<'_, PyNumberList>) {
        self.inner.set_list(list.get().inner.clone());
    }

    /// Removes a list by name; returns whether one was there.
    fn remove_list(&self, name: &str) -> bool {
        self.inner.remove_list(name)
    }

    /// The lists in use.
    #[getter]
    fn lists(&self) -> Vec<PyNumberList> {
        self.inner
            .lists()
            .iter()
            .map(|l| PyNumberList {
                inner: l.clone(),
                report: None,
            })
            .collect()
    }

    /// The home region's ISO code.
    #[getter]
    fn home_region(&self) -> String {
        self.inner.dial_plan().region().to_string()
    }

    /// The numbering plan in use.
    #[getter]
    fn plan(&self) -> PyPlan {
        PyPlan {
            inner: self.inner.plan_arc(),
        }
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "Engine(home_region={:?}, international_prefixes={:?}, overlay_prefixes={}, plan={:?})",
            c.home_region,
            c.international_prefixes,
            self.inner.overlay().len(),
            self.inner.plan().source()
        )
    }
}

/// An E.164 key for list operations: an `int` (the digits) or a `str` (`+` optional,
/// separators allowed). `None` if it is no E.164 number.
fn list_key(v: &Bound<'_, PyAny>) -> Option<u64> {
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        return v
            .extract::<u64>()
            .ok()
            .filter(|&n| n > 0 && n < 10_000_000_000_000_000_000);
    }
    let s = v.cast::<PyString>().ok()?.to_cow().ok()?;
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut n: u64 = 0;
    let mut digits = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                if digits == 0 && b == b'0' {
                    return None;
                }
                n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    (1..=19).contains(&digits).then_some(n)
}

fn required_key(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<u64> {
    list_key(v).ok_or_else(|| {
        let shown = v.repr().map(|r| r.to_string()).unwrap_or_default();
        value_error(
            py,
            "number",
            format!(
                "{} is not an E.164 number (int or '+CC…' str)",
                quote(&shown)
            ),
        )
    })
}

fn report_dict<'py>(py: Python<'py>, r: &LoadReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("lines", r.lines)?;
    d.set_item("numbers", r.numbers)?;
    d.set_item("bad", r.bad)?;
    let bad: Vec<(u64, &str, &str)> = r
        .first_bad
        .iter()
        .map(|b| (b.line, b.text.as_str(), b.reason))
        .collect();
    d.set_item("first_bad", bad)?;
    Ok(d)
}

/// A number list (`fraudcore.NumberList`): a read-only set with live updates.
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "NumberList")]
struct PyNumberList {
    inner: Arc<NumberList>,
    report: Option<LoadReport>,
}

fn wrap_list(list: NumberList) -> PyNumberList {
    PyNumberList {
        inner: Arc::new(list),
        report: None,
    }
}

#[pymethods]
impl PyNumberList {
    /// Reads a text file (one number per line, any format the engine's normaliser reads).
    #[staticmethod]
    #[pyo3(signature = (engine, path, *, name=None, kind="block", fpr=1e-4, seed=0, strict=false, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_file(
        py: Python<'_>,
        engine: &Bound<'_, PyEngine>,
        path: PathBuf,
        name: Option<String>,
        kind: &str,
        fpr: f64,
        seed: u64,
        strict: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let engine = engine.get().inner.clone();
        // `progress(done_bytes, total_bytes)` is called from the parsing threads, each taking
        // the GIL briefly; its first exception is raised once loading is over.
        let failed: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
        let kind = ListKind::parse(kind).map_err(|e| to_py_err(py, e))?;
        let name = name.unwrap_or_else(|| {
            path.file_stem()
                .map_or("list".into(), |s| s.to_string_lossy().into_owned())
        });
        let result = py.detach(|| -> crate::Result<(NumberList, LoadReport)> {
            let text = crate::persist::read(&path)?;
            let total = text.len() as u64;
            let report_to_python = |done: u64| {
                if let Some(cb) = &progress {
                    Python::attach(|py| {
                        if let Err(e) = cb.call1(py, (done.min(total), total)) {
                            failed
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                        }
                    });
                }
            };
            let (keys, report) = parse_list(
                &engine,
                &text,
                &path.display().to_string(),
                strict,
                Some(&report_to_python),
            )?;
            Ok((NumberList::build(&name, kind, keys, fpr, seed)?, report))
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let (list, report) = result.map_err(|e| to_py_err(py, e))?;
        Ok(PyNumberList {
            inner: Arc::new(list),
            report: Some(report),
        })
    }

    /// Builds a list from an iterable of E.164 numbers (`int` or `'+CC…'` strings).
    #[staticmethod]
    #[pyo3(signature = (numbers, *, name, kind="block", fpr=1e-4, seed=0))]
    fn from_numbers(
        py: Python<'_>,
        numbers: &Bound<'_, PyAny>,
        name: &str,
        kind: &str,
        fpr: f64,
        seed: u64,
    ) -> PyResult<Self> {
        let kind = ListKind::parse(kind).map_err(|e| to_py_err(py, e))?;
        let mut keys = Vec::new();
        for item in numbers.try_iter()? {
            keys.push(required_key(py, &item?)?);
        }
        let list = py
            .detach(|| NumberList::build(name, kind, keys, fpr, seed))
            .map_err(|e| to_py_err(py, e))?;
        Ok(wrap_list(list))
    }

    /// Opens a list file through a memory map (no copy).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| NumberList::load(&path))
            .map(wrap_list)
            .map_err(|e| to_py_err(py, e))
    }

    /// Saves the list (base and delta) atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path))
            .map_err(|e| to_py_err(py, e))
    }

    /// A bloom-only copy for partners; filters with equal capacity, fpr and seed merge.
    #[pyo3(signature = (*, capacity, fpr=1e-4, seed=0, name=None, kind=None))]
    fn to_filter(
        &self,
        py: Python<'_>,
        capacity: u64,
        fpr: f64,
        seed: u64,
        name: Option<String>,
        kind: Option<&str>,
    ) -> PyResult<Self> {
        let name = name.unwrap_or_else(|| self.inner.name().to_owned());
        let kind = kind
            .map_or(Ok(self.inner.kind()), ListKind::parse)
            .map_err(|e| to_py_err(py, e))?;
        py.detach(|| self.inner.to_filter(&name, kind, capacity, fpr, seed))
            .map(wrap_list)
            .map_err(|e| to_py_err(py, e))
    }

    /// Bitwise OR with another filter of identical parameters.
    #[pyo3(signature = (other, *, name=None))]
    fn merge(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyNumberList>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let name = name.unwrap_or_else(|| self.inner.name().to_owned());
        let other = other.get().inner.clone();
        py.detach(|| self.inner.merge(&other, &name))
            .map(wrap_list)
            .map_err(|e| to_py_err(py, e))
    }

    /// Adds a number; returns whether the list changed.
    fn add(&self, py: Python<'_>, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = required_key(py, number)?;
        self.inner.add(key).map_err(|e| to_py_err(py, e))
    }

    /// Removes a number; returns whether the list changed.
    fn remove(&self, py: Python<'_>, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = required_key(py, number)?;
        self.inner.remove(key).map_err(|e| to_py_err(py, e))
    }

    /// Folds the delta into the compact base.
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.compact())
            .map_err(|e| to_py_err(py, e))
    }

    /// `"present"`, `"probable"` (bloom-only hit) or `"absent"`.
    fn lookup(&self, number: &Bound<'_, PyAny>) -> &'static str {
        match list_key(number).map(|k| self.inner.contains(k)) {
            Some(Membership::Present) => "present",
            Some(Membership::Probable) => "probable",
            _ => "absent",
        }
    }

    fn __contains__(&self, number: &Bound<'_, PyAny>) -> bool {
        list_key(number).is_some_and(|k| self.inner.contains(k) != Membership::Absent)
    }

    fn __len__(&self) -> usize {
        self.inner.len() as usize
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let numbers = self
            .inner
            .numbers()
            .map_err(|e| raise(py, "InvalidTypeError", (e.to_string(),)))?;
        let strings: Vec<String> = numbers.iter().map(|n| format!("+{n}")).collect();
        pyo3::types::PyList::new(py, strings)?
            .try_iter()
            .map(|i| i.into_any())
    }

    /// The list's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }
    /// `"block"`, `"dno"`, `"allow"` or `"partner"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind().as_str()
    }
    /// True if the list holds its numbers exactly; False for a bloom-only filter.
    #[getter]
    fn exact(&self) -> bool {
        self.inner.is_exact()
    }
    /// The false-positive rate the bloom filter was sized for.
    #[getter]
    fn fpr(&self) -> f64 {
        self.inner.fpr()
    }
    /// Bytes of the compact base.
    #[getter]
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }
    /// Numbers added or removed since the last compaction.
    #[getter]
    fn delta_len(&self) -> usize {
        self.inner.delta_len()
    }
    /// Bloom parameters: `blocks`, `k`, `seed`, `bytes`.
    #[getter]
    fn bloom<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.bloom_params();
        let d = PyDict::new(py);
        d.set_item("blocks", p.blocks)?;
        d.set_item("k", p.k)?;
        d.set_item("seed", p.seed)?;
        d.set_item("bytes", p.size_bytes())?;
        Ok(d)
    }
    /// What reading the text file found (`lines`, `numbers`, `bad`, `first_bad`), or None.
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.report.as_ref().map(|r| report_dict(py, r)).transpose()
    }

    fn __repr__(&self) -> String {
        format!(
            "NumberList(name={}, kind={}, exact={}, len={})",
            py_repr(Some(self.inner.name())),
            py_repr(Some(self.inner.kind().as_str())),
            if self.inner.is_exact() {
                "True"
            } else {
                "False"
            },
            self.inner.len()
        )
    }
}

/// Values that identify an invalid number, for `fraudcore.INVALID_REASONS`.
const INVALID_REASONS: [Invalid; 6] = [
    Invalid::Empty,
    Invalid::Withheld,
    Invalid::BadCharacter,
    Invalid::TooShort,
    Invalid::TooLong,
    Invalid::UnknownCountryCode,
];

#[pymodule(gil_used = false)]
fn _fraudcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PLAN_FORMAT_VERSION", crate::numplan::PLAN_VERSION)?;
    m.add_class::<PyCall>()?;
    m.add_class::<PyNumberInfo>()?;
    m.add_class::<PyVerdict>()?;
    m.add_class::<PyPlan>()?;
    m.add_class::<PyEngine>()?;
    m.add_class::<PyNumberList>()?;
    let reasons: Vec<&str> = INVALID_REASONS.iter().map(|i| i.as_str()).collect();
    m.add(
        "INVALID_REASONS",
        PyTuple::new(m.py(), reasons)?.into_py_any(m.py())?,
    )?;
    Ok(())
}
