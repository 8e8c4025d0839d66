//! `fraudcore.Verdict` and `fraudcore.NumberInfo`: results built lazily from core data.

use super::*;

/// A normalised and classified number (`fraudcore.NumberInfo`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "NumberInfo")]
pub(super) struct PyNumberInfo {
    pub(super) info: CoreInfo,
    pub(super) policy: Arc<Policy>,
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
        self.info.as_ref().ok().and_then(|c| self.policy.names(c).0)
    }
    /// Area of a valid geographic number, where known; else None.
    #[getter]
    fn location(&self) -> Option<&str> {
        self.info.as_ref().ok().and_then(|c| self.policy.names(c).1)
    }
    /// Overlay tags of the number's ranges.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let bits = self.info.as_ref().map_or(0, |c| c.tags);
        PyTuple::new(
            py,
            self.policy.overlay().tag_names(bits).collect::<Vec<_>>(),
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
pub(super) struct PyVerdict {
    pub(super) inner: CoreVerdict,
}

impl PyVerdict {
    pub(super) fn info(&self, info: &CoreInfo) -> PyNumberInfo {
        PyNumberInfo {
            info: *info,
            policy: self.inner.policy.clone(),
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
    /// What the policy would do if every rule acted: differs from `action` only when rules
    /// in observe mode matched.
    #[getter]
    fn would_action(&self) -> &'static str {
        self.inner.would_action.as_str()
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
    /// One dict per reason, most important first: `id`, `score`, `action` (or None),
    /// `observe` and the rule's `description`.
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .reasons
            .iter()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("id", self.inner.policy.reason_name(&r.id))?;
                d.set_item("score", r.weight)?;
                d.set_item("action", r.effect.map(|a| a.as_str()))?;
                d.set_item("observe", r.observe)?;
                let description = match r.id {
                    ReasonId::Rule(i) => self
                        .inner
                        .policy
                        .rules()
                        .get(usize::from(i))
                        .map_or("", |r| r.description.as_str()),
                    ReasonId::Builtin(_) => "A home emergency number: never blocked",
                };
                d.set_item("description", description)?;
                Ok(d)
            })
            .collect()
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
        let would = if self.inner.would_action == self.inner.action {
            String::new()
        } else {
            format!(
                ", would_action={}",
                py_repr(Some(self.inner.would_action.as_str()))
            )
        };
        format!(
            "Verdict(action={}{would}, score={:.3}, reasons=({}{comma}))",
            py_repr(Some(self.inner.action.as_str())),
            self.inner.score,
            reasons.join(", ")
        )
    }
}
