//! Storage for the large `u64` arrays of lists: owned, or borrowed from a memory-mapped file.
//!
//! Mapping is what lets the many worker processes of a SIP server share one copy of a
//! 100 M-number list in the page cache. It is one of the crate's three places with `unsafe`
//! code (see [`map_file`]; the others are the cache prefetch hint of `velocity/prefetch.rs`
//! and the Arrow C data interface import of `python/arrow.rs`).

use crate::{Error, Result};
use memmap2::Mmap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// A read-only `u64` array, owned or inside a mapped file.
#[derive(Clone, Debug)]
pub enum Words {
    /// Built in memory.
    Owned(Vec<u64>),
    /// A window of a mapped file, checked to be 8-byte aligned and in bounds when made.
    Mapped {
        /// The mapping, shared by every section of the file.
        map: Arc<Mmap>,
        /// Byte offset of the first word.
        start: usize,
        /// Number of words.
        len: usize,
    },
}

impl Words {
    /// A window of `len` words at byte `start` of `map`; errors if misaligned or out of bounds.
    pub fn mapped(map: Arc<Mmap>, start: usize, len: usize, name: &str) -> Result<Words> {
        let end = len.checked_mul(8).and_then(|n| n.checked_add(start));
        let ok = end.is_some_and(|e| e <= map.len())
            && bytemuck::try_cast_slice::<u8, u64>(&map[start..end.unwrap_or(start)]).is_ok();
        if !ok {
            return Err(Error::corrupt(
                name,
                start as u64,
                "section out of bounds or misaligned",
            ));
        }
        Ok(Words::Mapped { map, start, len })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// True if there are no words.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AsRef<[u64]> for Words {
    #[inline]
    fn as_ref(&self) -> &[u64] {
        match self {
            Words::Owned(v) => v,
            // Bounds and alignment were checked in `mapped`; the fallback is unreachable.
            Words::Mapped { map, start, len } => map
                .get(*start..*start + *len * 8)
                .and_then(|b| bytemuck::try_cast_slice(b).ok())
                .unwrap_or(&[]),
        }
    }
}

/// Maps a file read-only.
///
/// Safety of the mapping rests on the file not changing underneath it. fraudcore never writes
/// a file in place: saves go to a temporary file that is renamed over the old one, so a mapped
/// file keeps its old inode and contents. A file truncated in place by another program would
/// fault the process; the README's security section says so.
#[allow(unsafe_code)]
pub fn map_file(path: &Path) -> Result<Arc<Mmap>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    // SAFETY: see above: the file is only ever replaced by rename, never modified in place.
    let map = unsafe { Mmap::map(&file) }.map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(Arc::new(map))
}
