//! Batch scoring from Python: CDR CSV files streamed through Rust without the GIL.

use super::*;
use crate::cdr::{score_csv, CsvSummary};
use std::io::{BufWriter, Write};

/// The input file, unbuffered: `cdr::score_csv` reads it in chunks of its own, straight into
/// its buffer (stdin is buffered by std).
fn open_input(path: &std::path::Path) -> crate::Result<(Box<dyn std::io::Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), size))
}

/// The output file, unbuffered: `cdr::score_csv` gathers rows and writes them in chunks.
/// Stdout keeps a buffer: its `LineWriter` would write each chunk up to its last line end
/// and hold the tail, two writes a chunk instead of one.
fn open_output(path: &std::path::Path) -> crate::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::with_capacity(
            1 << 20,
            std::io::stdout().lock(),
        )));
    }
    let file = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(Box::new(file))
}

/// `{"allow": n, "flag": n, "block": n}` from counts in `Action::index` order.
pub(super) fn actions_dict(py: Python<'_>, counts: [u64; 3]) -> PyResult<Bound<'_, PyDict>> {
    let a = PyDict::new(py);
    for (name, n) in ["allow", "flag", "block"].into_iter().zip(counts) {
        a.set_item(name, n)?;
    }
    Ok(a)
}

pub(super) fn summary_dict<'py>(py: Python<'py>, s: &CsvSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rows", s.rows)?;
    d.set_item("malformed", s.malformed)?;
    let first: Vec<(u64, &str)> = s
        .first_malformed
        .iter()
        .map(|m| (m.line, m.message.as_str()))
        .collect();
    d.set_item("first_malformed", first)?;
    d.set_item("actions", actions_dict(py, s.actions)?)?;
    d.set_item(
        "reasons",
        s.reasons
            .clone()
            .into_iter()
            .collect::<Vec<_>>()
            .into_py_dict(py)?,
    )?;
    d.set_item("bytes", s.bytes)?;
    Ok(d)
}

/// Scores a CDR CSV file (`"-"`: stdin) into another (`"-"`: stdout); see `rust/cdr/`.
pub(super) fn score_csv_file<'py>(
    py: Python<'py>,
    engine: &CoreEngine,
    input: PathBuf,
    output: PathBuf,
    strict: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let failed: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let source = input.display().to_string();
    let result = py.detach(|| -> crate::Result<CsvSummary> {
        let (reader, total) = open_input(&input)?;
        let writer = open_output(&output)?;
        let report = |done: u64| {
            if let Some(cb) = &progress {
                Python::attach(|py| {
                    if let Err(e) = cb.call1(py, (done, total)) {
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                    }
                });
            }
        };
        score_csv(engine, reader, writer, &source, strict, Some(&report))
    });
    if let Some(e) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    let summary = result.map_err(|e| to_py_err(py, e))?;
    summary_dict(py, &summary)
}

/// Result buffers of a columnar scoring as `bytes`: actions (u8 codes), scores (f64 in the
/// machine's byte order), reason offsets (i64), reasons (UTF-8); then the malformed count and
/// the first malformed rows.
pub(super) type ColumnsPy = (
    Py<PyBytes>,
    Py<PyBytes>,
    Py<PyBytes>,
    Py<PyBytes>,
    u64,
    Vec<(usize, String)>,
);

pub(super) fn score_column_specs(
    py: Python<'_>,
    engine: &CoreEngine,
    rows: usize,
    specs: &Bound<'_, PyAny>,
    threads: usize,
) -> PyResult<ColumnsPy> {
    use crate::cdr::{FieldColumn, CALL_FIELDS};
    // Each spec: None, or the `(schema, array)` capsules of the column's Arrow array, taken
    // here and released when this function returns.
    if specs.len()? != CALL_FIELDS.len() {
        return Err(value_error(
            py,
            "columns",
            format!("{} column specs, one per call field expected", specs.len()?),
        ));
    }
    let mut imported: Vec<Option<super::arrow::Imported>> = Vec::with_capacity(9);
    for (i, field) in CALL_FIELDS.iter().enumerate() {
        let spec = specs.get_item(i)?;
        if spec.is_none() {
            imported.push(None);
            continue;
        }
        let (schema, array): (Bound<'_, PyAny>, Bound<'_, PyAny>) = spec
            .extract()
            .map_err(|_| type_error(py, field, "(schema, array) Arrow capsules", &spec))?;
        imported.push(Some(super::arrow::import(py, field, &schema, &array)?));
    }
    let mut cols: [FieldColumn<&[u8]>; 9] = std::array::from_fn(|_| FieldColumn::Missing);
    for ((col, a), field) in cols.iter_mut().zip(&imported).zip(CALL_FIELDS) {
        if let Some(a) = a {
            *col = a.column(py, field, rows)?;
        }
    }
    let out = py.detach(|| crate::cdr::score_columns(engine, &cols, rows, threads));
    // Arrow buffers hold values in the machine's byte order: the vectors' own bytes, copied
    // once, into the `bytes` objects.
    let b = |v: &[u8]| PyBytes::new(py, v).unbind();
    Ok((
        b(&out.actions),
        b(bytemuck::cast_slice::<f64, u8>(&out.scores)),
        b(bytemuck::cast_slice::<i64, u8>(&out.reason_offsets)),
        b(&out.reasons),
        out.malformed,
        out.first_malformed,
    ))
}
