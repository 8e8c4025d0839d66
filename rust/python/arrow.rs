//! Arrow arrays taken through the Arrow C data interface (the `__arrow_c_array__` PyCapsules
//! pyarrow, polars and pandas export) and read in place: `score_table`'s columns, no copy.
//!
//! Reading in place rests on the interface's contract: an exported array's buffers stay
//! valid until its `release` callback runs, the consumer runs it, and neither side changes
//! the data meanwhile. The last part is the producer's to keep: a column that shares memory
//! with a numpy array must not be written while `score_table` runs (its documentation says
//! so). Like every consumer of the interface, this one also trusts the array's own
//! description of its buffers (lengths, offsets, layout).
//!
//! The array is moved out of its capsule (the capsule is left released, as the protocol
//! asks), so no other consumer can release it while Rust reads it without the GIL;
//! [`Imported`] releases it when dropped. Buffer lengths come from the array's length and
//! offset, as the Arrow format defines them for the three layouts read here (`utf8`,
//! `large_utf8`, `float64`); everything read from the bytes (offsets, UTF-8) is checked as
//! for any other column. This file is one of the crate's three places with `unsafe` code
//! (with `words.rs` and `velocity/prefetch.rs`).

use super::*;
use crate::cdr::FieldColumn;

// Arrow buffers are in the machine's byte order; the column readers read little-endian.
#[cfg(target_endian = "big")]
compile_error!("fraudcore reads Arrow buffers as little-endian");
use pyo3::types::PyCapsule;
use std::ffi::{c_char, c_void, CStr};

/// `struct ArrowSchema` of the C data interface.
#[repr(C)]
struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

/// `struct ArrowArray` of the C data interface.
#[repr(C)]
struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

/// An array moved out of its capsule; released when dropped.
pub(super) struct Imported {
    array: ArrowArray,
    layout: Layout,
}

/// The array layouts a call-field column may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `u`: 32-bit offsets, UTF-8 data.
    Utf8,
    /// `U`: 64-bit offsets, UTF-8 data.
    LargeUtf8,
    /// `g`: `f64` values.
    Float64,
}

impl Drop for Imported {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        if let Some(release) = self.array.release {
            // SAFETY: the array was moved out of its capsule and is released once, here, as
            // the C data interface asks of the consumer that owns it.
            unsafe { release(&mut self.array) };
        }
    }
}

/// Takes the array out of an `arrow_array` capsule, after reading the layout from its
/// `arrow_schema` capsule. `field` names the column in errors.
#[allow(unsafe_code)]
pub(super) fn import(
    py: Python<'_>,
    field: &str,
    schema: &Bound<'_, PyAny>,
    array: &Bound<'_, PyAny>,
) -> PyResult<Imported> {
    let capsule = |obj: &Bound<'_, PyAny>, name: &CStr| -> PyResult<*mut c_void> {
        let c = obj
            .cast::<PyCapsule>()
            .map_err(|_| type_error(py, field, "an Arrow PyCapsule", obj))?;
        c.pointer_checked(Some(name))
            .map(|p| p.as_ptr())
            .map_err(|_| value_error(py, field, format!("expected an {name:?} capsule")))
    };
    let schema = capsule(schema, c"arrow_schema")?.cast::<ArrowSchema>();
    let array = capsule(array, c"arrow_array")?.cast::<ArrowArray>();
    // SAFETY: a capsule named `arrow_schema` holds a `struct ArrowSchema`; its `format` is a
    // NUL-terminated string while the schema is not released (checked first). It is read
    // now, with the GIL held, and not kept.
    let format = unsafe {
        let s = &*schema;
        if s.release.is_none() || s.format.is_null() {
            return Err(value_error(
                py,
                field,
                "the Arrow schema was released".into(),
            ));
        }
        CStr::from_ptr(s.format).to_bytes().to_vec()
    };
    let layout = match &format[..] {
        b"u" => Layout::Utf8,
        b"U" => Layout::LargeUtf8,
        b"g" => Layout::Float64,
        other => {
            return Err(value_error(
                py,
                field,
                format!(
                    "Arrow format {} is not utf8, large_utf8 or float64",
                    quote(&String::from_utf8_lossy(other))
                ),
            ))
        }
    };
    // SAFETY: a capsule named `arrow_array` holds a `struct ArrowArray`. Moving it out and
    // marking the capsule's copy released is the interface's way to take ownership: the
    // capsule's destructor then releases nothing, and we release it once (`Imported::drop`).
    let array = unsafe {
        let taken = std::ptr::read(array);
        (*array).release = None;
        taken
    };
    if array.release.is_none() {
        return Err(value_error(
            py,
            field,
            "the Arrow array was released".into(),
        ));
    }
    let imported = Imported { array, layout };
    let a = &imported.array;
    let buffers = if layout == Layout::Float64 { 2 } else { 3 };
    if a.length < 0
        || a.offset < 0
        || a.n_buffers != buffers
        || a.buffers.is_null()
        || a.n_children != 0
        || !a.dictionary.is_null()
    {
        return Err(value_error(py, field, "malformed Arrow array".into()));
    }
    Ok(imported)
}

impl Imported {
    /// Buffer `i` as `len` bytes: `Some(&[])` when the producer left it null (validity: no
    /// nulls) and `len` is 0 or `i` is the validity bitmap; `None` when a buffer that must
    /// hold bytes is null, or `len` is more than a slice may hold.
    #[allow(unsafe_code)]
    fn buffer(&self, i: usize, len: usize) -> Option<&[u8]> {
        if len > isize::MAX as usize {
            return None;
        }
        // SAFETY: `buffers` holds `n_buffers` pointers (checked at import, and `i` is below
        // it for this layout). A non-null buffer `i` of this layout holds at least `len`
        // bytes by the Arrow format, for the rows asked for, which the array has (checked by
        // `column`); the producer keeps it valid, and by the interface's contract unchanged,
        // until the array is released, which happens only when `self` is dropped.
        unsafe {
            let p = *self.array.buffers.add(i);
            if p.is_null() {
                (len == 0 || i == 0).then_some(&[][..])
            } else if len == 0 {
                Some(&[])
            } else {
                Some(std::slice::from_raw_parts(p.cast::<u8>(), len))
            }
        }
    }

    /// The first `rows` rows of the array as the call-field column `field`, borrowing its
    /// buffers; an error when the array has fewer rows or lacks a buffer it needs.
    pub(super) fn column(
        &self,
        py: Python<'_>,
        field: &str,
        rows: usize,
    ) -> PyResult<FieldColumn<&[u8]>> {
        let have = self.array.length as usize;
        if rows > have {
            return Err(value_error(
                py,
                field,
                format!("{have} rows in the column, {rows} in the table"),
            ));
        }
        self.rows(rows)
            .ok_or_else(|| value_error(py, field, "malformed Arrow array".into()))
    }

    /// [`Imported::column`] for `rows` rows the array has; `None` when a buffer is missing.
    fn rows(&self, rows: usize) -> Option<FieldColumn<&[u8]>> {
        let offset = self.array.offset as usize;
        let end = offset.checked_add(rows)?;
        let validity = match self.array.null_count {
            0 => None,
            _ => Some(self.buffer(0, end.div_ceil(8))?).filter(|v| !v.is_empty()),
        };
        Some(match self.layout {
            Layout::Float64 => FieldColumn::Float {
                values: self.buffer(1, end.checked_mul(8)?)?,
                validity,
                offset,
            },
            Layout::Utf8 | Layout::LargeUtf8 => {
                let wide = self.layout == Layout::LargeUtf8;
                let width = if wide { 8 } else { 4 };
                if rows == 0 {
                    // Nothing to read (an empty array may come without buffers).
                    return Some(FieldColumn::Missing);
                }
                let offsets = self.buffer(1, end.checked_add(1)?.checked_mul(width)?)?;
                // The rows' data ends at their last offset.
                let last = offsets.get(end * width..)?;
                let data_len = if wide {
                    i64::from_ne_bytes(last.try_into().ok()?)
                } else {
                    i64::from(i32::from_ne_bytes(last.try_into().ok()?))
                };
                FieldColumn::Text {
                    offsets,
                    wide,
                    data: self.buffer(2, usize::try_from(data_len).ok()?)?,
                    validity,
                    offset,
                }
            }
        })
    }
}
