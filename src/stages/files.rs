//! Files between stages: a versioned header (format, kind, the manifest's hash) and then bincode
//! records, each after its length in bytes (u64, little-endian). Every file is written under a temporary name and renamed when complete, so a reader
//! never sees half a file; a reader refuses a file of another kind, format or manifest.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MAGIC: [u8; 8] = *b"GLEANER\0";
/// The layout of stage files; bumped whenever a record changes.
pub const FORMAT: u32 = 7;

#[derive(Serialize, Deserialize, PartialEq)]
struct Header {
    magic: [u8; 8],
    format: u32,
    kind: String,
    manifest: u64,
}

fn corrupt(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::usage(format!("{}: {what}", path.display()))
}

/// The disk budget of a work folder: every stage file charges its bytes to it as they are
/// written, and a write that would take the folder past it fails instead, so that a run stops
/// with a clear message before it fills the disk.
#[derive(Debug)]
pub struct SpaceBudget {
    /// Where the work folder is (`--tmp-dir`), for the message.
    folder: PathBuf,
    limit: u64,
    /// Input bytes of the run, for the message.
    input: u64,
    used: AtomicU64,
}

impl SpaceBudget {
    pub fn new(folder: &Path, limit: u64, input: u64) -> Self {
        SpaceBudget {
            folder: folder.to_path_buf(),
            limit,
            input,
            used: AtomicU64::new(0),
        }
    }

    /// Takes `bytes` more for the folder; an error if that goes past the limit.
    fn charge(&self, bytes: u64) -> Result<()> {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if used <= self.limit {
            return Ok(());
        }
        Err(Error::usage(format!(
            "the temporary work folder in {} reached --max-tmp-space {} (default: the free space of its disk, less 5%) on {} of input; it takes two to five bytes per input byte: point --tmp-dir at a disk with more room, raise --max-tmp-space or clean the corpus in parts",
            self.folder.display(),
            crate::report::mib(self.limit),
            crate::report::mib(self.input),
        )))
    }
}

/// The error of a failed write to a stage file: a full disk gets the same advice as a spent
/// [`SpaceBudget`].
fn write_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        Error::usage(format!(
            "{}: the disk is full; the temporary work folder takes two to five bytes per input byte: point --tmp-dir at a disk with more room or clean the corpus in parts",
            path.display()
        ))
    } else {
        Error::io(path, e)
    }
}

/// Writes one stage file; it appears under its name only after [`StageWriter::finish`].
pub struct StageWriter {
    path: PathBuf,
    temp: tempfile::NamedTempFile,
    out: BufWriter<File>,
    written: u64,
    durable: bool,
    budget: Option<Arc<SpaceBudget>>,
}

impl StageWriter {
    /// A `durable` file is synced to disk before it is renamed: a task on a cluster must not
    /// leave a done marker for data a crash could still lose.
    pub fn create(
        path: &Path,
        kind: &str,
        manifest: u64,
        durable: bool,
        budget: Option<Arc<SpaceBudget>>,
    ) -> Result<Self> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let temp = tempfile::Builder::new()
            .prefix(".gleaner-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        let file = temp.reopen().map_err(|e| Error::io(path, e))?;
        let mut w = StageWriter {
            path: path.to_path_buf(),
            temp,
            out: BufWriter::with_capacity(1 << 16, file),
            written: 0,
            durable,
            budget,
        };
        w.write(&Header {
            magic: MAGIC,
            format: FORMAT,
            kind: kind.to_string(),
            manifest,
        })?;
        Ok(w)
    }

    /// Appends one record serialized beforehand (with `bincode::serialize`), e.g. in parallel.
    pub fn write_serialized(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(budget) = &self.budget {
            budget.charge(8 + bytes.len() as u64)?;
        }
        let len = (bytes.len() as u64).to_le_bytes();
        self.out
            .write_all(&len)
            .and_then(|()| self.out.write_all(bytes))
            .map_err(|e| write_error(&self.path, e))?;
        self.written += 8 + bytes.len() as u64;
        Ok(())
    }

    /// Appends one record.
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<()> {
        let bytes = bincode::serialize(record).map_err(|e| corrupt(&self.path, e))?;
        self.write_serialized(&bytes)
    }

    /// Bytes written so far, header included: the offset of the next record.
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// Flushes, syncs and renames the file to its name.
    pub fn finish(self) -> Result<()> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| write_error(&self.path, e.into_error()))?;
        if self.durable {
            file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        self.temp
            .persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        Ok(())
    }
}

/// Reads the records of one stage file in order.
pub struct StageReader {
    path: PathBuf,
    input: BufReader<File>,
    buf: Vec<u8>,
}

impl StageReader {
    pub fn open(path: &Path, kind: &str, manifest: u64) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut r = StageReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 16, file),
            buf: Vec::new(),
        };
        let header: Header = r.read()?.ok_or_else(|| corrupt(path, "empty stage file"))?;
        if header.magic != MAGIC || header.format != FORMAT || header.kind != kind {
            return Err(corrupt(
                path,
                format!("not a {kind} file of this gleaner (format {FORMAT}); run the stage again"),
            ));
        }
        if header.manifest != manifest {
            return Err(corrupt(
                path,
                "written for another plan (manifest or configuration differs); run the stage again in a fresh work folder",
            ));
        }
        Ok(r)
    }

    /// The next record, or `None` at the end of the file.
    pub fn read<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        if self.read_raw()?.is_none() {
            return Ok(None);
        }
        self.decode().map(Some)
    }

    /// The record [`StageReader::read_raw`] read last, decoded.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        bincode::deserialize(&self.buf)
            .map_err(|e| corrupt(&self.path, format!("damaged stage file ({e})")))
    }

    /// The bytes of the next record (valid until the next read), or `None` at the end of the
    /// file: for a caller that decodes a record into buffers of its own.
    pub fn read_raw(&mut self) -> Result<Option<&[u8]>> {
        let at_end = self
            .input
            .fill_buf()
            .map_err(|e| Error::io(&self.path, e))?
            .is_empty();
        if at_end {
            return Ok(None);
        }
        let truncated = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                corrupt(&self.path, "truncated stage file; run the stage again")
            } else {
                Error::io(&self.path, e)
            }
        };
        let mut len = [0u8; 8];
        self.input.read_exact(&mut len).map_err(truncated)?;
        let len = u64::from_le_bytes(len) as usize;
        // Records are read whole, then decoded from memory: much faster than field by field.
        self.buf.clear();
        self.buf.reserve(len);
        (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut self.buf)
            .map_err(truncated)?;
        if self.buf.len() != len {
            return Err(corrupt(
                &self.path,
                "truncated stage file; run the stage again",
            ));
        }
        Ok(Some(&self.buf))
    }

    /// The path read, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every remaining record.
    pub fn all<T: DeserializeOwned>(mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(r) = self.read()? {
            out.push(r);
        }
        Ok(out)
    }
}

/// Reads single records at known offsets of a stage file (checked header), from any thread.
pub struct RecordFile {
    path: PathBuf,
    file: File,
}

impl RecordFile {
    pub fn open(path: &Path, kind: &str, manifest: u64) -> Result<Self> {
        StageReader::open(path, kind, manifest)?;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(RecordFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The record in bytes `start..end` of the file.
    pub fn read<T: DeserializeOwned>(&self, start: u64, end: u64) -> Result<T> {
        use std::os::unix::fs::FileExt;
        // Past the record's length.
        let n = (end - start - 8) as usize;
        let read = |bytes: &mut [u8]| -> Result<T> {
            self.file
                .read_exact_at(bytes, start + 8)
                .map_err(|e| Error::io(&self.path, e))?;
            bincode::deserialize(bytes)
                .map_err(|e| corrupt(&self.path, format!("damaged stage file ({e})")))
        };
        if n > KEPT_RECORD_BUF {
            // A huge document's: not kept for the rest of the run.
            return read(&mut vec![0u8; n]);
        }
        RECORD_BUF.with_borrow_mut(|buf| {
            if buf.len() < n {
                buf.resize(n, 0);
            }
            read(&mut buf[..n])
        })
    }
}

/// The longest record [`RecordFile::read`] reads into the buffer its thread keeps.
const KEPT_RECORD_BUF: usize = 1 << 20;

thread_local! {
    /// [`RecordFile::read`]'s buffer, kept from record to record (apply reads every document's
    /// facts this way): no allocation, and no zeroing of bytes about to be read over.
    static RECORD_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes a small file (a marker, the manifest) under a temporary name, then renames it; a
/// `durable` one is synced to disk first.
pub fn write_small(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".gleaner-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    temp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    if durable {
        temp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    }
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stage files charge every byte they write, header and lengths included, to a shared budget;
    /// the write that would pass it fails with the knobs named, and nothing of it is written.
    #[test]
    fn stage_files_stop_at_the_space_budget() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Arc::new(SpaceBudget::new(dir.path(), 400, 1000));
        let mut a = StageWriter::create(&dir.path().join("a"), "x", 1, false, Some(budget.clone()))
            .unwrap();
        let mut b = StageWriter::create(&dir.path().join("b"), "x", 1, false, Some(budget.clone()))
            .unwrap();
        let headers = a.offset() + b.offset();
        assert_eq!(budget.used.load(Ordering::Relaxed), headers);
        a.write_serialized(&[0; 100]).unwrap();
        b.write_serialized(&[0; 100]).unwrap();
        assert_eq!(budget.used.load(Ordering::Relaxed), headers + 216);
        let room = 400 - headers - 216;
        let e = a
            .write_serialized(&vec![0; room as usize])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--max-tmp-space 400 bytes") && e.contains("--tmp-dir"),
            "{e}"
        );
        assert_eq!(
            a.offset(),
            headers / 2 + 108,
            "the refused record is not written"
        );
        // Without a budget nothing is counted or refused.
        let mut c = StageWriter::create(&dir.path().join("c"), "x", 1, false, None).unwrap();
        c.write_serialized(&[0; 10_000]).unwrap();
    }

    #[test]
    fn records_round_trip_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let mut w = StageWriter::create(&path, "pairs", 7, true, None).unwrap();
        w.write_serialized(&bincode::serialize(&vec![(0u32, 0u32)]).unwrap())
            .unwrap();
        let first = w.offset();
        w.write(&vec![(1u32, 2u32)]).unwrap();
        let second = w.offset();
        w.write(&vec![(3u32, 4u32), (5, 6)]).unwrap();
        let end = w.offset();
        assert!(!path.exists(), "no file under its name before finish");
        w.finish().unwrap();
        let all: Vec<Vec<(u32, u32)>> =
            StageReader::open(&path, "pairs", 7).unwrap().all().unwrap();
        assert_eq!(all, vec![vec![(0, 0)], vec![(1, 2)], vec![(3, 4), (5, 6)]]);
        let rf = RecordFile::open(&path, "pairs", 7).unwrap();
        assert_eq!(rf.read::<Vec<(u32, u32)>>(second, end).unwrap().len(), 2);
        assert_eq!(
            rf.read::<Vec<(u32, u32)>>(first, second).unwrap(),
            vec![(1, 2)]
        );
        let other = StageReader::open(&path, "pairs", 8)
            .err()
            .unwrap()
            .to_string();
        assert!(other.contains("another plan"), "{other}");
        let kind = StageReader::open(&path, "routes", 7)
            .err()
            .unwrap()
            .to_string();
        assert!(kind.contains("not a routes file"), "{kind}");
        // A truncated file is an error, not a shorter list.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let mut r = StageReader::open(&path, "pairs", 7).unwrap();
        r.read::<Vec<(u32, u32)>>().unwrap();
        r.read::<Vec<(u32, u32)>>().unwrap();
        let truncated = r.read::<Vec<(u32, u32)>>().err().unwrap().to_string();
        assert!(truncated.contains("truncated"), "{truncated}");
    }
}
