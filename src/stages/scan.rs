//! Scan task `i/N`: reads the shard's input files, keeps each document's facts (in document
//! order, with an index of offsets) and splits its shingle occurrences, LSH band keys and short
//! lines into the hash-range partitions that the resolve tasks read.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{partition_of, varint, Marker, Work};
use crate::boilerplate::Boilerplate;
use crate::corpus::DocId;
use crate::dedup::docs::band_keys;
use crate::dedup::passages::Occurrence;
use crate::error::Result;
use crate::pipeline::{each_batch, with_writer_thread, DocScan, Loans, Progress, Slot, Source};

pub const FACTS: &str = "facts";
pub const INDEX: &str = "index";
pub const PARTITION: &str = "partition";

/// One batch's share of a hash-range partition, as the scan writes it (local document numbers).
#[derive(Debug, Serialize, Deserialize)]
pub enum PartChunk {
    /// Shingle occurrences (hash, document, position, block), in document order: the resolve
    /// task sorts a whole partition at once.
    Occurrences(PackedOccurrences),
    /// LSH band keys (key, band, document).
    Bands(Vec<(u64, u32, u32)>),
    /// Short-line hashes, one per document that has the line.
    Lines(#[serde(with = "super::words")] Vec<u64>),
}

/// bincode's tag of [`PartChunk::Occurrences`]: its variant index.
const OCCURRENCES_TAG: u32 = 0;

/// Shingle occurrences in (document, position) order, packed to about half their size: per
/// document its number and count of occurrences; per occurrence its hash, and the steps in
/// position and block from the document's previous occurrence as LEB128 bytes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PackedOccurrences {
    docs: Vec<(u32, u32)>,
    #[serde(with = "super::words")]
    hashes: Vec<u64>,
    #[serde(with = "serde_bytes")]
    steps: Vec<u8>,
    /// Position and block of the last occurrence added, while packing.
    #[serde(skip)]
    last: (u32, u32),
}

impl PackedOccurrences {
    /// Room for about `n` occurrences of `docs` documents.
    fn with_capacity(n: usize, docs: usize) -> Self {
        PackedOccurrences {
            docs: Vec::with_capacity(docs),
            hashes: Vec::with_capacity(n),
            steps: Vec::with_capacity(2 * n),
            ..PackedOccurrences::default()
        }
    }

    /// Packs occurrences given in (document, position) order.
    pub fn pack(occurrences: &[Occurrence]) -> Self {
        let mut packed = PackedOccurrences::with_capacity(occurrences.len(), 0);
        for &o in occurrences {
            packed.push(o);
        }
        packed
    }

    /// Adds the next occurrence in (document, position) order.
    fn push(&mut self, (hash, doc, pos, block): Occurrence) {
        match self.docs.last_mut() {
            Some((d, count)) if *d == doc => *count += 1,
            _ => {
                self.docs.push((doc, 1));
                self.last = (0, 0);
            }
        }
        self.hashes.push(hash);
        varint::push(&mut self.steps, pos - self.last.0);
        varint::push(&mut self.steps, block - self.last.1);
        self.last = (pos, block);
    }

    /// The bytes of `PartChunk::Occurrences` of `parts` appended one after another (each one's
    /// documents after the previous one's), written straight from the parts: what
    /// `bincode::serialize` writes for them appended, without the copy that appending makes.
    fn serialize_appended(parts: &[&PackedOccurrences]) -> Vec<u8> {
        let (mut docs, mut hashes, mut steps) = (0, 0, 0);
        for p in parts {
            docs += p.docs.len();
            hashes += p.hashes.len();
            steps += p.steps.len();
        }
        let mut bytes = Vec::with_capacity(4 + 3 * 8 + 8 * docs + 8 * hashes + steps);
        // bincode's enum tag (a u32 variant index), then each field: a u64 length and the items.
        bytes.extend_from_slice(&OCCURRENCES_TAG.to_le_bytes());
        bytes.extend_from_slice(&(docs as u64).to_le_bytes());
        for p in parts {
            for &(doc, count) in &p.docs {
                bytes.extend_from_slice(&doc.to_le_bytes());
                bytes.extend_from_slice(&count.to_le_bytes());
            }
        }
        bytes.extend_from_slice(&(8 * hashes as u64).to_le_bytes());
        for p in parts {
            bytes.extend_from_slice(&super::words::le_bytes(&p.hashes));
        }
        bytes.extend_from_slice(&(steps as u64).to_le_bytes());
        for p in parts {
            bytes.extend_from_slice(&p.steps);
        }
        bytes
    }

    /// Decodes the bytes of a [`PartChunk`] record into `self` when it is
    /// [`PartChunk::Occurrences`] (the layout [`PackedOccurrences::serialize_appended`] writes),
    /// reusing its buffers: `false` for another variant; `None` when the bytes are damaged.
    /// A resolve task reads millions of hashes per partition, and fresh buffers for them would
    /// cost a page fault per 4 KB.
    pub fn decode_into(&mut self, bytes: &[u8]) -> Option<bool> {
        let mut rest = bytes;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("four bytes"));
        let len_at = |b: &[u8]| usize::try_from(u64::from_le_bytes(b.try_into().expect("eight")));
        if u32_at(take(4)?) != OCCURRENCES_TAG {
            return Some(false);
        }
        let docs = len_at(take(8)?).ok()?;
        let doc_bytes = take(docs.checked_mul(8)?)?;
        self.docs.clear();
        self.docs.extend(
            doc_bytes
                .chunks_exact(8)
                .map(|d| (u32_at(&d[..4]), u32_at(&d[4..]))),
        );
        let hash_len = len_at(take(8)?).ok()?;
        let hash_bytes = take(hash_len)?;
        if hash_bytes.len() % 8 != 0 {
            return None;
        }
        self.hashes.clear();
        self.hashes.extend(
            hash_bytes
                .chunks_exact(8)
                .map(|h| u64::from_le_bytes(h.try_into().expect("eight bytes"))),
        );
        let steps_len = len_at(take(8)?).ok()?;
        let steps = take(steps_len)?;
        self.steps.clear();
        self.steps.extend_from_slice(steps);
        self.last = (0, 0);
        rest.is_empty().then_some(true)
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The hashes of the occurrences, in order.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// Appends the occurrences to `out`, with `base` added to every document number; `None`
    /// when the packed form is damaged.
    pub fn unpack_into(&self, base: u32, out: &mut Vec<Occurrence>) -> Option<()> {
        out.reserve(self.hashes.len());
        self.unpack_where(base, |_| true, out)
    }

    /// [`PackedOccurrences::unpack_into`] for the occurrences whose hash `keep` accepts.
    pub fn unpack_where(
        &self,
        base: u32,
        mut keep: impl FnMut(u64) -> bool,
        out: &mut Vec<Occurrence>,
    ) -> Option<()> {
        let (mut hashes, mut steps) = (self.hashes.iter(), self.steps.iter());
        for &(doc, count) in &self.docs {
            let doc = doc.checked_add(base)?;
            let (mut pos, mut block) = (0u32, 0u32);
            for _ in 0..count {
                let hash = *hashes.next()?;
                // Positions are deltas: every step is read, kept or not.
                pos = pos.checked_add(varint::read(&mut steps)?)?;
                block = block.checked_add(varint::read(&mut steps)?)?;
                if keep(hash) {
                    out.push((hash, doc, pos, block));
                }
            }
        }
        (hashes.next().is_none() && steps.next().is_none()).then_some(())
    }
}

/// Where each document of a shard is: its DocId and the byte offset of its facts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ShardIndex {
    pub docs: Vec<(DocId, u64)>,
    /// Offset of the end of the last record.
    pub end: u64,
    /// Bytes of each document's text (for the counts of an apply step that does not read it).
    pub text_bytes: Vec<u64>,
}

impl ShardIndex {
    /// The byte range of local document `k`'s facts.
    pub fn range(&self, k: usize) -> (u64, u64) {
        let end = self.docs.get(k + 1).map_or(self.end, |d| d.1);
        (self.docs[k].1, end)
    }
}

/// What the writer thread receives per batch: each document's text bytes and serialized facts,
/// and each partition's serialized records.
type WrittenBatch = (Vec<(DocId, u64, Vec<u8>)>, Vec<Vec<Vec<u8>>>);

/// Documents per unit of parallel work when splitting a batch by partition.
const CHUNK_DOCS: usize = 64;

/// Per-partition records of a few documents.
struct Parts {
    occurrences: Vec<PackedOccurrences>,
    bands: Vec<Vec<(u64, u32, u32)>>,
    lines: Vec<Vec<u64>>,
}

/// Splits the records of documents `first..` by hash-range partition (shingle occurrences only
/// with `passages`).
fn split_by_partition(
    chunk: &[(DocScan, u64, Vec<u8>)],
    first: u32,
    parts_n: usize,
    (bands, rows): (usize, usize),
    passages: bool,
) -> Parts {
    // Each partition gets about its share of the chunk's occurrences.
    let shingles: usize = chunk.iter().map(|(s, _, _)| s.dedup.shingles.len()).sum();
    let share = if passages {
        shingles / parts_n * 9 / 8
    } else {
        0
    };
    let mut parts = Parts {
        occurrences: (0..parts_n)
            .map(|_| PackedOccurrences::with_capacity(share, chunk.len()))
            .collect(),
        bands: vec![Vec::new(); parts_n],
        lines: vec![Vec::new(); parts_n],
    };
    let mut line_hashes = Vec::new();
    for (k, (scan, _, _)) in chunk.iter().enumerate() {
        let local = first + k as u32;
        if passages {
            for o in crate::dedup::occurrences(local, &scan.dedup) {
                parts.occurrences[partition_of(o.0, parts_n)].push(o);
            }
        }
        for (key, band) in band_keys(&scan.dedup.signature, bands, rows) {
            parts.bands[partition_of(key, parts_n)].push((key, band, local));
        }
        if let Some(b) = &scan.boilerplate {
            b.distinct_line_hashes(&mut line_hashes);
            for &h in &line_hashes {
                parts.lines[partition_of(h, parts_n)].push(h);
            }
        }
    }
    parts
}

/// Partition `j`'s records of a batch, serialized: occurrences (a sorted run), band keys and
/// short lines, each record only when not empty.
fn serialize_partition(chunks: &[Parts], j: usize) -> Vec<Vec<u8>> {
    let occurrences: Vec<&PackedOccurrences> = chunks
        .iter()
        .map(|c| &c.occurrences[j])
        .filter(|o| !o.is_empty())
        .collect();
    let mut keys = Vec::new();
    let mut lines = Vec::new();
    for c in chunks {
        keys.extend_from_slice(&c.bands[j]);
        lines.extend_from_slice(&c.lines[j]);
    }
    let records = [
        (!keys.is_empty()).then_some(PartChunk::Bands(keys)),
        (!lines.is_empty()).then_some(PartChunk::Lines(lines)),
    ];
    let others = records.into_iter().flatten().map(|r| {
        // Sized up front: growing a buffer of megabytes copies it and faults in new pages.
        let size = bincode::serialized_size(&r).expect("sizing a record");
        let mut bytes = Vec::with_capacity(size as usize);
        bincode::serialize_into(&mut bytes, &r).expect("serializing into memory");
        bytes
    });
    (!occurrences.is_empty())
        .then(|| PackedOccurrences::serialize_appended(&occurrences))
        .into_iter()
        .chain(others)
        .collect()
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
    let mut facts = work.writer(&work.facts_path(index), FACTS)?;
    let mut part_out = (0..parts_n)
        .map(|j| work.writer(&work.scan_part_path(index, j), PARTITION))
        .collect::<Result<Vec<_>>>()?;
    let dedup = crate::dedup::Scanner::new(&config.dedup);
    let (bands, rows) = (config.dedup.bands, config.dedup.rows);
    // Shingle occurrences are routed only for the passage step.
    let passages = config.dedup.passages || config.dedup.explain_reuse;
    let progress = Progress::new("scan", quiet);
    // A writer thread writes each batch's records while the workers scan the next one.
    let write = move |batches: Loans<WrittenBatch>| -> Result<ShardIndex> {
        let mut shard = ShardIndex::default();
        for batch in batches {
            let (docs, partitions) = &*batch;
            for (doc_id, text_bytes, bytes) in docs {
                shard.docs.push((*doc_id, facts.offset()));
                shard.text_bytes.push(*text_bytes);
                facts.write_serialized(bytes)?;
            }
            for (out, records) in part_out.iter_mut().zip(partitions) {
                for bytes in records {
                    out.write_serialized(bytes)?;
                }
            }
        }
        shard.end = facts.offset();
        facts.finish()?;
        for w in part_out {
            w.finish()?;
        }
        Ok(shard)
    };
    let shard = with_writer_thread(write, |send| {
        let mut scanned = 0u32;
        let source = Source {
            inputs: &inputs,
            files,
            keep_raw: false,
            lines_only: false,
        };
        each_batch(
            config,
            source,
            &progress,
            |docs| Ok(vec![(); docs.len()]),
            |_, doc, ()| {
                let blocks = crate::text::blocks(&doc.text);
                let bp = boilerplate.map(|b| b.scan_blocks(&doc.text, &blocks));
                // Document similarity leaves out what the boilerplate step removes.
                let mut removed: Vec<(usize, usize)> = bp
                    .iter()
                    .flat_map(|b| b.removals.iter().map(|r| (r.start, r.end)))
                    .collect();
                removed.sort_unstable();
                let dedup_facts = dedup.scan_excluding(&doc.text, &blocks, &removed);
                let scan = DocScan {
                    doc_id: doc.doc_id,
                    id: doc.id.clone(),
                    len_code_points: dedup_facts.len_code_points,
                    dedup: dedup_facts,
                    boilerplate: bp,
                };
                let bytes = bincode::serialize(&scan).expect("serializing into memory");
                (scan, doc.text.len() as u64, bytes)
            },
            |_, batch| {
                let scans: Vec<(DocScan, u64, Vec<u8>)> = batch
                    .into_iter()
                    .filter_map(|slot| match slot {
                        Slot::Doc(scan) => Some(scan),
                        Slot::Bad(_) => None,
                    })
                    .collect();
                let first = scanned;
                scanned += scans.len() as u32;
                // Each chunk of documents split by partition, in parallel ...
                let chunks: Vec<Parts> = scans
                    .par_chunks(CHUNK_DOCS)
                    .enumerate()
                    .map(|(c, chunk)| {
                        let first = first + (c * CHUNK_DOCS) as u32;
                        split_by_partition(chunk, first, parts_n, (bands, rows), passages)
                    })
                    .collect();
                // ... then each partition's share gathered, sorted and serialized in parallel.
                let partitions: Vec<Vec<Vec<u8>>> = (0..parts_n)
                    .into_par_iter()
                    .map(|j| serialize_partition(&chunks, j))
                    .collect();
                let docs = scans
                    .into_iter()
                    .map(|(s, text_bytes, b)| (s.doc_id, text_bytes, b))
                    .collect();
                send((docs, partitions))
            },
        )
    })?;
    progress.finish();
    let mut index_file = work.writer(&work.index_path(index), INDEX)?;
    index_file.write(&shard)?;
    index_file.finish()?;
    work.mark_done(Marker::Scan(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Occurrences in (document, position) order come back as they went in.
        #[test]
        fn packed_occurrences_round_trip(
            docs in proptest::collection::vec(
                (0u32..5, proptest::collection::vec((any::<u64>(), 0u32..100_000, 0u32..300), 0..20)),
                0..10,
            ),
            base in 0u32..1000,
        ) {
            let mut occurrences: Vec<Occurrence> = Vec::new();
            let mut doc = 0;
            for (gap, mut list) in docs {
                doc += gap + 1;
                list.sort_by_key(|o| o.1);
                list.dedup_by_key(|o| o.1);
                let mut blocks: Vec<u32> = list.iter().map(|o| o.2).collect();
                blocks.sort_unstable();
                for ((hash, pos, _), block) in list.into_iter().zip(blocks) {
                    occurrences.push((hash, doc, pos, block));
                }
            }
            let packed = PackedOccurrences::pack(&occurrences);
            let bytes = bincode::serialize(&packed).unwrap();
            let back: PackedOccurrences = bincode::deserialize(&bytes).unwrap();
            let mut out = Vec::new();
            prop_assert_eq!(back.unpack_into(base, &mut out), Some(()));
            let expected: Vec<Occurrence> =
                occurrences.iter().map(|&(h, d, p, b)| (h, d + base, p, b)).collect();
            prop_assert_eq!(&out, &expected);
            // Filtered while unpacking: the same as filtering after.
            let odd = |h: u64| h % 2 == 1;
            let mut some = Vec::new();
            prop_assert_eq!(back.unpack_where(base, odd, &mut some), Some(()));
            let expected: Vec<Occurrence> = out.into_iter().filter(|o| odd(o.0)).collect();
            prop_assert_eq!(some, expected);
        }
    }

    proptest! {
        /// The parts written straight are the bytes bincode writes for them appended.
        #[test]
        fn parts_serialized_straight_are_bincode_of_them_appended(
            parts in proptest::collection::vec(
                proptest::collection::vec((any::<u64>(), 0u32..3, 0u32..1000, 0u32..9), 0..12),
                0..5,
            ),
        ) {
            let mut all: Vec<Occurrence> = Vec::new();
            let mut packed = Vec::new();
            let mut doc = 0;
            for list in parts {
                let mut part = Vec::new();
                for (hash, gap, pos, block) in list {
                    doc += gap;
                    let last = part.last().filter(|o: &&Occurrence| o.1 == doc);
                    let (pos, block) = last.map_or((pos, block), |o| (o.2 + pos, o.3 + block));
                    part.push((hash, doc, pos, block));
                }
                doc += 1;
                all.extend_from_slice(&part);
                packed.push(PackedOccurrences::pack(&part));
            }
            let refs: Vec<&PackedOccurrences> = packed.iter().collect();
            let expected = bincode::serialize(&PartChunk::Occurrences(PackedOccurrences::pack(&all)))
                .unwrap();
            prop_assert_eq!(&PackedOccurrences::serialize_appended(&refs), &expected);
            // Decoded into buffers that held other occurrences: what bincode reads back.
            let mut decoded = PackedOccurrences::pack(&[(1, 0, 5, 2), (3, 4, 0, 0)]);
            prop_assert_eq!(decoded.decode_into(&expected), Some(true));
            let Ok(PartChunk::Occurrences(back)) = bincode::deserialize(&expected) else {
                panic!("occurrences written");
            };
            prop_assert_eq!(
                (&decoded.docs, &decoded.hashes, &decoded.steps),
                (&back.docs, &back.hashes, &back.steps)
            );
            prop_assert_eq!(decoded.decode_into(&expected[..expected.len() - 1]), None);
            let lines = bincode::serialize(&PartChunk::Lines(vec![1, 2])).unwrap();
            prop_assert_eq!(decoded.decode_into(&lines), Some(false));
        }
    }

    #[test]
    fn damaged_packed_occurrences_are_refused() {
        let occurrences = [(7u64, 1u32, 3u32, 0u32), (9, 1, 300, 2), (5, 2, 0, 0)];
        let mut packed = PackedOccurrences::pack(&occurrences);
        packed.steps.pop();
        assert_eq!(packed.unpack_into(0, &mut Vec::new()), None);
        let mut extra = PackedOccurrences::pack(&occurrences);
        extra.hashes.push(1);
        assert_eq!(extra.unpack_into(0, &mut Vec::new()), None);
    }
}
