//! Reading and writing CSV records: plain lines split here (see `line.rs`), quoted records
//! through `csv_core`.

use super::line::{self, Line};
use std::io::{Read, Write};

/// Bytes read from the input at a time, and output bytes gathered before a write.
pub(super) const CHUNK: usize = 1 << 16;

/// One CSV record: its field bytes and where each field lies in them.
#[derive(Debug, Default)]
pub(super) struct Record {
    pub(super) data: Vec<u8>,
    /// `(start, end)` of each field in `data`.
    pub(super) bounds: Vec<(usize, usize)>,
    /// Read from a line without quotes or carriage returns: the record's bytes are the line
    /// itself (the fields joined by commas), and no field needs quoting on the way out.
    pub(super) plain: bool,
    /// Where a plain line lies in the reader's buffer when [`CsvRows::next_row`] read it
    /// (`data` is then stale; see [`CsvRows::bytes`]).
    pub(super) at: Option<(usize, usize)>,
}

impl Record {
    pub(super) fn len(&self) -> usize {
        self.bounds.len()
    }

    #[cfg(test)]
    pub(super) fn get(&self, i: usize) -> Option<&[u8]> {
        self.field(&self.data, i)
    }

    /// Field `i` of a record whose bytes are `data`.
    pub(super) fn field<'a>(&self, data: &'a [u8], i: usize) -> Option<&'a [u8]> {
        self.bounds.get(i).map(|&(a, b)| &data[a..b])
    }
}

/// Reads CSV records as the `csv` crate does (RFC 4180 quoting, records ended by LF, CR or
/// CRLF, blank lines skipped, a UTF-8 BOM dropped before the first record), knowing the line
/// each record starts on. A line without `"` or an inner CR is split on commas directly (see
/// [`super::line`]); any other record goes through `csv_core`, whose state between records
/// is always "start of record", so the two interleave.
pub(super) struct CsvRows<R> {
    pub(super) input: R,
    pub(super) buf: Vec<u8>,
    /// Unread bytes are `buf[pos..end]`.
    pub(super) pos: usize,
    pub(super) end: usize,
    pub(super) eof: bool,
    /// Bytes dropped from the front of `buf` so far.
    pub(super) base: u64,
    /// Reads of the input so far (a [`crate::engine::Batch`] is renewed when it changes).
    pub(super) reads: u64,
    /// Line feeds before `pos`.
    pub(super) newlines: u64,
    pub(super) core: csv_core::Reader,
    pub(super) scratch: Vec<u8>,
    pub(super) ends: Vec<usize>,
}

impl<R: Read> CsvRows<R> {
    pub(super) fn new(input: R) -> Self {
        Self::with_buffer(input, CHUNK)
    }

    pub(super) fn with_buffer(input: R, size: usize) -> Self {
        CsvRows {
            input,
            buf: vec![0; size.max(8)],
            pos: 0,
            end: 0,
            eof: false,
            base: 0,
            reads: 0,
            newlines: 0,
            core: csv_core::Reader::new(),
            scratch: vec![0; 1024],
            ends: vec![0; 64],
        }
    }

    /// Bytes consumed so far.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more input after the unread bytes (moved to the front); false at the end.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            return Ok(true);
        }
        loop {
            self.reads += 1;
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The header: the first record, read by `csv_core` (which drops a leading BOM).
    pub(super) fn header(&mut self, rec: &mut Record) -> std::io::Result<bool> {
        // The whole mark and a byte after it in the buffer, however the input trickles in
        // (csv_core drops a mark at the start of its first input, and reads empty input as the end).
        while self.end < 4 && self.fill()? {}
        self.quoted(rec)
    }

    /// The next record, and the 1-based line it starts on; `None` at the end of input.
    #[cfg(test)]
    pub(super) fn next(&mut self, rec: &mut Record) -> std::io::Result<Option<u64>> {
        let line = self.next_row(rec)?;
        if let Some((a, b)) = rec.at.take() {
            rec.data.clear();
            rec.data.extend_from_slice(&self.buf[a..b]);
        }
        Ok(line)
    }

    /// The bytes of the record last read (by [`CsvRows::next_row`] or the header).
    pub(super) fn bytes<'a>(&'a self, rec: &'a Record) -> &'a [u8] {
        match rec.at {
            Some((a, b)) => &self.buf[a..b],
            None => &rec.data,
        }
    }

    /// The next record, and the 1-based line it starts on; `None` at the end of input. A plain
    /// line is left in the buffer (`rec.at`), to be read through [`CsvRows::bytes`] before
    /// the next call.
    pub(super) fn next_row(&mut self, rec: &mut Record) -> std::io::Result<Option<u64>> {
        loop {
            // Blank lines are skipped (csv_core would skip them the same way).
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b'\n' => self.newlines += 1,
                    b'\r' => {}
                    _ => break,
                }
                self.pos += 1;
            }
            if self.pos == self.end {
                if self.fill()? {
                    continue;
                }
                return Ok(None);
            }
            let line_no = self.newlines + 1;
            let avail = &self.buf[self.pos..self.end];
            match line::scan(avail, self.eof, &mut rec.bounds) {
                Line::Plain { len, next } => {
                    rec.plain = true;
                    rec.at = Some((self.pos, self.pos + len));
                    // `next` > 0: the line starts with a byte that is not a line end.
                    self.newlines += u64::from(avail[next - 1] == b'\n');
                    self.pos += next;
                    return Ok(Some(line_no));
                }
                Line::Quoted => return self.quoted(rec).map(|more| more.then_some(line_no)),
                // A line longer than the buffer streams through csv_core.
                Line::Open if self.pos == 0 && self.end == self.buf.len() => {
                    return self.quoted(rec).map(|more| more.then_some(line_no));
                }
                Line::Open => {
                    self.fill()?;
                }
            }
        }
    }

    /// One record through `csv_core`; false at the end of input.
    pub(super) fn quoted(&mut self, rec: &mut Record) -> std::io::Result<bool> {
        use csv_core::ReadRecordResult as R;
        let (mut out, mut nends) = (0, 0);
        loop {
            let input = &self.buf[self.pos..self.end];
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.scratch[out..], &mut self.ends[nends..]);
            self.newlines += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.pos += nin;
            out += nout;
            nends += nend;
            match res {
                R::InputEmpty => {
                    self.fill()?;
                }
                R::OutputFull => self.scratch.resize(self.scratch.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => break,
                R::End => return Ok(false),
            }
        }
        rec.plain = false;
        rec.at = None;
        rec.data.clear();
        rec.data.extend_from_slice(&self.scratch[..out]);
        rec.bounds.clear();
        let mut start = 0;
        for &end in &self.ends[..nends] {
            rec.bounds.push((start, end));
            start = end;
        }
        Ok(true)
    }
}

/// Writes CSV as the `csv` crate does by default: LF after each record, a field quoted (its
/// quotes doubled) only when it holds a comma, quote, CR or LF. Gathers output and writes it
/// in chunks; what is gathered is written when dropped, as `csv::Writer` does.
pub(super) struct CsvOut<W: Write> {
    pub(super) inner: W,
    pub(super) buf: Vec<u8>,
}

impl<W: Write> CsvOut<W> {
    pub(super) fn new(inner: W) -> Self {
        CsvOut {
            inner,
            buf: Vec::with_capacity(CHUNK + 4096),
        }
    }

    /// A field that may need quoting.
    pub(super) fn field(&mut self, f: &[u8]) {
        if needs_quotes(f) {
            self.buf.push(b'"');
            for &b in f {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(f);
        }
    }

    /// The `reasons` field: quoted when `quote` (only a malformed row's can need it).
    pub(super) fn reasons(&mut self, reasons: &str, quote: bool) {
        if quote {
            self.field(reasons.as_bytes());
        } else {
            self.buf.extend_from_slice(reasons.as_bytes());
        }
    }

    /// Ends the record.
    pub(super) fn end(&mut self) -> std::io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.inner.flush()
    }
}

impl<W: Write> Drop for CsvOut<W> {
    fn drop(&mut self) {
        // Best effort, as `csv::Writer` does: the rows before an error are kept.
        let _ = self.flush();
    }
}

/// A field the CSV writer quotes: one holding a comma, quote, CR or LF.
pub(super) fn needs_quotes(f: &[u8]) -> bool {
    f.iter()
        .any(|&b| b < 0x2D && matches!(b, b',' | b'"' | b'\r' | b'\n'))
}
