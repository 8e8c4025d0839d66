//! `fraudcore.NumberList`: number lists as read-only sets with live updates.

use super::*;

pub(super) fn report_dict<'py>(py: Python<'py>, r: &LoadReport) -> PyResult<Bound<'py, PyDict>> {
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
pub(super) struct PyNumberList {
    pub(super) inner: Arc<NumberList>,
    pub(super) report: Option<LoadReport>,
}

pub(super) fn wrap_list(list: NumberList) -> PyNumberList {
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
        let policy = engine.get().inner.policy();
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
                &|s, i| policy.normalize(s, i),
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
        // An update may compact a large list: never while holding the GIL.
        py.detach(|| self.inner.add(key))
            .map_err(|e| to_py_err(py, e))
    }

    /// Removes a number; returns whether the list changed.
    fn remove(&self, py: Python<'_>, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = required_key(py, number)?;
        py.detach(|| self.inner.remove(key))
            .map_err(|e| to_py_err(py, e))
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
