//! The run as stages over a work folder, so that it can be spread over many machines:
//!
//! - **plan**: the sorted input manifest (paths, sizes, content hashes) and the frozen
//!   configuration;
//! - **scan** `i/N`: per shard (a contiguous range of input files), each document's facts and its
//!   shingles, band keys and short lines split into hash-range partitions;
//! - **resolve** `j/P`: one hash-range partition (a fixed equal split of the u64 key space): shared
//!   shingles routed back to their documents, LSH candidate pairs, repeated lines;
//! - **merge**: candidate pairs verified, the union-find, one decision file per input file;
//! - **apply** `i/M`: passages judged and the output of a range of input files written.
//!
//! `gleaner clean` runs the same functions in one process over a temporary work folder, so both
//! produce the same bytes. Each task writes its files under temporary names, renames them, then
//! writes a done marker; a finished task is skipped when run again, and a stage refuses to start
//! before every upstream marker exists.

pub mod apply;
pub mod commands;
pub mod files;
pub mod merge;
pub mod resolve;
pub mod routes;
pub mod scan;
pub mod slurm;
mod sources;
mod varint;
pub mod words;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::config::Config;
use crate::corpus::{InputFile, InputKind};
use crate::error::{Error, Result};

/// One task of a stage: `index` of `count` (written `i/N`, zero-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Task {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("a task is written i/N (zero-based), not {s:?}"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("bad task index {i:?}"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("bad task count {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "task {index}/{count}: the index must be below the count"
            ));
        }
        Ok(Task { index, count })
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// An input as planned: where it is, and what it held.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedInput {
    pub file: InputFile,
    pub size: u64,
    /// xxh3-64 of the file's bytes, in hex; absent for a run in one process (`gleaner clean`
    /// reads a FIFO or stdin once per pass, and nothing can change between its stages).
    pub xxh3: Option<String>,
}

/// The frozen plan of a run: inputs, configuration, output, task counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub gleaner_version: String,
    pub inputs: Vec<PlannedInput>,
    pub output: PathBuf,
    pub scan_tasks: usize,
    pub resolve_tasks: usize,
    pub config: Config,
}

impl Manifest {
    /// Plans a run; with `hash_inputs`, every input's size and content hash go into the plan so
    /// that tasks on other machines can check they read the same bytes.
    pub fn new(
        config: &Config,
        inputs: &[InputFile],
        output: &Path,
        (scan_tasks, resolve_tasks): (usize, usize),
        hash_inputs: bool,
    ) -> Result<Self> {
        if scan_tasks == 0 || resolve_tasks == 0 {
            return Err(Error::usage(
                "--scan-tasks and --resolve-tasks must be at least 1",
            ));
        }
        let inputs = inputs
            .iter()
            .map(|file| {
                let (size, hash) = if hash_inputs {
                    let (size, hash) = content_hash(&file.path)?;
                    (size, Some(format!("{hash:016x}")))
                } else {
                    let meta =
                        std::fs::metadata(&file.path).map_err(|e| Error::io(&file.path, e))?;
                    (meta.len(), None)
                };
                Ok(PlannedInput {
                    file: file.clone(),
                    size,
                    xxh3: hash,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Manifest {
            format: files::FORMAT,
            gleaner_version: env!("CARGO_PKG_VERSION").to_string(),
            inputs,
            output: output.to_path_buf(),
            scan_tasks,
            resolve_tasks,
            config: config.clone(),
        })
    }

    fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("serializing into memory");
        bytes.push(b'\n');
        bytes
    }

    pub fn inputs(&self) -> Vec<InputFile> {
        self.inputs.iter().map(|p| p.file.clone()).collect()
    }

    /// The input files of scan task `index`: contiguous, about equal in bytes.
    pub fn scan_files(&self, index: usize) -> Range<usize> {
        let sizes: Vec<u64> = self.inputs.iter().map(|p| p.size).collect();
        split_by_size(&sizes, self.scan_tasks, index)
    }

    /// The input files of apply task `task`: contiguous, about equal in bytes.
    pub fn apply_files(&self, task: Task) -> Range<usize> {
        let sizes: Vec<u64> = self.inputs.iter().map(|p| p.size).collect();
        split_by_size(&sizes, task.count, task.index)
    }
}

/// Part `index` of `parts` contiguous ranges of files, split where the running byte count crosses
/// each part's share (a file goes to the part where its first byte falls).
pub fn split_by_size(sizes: &[u64], parts: usize, index: usize) -> Range<usize> {
    let total: u128 = sizes.iter().map(|&s| s as u128).sum::<u128>().max(1);
    let part_of = |before: u128| ((before * parts as u128 / total) as usize).min(parts - 1);
    let mut before = 0u128;
    let mut start = sizes.len();
    let mut end = sizes.len();
    for (k, &s) in sizes.iter().enumerate() {
        let p = part_of(before);
        if p >= index && start == sizes.len() {
            start = k;
        }
        if p > index {
            end = k;
            break;
        }
        before += s as u128;
    }
    start.min(end)..end
}

/// The size and xxh3-64 of a file's bytes.
fn content_hash(path: &Path) -> Result<(u64, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hasher.digest()))
}

/// Which partition of `parts` equal ranges of the u64 key space a hash falls in.
pub fn partition_of(hash: u64, parts: usize) -> usize {
    ((hash as u128 * parts as u128) >> 64) as usize
}

/// A stage's done marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Scan(usize),
    Resolve(usize),
    Merge,
    Apply(Task),
}

/// A work folder with its plan.
pub struct Work {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// xxh3-64 of the manifest file: every stage file carries it.
    pub hash: u64,
    /// Sync stage files to disk before renaming them (off for the temporary work folder of
    /// `gleaner clean`, which a crash throws away anyway).
    pub durable: bool,
    /// The disk budget every stage file charges (`gleaner clean`'s temporary folder).
    pub budget: Option<Arc<files::SpaceBudget>>,
}

impl Work {
    /// Writes the plan into `dir`; a folder that already holds the same plan is kept (a rerun), one
    /// that holds another is refused.
    pub fn plan(dir: &Path, manifest: Manifest) -> Result<Work> {
        Work::plan_in(dir, manifest, true)
    }

    /// [`Work::plan`] for a work folder that lives only as long as the run (`gleaner clean`'s):
    /// nothing in it is synced to disk, as a crash throws it away anyway, and its stage files
    /// stop the run when they would take it past `budget`.
    pub fn plan_temporary(
        dir: &Path,
        manifest: Manifest,
        budget: files::SpaceBudget,
    ) -> Result<Work> {
        let mut work = Work::plan_in(dir, manifest, false)?;
        work.budget = Some(Arc::new(budget));
        Ok(work)
    }

    fn plan_in(dir: &Path, manifest: Manifest, durable: bool) -> Result<Work> {
        let bytes = manifest.to_json();
        let path = dir.join("manifest.json");
        match std::fs::read(&path) {
            Ok(old) if old == bytes => {}
            Ok(_) => {
                return Err(Error::usage(format!(
                    "{} holds another plan; give a fresh --work folder",
                    dir.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                files::write_small(&path, &bytes, durable)?
            }
            Err(e) => return Err(Error::io(&path, e)),
        }
        Ok(Work {
            dir: dir.to_path_buf(),
            hash: xxh3_64(&bytes),
            manifest,
            durable,
            budget: None,
        })
    }

    /// Opens a planned work folder.
    pub fn open(dir: &Path) -> Result<Work> {
        let path = dir.join("manifest.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::usage(format!(
                    "{} has no manifest.json; run `gleaner plan --work {}` first",
                    dir.display(),
                    dir.display()
                ))
            } else {
                Error::io(&path, e)
            }
        })?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::usage(format!("{}: not a gleaner manifest ({e})", path.display()))
        })?;
        if manifest.format != files::FORMAT {
            return Err(Error::usage(format!(
                "{}: planned with work format {}, this gleaner reads {}; plan again",
                path.display(),
                manifest.format,
                files::FORMAT
            )));
        }
        Ok(Work {
            dir: dir.to_path_buf(),
            hash: xxh3_64(&bytes),
            manifest,
            durable: true,
            budget: None,
        })
    }

    /// Refuses inputs that changed since the plan.
    pub fn check_inputs(&self, files: Range<usize>) -> Result<()> {
        for planned in &self.manifest.inputs[files] {
            let Some(planned_hash) = &planned.xxh3 else {
                continue;
            };
            if planned.file.kind == InputKind::Stdin {
                continue;
            }
            let (size, hash) = content_hash(&planned.file.path)?;
            if size != planned.size || format!("{hash:016x}") != *planned_hash {
                return Err(Error::usage(format!(
                    "{} changed since `gleaner plan` ({} bytes planned, {size} now); restore it or plan again",
                    planned.file.path.display(),
                    planned.size
                )));
            }
        }
        Ok(())
    }

    /// A stage file of this plan.
    pub fn writer(&self, path: &Path, kind: &str) -> Result<files::StageWriter> {
        files::StageWriter::create(path, kind, self.hash, self.durable, self.budget.clone())
    }

    pub fn marker(&self, marker: Marker) -> PathBuf {
        match marker {
            Marker::Scan(i) => self.dir.join("scan").join(format!("{i}.done")),
            Marker::Resolve(j) => self.dir.join("resolve").join(format!("{j}.done")),
            Marker::Merge => self.dir.join("merge").join("done"),
            Marker::Apply(t) => self
                .dir
                .join("apply")
                .join(format!("{}-of-{}.done", t.index, t.count)),
        }
    }

    /// Whether a task finished for this plan.
    pub fn is_done(&self, marker: Marker) -> bool {
        std::fs::read(self.marker(marker)).is_ok_and(|b| b == self.marker_bytes())
    }

    pub fn mark_done(&self, marker: Marker) -> Result<()> {
        files::write_small(&self.marker(marker), &self.marker_bytes(), self.durable)
    }

    fn marker_bytes(&self) -> Vec<u8> {
        format!("{:016x}\n", self.hash).into_bytes()
    }

    /// Refuses to start a stage until every upstream task is done.
    pub fn require(&self, stage: &str, upstream: &[Marker]) -> Result<()> {
        let missing: Vec<String> = upstream
            .iter()
            .filter(|&&m| !self.is_done(m))
            .map(|&m| self.marker(m).display().to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{stage} cannot start: {} upstream task(s) not done ({}{})",
            missing.len(),
            missing[..missing.len().min(3)].join(", "),
            if missing.len() > 3 { ", ..." } else { "" }
        )))
    }

    pub fn scan_markers(&self) -> Vec<Marker> {
        (0..self.manifest.scan_tasks).map(Marker::Scan).collect()
    }

    pub fn resolve_markers(&self) -> Vec<Marker> {
        (0..self.manifest.resolve_tasks)
            .map(Marker::Resolve)
            .collect()
    }

    /// Files of scan shard `i`.
    pub fn facts_path(&self, i: usize) -> PathBuf {
        self.dir.join("scan").join(i.to_string()).join("facts.bin")
    }
    pub fn index_path(&self, i: usize) -> PathBuf {
        self.dir.join("scan").join(i.to_string()).join("index.bin")
    }
    pub fn scan_part_path(&self, i: usize, j: usize) -> PathBuf {
        self.dir
            .join("scan")
            .join(i.to_string())
            .join(format!("partition-{j}.bin"))
    }
    /// Files of resolve partition `j`.
    pub fn routes_path(&self, j: usize, shard: usize) -> PathBuf {
        self.dir
            .join("resolve")
            .join(j.to_string())
            .join(format!("routes-{shard}.bin"))
    }
    pub fn resolve_path(&self, j: usize, what: &str) -> PathBuf {
        self.dir
            .join("resolve")
            .join(j.to_string())
            .join(format!("{what}.bin"))
    }
    /// Files of the merge.
    pub fn decisions_path(&self, file: usize) -> PathBuf {
        self.dir
            .join("merge")
            .join("decisions")
            .join(format!("{file}.bin"))
    }
    pub fn repeated_path(&self) -> PathBuf {
        self.dir.join("merge").join("repeated.bin")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_parse_and_refuse_nonsense() {
        assert_eq!("2/5".parse::<Task>(), Ok(Task { index: 2, count: 5 }));
        assert!("5/5".parse::<Task>().is_err());
        assert!("0/0".parse::<Task>().is_err());
        assert!("3".parse::<Task>().is_err());
    }

    #[test]
    fn size_split_is_contiguous_and_covers_every_file() {
        let sizes = [5u64, 1, 1, 1, 10, 0, 3, 3, 3, 3];
        for parts in 1..14 {
            let ranges: Vec<_> = (0..parts)
                .map(|i| split_by_size(&sizes, parts, i))
                .collect();
            let mut next = 0;
            for r in &ranges {
                assert_eq!(r.start, next, "{parts}: {ranges:?}");
                next = r.end;
            }
            assert_eq!(next, sizes.len());
        }
        assert_eq!(split_by_size(&[], 3, 1), 0..0);
        assert_eq!(split_by_size(&[0, 0], 2, 0), 0..2);
    }

    #[test]
    fn partitions_split_the_key_space_evenly() {
        assert_eq!(partition_of(0, 7), 0);
        assert_eq!(partition_of(u64::MAX, 7), 6);
        assert_eq!(partition_of(u64::MAX / 2, 2), 0);
        assert_eq!(partition_of(u64::MAX / 2 + 1, 2), 1);
    }
}
