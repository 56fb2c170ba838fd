//! Scan task `i/N`: reads the shard's input files, keeps each document's facts (in document
//! order, with an index of offsets) and splits its shingle occurrences, LSH band keys and short
//! lines into the hash-range partitions that the resolve tasks read.

use serde::{Deserialize, Serialize};

use super::files::StageWriter;
use super::{partition_of, Marker, Work};
use crate::boilerplate::Boilerplate;
use crate::corpus::DocId;
use crate::dedup::docs::band_keys;
use crate::dedup::passages::Occurrence;
use crate::error::Result;
use crate::pipeline::{each_batch, DocScan, Progress, Slot};

pub const FACTS: &str = "facts";
pub const INDEX: &str = "index";
pub const PARTITION: &str = "partition";

/// One batch's share of a hash-range partition, as the scan writes it (local document numbers).
#[derive(Debug, Serialize, Deserialize)]
pub enum PartChunk {
    /// Shingle occurrences (hash, document, position, block), sorted.
    Occurrences(Vec<Occurrence>),
    /// LSH band keys (key, band, document).
    Bands(Vec<(u64, u32, u32)>),
    /// Short-line hashes, one per document that has the line.
    Lines(Vec<u64>),
}

/// Where each document of a shard is: its DocId and the byte offset of its facts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ShardIndex {
    pub docs: Vec<(DocId, u64)>,
    /// Offset of the end of the last record.
    pub end: u64,
}

impl ShardIndex {
    /// The byte range of local document `k`'s facts.
    pub fn range(&self, k: usize) -> (u64, u64) {
        let end = self.docs.get(k + 1).map_or(self.end, |d| d.1);
        (self.docs[k].1, end)
    }
}

/// Per-partition buffers of one shard, written as one record per batch.
struct Parts {
    occurrences: Vec<Vec<Occurrence>>,
    bands: Vec<Vec<(u64, u32, u32)>>,
    lines: Vec<Vec<u64>>,
}

/// Runs scan task `index` (skipped when already done).
pub fn run(
    work: &Work,
    index: usize,
    boilerplate: Option<&Boilerplate>,
    quiet: bool,
) -> Result<()> {
    if work.is_done(Marker::Scan(index)) {
        return Ok(());
    }
    let files = work.manifest.scan_files(index);
    work.check_inputs(files.clone())?;
    let config = &work.manifest.config;
    let parts_n = work.manifest.resolve_tasks;
    let inputs = work.manifest.inputs();
    let mut facts = StageWriter::create(&work.facts_path(index), FACTS, work.hash)?;
    let mut part_out = (0..parts_n)
        .map(|j| StageWriter::create(&work.scan_part_path(index, j), PARTITION, work.hash))
        .collect::<Result<Vec<_>>>()?;
    let mut shard = ShardIndex::default();
    let dedup = crate::dedup::Scanner::new(&config.dedup);
    let (bands, rows) = (config.dedup.bands, config.dedup.rows);
    let progress = Progress::new("scan", quiet);
    each_batch(
        config,
        &inputs,
        files,
        &progress,
        |docs| Ok(vec![(); docs.len()]),
        |_, doc, ()| DocScan {
            doc_id: doc.doc_id,
            id: doc.id.clone(),
            len_code_points: doc.text.chars().count(),
            boilerplate: boilerplate.map(|b| b.scan(&doc.text)),
            dedup: dedup.scan(&doc.text, &crate::text::blocks(&doc.text)),
        },
        |_, batch| {
            let mut parts = Parts {
                occurrences: vec![Vec::new(); parts_n],
                bands: vec![Vec::new(); parts_n],
                lines: vec![Vec::new(); parts_n],
            };
            let mut line_hashes = Vec::new();
            for slot in batch {
                let Slot::Doc(scan) = slot else { continue };
                let local = shard.docs.len() as u32;
                for o in crate::dedup::occurrences(local, &scan.dedup) {
                    parts.occurrences[partition_of(o.0, parts_n)].push(o);
                }
                for (key, band) in band_keys(&scan.dedup.signature, bands, rows) {
                    parts.bands[partition_of(key, parts_n)].push((key, band, local));
                }
                if let Some(b) = &scan.boilerplate {
                    // Counted once per document.
                    line_hashes.clear();
                    line_hashes.extend(b.short_lines.iter().map(|l| l.hash));
                    line_hashes.extend(b.removed_short_lines.iter().copied());
                    line_hashes.sort_unstable();
                    line_hashes.dedup();
                    for &h in &line_hashes {
                        parts.lines[partition_of(h, parts_n)].push(h);
                    }
                }
                shard.docs.push((scan.doc_id, facts.offset()));
                facts.write(&scan)?;
            }
            for (j, mut o) in parts.occurrences.into_iter().enumerate() {
                if !o.is_empty() {
                    // Sorted runs: the resolve task merges them.
                    o.sort_unstable();
                    part_out[j].write(&PartChunk::Occurrences(o))?;
                }
            }
            for (j, b) in parts.bands.into_iter().enumerate() {
                if !b.is_empty() {
                    part_out[j].write(&PartChunk::Bands(b))?;
                }
            }
            for (j, l) in parts.lines.into_iter().enumerate() {
                if !l.is_empty() {
                    part_out[j].write(&PartChunk::Lines(l))?;
                }
            }
            Ok(())
        },
    )?;
    progress.finish();
    shard.end = facts.offset();
    facts.finish()?;
    for w in part_out {
        w.finish()?;
    }
    let mut index_file = StageWriter::create(&work.index_path(index), INDEX, work.hash)?;
    index_file.write(&shard)?;
    index_file.finish()?;
    work.mark_done(Marker::Scan(index))
}
