//! Files between stages: a versioned header (format, kind, the manifest's hash) and then bincode
//! records. Every file is written under a temporary name and renamed when complete, so a reader
//! never sees half a file; a reader refuses a file of another kind, format or manifest.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MAGIC: [u8; 8] = *b"GLEANER\0";
/// The layout of stage files; bumped whenever a record changes.
pub const FORMAT: u32 = 1;

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

/// Writes one stage file; it appears under its name only after [`StageWriter::finish`].
pub struct StageWriter {
    path: PathBuf,
    temp: tempfile::NamedTempFile,
    out: BufWriter<File>,
    written: u64,
}

impl StageWriter {
    pub fn create(path: &Path, kind: &str, manifest: u64) -> Result<Self> {
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
        };
        w.write(&Header {
            magic: MAGIC,
            format: FORMAT,
            kind: kind.to_string(),
            manifest,
        })?;
        Ok(w)
    }

    /// Appends one record.
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<()> {
        let n = bincode::serialized_size(record).map_err(|e| corrupt(&self.path, e))?;
        bincode::serialize_into(&mut self.out, record).map_err(|e| match *e {
            bincode::ErrorKind::Io(io) => Error::io(&self.path, io),
            other => corrupt(&self.path, other),
        })?;
        self.written += n;
        Ok(())
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
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
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
}

impl StageReader {
    pub fn open(path: &Path, kind: &str, manifest: u64) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut r = StageReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 16, file),
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
        let at_end = self
            .input
            .fill_buf()
            .map_err(|e| Error::io(&self.path, e))?
            .is_empty();
        if at_end {
            return Ok(None);
        }
        bincode::deserialize_from(&mut self.input)
            .map(Some)
            .map_err(|e| corrupt(&self.path, format!("truncated or damaged stage file ({e})")))
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
        let mut bytes = vec![0u8; (end - start) as usize];
        self.file
            .read_exact_at(&mut bytes, start)
            .map_err(|e| Error::io(&self.path, e))?;
        bincode::deserialize(&bytes)
            .map_err(|e| corrupt(&self.path, format!("damaged stage file ({e})")))
    }
}

/// Writes a small file (a marker, the manifest) under a temporary name, then renames it.
pub fn write_small(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".gleaner-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    temp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    temp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let mut w = StageWriter::create(&path, "pairs", 7).unwrap();
        let first = w.offset();
        w.write(&vec![(1u32, 2u32)]).unwrap();
        let second = w.offset();
        w.write(&vec![(3u32, 4u32), (5, 6)]).unwrap();
        let end = w.offset();
        assert!(!path.exists(), "no file under its name before finish");
        w.finish().unwrap();
        let all: Vec<Vec<(u32, u32)>> =
            StageReader::open(&path, "pairs", 7).unwrap().all().unwrap();
        assert_eq!(all, vec![vec![(1, 2)], vec![(3, 4), (5, 6)]]);
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
        assert!(r.read::<Vec<(u32, u32)>>().is_err());
    }
}
