//! `gleaner clean`: the stages of [`crate::stages`] run in one process over a temporary work
//! folder (scan every document in parallel, resolve each hash range, merge, apply while writing
//! the corpus in order). "Earlier" always means a smaller DocId, never "seen first by a thread".

mod apply;
mod progress;

use std::path::PathBuf;
use std::time::Instant;

pub use apply::{apply_document, apply_line, Applied, ApplyContext, IdIndex};
pub use progress::Progress;

use crate::config::{Config, OnError, Paths};
use crate::corpus::atomic::{commit_all, AtomicFile};
use crate::corpus::{
    discover, for_each_batch, guard, Compression, DocId, Document, Fields, InputFile, InputKind,
    OutputTarget,
};
use crate::error::{Error, Result};
use crate::report::{mib, Counts, Report, Timings};
use crate::stages;

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub counts: Counts,
    pub timings: Timings,
}

/// One record of a batch: a document's mapped value, or a record that could not be read.
pub enum Slot<T> {
    Doc(T),
    Bad(BadRecord),
}

/// A record skipped under `--on-error skip`.
pub struct BadRecord {
    message: String,
    raw: String,
}

impl BadRecord {
    fn new(error: Error, raw: &[u8]) -> Self {
        BadRecord {
            message: error.to_string(),
            raw: String::from_utf8_lossy(raw).into_owned(),
        }
    }

    /// The line written to `--rejected`: where it was, what was wrong, the record as text.
    pub fn rejected_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(&serde_json::json!({
            "rejected": {"reason": "bad-record", "error": self.message},
            "record": self.raw,
        }))
        .expect("serializing into memory");
        line.push(b'\n');
        line
    }
}

/// The compact facts the scan step keeps about one document.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct DocScan {
    pub doc_id: DocId,
    pub id: String,
    pub len_code_points: usize,
    /// Boilerplate facts (`None` when the step is off).
    pub boilerplate: Option<crate::boilerplate::DocFacts>,
    /// Shingles, spans and signature for near-duplicate detection.
    pub dedup: crate::dedup::DocFacts,
}

/// Runs `gleaner clean`.
pub fn clean(config: &Config, paths: &Paths) -> Result<Summary> {
    let started = Instant::now();
    let mut inputs = discover(&paths.inputs)?;
    let target = OutputTarget::from_arg(&paths.output);
    let mut outputs = target.planned_paths(&inputs);
    outputs.extend(
        [&paths.report, &paths.explain, &paths.rejected]
            .into_iter()
            .flatten()
            .cloned(),
    );
    let folder = match &target {
        OutputTarget::Folder(dir) => Some(dir.as_path()),
        _ => None,
    };
    guard::check_outputs(&paths.inputs, &inputs, &outputs, folder)?;
    let boilerplate = crate::boilerplate::Boilerplate::from_config(&config.boilerplate)?;
    check_annotate_only(config, &target, &inputs)?;
    // stdin is read twice (scan, then apply), so it is kept in a temporary file meanwhile.
    let _spool = spool_stdin(&mut inputs)?;

    let pool = thread_pool(config)?;
    pool.install(|| {
        let mut timings = Timings::default();
        let parent = config.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix(".gleaner-work-")
            .tempdir_in(&parent)
            .map_err(|e| Error::io(&parent, e))?;
        let _cleanup = crate::corpus::atomic::PendingGuard::new(dir.path());
        // As many partitions resolved at once as there are threads.
        let at_once = rayon::current_num_threads();
        let partitions = stages::resolve::partitions_for(config, &inputs, at_once);
        let tasks = (1, partitions);
        let manifest = stages::Manifest::new(config, &inputs, &paths.output, tasks, false)?;
        let budget = stages::files::SpaceBudget::new(
            &parent,
            config.max_tmp_space.unwrap_or_else(|| free_space(&parent)),
            crate::corpus::input::total_bytes(&inputs),
        );
        let work = stages::Work::plan_temporary(dir.path(), manifest, budget)?;

        let t = Instant::now();
        stages::scan::run(&work, 0, boilerplate.as_ref(), config.quiet)?;
        timings.scan = t.elapsed().as_secs_f64();

        let t = Instant::now();
        check_memory(config, &stages::resolve::Projection::of(&work)?, at_once)?;
        stages::resolve::run_all(&work, at_once)?;
        // The partitions are read: deleting them (most of the work folder) overlaps the rest.
        let _deleting =
            DeleteInBackground::start((0..partitions).map(|j| work.scan_part_path(0, j)).collect());
        stages::merge::run(&work)?;
        timings.resolve = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let outputs = stages::apply::Outputs {
            target,
            explain: optional_file(&paths.explain)?,
            rejected: optional_file(&paths.rejected)?,
        };
        let task = stages::Task { index: 0, count: 1 };
        let (counts, mut staged) = stages::apply::run(&work, task, outputs, config.quiet)?;
        timings.apply = t.elapsed().as_secs_f64();
        timings.total = started.elapsed().as_secs_f64();

        if let Some(path) = &paths.report {
            let report = Report {
                gleaner_version: env!("CARGO_PKG_VERSION"),
                inputs: inputs.iter().map(InputFile::display_name).collect(),
                output: paths.output.display().to_string(),
                threads: rayon::current_num_threads(),
                counts: &counts,
                seconds: &timings,
                config,
            };
            let mut file = AtomicFile::create(path, Compression::None)?;
            let mut bytes = serde_json::to_vec_pretty(&report).expect("serializing into memory");
            bytes.push(b'\n');
            file.write_all(&bytes)?;
            staged.push(file.finish()?);
        }
        // Only now, with every file complete, do outputs appear under their names.
        commit_all(staged)?;
        Ok(Summary { counts, timings })
    })
}

/// Deletes files on a thread of its own; dropping it waits for the thread, so that the work
/// folder is not removed under it.
struct DeleteInBackground(Option<std::thread::JoinHandle<()>>);

impl DeleteInBackground {
    fn start(paths: Vec<PathBuf>) -> Self {
        DeleteInBackground(Some(std::thread::spawn(move || {
            for path in paths {
                // A file left behind goes with its temporary folder at the end.
                let _ = std::fs::remove_file(path);
            }
        })))
    }
}

impl Drop for DeleteInBackground {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

/// `--annotate-only` attaches spans to JSONL records: text files cannot carry them.
pub fn check_annotate_only(
    config: &Config,
    target: &OutputTarget,
    inputs: &[InputFile],
) -> Result<()> {
    if config.annotate_only {
        if let Some(input) = inputs.iter().find(|i| target.writes_text(i)) {
            return Err(Error::usage(format!(
                "--annotate-only attaches spans to JSONL records, but {} would be written as a text file; write to a .jsonl output instead",
                input.display_name()
            )));
        }
    }
    Ok(())
}

/// The worker threads of a run.
pub fn thread_pool(config: &Config) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(config.worker_threads())
        .build()
        .map_err(|e| Error::usage(format!("cannot start {} threads: {e}", config.threads)))
}

/// Copies JSONL from stdin into a temporary file that the stdin input then reads.
fn spool_stdin(
    inputs: &mut [InputFile],
) -> Result<Option<(tempfile::TempPath, crate::corpus::atomic::PendingGuard)>> {
    let Some(input) = inputs.iter_mut().find(|i| i.kind == InputKind::Stdin) else {
        return Ok(None);
    };
    let mut temp = tempfile::NamedTempFile::new().map_err(|e| Error::io("<temporary file>", e))?;
    let guard = crate::corpus::atomic::PendingGuard::new(temp.path());
    std::io::copy(&mut std::io::stdin().lock(), &mut temp).map_err(|e| Error::io("<stdin>", e))?;
    let path = temp.into_temp_path();
    input.path = path.to_path_buf();
    Ok(Some((path, guard)))
}

/// Which documents [`each_batch`] reads: input files `files` of `inputs`, each with its JSONL
/// line when `keep_raw` (to write the record back).
pub struct Source<'a> {
    pub inputs: &'a [InputFile],
    pub files: std::ops::Range<usize>,
    pub keep_raw: bool,
    /// Only the lines of JSONL records (see [`Fields::lines_only`]).
    pub lines_only: bool,
}

/// Reads the documents of input files `files` in batches: `prepare` sees the DocIds of each
/// batch's records in order, before they are parsed (for state that streams along with them,
/// one value per record), then each record is parsed and its document given to `map` with its
/// value, in parallel (parsed and processed by one task, while its text is in the cache), and
/// `consume` receives the results in order. A record that cannot be read stops the run (the
/// first in corpus order, so the message does not depend on timing) or, with `--on-error skip`,
/// comes through as [`Slot::Bad`].
pub fn each_batch<P: Send, T: Send>(
    config: &Config,
    source: Source<'_>,
    progress: &Progress,
    mut prepare: impl FnMut(&[DocId]) -> Result<Vec<P>>,
    map: impl Fn(&InputFile, &Document, P) -> T + Sync,
    mut consume: impl FnMut(usize, Vec<Slot<T>>) -> Result<()>,
) -> Result<()> {
    let fields = Fields {
        text: config.text_field.clone(),
        id: config.id_field.clone(),
        raw: source.keep_raw,
        lines_only: source.lines_only,
    };
    for_each_batch(
        source.inputs,
        source.files,
        config.batch_bytes(),
        |input, batch| {
            let prepared = prepare(&batch.doc_ids())?;
            let mapped = batch.parse_map(input, &fields, prepared, |doc, p| map(input, &doc, p));
            let mut slots = Vec::with_capacity(mapped.len());
            let mut docs = 0;
            for (i, result) in mapped.into_iter().enumerate() {
                match result {
                    Ok(value) => {
                        docs += 1;
                        slots.push(Slot::Doc(value));
                    }
                    Err(e) if config.on_error == OnError::Skip => {
                        slots.push(Slot::Bad(BadRecord::new(e, batch.item_bytes(i))))
                    }
                    Err(e) => return Err(e),
                }
            }
            progress.advance(docs, batch.bytes());
            consume(batch.file_index, slots)
        },
    )
}

/// Runs `produce` on this thread while a writer thread runs `write` over everything `produce`
/// sends, a couple of batches behind: reading and computing go on while the last batch is
/// written. `produce` stops at the first failed send (the writer has stopped), and the writer's
/// error, when there is one, is the one returned.
///
/// The writer gets each item on loan ([`Loan`]): when it is done with one, the item goes back to
/// this thread and is freed here, at the next send. Freed on the writer thread, the thousands of
/// buffers of a batch would each take the lock of the allocator arena that the workers are
/// allocating from, and the workers would wait on it.
pub fn with_writer_thread<T: Send, W: Send>(
    write: impl FnOnce(Loans<T>) -> Result<W> + Send,
    produce: impl FnOnce(&dyn Fn(T) -> Result<()>) -> Result<()>,
) -> Result<W> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<T>(2);
        let (back, returned) = std::sync::mpsc::channel::<T>();
        let writer = scope.spawn(move || write(Loans { rx, back }));
        let returned = &returned;
        let send = move |item: T| {
            returned.try_iter().for_each(drop);
            tx.send(item)
                .map_err(|_| Error::usage("the writer thread stopped"))
        };
        let produced = produce(&send);
        // Ends the writer's items.
        drop(send);
        let written = writer.join().expect("the writer thread does not panic");
        // The last items came back as the writer ended: freed here too.
        returned.try_iter().for_each(drop);
        match (produced, written) {
            (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
            (Ok(()), Ok(w)) => Ok(w),
        }
    })
}

/// What the writer thread of [`with_writer_thread`] receives: the items sent, in order, each on
/// loan.
pub struct Loans<T> {
    rx: std::sync::mpsc::Receiver<T>,
    back: std::sync::mpsc::Sender<T>,
}

impl<T> Iterator for Loans<T> {
    type Item = Loan<T>;

    fn next(&mut self) -> Option<Loan<T>> {
        let item = self.rx.recv().ok()?;
        Some(Loan {
            item: Some(item),
            back: self.back.clone(),
        })
    }
}

/// An item the writer thread may read and change; dropped, it goes back to the producing thread.
pub struct Loan<T> {
    item: Option<T>,
    back: std::sync::mpsc::Sender<T>,
}

impl<T> std::ops::Deref for Loan<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.item.as_ref().expect("an item until dropped")
    }
}

impl<T> std::ops::DerefMut for Loan<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("an item until dropped")
    }
}

impl<T> Drop for Loan<T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            // The producer has gone only when the run is ending: then it is freed here.
            let _ = self.back.send(item);
        }
    }
}

fn optional_file(path: &Option<PathBuf>) -> Result<Option<AtomicFile>> {
    path.as_ref()
        .map(|p| AtomicFile::create(p, compression_of(p)))
        .transpose()
}

/// The free space of the disk `dir` is on, less 5 % (no limit when it cannot be read): what a
/// temporary work folder there may take without filling the disk.
fn free_space(dir: &std::path::Path) -> u64 {
    match rustix::fs::statvfs(dir) {
        Ok(s) => s.f_bavail.saturating_mul(s.f_frsize) / 20 * 19,
        Err(_) => u64::MAX,
    }
}

/// Prints the projected memory of the resolve step (unless `--quiet`) and stops the run when one
/// partition is over the budget: better now, with advice, than killed by the system half-way.
fn check_memory(
    config: &Config,
    projection: &stages::resolve::Projection,
    at_once: usize,
) -> Result<()> {
    let budget = config.memory_budget();
    let peak = projection.peak(at_once);
    if !config.quiet {
        let partitions = match (projection.partitions, at_once) {
            (0 | 1, _) => "1 hash-range partition, resolved from disk".to_string(),
            (p, 0 | 1) => format!("{p} hash-range partitions, resolved one at a time from disk"),
            (p, n) => format!(
                "{p} hash-range partitions, resolved {} at a time from disk",
                n.min(p)
            ),
        };
        eprintln!(
            "gleaner: resolve projected at {} ({} shingles; {partitions}){}",
            mib(peak),
            projection.occurrences,
            budget.map_or(String::new(), |b| format!("; --max-memory {}", mib(b))),
        );
    }
    match budget {
        Some(budget) if peak > budget => Err(Error::usage(format!(
            "the resolve step is projected to need {}, more than --max-memory {}; raise --max-memory (default 80% of the machine's memory) or clean the corpus in parts",
            mib(peak),
            mib(budget)
        ))),
        _ => Ok(()),
    }
}

/// Side files (explain, rejected) are compressed when their name says so.
fn compression_of(path: &std::path::Path) -> Compression {
    match crate::corpus::input::kind_of(path) {
        Some(InputKind::Jsonl(c)) => c,
        _ => Compression::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_thread_gets_everything_in_order() {
        let got = with_writer_thread(
            |loans| Ok(loans.map(|l| *l).collect::<Vec<u32>>()),
            |send| (0..100).try_for_each(send),
        )
        .unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    /// Records the thread that drops it.
    struct Dropped(std::sync::Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(std::thread::current().id());
        }
    }

    /// What the writer has written is freed on the producing thread, not on the writer's.
    #[test]
    fn written_items_are_freed_on_the_producing_thread() {
        let drops = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer_thread = with_writer_thread(
            |loans: Loans<Dropped>| {
                for loan in loans {
                    drop(loan);
                }
                Ok(std::thread::current().id())
            },
            |send| (0..50).try_for_each(|_| send(Dropped(drops.clone()))),
        )
        .unwrap();
        let drops = drops.lock().unwrap();
        assert_eq!(drops.len(), 50);
        let here = std::thread::current().id();
        assert_ne!(writer_thread, here);
        assert!(
            drops.iter().all(|&t| t == here),
            "freed on the writer thread"
        );
    }

    /// A writer that fails stops the producer at its next send, and its error is the one
    /// returned.
    #[test]
    fn the_writers_error_wins_and_stops_the_producer() {
        let mut sent = 0;
        let result = with_writer_thread(
            |loans: Loans<u32>| -> Result<()> {
                for item in loans {
                    if *item == 3 {
                        return Err(Error::usage("disk full"));
                    }
                }
                Ok(())
            },
            |send| {
                for i in 0..1000 {
                    send(i)?;
                    sent += 1;
                }
                Ok(())
            },
        );
        assert_eq!(result.unwrap_err().to_string(), "disk full");
        assert!(sent < 1000, "the producer went on after the writer stopped");
    }
}
