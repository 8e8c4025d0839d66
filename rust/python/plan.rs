//! `fraudcore.NumberingPlan`: compile, load and save the numbering plan.

use super::*;

/// The compiled numbering plan (`fraudcore.NumberingPlan`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "NumberingPlan")]
pub(super) struct PyPlan {
    pub(super) inner: Arc<CorePlan>,
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

pub(super) fn load_default_plan(py: Python<'_>) -> PyResult<Arc<CorePlan>> {
    let plan = py.import("fraudcore._plan")?.call_method0("load_plan")?;
    Ok(plan.cast::<PyPlan>()?.get().inner.clone())
}
