//! `fraudcore.Policy`: load, validate and describe a policy file.

use super::*;

/// A loaded, validated and compiled policy (`fraudcore.Policy`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "Policy")]
pub(super) struct PyPolicy {
    pub(super) inner: Arc<Policy>,
}

fn plan_or_default(py: Python<'_>, plan: Option<&Bound<'_, PyPlan>>) -> PyResult<Arc<CorePlan>> {
    match plan {
        Some(p) => Ok(p.get().inner.clone()),
        None => load_default_plan(py),
    }
}

/// Reads a policy file with the given plan (the installed phonenumbers' if None).
pub(super) fn policy_from_file(
    py: Python<'_>,
    path: PathBuf,
    plan: Option<&Bound<'_, PyPlan>>,
) -> PyResult<Arc<Policy>> {
    let plan = plan_or_default(py, plan)?;
    py.detach(|| Policy::from_file(&path, plan))
        .map(Arc::new)
        .map_err(|e| to_py_err(py, e))
}

/// The bundled default policy's path.
pub(super) fn default_policy_path(py: Python<'_>) -> PyResult<PathBuf> {
    py.import("fraudcore._data")?
        .call_method1("data_path", ("default_policy.toml",))?
        .extract()
}

/// A `Policy`, a path to a policy file, or None (the bundled default) as a policy.
pub(super) fn policy_arg(
    py: Python<'_>,
    policy: Option<&Bound<'_, PyAny>>,
    plan: Option<&Bound<'_, PyPlan>>,
) -> PyResult<Arc<Policy>> {
    match policy.filter(|p| !p.is_none()) {
        None => policy_from_file(py, default_policy_path(py)?, plan),
        Some(p) => {
            if let Ok(p) = p.cast::<PyPolicy>() {
                if plan.is_some() {
                    return Err(value_error(
                        py,
                        "plan",
                        "a loaded Policy already has its plan; pass plan= with a policy file"
                            .into(),
                    ));
                }
                return Ok(p.get().inner.clone());
            }
            match p.extract::<PathBuf>() {
                Ok(path) => policy_from_file(py, path, plan),
                Err(_) => Err(type_error(
                    py,
                    "policy",
                    "a fraudcore.Policy, a path (policy file or snapshot) or None",
                    p,
                )),
            }
        }
    }
}

#[pymethods]
impl PyPolicy {
    /// Reads and compiles a policy file (TOML); relative paths in it are read from its folder.
    #[staticmethod]
    #[pyo3(signature = (path, *, plan=None))]
    fn from_file(
        py: Python<'_>,
        path: PathBuf,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<Self> {
        Ok(PyPolicy {
            inner: policy_from_file(py, path, plan)?,
        })
    }

    /// Compiles policy text; `name` appears in error messages, relative paths are read from
    /// `base_dir` (default: the current directory).
    #[staticmethod]
    #[pyo3(signature = (text, *, name="<policy>", base_dir=None, plan=None))]
    fn from_str(
        py: Python<'_>,
        text: &str,
        name: &str,
        base_dir: Option<PathBuf>,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<Self> {
        let plan = plan_or_default(py, plan)?;
        let base = base_dir.unwrap_or_else(|| PathBuf::from("."));
        py.detach(|| Policy::parse(text, name, &base, plan))
            .map(|p| PyPolicy { inner: Arc::new(p) })
            .map_err(|e| to_py_err(py, e))
    }

    /// The bundled default policy (Kazakhstan-style deployment).
    #[staticmethod]
    fn default(py: Python<'_>) -> PyResult<Self> {
        Ok(PyPolicy {
            inner: policy_from_file(py, default_policy_path(py)?, None)?,
        })
    }

    /// Where the policy came from.
    #[getter]
    fn source(&self) -> &str {
        self.inner.source_name()
    }

    /// The home region's ISO code.
    #[getter]
    fn home_region(&self) -> &str {
        self.inner.home_region()
    }

    /// `"enforce"` or `"observe"`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.mode().as_str()
    }

    /// `(flag, block)` score thresholds.
    #[getter]
    fn thresholds(&self) -> (f64, f64) {
        self.inner.thresholds()
    }

    /// One dict per rule, in file order: `id`, `description`, `when`, `score`, `action`,
    /// `observe`.
    #[getter]
    fn rules<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .rules()
            .iter()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("id", &r.id)?;
                d.set_item("description", &r.description)?;
                d.set_item("when", &r.when)?;
                d.set_item("score", r.score)?;
                d.set_item("action", r.action.map(|a| a.as_str()))?;
                d.set_item("observe", r.observe)?;
                Ok(d)
            })
            .collect()
    }

    /// One dict per declared list: `name`, `kind`, `description`, `file` (or None) and
    /// `numbers` (as loaded).
    #[getter]
    fn lists<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .lists()
            .iter()
            .map(|l| {
                let d = PyDict::new(py);
                d.set_item("name", &l.name)?;
                d.set_item("kind", l.kind.as_str())?;
                d.set_item("description", &l.description)?;
                d.set_item("file", l.file.as_ref().map(|f| f.path.clone()))?;
                d.set_item("numbers", l.initial.len())?;
                Ok(d)
            })
            .collect()
    }

    /// The same policy in `mode` (`"enforce"` or `"observe"`).
    fn with_mode(&self, py: Python<'_>, mode: &str) -> PyResult<Self> {
        let mode = match mode {
            "enforce" => crate::policy::Mode::Enforce,
            "observe" => crate::policy::Mode::Observe,
            other => {
                return Err(value_error(
                    py,
                    "mode",
                    format!("{} is not 'enforce' or 'observe'", quote(other)),
                ))
            }
        };
        Ok(PyPolicy {
            inner: Arc::new(self.inner.with_mode(mode)),
        })
    }

    /// A human-readable summary: settings, lists and rules.
    fn summary(&self) -> String {
        self.inner.summary()
    }

    fn __repr__(&self) -> String {
        format!(
            "Policy(source={:?}, home_region={:?}, mode={:?}, rules={})",
            self.inner.source_name(),
            self.inner.home_region(),
            self.inner.mode().as_str(),
            self.inner.rules().len()
        )
    }
}
