//! Persisted files: a fixed header (magic, format version, payload length, CRC-32) in front of
//! a postcard payload. Readers check all four before decoding, so a truncated, corrupted or
//! foreign file is an error, never a half-loaded structure.
//!
//! ```text
//! offset  size  field
//! 0       8     magic (e.g. b"FCPLAN\0\0")
//! 8       4     format version, little endian
//! 12      4     CRC-32 (IEEE) of the payload
//! 16      8     payload length in bytes
//! 24      n     payload
//! ```

use crate::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Header size in bytes.
pub const HEADER_LEN: usize = 24;

/// Wraps `payload` in a header.
pub fn encode(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks the header and returns the payload. `name` appears in errors.
pub fn decode<'a>(magic: &[u8; 8], version: u32, bytes: &'a [u8], name: &str) -> Result<&'a [u8]> {
    let field = |range: std::ops::Range<usize>| -> Result<&'a [u8]> {
        bytes.get(range.clone()).ok_or_else(|| {
            Error::corrupt(
                name,
                bytes.len() as u64,
                format!("truncated header (need {HEADER_LEN} bytes)"),
            )
        })
    };
    if field(0..8)? != magic {
        return Err(Error::corrupt(
            name,
            0,
            format!(
                "not a fraudcore {} file",
                String::from_utf8_lossy(magic).trim_end_matches('\0')
            ),
        ));
    }
    let le4 = |r| -> Result<u32> { Ok(u32::from_le_bytes(field(r)?.try_into().unwrap_or([0; 4]))) };
    let found = le4(8..12)?;
    if found != version {
        return Err(Error::corrupt(
            name,
            8,
            format!("format version {found}, this build reads {version}"),
        ));
    }
    let crc = le4(12..16)?;
    let len = u64::from_le_bytes(field(16..24)?.try_into().unwrap_or([0; 8]));
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(Error::corrupt(
            name,
            bytes.len() as u64,
            format!("payload is {} bytes, header says {len}", payload.len()),
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Err(Error::corrupt(name, HEADER_LEN as u64, "checksum mismatch"));
    }
    Ok(payload)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .map_or("fraudcore".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Streams a persisted file section by section, then commits it atomically: a temporary
/// file beside the target, the header filled in last, fsync, rename. Dropped unfinished, it
/// removes the temporary file and leaves the old file untouched.
pub struct FileWriter {
    out: Option<BufWriter<File>>,
    crc: crc32fast::Hasher,
    len: u64,
    tmp: PathBuf,
    path: PathBuf,
}

impl FileWriter {
    /// Starts writing `path` with the given magic and format version.
    pub fn create(path: &Path, magic: &[u8; 8], version: u32) -> Result<FileWriter> {
        let tmp = temp_path(path);
        // Errors name the file the caller asked for, not the hidden temporary one.
        let file = create_new(&tmp).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut w = FileWriter {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            crc: crc32fast::Hasher::new(),
            len: 0,
            tmp,
            path: path.to_owned(),
        };
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(magic);
        header[8..12].copy_from_slice(&version.to_le_bytes());
        w.raw(&header)?;
        Ok(w)
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match self.out.as_mut() {
            Some(out) => out.write_all(bytes),
            None => Ok(()),
        };
        result.map_err(|e| self.io(e))
    }

    /// Appends payload bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
        self.raw(bytes)
    }

    /// Appends `u64` words, little endian.
    pub fn write_words(&mut self, words: &[u64]) -> Result<()> {
        if cfg!(target_endian = "little") {
            self.write(bytemuck::cast_slice(words))
        } else {
            for w in words {
                self.write(&w.to_le_bytes())?;
            }
            Ok(())
        }
    }

    /// Fills in the header, syncs and renames over the target.
    pub fn finish(mut self) -> Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let crc = std::mem::take(&mut self.crc).finalize();
        let len = self.len;
        let result = (|| {
            let mut file = out.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(12))?;
            file.write_all(&crc.to_le_bytes())?;
            file.write_all(&len.to_le_bytes())?;
            file.sync_all()?;
            std::fs::rename(&self.tmp, &self.path)
        })();
        result.map_err(|e| self.io(e))
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if self.out.is_some() || self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A fresh temporary name beside `path`: process id and a per-process counter, so two
/// saves of the same file (two threads, two processes) never share a temporary file.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("fraudcore".into(), |n| n.to_string_lossy());
    dir.join(format!(".{name}.tmp{}.{n}", std::process::id()))
}

/// Creates the temporary file, refusing to follow or reuse anything already at that name.
fn create_new(tmp: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"FCTEST\0\0";

    #[test]
    fn round_trips_and_rejects_damage() {
        let bytes = encode(MAGIC, 3, b"payload");
        assert_eq!(decode(MAGIC, 3, &bytes, "t").unwrap(), b"payload");
        for cut in 0..bytes.len() {
            assert!(
                decode(MAGIC, 3, &bytes[..cut], "t").is_err(),
                "cut at {cut}"
            );
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(decode(MAGIC, 3, &flipped, "t").is_err(), "flip at {i}");
        }
        assert!(decode(MAGIC, 4, &bytes, "t")
            .unwrap_err()
            .to_string()
            .contains("version 3"));
        assert!(decode(b"OTHER\0\0\0", 3, &bytes, "t").is_err());
    }

    #[test]
    fn streamed_file_equals_encoded_bytes_and_drop_leaves_no_trace() {
        let dir = std::env::temp_dir().join(format!("fc-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.bin");
        let mut w = FileWriter::create(&path, MAGIC, 3).unwrap();
        w.write(b"pay").unwrap();
        w.write_words(&[0x0102_0304_0506_0708]).unwrap();
        w.finish().unwrap();
        let mut payload = b"pay".to_vec();
        payload.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(std::fs::read(&path).unwrap(), encode(MAGIC, 3, &payload));
        let mut unfinished = FileWriter::create(&path, MAGIC, 3).unwrap();
        unfinished.write(b"half").unwrap();
        drop(unfinished);
        assert_eq!(std::fs::read(&path).unwrap(), encode(MAGIC, 3, &payload));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Found by tests/test_corruption.py: a failed save named the hidden temporary file.
    #[test]
    fn failed_writes_name_the_target_and_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("fc-persist-err-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("target")).unwrap();
        let missing = dir.join("missing").join("x.bin");
        match FileWriter::create(&missing, MAGIC, 1) {
            Err(Error::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("{:?}", other.map(|_| ())),
        }
        let target = dir.join("target"); // a directory: the final rename fails
        let mut w = FileWriter::create(&target, MAGIC, 1).unwrap();
        w.write(b"x").unwrap();
        match w.finish() {
            Err(Error::Io { path, .. }) => assert_eq!(path, target),
            other => panic!("{other:?}"),
        }
        match write_atomic(&target, b"x") {
            Err(Error::Io { path, .. }) => assert_eq!(path, target),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary files left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
