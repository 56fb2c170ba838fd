//! Output files written under a temporary name in the destination folder and renamed into place
//! only when the whole run has succeeded, so a failed run leaves no partial file under the output
//! name. Temporary files are deleted when dropped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use std::sync::Mutex;

use tempfile::TempPath;

use super::input::Compression;
use crate::error::{Error, Result};

/// Temporary files of this process not yet renamed into place, for [`remove_pending`].
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary file for removal on interruption; unregisters it when dropped.
pub struct PendingGuard(PathBuf);

impl PendingGuard {
    pub fn new(path: &Path) -> Self {
        lock_pending().push(path.to_path_buf());
        PendingGuard(path.to_path_buf())
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut pending = lock_pending();
        if let Some(i) = pending.iter().position(|p| *p == self.0) {
            pending.swap_remove(i);
        }
    }
}

fn lock_pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic elsewhere must not stop the cleanup.
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes a panic delete every temporary file still pending, after its message: release builds
/// abort on a panic (a bug), and an abort runs no destructors.
pub fn remove_pending_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        remove_pending();
    }));
}

/// Deletes every temporary file still pending: called on SIGINT/SIGTERM, which end the process
/// without running destructors.
pub fn remove_pending() {
    for path in lock_pending().drain(..) {
        // A temporary work folder goes with everything in it.
        if path.is_dir() {
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A file being written; becomes visible under its name through [`Staged::commit`].
pub struct AtomicFile {
    path: PathBuf,
    temp: TempPath,
    encoder: Encoder,
    guard: PendingGuard,
}

enum Encoder {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl AtomicFile {
    /// Starts writing `path`, compressing as `compression` says.
    pub fn create(path: &Path, compression: Compression) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        let (file, temp) = temp.into_parts();
        let guard = PendingGuard::new(&temp);
        let buffered = BufWriter::with_capacity(1 << 20, file);
        let encoder = match compression {
            Compression::None => Encoder::Plain(buffered),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Encoder::Zstd(
                zstd::stream::write::Encoder::new(buffered, 3).map_err(|e| Error::io(path, e))?,
            ),
        };
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp,
            encoder,
            guard,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match &mut self.encoder {
            Encoder::Plain(w) => w.write_all(bytes),
            Encoder::Gzip(w) => w.write_all(bytes),
            Encoder::Zstd(w) => w.write_all(bytes),
        };
        result.map_err(|e| Error::io(&self.path, e))
    }

    /// Completes the stream (compression trailer, flush, fsync-free close); the file keeps its
    /// temporary name until committed.
    pub fn finish(self) -> Result<Staged> {
        let path = self.path;
        let writer = match self.encoder {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(w) => w.finish(),
            Encoder::Zstd(w) => w.finish(),
        }
        .map_err(|e| Error::io(&path, e))?;
        writer
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        Ok(Staged {
            path,
            temp: self.temp,
            _guard: self.guard,
        })
    }
}

/// A complete file under its temporary name.
pub struct Staged {
    path: PathBuf,
    temp: TempPath,
    _guard: PendingGuard,
}

impl Staged {
    /// Renames the file into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.temp
            .persist(&path)
            .map_err(|e| Error::io(&path, e.error))
    }
}

/// Commits every staged file; called once the whole run has succeeded.
pub fn commit_all(staged: Vec<Staged>) -> Result<()> {
    staged.into_iter().try_for_each(Staged::commit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn nothing_under_the_name_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut f = AtomicFile::create(&path, Compression::None).unwrap();
        f.write_all(b"abc\n").unwrap();
        let staged = f.finish().unwrap();
        assert!(!path.exists());
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.jsonl.gz");
        let mut f = AtomicFile::create(&path, Compression::Gzip).unwrap();
        f.write_all(b"abc\n").unwrap();
        drop(f);
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
            0
        );
    }

    #[test]
    fn compressed_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for (name, c) in [
            ("a.jsonl.gz", Compression::Gzip),
            ("a.jsonl.zst", Compression::Zstd),
        ] {
            let path = dir.path().join(name);
            let mut f = AtomicFile::create(&path, c).unwrap();
            f.write_all(b"hello\n").unwrap();
            f.finish().unwrap().commit().unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let mut text = String::new();
            match c {
                Compression::Gzip => flate2::read::MultiGzDecoder::new(file)
                    .read_to_string(&mut text)
                    .unwrap(),
                _ => zstd::stream::read::Decoder::new(file)
                    .unwrap()
                    .read_to_string(&mut text)
                    .unwrap(),
            };
            assert_eq!(text, "hello\n");
        }
    }
}
