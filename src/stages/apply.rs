//! Apply task `i/M`: for a contiguous range of input files, each document's decision is put
//! together (boilerplate removals and repeated lines, the merge's drop, its passages judged from
//! the routed shared shingles) and its clean text written, in corpus order.

use super::files::StageReader;
use super::merge::DECISIONS;
use super::resolve::{REPEATED, ROUTES};
use super::routes::{unpack_doc, RouteChunk};
use super::sources::FileSources;
use super::{Marker, Task, Work};
use crate::boilerplate::Boilerplate;
use crate::config::{Config, OnError};
use crate::corpus::atomic::{commit_all, AtomicFile, Staged};
use crate::corpus::{CorpusWriter, DocId, OutputTarget};
use crate::corpus::{InputFile, InputKind};
use crate::decision::{DocDecision, DropReason};
use crate::dedup::passages::{DocShared, Scratch, SharedEntry};
use crate::error::{Error, Result};
use crate::pipeline::{
    apply_document, apply_line, each_batch, with_writer_thread, Applied, ApplyContext, IdIndex,
    Loans, Progress, Slot, Source,
};
use crate::report::Counts;
use rayon::prelude::*;

/// Where an apply task writes.
pub struct Outputs {
    pub target: OutputTarget,
    pub explain: Option<AtomicFile>,
    pub rejected: Option<AtomicFile>,
}

/// Runs apply task `task` of a planned work folder, writing the output folder of the plan, and
/// marks it done (skipped when already done).
pub fn run_task(work: &Work, task: Task, quiet: bool) -> Result<Counts> {
    if work.is_done(Marker::Apply(task)) {
        return Ok(Counts::default());
    }
    work.require(&format!("apply {task}"), &[Marker::Merge])?;
    let outputs = Outputs {
        target: OutputTarget::Folder(work.manifest.output.clone()),
        explain: None,
        rejected: None,
    };
    let (counts, staged) = run(work, task, outputs, quiet)?;
    commit_all(staged)?;
    work.mark_done(Marker::Apply(task))?;
    Ok(counts)
}

/// The routed shared shingles of one shard's documents, read from every partition along with
/// the documents.
struct RouteStreams {
    shard: usize,
    /// The ordinal of the shard's first document.
    base: u32,
    parts: Vec<PartitionRoutes>,
}

/// One document's entries from one partition, and the postings they point into.
type DocEntries<'a> = (&'a [SharedEntry], &'a [(u32, u32)]);

/// One partition's routes for a shard, read a record at a time, and what a batch took of them.
struct PartitionRoutes {
    path: std::path::PathBuf,
    reader: StageReader,
    /// The record being read (`None` at the end), its next document and that one's first byte.
    chunk: Option<RouteChunk>,
    next_doc: usize,
    next_byte: usize,
    /// The batch's first document (its number in the shard), and for each document of the
    /// batch from that one on, its range of `taken.entries` (empty for none): found by
    /// subtraction, since each document looks in every partition, of which there are hundreds
    /// on a large corpus.
    first: u32,
    ranges: Vec<(u32, u32)>,
    taken: DocShared,
}

impl PartitionRoutes {
    fn open(work: &Work, j: usize, shard: usize) -> Result<Self> {
        let path = work.routes_path(j, shard);
        let mut reader = StageReader::open(&path, ROUTES, work.hash)?;
        let chunk = reader.read()?;
        Ok(PartitionRoutes {
            path,
            reader,
            chunk,
            next_doc: 0,
            next_byte: 0,
            first: 0,
            ranges: Vec::new(),
            taken: DocShared::default(),
        })
    }

    /// Decodes the entries of every document numbered `last` or less, in place of the last
    /// batch's, which ended before `first`.
    fn take_batch(&mut self, first: u32, last: u32, base: u32) -> Result<()> {
        self.first = first;
        self.ranges.clear();
        self.ranges
            .resize(last.saturating_sub(first) as usize + 1, (0, 0));
        self.taken.entries.clear();
        self.taken.postings.clear();
        let damaged = || {
            Error::usage(format!(
                "{}: damaged stage file (routes); run the resolve step again",
                self.path.display()
            ))
        };
        while let Some(chunk) = &self.chunk {
            let Some(&(local, count)) = chunk.docs().get(self.next_doc) else {
                if self.next_byte != chunk.bytes().len() {
                    return Err(damaged());
                }
                self.chunk = self.reader.read()?;
                (self.next_doc, self.next_byte) = (0, 0);
                continue;
            };
            if local > last {
                break;
            }
            let start = self.taken.entries.len() as u32;
            let mut bytes = chunk.bytes()[self.next_byte..].iter();
            let d = base.checked_add(local).ok_or_else(damaged)?;
            unpack_doc(&mut bytes, d, count, &mut self.taken).ok_or_else(damaged)?;
            self.next_byte = chunk.bytes().len() - bytes.as_slice().len();
            self.next_doc += 1;
            if let Some(range) = local
                .checked_sub(first)
                .and_then(|k| self.ranges.get_mut(k as usize))
            {
                *range = (start, self.taken.entries.len() as u32);
            }
        }
        Ok(())
    }

    /// Document `local`'s entries and their postings, when the batch has any.
    fn of(&self, local: u32) -> Option<DocEntries<'_>> {
        let &(start, end) = self.ranges.get(local.checked_sub(self.first)? as usize)?;
        if start == end {
            return None;
        }
        let entries = &self.taken.entries[start as usize..end as usize];
        let (lo, hi) = match (entries.first(), entries.last()) {
            (Some(a), Some(b)) => (a.post_start as usize, b.post_end as usize),
            _ => (0, 0),
        };
        Some((entries, &self.taken.postings[lo..hi]))
    }
}

impl RouteStreams {
    fn open(work: &Work, shard: usize, base: u32) -> Result<Self> {
        let parts = (0..work.manifest.resolve_tasks)
            .map(|j| PartitionRoutes::open(work, j, shard))
            .collect::<Result<_>>()?;
        Ok(RouteStreams { shard, base, parts })
    }

    /// The entries of each local document of `locals` (increasing) from every partition, by
    /// position. Batches must be asked for in increasing order. Each partition's file is read
    /// on a worker of its own.
    fn take_batch(&mut self, locals: &[u32]) -> Result<Vec<DocShared>> {
        let (Some(&first), Some(&last)) = (locals.first(), locals.last()) else {
            return Ok(Vec::new());
        };
        let base = self.base;
        self.parts
            .par_iter_mut()
            .try_for_each(|part| part.take_batch(first, last, base))?;
        let parts = &self.parts;
        Ok(locals
            .par_iter()
            .map(|&local| {
                let mine: Vec<DocEntries> =
                    parts.iter().filter_map(|part| part.of(local)).collect();
                let mut out = DocShared {
                    entries: Vec::with_capacity(mine.iter().map(|s| s.0.len()).sum()),
                    postings: Vec::with_capacity(mine.iter().map(|s| s.1.len()).sum()),
                };
                for (entries, postings) in &mine {
                    // The entries' postings ranges move from the partition's list to this one.
                    let from = entries.first().map_or(0, |e| e.post_start);
                    let to = out.postings.len() as u32;
                    out.entries.extend(entries.iter().map(|e| SharedEntry {
                        post_start: e.post_start - from + to,
                        post_end: e.post_end - from + to,
                        ..*e
                    }));
                    out.postings.extend_from_slice(postings);
                }
                if mine.len() > 1 {
                    by_position(&mut out.entries);
                }
                out
            })
            .collect())
    }
}

/// Orders a document's entries by position. Positions are distinct (one shingle each, routed
/// from one partition) and dense among the document's shingles: they are placed by position in
/// one pass, unless they are too sparse for that to pay.
fn by_position(entries: &mut Vec<SharedEntry>) {
    let (Some(lo), Some(hi)) = (
        entries.iter().map(|e| e.pos).min(),
        entries.iter().map(|e| e.pos).max(),
    ) else {
        return;
    };
    let span = (hi - lo) as usize + 1;
    if span > 4 * entries.len() + 64 {
        entries.sort_unstable_by_key(|e| e.pos);
        return;
    }
    let mut at = vec![u32::MAX; span];
    for (i, e) in entries.iter().enumerate() {
        at[(e.pos - lo) as usize] = i as u32;
    }
    let mut placed: Vec<SharedEntry> = Vec::with_capacity(entries.len());
    placed.extend(
        at.iter()
            .filter(|&&i| i != u32::MAX)
            .map(|&i| entries[i as usize]),
    );
    assert_eq!(placed.len(), entries.len(), "one entry per position");
    *entries = placed;
}

/// What the sequential pass over a batch finds for each document.
struct Prepared {
    ordinal: u32,
    drop: Option<DropReason>,
    shared: DocShared,
}

/// Whether the apply step can write the records back from their lines alone: nothing but a drop
/// can change a document (no boilerplate or passage step), every output is a kept record as it
/// came (no explain, rejected or annotated output, no text files written), and every record was
/// read in full by the scan (a bad one stopped the run).
fn lines_suffice(config: &Config, outputs: &Outputs, inputs: &[InputFile]) -> bool {
    let d = &config.dedup;
    !config.boilerplate.enabled
        && !d.passages
        && !d.explain_reuse
        && outputs.explain.is_none()
        && outputs.rejected.is_none()
        && !config.annotate_only
        && config.on_error == OnError::Stop
        && inputs
            .iter()
            .all(|i| i.kind != InputKind::Text && !outputs.target.writes_text(i))
}

/// The apply step over the files of `task`; returns the counts and the staged output files.
pub fn run(
    work: &Work,
    task: Task,
    outputs: Outputs,
    quiet: bool,
) -> Result<(Counts, Vec<Staged>)> {
    let files = work.manifest.apply_files(task);
    work.check_inputs(files.clone())?;
    let config = &work.manifest.config;
    let inputs = work.manifest.inputs();
    let sources = FileSources::open(work)?;
    let repeated: Vec<u64> = StageReader::open(&work.repeated_path(), REPEATED, work.hash)?
        .read()?
        .unwrap_or_default();
    let lines_only = lines_suffice(config, &outputs, &inputs);
    let judge = config.dedup.passages || config.dedup.explain_reuse;
    let needs_facts = judge || config.boilerplate.enabled;
    let mut streams: Option<RouteStreams> = None;
    let mut drops: (usize, Vec<(DocId, DropReason)>) = (usize::MAX, Vec::new());

    let progress = Progress::new("write", quiet);
    let (want_explain, want_rejected) = (outputs.explain.is_some(), outputs.rejected.is_some());
    // Sources are named only in the explain and rejected files and in annotations.
    let names_sources = want_explain || want_rejected || config.annotate_only;
    let as_text: Vec<bool> = inputs
        .iter()
        .map(|i| outputs.target.writes_text(i))
        .collect();
    let mut writer = OutputWriter {
        corpus: CorpusWriter::new(outputs.target.clone(), &inputs)?,
        outputs,
        counts: Counts::default(),
        next_unfinished: files.start,
    };
    let source = Source {
        inputs: &inputs,
        files: files.clone(),
        keep_raw: true,
        lines_only,
    };
    // A writer thread writes each batch while the workers apply the next one.
    let write = move |batches: Loans<(usize, Vec<Slot<Result<Applied>>>)>| {
        for mut batch in batches {
            let (file_index, applied) = &mut *batch;
            writer.write_batch(*file_index, applied)?;
        }
        Ok(writer)
    };
    let written = with_writer_thread(write, |send| {
        each_batch(
            config,
            source,
            &progress,
            |doc_ids| {
                // `None` for a record the scan did not read (one it skipped as bad, or a work
                // folder of other inputs): its document, if it parses, is an error.
                let mut prepared = doc_ids
                    .iter()
                    .map(|&doc_id| {
                        let Some(ordinal) = sources.ordinal(doc_id) else {
                            return Ok(None);
                        };
                        let file = doc_id.file_index();
                        if drops.0 != file {
                            let path = work.decisions_path(file);
                            drops = (
                                file,
                                StageReader::open(&path, DECISIONS, work.hash)?
                                    .read()?
                                    .unwrap_or_default(),
                            );
                        }
                        let drop = drops
                            .1
                            .binary_search_by_key(&doc_id, |d| d.0)
                            .ok()
                            .map(|i| drops.1[i].1.clone());
                        Ok(Some(Prepared {
                            ordinal,
                            drop,
                            shared: DocShared::default(),
                        }))
                    })
                    .collect::<Result<Vec<Option<Prepared>>>>()?;
                if judge {
                    // A batch is one input file's, and a file is in one shard; still, each
                    // shard's run of documents is read on its own.
                    let mut scanned: Vec<&mut Prepared> = prepared.iter_mut().flatten().collect();
                    for run in scanned.chunk_by_mut(|a, b| {
                        sources.shard_of(a.ordinal).0 == sources.shard_of(b.ordinal).0
                    }) {
                        let (shard, local) = sources.shard_of(run[0].ordinal);
                        if streams.as_ref().is_none_or(|s| s.shard != shard) {
                            let base = run[0].ordinal - local;
                            streams = Some(RouteStreams::open(work, shard, base)?);
                        }
                        let locals: Vec<u32> =
                            run.iter().map(|p| sources.shard_of(p.ordinal).1).collect();
                        let shared = streams.as_mut().expect("opened").take_batch(&locals)?;
                        for (p, s) in run.iter_mut().zip(shared) {
                            p.shared = s;
                        }
                    }
                }
                Ok(prepared)
            },
            |_, doc, prepared| -> Result<Applied> {
                let Some(prepared) = prepared else {
                    return Err(Error::usage(format!(
                        "document {} was not scanned; the work folder does not match the inputs",
                        doc.id
                    )));
                };
                if lines_only {
                    let raw = doc.raw.expect("lines are kept");
                    let text_bytes = sources.text_bytes(prepared.ordinal);
                    return Ok(apply_line(raw, text_bytes, prepared.drop.as_ref()));
                }
                let mut decision = DocDecision {
                    drop: prepared.drop,
                    ..DocDecision::default()
                };
                // Documents-only runs need nothing of the scan facts here: the drop is decided.
                if needs_facts {
                    let scan = sources.scan(prepared.ordinal)?;
                    if let Some(b) = &scan.boilerplate {
                        Boilerplate::decide(b, &repeated, &mut decision);
                    }
                    if judge {
                        crate::dedup::judge_passages(
                            &config.dedup,
                            &sources,
                            prepared.ordinal,
                            &scan.dedup,
                            &prepared.shared,
                            &mut decision,
                            &mut Scratch::default(),
                        )?;
                    }
                }
                let ids = if names_sources {
                    source_ids(&sources, &decision)?
                } else {
                    IdIndex::default()
                };
                let ctx = ApplyContext {
                    text_field: &config.text_field,
                    as_text: as_text[doc.doc_id.file_index()],
                    explain: want_explain,
                    rejected: want_rejected,
                    annotate_only: config.annotate_only,
                    ids: &ids,
                };
                Ok(apply_document(doc, &decision, &ctx))
            },
            |file_index, applied| send((file_index, applied)),
        )
    })?;
    progress.finish();
    written.finish(files.end)
}

/// Writes the applied documents of an apply task in corpus order: the corpus, the explain and
/// rejected files, and the counts.
struct OutputWriter<'a> {
    corpus: CorpusWriter<'a>,
    outputs: Outputs,
    counts: Counts,
    /// The first input file whose output is not finished yet.
    next_unfinished: usize,
}

impl OutputWriter<'_> {
    fn write_batch(
        &mut self,
        file_index: usize,
        applied: &mut Vec<Slot<Result<Applied>>>,
    ) -> Result<()> {
        // A document that failed ends the run (and no output is kept): its error is taken out.
        if let Some(i) = applied.iter().position(|s| matches!(s, Slot::Doc(Err(_)))) {
            if let Slot::Doc(Err(e)) = applied.swap_remove(i) {
                return Err(e);
            }
        }
        for f in self.next_unfinished..file_index {
            self.corpus.end_file(f)?;
        }
        self.next_unfinished = file_index;
        for slot in applied.iter() {
            let a = match slot {
                Slot::Doc(Ok(a)) => a,
                Slot::Doc(Err(_)) => unreachable!("errors are taken out above"),
                Slot::Bad(bad) => {
                    self.counts.records_skipped += 1;
                    if let Some(file) = &mut self.outputs.rejected {
                        file.write_all(&bad.rejected_line())?;
                    }
                    continue;
                }
            };
            if a.written {
                self.corpus.write(file_index, &a.output)?;
            }
            if let Some(file) = &mut self.outputs.explain {
                file.write_all(&a.explain)?;
            }
            if let Some(file) = &mut self.outputs.rejected {
                file.write_all(&a.rejected)?;
            }
            self.counts.add(&a.counts);
        }
        Ok(())
    }

    /// Ends the output files up to input file `end`; the counts and the staged files.
    fn finish(mut self, end: usize) -> Result<(Counts, Vec<Staged>)> {
        for f in self.next_unfinished..end {
            self.corpus.end_file(f)?;
        }
        let mut staged = self.corpus.finish()?;
        for file in [self.outputs.explain, self.outputs.rejected]
            .into_iter()
            .flatten()
        {
            staged.push(file.finish()?);
        }
        Ok((self.counts, staged))
    }
}

/// The ids and lengths of the documents a decision names as sources.
fn source_ids(sources: &FileSources, decision: &DocDecision) -> Result<IdIndex> {
    let mut docs: Vec<DocId> = decision
        .removals
        .iter()
        .chain(&decision.annotations)
        .filter_map(|r| r.reason.source().map(|s| s.doc))
        .chain(decision.drop.as_ref().and_then(|d| d.source().map(|s| s.0)))
        .collect();
    docs.sort_unstable();
    docs.dedup();
    let mut ids = IdIndex::default();
    for doc_id in docs {
        let d = sources
            .ordinal(doc_id)
            .expect("sources are documents of the corpus");
        let source = sources.get(d)?;
        ids.push(doc_id, source.id.clone(), source.len_code_points);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Entries placed by position come out as a sort by position leaves them, dense or sparse.
        #[test]
        fn entries_are_ordered_by_position(
            dense in proptest::collection::btree_set(0u32..400, 0..300),
            sparse in proptest::collection::btree_set(0u32..50_000, 0..40),
            pick_dense: bool,
            runs in 1usize..6,
        ) {
            let positions = if pick_dense { dense } else { sparse };
            // Distinct positions dealt into sorted runs, as the partitions hand them over.
            let mut entries = Vec::new();
            for r in 0..runs {
                entries.extend(positions.iter().skip(r).step_by(runs).map(|&pos| SharedEntry {
                    pos,
                    first: pos / 2,
                    common: pos % 3 == 0,
                    post_start: pos,
                    post_end: pos + 1,
                }));
            }
            let mut expected = entries.clone();
            expected.sort_by_key(|e| e.pos);
            by_position(&mut entries);
            prop_assert_eq!(entries, expected);
        }
    }
}
