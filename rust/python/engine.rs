//! `fraudcore.Engine`: configuration, scoring and number lookups.

use super::*;

fn is_snapshot_file(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| crate::snapshot::is_snapshot(&head))
}

/// Scores calls (`fraudcore.Engine`) with a policy and its lists. Thread-safe.
#[pyclass(frozen, subclass, module = "fraudcore._fraudcore", name = "Engine")]
pub(super) struct PyEngine {
    pub(super) inner: Arc<CoreEngine>,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (policy=None, *, plan=None))]
    fn new(
        py: Python<'_>,
        policy: Option<&Bound<'_, PyAny>>,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<Self> {
        if let Some(path) = policy.and_then(|p| p.extract::<PathBuf>().ok()) {
            if is_snapshot_file(&path) {
                let plan = match plan {
                    Some(p) => p.get().inner.clone(),
                    None => load_default_plan(py)?,
                };
                let engine = py
                    .detach(|| crate::snapshot::load(&path, plan))
                    .map_err(|e| to_py_err(py, e))?;
                return Ok(PyEngine {
                    inner: Arc::new(engine),
                });
            }
        }
        let engine =
            CoreEngine::new(policy_arg(py, policy, plan)?).map_err(|e| to_py_err(py, e))?;
        Ok(PyEngine {
            inner: Arc::new(engine),
        })
    }

    /// Swaps in another policy (a `Policy` or a path) atomically; calls being scored finish
    /// with the old one. Lists whose declaration and file did not change keep their contents.
    #[pyo3(signature = (policy, *, plan=None))]
    fn reload(
        &self,
        py: Python<'_>,
        policy: &Bound<'_, PyAny>,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<()> {
        let policy = policy_arg(py, Some(policy), plan)?;
        py.detach(|| self.inner.reload(policy))
            .map_err(|e| to_py_err(py, e))
    }

    /// Writes the policy, the files it read and the lists' current contents to one snapshot
    /// file (atomically), which `Engine(path)` / `Engine.load(path)` memory-maps.
    fn save_snapshot(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| crate::snapshot::save(&self.inner, &path))
            .map_err(|e| to_py_err(py, e))
    }

    /// The policy in use.
    #[getter]
    fn policy(&self) -> PyPolicy {
        PyPolicy {
            inner: self.inner.policy(),
        }
    }

    /// Scores one call: a dict or Mapping with the call fields, or a `fraudcore.Call`.
    fn score(&self, py: Python<'_>, call: &Bound<'_, PyAny>) -> PyResult<PyVerdict> {
        let inner = match call.cast::<PyCall>() {
            Ok(c) => self.inner.score(&c.get().as_call()),
            // A dict or Mapping; anything else is refused there, naming `call`.
            Err(_) => score_mapping(py, &self.inner, call)?,
        };
        Ok(PyVerdict { inner })
    }

    /// Scores an iterable of calls (dicts, Mappings or `fraudcore.Call`s) in order; the
    /// scoring itself runs without the GIL, so other Python threads (and another
    /// `score_many`) run meanwhile. A bad call raises, naming its index. Python's cyclic
    /// garbage collector is paused while the verdicts are created (see `gc.rs`).
    fn score_many<'py>(
        &self,
        py: Python<'py>,
        calls: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut owned: Vec<PyCall> = Vec::new();
        let mut given: Vec<Py<PyCall>> = Vec::new();
        // Which source each position uses: a converted dict (true) or a Call object (false).
        let mut order: Vec<bool> = Vec::new();
        for (i, item) in calls.try_iter()?.enumerate() {
            let item = item?;
            if let Ok(c) = item.cast::<PyCall>() {
                given.push(c.clone().unbind());
                order.push(false);
            } else {
                let call = owned_call(py, &item).map_err(|e| at_index(py, e, i))?;
                owned.push(call);
                order.push(true);
            }
        }
        let engine = &self.inner;
        let given_refs: Vec<&PyCall> = given.iter().map(|c| c.get()).collect();
        let verdicts = py.detach(|| {
            let (mut a, mut b) = (owned.iter(), given_refs.iter());
            let mut batch = engine.batch();
            order
                .iter()
                .enumerate()
                .filter_map(|(i, &dict)| {
                    batch.renew_if_due(i);
                    let call = if dict {
                        a.next()?.as_call()
                    } else {
                        b.next()?.as_call()
                    };
                    Some(batch.score(&call))
                })
                .collect::<Vec<_>>()
        });
        // Only a speed-up: the calls are scored and counted, so a failure here must not raise.
        let _paused = (verdicts.len() >= super::gc::GC_PAUSE_MIN)
            .then(|| super::gc::GcPaused::new(py).ok())
            .flatten();
        PyList::new(py, verdicts.into_iter().map(|inner| PyVerdict { inner }))
    }

    /// Scores a CDR CSV file into another (`"-"` for stdin/stdout) as a stream, without the
    /// GIL: the input columns plus `action`, `score`, `reasons`. Returns a summary dict (rows,
    /// malformed rows and the first ten with their line numbers, actions, reasons, bytes).
    /// `progress(bytes_read, total_bytes_or_None)` is called every 65,536 rows.
    #[pyo3(signature = (input, output, *, strict=false, progress=None))]
    fn score_csv<'py>(
        &self,
        py: Python<'py>,
        input: PathBuf,
        output: PathBuf,
        strict: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        score_csv_file(py, &self.inner, input, output, strict, progress)
    }

    /// Scores call-field columns given as Arrow C data interface capsules, one
    /// `(schema, array)` pair or None per call field (see `fraudcore._table`, which
    /// `Engine.score_table` wraps); takes the arrays and returns the result buffers.
    #[pyo3(signature = (rows, columns, threads=2))]
    fn _score_columns(
        &self,
        py: Python<'_>,
        rows: usize,
        columns: &Bound<'_, PyAny>,
        threads: usize,
    ) -> PyResult<ColumnsPy> {
        score_column_specs(py, &self.inner, rows, columns, threads)
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
            policy: self.inner.policy(),
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
        let policy = self.inner.policy();
        Ok(PyNumberInfo {
            info: policy.lookup(&raw, ingress),
            policy,
        })
    }

    /// Whether a dialled number is a home emergency number.
    fn is_emergency(&self, py: Python<'_>, callee: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.is_emergency(&text(py, "callee", Some(callee))?))
    }

    /// Replaces the contents of the list the policy declares under `list.name`, atomically.
    /// Its kind must match the declaration.
    fn set_list(&self, py: Python<'_>, list: &Bound<'_, PyNumberList>) -> PyResult<()> {
        self.inner
            .set_list(list.get().inner.clone())
            .map_err(|e| to_py_err(py, e))
    }

    /// Empties a declared list; returns whether it held numbers.
    fn clear_list(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        self.inner.clear_list(name).map_err(|e| to_py_err(py, e))
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

    /// Calls scored by action (taken and would-be), by reason, and the velocity counters'
    /// state (tracked keys, evictions, late events, memory bound).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("calls", s.calls)?;
        d.set_item("actions", actions_dict(py, s.actions)?)?;
        d.set_item("would_actions", actions_dict(py, s.would_actions)?)?;
        d.set_item(
            "reasons",
            s.reasons.into_iter().collect::<Vec<_>>().into_py_dict(py)?,
        )?;
        match s.velocity {
            None => d.set_item("velocity", py.None())?,
            Some(v) => {
                let vd = PyDict::new(py);
                vd.set_item("tracked_keys", v.tracked_keys)?;
                vd.set_item("max_keys", v.max_keys)?;
                vd.set_item("evicted_expired", v.evicted_expired)?;
                vd.set_item("evicted_lru", v.evicted_lru)?;
                vd.set_item("late_events", v.late_events)?;
                vd.set_item("recorded", v.recorded)?;
                vd.set_item("bytes_per_key", crate::velocity::Velocity::bytes_per_key())?;
                let cap = self.inner.policy().velocity().map_or(0, |c| c.max_memory());
                vd.set_item("max_memory", cap)?;
                d.set_item("velocity", vd)?;
            }
        }
        Ok(d)
    }

    /// A key's velocity counters, without counting a call: `kind` is `"caller"` (`key` a
    /// number in any format the home plan reads), `"destination"` (a country code) or
    /// `"trunk"` (its name). None when the policy keeps no counters or the key is untracked.
    #[pyo3(signature = (key, kind="caller", *, now=None))]
    fn counters<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        kind: &str,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        use crate::velocity::Key;
        let k = match kind {
            "caller" => {
                let raw = text(py, "key", Some(key))?;
                match self.inner.normalize(&raw, Ingress::National) {
                    Ok(n) => Key::caller(n.value()),
                    Err(_) => return Ok(None),
                }
            }
            "destination" => Key::destination(key.extract::<u64>().map_err(|_| {
                type_error(
                    py,
                    "key",
                    "a country code (int) for kind='destination'",
                    key,
                )
            })?),
            "trunk" => Key::trunk(&text(py, "key", Some(key))?),
            other => {
                return Err(value_error(
                    py,
                    "kind",
                    format!("{} is not 'caller', 'destination' or 'trunk'", quote(other)),
                ))
            }
        };
        let now = seconds(py, "now", now, false)?.unwrap_or_else(crate::engine::unix_now);
        let Some(c) = self.inner.counters(k, now) else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("calls_1s", c.calls_1s)?;
        d.set_item("calls_1m", c.calls_1m)?;
        d.set_item("calls_window", c.calls_window)?;
        d.set_item("distinct_callees", c.distinct_callees)?;
        d.set_item("short_calls", c.short_calls)?;
        d.set_item("known_durations", c.known_durations)?;
        let share = (c.known_durations > 0)
            .then(|| f64::from(c.short_calls) / f64::from(c.known_durations));
        d.set_item("short_share", share)?;
        d.set_item("sequential", c.sequential)?;
        d.set_item("repeat_callee", c.repeat_callee)?;
        Ok(Some(d))
    }

    /// The home region's ISO code.
    #[getter]
    fn home_region(&self) -> String {
        self.inner.policy().dial_plan().region().to_string()
    }

    /// The numbering plan in use.
    #[getter]
    fn plan(&self) -> PyPlan {
        PyPlan {
            inner: self.inner.policy().plan().clone(),
        }
    }

    fn __repr__(&self) -> String {
        let p = self.inner.policy();
        format!(
            "Engine(policy={:?}, home_region={:?}, mode={:?}, rules={}, lists={}, plan={:?})",
            p.source_name(),
            p.home_region(),
            p.mode().as_str(),
            p.rules().len(),
            p.lists().len(),
            p.plan().source()
        )
    }
}
