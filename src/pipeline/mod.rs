//! The run: scan every document in parallel, resolve over the whole corpus, apply while writing
//! the corpus in order. "Earlier" always means a smaller DocId, never "seen first by a thread".

mod apply;
mod progress;

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

pub use apply::{apply_document, Applied, ApplyContext, IdIndex};

use crate::config::{Config, OnError, Paths};
use crate::corpus::atomic::{commit_all, AtomicFile};
use crate::corpus::{
    discover, for_each_batch, guard, Compression, CorpusWriter, DocId, Document, Fields, InputFile,
    InputKind, OutputTarget,
};
use crate::decision::DocDecision;
use crate::error::{Error, Result};
use crate::report::{Counts, Report, Timings};
use progress::Progress;

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub counts: Counts,
    pub timings: Timings,
}

/// One record of a batch: a document's mapped value, or a record that could not be read.
enum Slot<T> {
    Doc(T),
    Bad(BadRecord),
}

/// A record skipped under `--on-error skip`.
struct BadRecord {
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
    fn rejected_line(&self) -> Vec<u8> {
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
    if config.annotate_only {
        if let Some(input) = inputs.iter().find(|i| target.writes_text(i)) {
            return Err(Error::usage(format!(
                "--annotate-only attaches spans to JSONL records, but {} would be written as a text file; write to a .jsonl output instead",
                input.display_name()
            )));
        }
    }
    // stdin is read twice (scan, then apply), so it is kept in a temporary file meanwhile.
    let _spool = spool_stdin(&mut inputs)?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.worker_threads())
        .build()
        .map_err(|e| Error::usage(format!("cannot start {} threads: {e}", config.threads)))?;
    pool.install(|| Run::new(config, paths, &inputs, target, boilerplate.as_ref()).execute(started))
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

struct Run<'a> {
    config: &'a Config,
    paths: &'a Paths,
    inputs: &'a [InputFile],
    target: OutputTarget,
    fields: Fields,
    boilerplate: Option<&'a crate::boilerplate::Boilerplate>,
}

impl<'a> Run<'a> {
    fn new(
        config: &'a Config,
        paths: &'a Paths,
        inputs: &'a [InputFile],
        target: OutputTarget,
        boilerplate: Option<&'a crate::boilerplate::Boilerplate>,
    ) -> Self {
        let fields = Fields {
            text: config.text_field.clone(),
            id: config.id_field.clone(),
        };
        Run {
            config,
            paths,
            inputs,
            target,
            fields,
            boilerplate,
        }
    }

    fn execute(&self, started: Instant) -> Result<Summary> {
        let mut timings = Timings::default();
        let t = Instant::now();
        let scans = self.scan()?;
        timings.scan = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let (ids, decisions) = self.resolve(scans)?;
        timings.resolve = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let (counts, mut staged) = self.apply(&ids, &decisions)?;
        timings.apply = t.elapsed().as_secs_f64();
        timings.total = started.elapsed().as_secs_f64();

        if let Some(path) = &self.paths.report {
            let report = Report {
                gleaner_version: env!("CARGO_PKG_VERSION"),
                inputs: self.inputs.iter().map(InputFile::display_name).collect(),
                output: self.paths.output.display().to_string(),
                threads: rayon::current_num_threads(),
                counts: &counts,
                seconds: &timings,
                config: self.config,
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
    }

    /// Parses a batch and maps its documents in parallel, in order. A record that cannot be read
    /// stops the run (the first in corpus order, so the message does not depend on timing) or,
    /// with `--on-error skip`, comes through as [`Slot::Bad`].
    fn batches<T: Send>(
        &self,
        progress: &Progress,
        map: impl Fn(&InputFile, &Document) -> T + Sync,
        mut consume: impl FnMut(usize, Vec<Slot<T>>) -> Result<()>,
    ) -> Result<()> {
        let mut next_ordinal = 0;
        for_each_batch(self.inputs, self.config.batch_bytes, |input, batch| {
            let mut docs = Vec::with_capacity(batch.len());
            // In line order: `None` for a document (in `docs`), `Some` for a bad record.
            let mut order = Vec::with_capacity(batch.len());
            for (i, parsed) in batch.parse(input, &self.fields).into_iter().enumerate() {
                match parsed {
                    Ok(mut doc) => {
                        doc.ordinal = next_ordinal;
                        next_ordinal += 1;
                        docs.push(doc);
                        order.push(None);
                    }
                    Err(e) if self.config.on_error == OnError::Skip => {
                        order.push(Some(BadRecord::new(e, batch.item_bytes(i))))
                    }
                    Err(e) => return Err(e),
                }
            }
            let mut mapped = docs
                .par_iter()
                .map(|d| map(input, d))
                .collect::<Vec<T>>()
                .into_iter();
            progress.advance(docs.len(), batch.bytes());
            let slots = order
                .into_iter()
                .map(|bad| match bad {
                    Some(bad) => Slot::Bad(bad),
                    None => Slot::Doc(mapped.next().expect("one mapped value per document")),
                })
                .collect();
            consume(batch.file_index, slots)
        })
    }

    fn scan(&self) -> Result<Vec<DocScan>> {
        let progress = Progress::new("scan", self.config.quiet);
        let mut scans = Vec::new();
        let dedup = crate::dedup::Scanner::new(&self.config.dedup);
        self.batches(
            &progress,
            |_, doc| DocScan {
                doc_id: doc.doc_id,
                id: doc.id.clone(),
                len_code_points: doc.text.chars().count(),
                boilerplate: self.boilerplate.map(|b| b.scan(&doc.text)),
                dedup: dedup.scan(&doc.text, &crate::text::blocks(&doc.text)),
            },
            |_, batch| {
                scans.extend(batch.into_iter().filter_map(|slot| match slot {
                    Slot::Doc(scan) => Some(scan),
                    Slot::Bad(_) => None,
                }));
                Ok(())
            },
        )?;
        progress.finish();
        Ok(scans)
    }

    fn resolve(&self, scans: Vec<DocScan>) -> Result<(IdIndex, Vec<DocDecision>)> {
        let mut ids = IdIndex::default();
        let mut decisions = vec![DocDecision::default(); scans.len()];
        if let Some(b) = self.boilerplate {
            let facts: Vec<_> = scans
                .iter()
                .filter_map(|s| s.boilerplate.as_ref())
                .collect();
            b.resolve(&facts, &mut decisions);
        }
        let (mut doc_ids, mut dedup) = (Vec::with_capacity(scans.len()), Vec::new());
        for scan in scans {
            ids.push(scan.doc_id, scan.id, scan.len_code_points);
            doc_ids.push(scan.doc_id);
            dedup.push(scan.dedup);
        }
        crate::dedup::resolve(&self.config.dedup, &doc_ids, &dedup, &mut decisions);
        Ok((ids, decisions))
    }

    fn apply(
        &self,
        ids: &IdIndex,
        decisions: &[DocDecision],
    ) -> Result<(Counts, Vec<crate::corpus::atomic::Staged>)> {
        let progress = Progress::new("write", self.config.quiet);
        let mut corpus = CorpusWriter::new(self.target.clone(), self.inputs)?;
        let mut explain = self.optional_file(&self.paths.explain)?;
        let mut rejected = self.optional_file(&self.paths.rejected)?;
        let mut counts = Counts::default();
        let mut next_unfinished = 0;
        let (want_explain, want_rejected) = (explain.is_some(), rejected.is_some());
        self.batches(
            &progress,
            |input, doc| {
                let ctx = ApplyContext {
                    text_field: &self.config.text_field,
                    as_text: self.target.writes_text(input),
                    explain: want_explain,
                    rejected: want_rejected,
                    annotate_only: self.config.annotate_only,
                    ids,
                };
                apply_document(doc, &decisions[doc.ordinal], &ctx)
            },
            |file_index, applied| {
                for f in next_unfinished..file_index {
                    corpus.end_file(f)?;
                }
                next_unfinished = file_index;
                for slot in applied {
                    let a = match slot {
                        Slot::Doc(a) => a,
                        Slot::Bad(bad) => {
                            counts.records_skipped += 1;
                            if let Some(file) = &mut rejected {
                                file.write_all(&bad.rejected_line())?;
                            }
                            continue;
                        }
                    };
                    if a.written {
                        corpus.write(file_index, &a.output)?;
                    }
                    if let Some(file) = &mut explain {
                        file.write_all(&a.explain)?;
                    }
                    if let Some(file) = &mut rejected {
                        file.write_all(&a.rejected)?;
                    }
                    counts.add(&a.counts);
                }
                Ok(())
            },
        )?;
        for f in next_unfinished..self.inputs.len() {
            corpus.end_file(f)?;
        }
        progress.finish();
        let mut staged = corpus.finish()?;
        for file in [explain, rejected].into_iter().flatten() {
            staged.push(file.finish()?);
        }
        Ok((counts, staged))
    }

    fn optional_file(&self, path: &Option<PathBuf>) -> Result<Option<AtomicFile>> {
        path.as_ref()
            .map(|p| AtomicFile::create(p, compression_of(p)))
            .transpose()
    }
}

/// A byte count for people: MiB, or bytes under one MiB.
fn mib(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{bytes} bytes")
    } else {
        format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

/// Side files (explain, rejected) are compressed when their name says so.
fn compression_of(path: &std::path::Path) -> Compression {
    match crate::corpus::input::kind_of(path) {
        Some(InputKind::Jsonl(c)) => c,
        _ => Compression::None,
    }
}
