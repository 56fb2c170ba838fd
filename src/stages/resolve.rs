//! Resolve task `j/P`: one hash-range partition of the whole corpus. Shingles found in two or more
//! documents become groups routed back to their occurrences (written per scan shard, by
//! document), band keys shared by documents become candidate pairs, and short lines in enough
//! documents become repeated lines.

use rayon::prelude::*;

use super::files::StageReader;
use super::routes::{RouteChunk, CHUNK_DOCS};
use super::scan::{PackedOccurrences, PartChunk, ShardIndex, INDEX, PARTITION};
use super::{Marker, Work};
use crate::config::Config;
use crate::corpus::InputFile;
use crate::dedup::docs::pairs_from_sorted;
use crate::dedup::passages::{shared_from_sorted_into, Occurrence, Route, SharedGroups};
use crate::dedup::spread_sort::sort_by_spread_key;
use crate::error::Result;

pub const ROUTES: &str = "routes";
pub const PAIRS: &str = "pairs";
pub const REPEATED: &str = "repeated";

/// Input bytes of the partitions that `gleaner clean` holds at once: a partition's sort holds
/// about four bytes per input byte of its share, so the resolve step's peak stays a small part of
/// the input however large the corpus.
const BYTES_AT_ONCE: u64 = 16 << 20;
/// Input bytes of one partition at most, for speed: the per-occurrence cost of a partition's
/// repeat filter and sort grows with its size (the 101 MB bench corpus in 13 partitions rather
/// than 7 resolves in 0.59 s rather than 0.68 s on one thread), while each partition costs
/// every scan and apply batch a record (the 1 GB corpus in 240 partitions rather than 128 took
/// 1.9 s longer to scan and apply than resolving saved).
const PARTITION_BYTES: u64 = 8 << 20;
/// A scan task keeps one file open per partition.
const MAX_PARTITIONS: u64 = 512;

/// How many hash-range partitions `gleaner clean` resolves, `at_once` at a time: enough that
/// each covers at most 8 MiB of input, that `at_once` of them cover at most 16 MiB, and that
/// the occurrences of `at_once` partitions fit in an eighth of `--max-memory`. Without passages
/// there are no occurrences, only a few band keys and short lines per document: one partition
/// holds them.
pub fn partitions_for(config: &Config, inputs: &[InputFile], at_once: usize) -> usize {
    if !(config.dedup.passages || config.dedup.explain_reuse) {
        return 1;
    }
    let input = crate::corpus::input::total_bytes(inputs);
    let bytes = input.saturating_mul(at_once.max(1) as u64);
    let by_size = bytes
        .div_ceil(BYTES_AT_ONCE)
        .max(input.div_ceil(PARTITION_BYTES));
    // About 4 bytes of occurrences per input byte, held while a partition is sorted.
    let by_budget = config
        .memory_budget()
        .map_or(1, |b| (bytes.saturating_mul(4) / (b / 8).max(1)) + 1);
    by_size.max(by_budget).clamp(1, MAX_PARTITIONS) as usize
}

/// Resolves every partition, `at_once` at a time on the worker threads: each partition is a
/// task of its own, and its files do not depend on the order.
pub fn run_all(work: &Work, at_once: usize) -> Result<()> {
    let partitions = work.manifest.resolve_tasks;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: std::sync::Mutex<Option<crate::Error>> = std::sync::Mutex::new(None);
    // `at_once` tasks take the partitions one after another, so that no more than that many
    // partitions are ever held, whichever thread runs a task.
    rayon::scope(|scope| {
        for _ in 0..at_once.clamp(1, partitions.max(1)) {
            scope.spawn(|_| {
                let mut scratch = Scratch::default();
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if j >= partitions || failed.lock().map_or(true, |f| f.is_some()) {
                        break;
                    }
                    if let Err(e) = run_with(work, j, &mut scratch) {
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What one resolve task is projected to hold at its peak, from the sizes of the scan files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Projection {
    pub partitions: usize,
    pub occurrences: u64,
    /// Bytes of the largest partition's occurrences on disk.
    pub largest: u64,
    pub documents: u64,
    pub shards: u64,
}

impl Projection {
    pub fn of(work: &Work) -> Result<Self> {
        let mut p = Projection {
            partitions: work.manifest.resolve_tasks,
            ..Projection::default()
        };
        for j in 0..work.manifest.resolve_tasks {
            let mut bytes = 0;
            for i in 0..work.manifest.scan_tasks {
                let path = work.scan_part_path(i, j);
                bytes += std::fs::metadata(&path)
                    .map_err(|e| crate::Error::io(&path, e))?
                    .len();
            }
            p.largest = p.largest.max(bytes);
            // About 10 bytes per packed occurrence on disk (band keys and lines are a small
            // share).
            p.occurrences += bytes / 10;
        }
        p.documents = shard_bases(work)?.1 as u64;
        p.shards = work.manifest.scan_tasks as u64;
        Ok(p)
    }

    /// The peak with `at_once` partitions resolved at a time: the largest partition's packed
    /// records (kept for the next partition, as on disk), its occurrences unpacked (24 bytes for
    /// 10 on disk) with the groups and routes they make (at most as much again), and the read
    /// and write buffers of one file per scan shard, for each; each document's index entry.
    pub fn peak(&self, at_once: usize) -> u64 {
        let one = self.largest + self.largest / 10 * 24 * 2 + self.shards * (128 << 10);
        one * at_once.clamp(1, self.partitions.max(1)) as u64 + self.documents * 24
    }
}

/// Says which hashes occur at least twice, and a few others: a shingle found once cannot be
/// shared, and most shingles are found once, so the sort that follows handles a fraction of the
/// partition. Two bits per slot ("seen", "seen again") of a table of about eight slots per hash;
/// a hash that occurs twice always sets its second bit, a hash that occurs once shares a slot
/// with another about one time in eight and passes too (the grouping then finds it alone).
///
/// A table for a million hashes is megabytes, and each lookup in it would miss the cache, twice
/// per hash. So the hashes are first spread into buckets by other bits of theirs, each bucket's
/// table small enough for the first-level cache; each hash's answer is kept in bucket order and
/// read back in the order of the hashes.
#[derive(Default)]
struct RepeatFilter {
    /// Where each bucket's hashes start in `marks`, and the end.
    starts: Vec<usize>,
    /// First each hash's slot in its bucket's table, then its answer (1: may repeat), bucket by
    /// bucket in the order of the hashes.
    marks: Vec<u16>,
    /// One bucket's table at a time.
    table: Vec<u64>,
    bucket_mask: u64,
    slot_mask: u64,
}

/// Slots of one bucket's table at most: two bits each, 16 KB.
const BUCKET_SLOTS: usize = 1 << 16;

impl RepeatFilter {
    /// The filter of `n` hashes, given by `hashes`.
    #[cfg(test)]
    fn of<'a>(n: usize, hashes: impl Iterator<Item = &'a u64> + Clone) -> Self {
        let mut filter = RepeatFilter::default();
        filter.refill(n, hashes);
        filter
    }

    /// Makes this the filter of `n` hashes, given by `hashes`, in the memory it already has.
    fn refill<'a>(&mut self, n: usize, hashes: impl Iterator<Item = &'a u64> + Clone) {
        let slots = (n * 8).next_power_of_two().max(64);
        let buckets = (slots / BUCKET_SLOTS).max(1);
        let bucket_slots = slots / buckets;
        self.bucket_mask = buckets as u64 - 1;
        self.slot_mask = bucket_slots as u64 - 1;
        // Count, then place each hash's slot in its bucket.
        self.starts.clear();
        self.starts.resize(buckets + 1, 0);
        for &h in hashes.clone() {
            self.starts[bucket_of(h, self.bucket_mask) + 1] += 1;
        }
        for b in 0..buckets {
            self.starts[b + 1] += self.starts[b];
        }
        self.marks.clear();
        self.marks.resize(self.starts[buckets], 0);
        let mut next = self.starts.clone();
        for &h in hashes {
            let at = &mut next[bucket_of(h, self.bucket_mask)];
            self.marks[*at] = (h & self.slot_mask) as u16;
            *at += 1;
        }
        // Each bucket in turn: fill its table, then replace every slot by its answer.
        for b in 0..buckets {
            let marks = &mut self.marks[self.starts[b]..self.starts[b + 1]];
            self.table.clear();
            self.table.resize(bucket_slots / 32, 0);
            for &s in marks.iter() {
                let (w, shift) = (s as usize / 32, (s % 32) as u32 * 2);
                let word = self.table[w];
                let seen = (word >> shift) & 1;
                self.table[w] = word | (1 << shift) | (seen << (shift + 1));
            }
            for s in marks.iter_mut() {
                let (w, shift) = (*s as usize / 32, (*s % 32) as u32 * 2);
                *s = ((self.table[w] >> (shift + 1)) & 1) as u16;
            }
        }
    }

    /// The answers, to be asked for every hash in the order the filter was filled with them.
    fn answers(&self) -> Answers<'_> {
        Answers {
            filter: self,
            next: self.starts.clone(),
        }
    }
}

/// The bucket of `h`, by bits 32 and up: the partition fixed the highest, and the lowest give
/// the slot.
fn bucket_of(h: u64, mask: u64) -> usize {
    ((h >> 32) & mask) as usize
}

/// Reads a [`RepeatFilter`]'s answers back in the order of its hashes.
struct Answers<'a> {
    filter: &'a RepeatFilter,
    next: Vec<usize>,
}

impl Answers<'_> {
    /// Whether `h`, the next hash in the filter's order, may occur twice or more (always true
    /// when it does).
    fn repeated(&mut self, h: u64) -> bool {
        let at = &mut self.next[bucket_of(h, self.filter.bucket_mask)];
        let answer = self.filter.marks[*at] != 0;
        *at += 1;
        answer
    }
}

/// The error for a partition file whose occurrence records do not decode.
fn damaged(path: &std::path::Path) -> crate::Error {
    crate::Error::usage(format!(
        "{}: damaged stage file (occurrences); run the scan again",
        path.display()
    ))
}

/// The first global ordinal of each scan shard, and the total: shards are in corpus order.
pub fn shard_bases(work: &Work) -> Result<(Vec<u32>, u32)> {
    let mut bases = Vec::with_capacity(work.manifest.scan_tasks);
    let mut total = 0u64;
    for i in 0..work.manifest.scan_tasks {
        bases.push(total as u32);
        total += read_index(work, i)?.docs.len() as u64;
    }
    assert!(
        total < u32::MAX as u64,
        "near-duplicate detection handles fewer than 2^32 documents per run"
    );
    Ok((bases, total as u32))
}

pub fn read_index(work: &Work, i: usize) -> Result<ShardIndex> {
    let path = work.index_path(i);
    let mut r = StageReader::open(&path, INDEX, work.hash)?;
    let index: ShardIndex = r.read()?.unwrap_or_default();
    if index.text_bytes.len() != index.docs.len() {
        return Err(crate::Error::usage(format!(
            "{}: damaged stage file (index); run the scan again",
            path.display()
        )));
    }
    Ok(index)
}

/// The largest buffers of a resolve task, kept from one partition of a work folder to the next:
/// fresh memory costs the kernel a page fault per 4 KB.
#[derive(Default)]
pub struct Scratch {
    filter: RepeatFilter,
    occurrences: Vec<Occurrence>,
    /// The partition's packed occurrence records, as read; only the first `packed_used` hold
    /// this partition's.
    packed: Vec<(u32, PackedOccurrences, usize)>,
    groups: SharedGroups,
    /// [`shard_bases`], read once: each shard's index holds an entry per document, and reading
    /// them all again for each of hundreds of partitions would cost more than resolving them.
    bases: Option<(Vec<u32>, u32)>,
}

/// Runs resolve task `j` (skipped when already done).
pub fn run(work: &Work, j: usize) -> Result<()> {
    run_with(work, j, &mut Scratch::default())
}

/// [`run`] with the buffers of `scratch`.
pub fn run_with(work: &Work, j: usize, scratch: &mut Scratch) -> Result<()> {
    if work.is_done(Marker::Resolve(j)) {
        return Ok(());
    }
    work.require(&format!("resolve {j}"), &work.scan_markers())?;
    let config = &work.manifest.config;
    if scratch.bases.is_none() {
        scratch.bases = Some(shard_bases(work)?);
    }
    let (bases, total) = scratch.bases.clone().expect("read above");

    // One pass over the partition's files of every shard. Occurrences stay packed until the
    // hashes found once are known: most are, and never need unpacking.
    let mut used = 0;
    let mut keys: Vec<(u64, u32, u32)> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    for (i, &base) in bases.iter().enumerate() {
        let path = work.scan_part_path(i, j);
        let mut r = StageReader::open(&path, PARTITION, work.hash)?;
        while let Some(bytes) = r.read_raw()? {
            // Occurrence records go into the buffers of the previous partition's.
            if used == scratch.packed.len() {
                scratch.packed.push(Default::default());
            }
            let slot = &mut scratch.packed[used];
            match slot.1.decode_into(bytes) {
                Some(true) => {
                    (slot.0, slot.2) = (base, i);
                    used += 1;
                    continue;
                }
                Some(false) => {}
                None => return Err(damaged(&path)),
            }
            match r.decode::<PartChunk>()? {
                PartChunk::Occurrences(_) => return Err(damaged(&path)),
                PartChunk::Bands(b) => {
                    keys.extend(b.into_iter().map(|(k, band, d)| (k, band, d + base)))
                }
                PartChunk::Lines(l) => lines.extend(l),
            }
        }
    }
    let packed = &scratch.packed[..used];

    // Shared shingles, routed back to each shard.
    let n = packed.iter().map(|p| p.1.hashes().len()).sum();
    let filter = &mut scratch.filter;
    filter.refill(n, packed.iter().flat_map(|p| p.1.hashes()));
    let mut answers = filter.answers();
    let all = &mut scratch.occurrences;
    all.clear();
    for (base, o, i) in packed {
        o.unpack_where(*base, |h| answers.repeated(h), all)
            .ok_or_else(|| damaged(&work.scan_part_path(*i, j)))?;
    }
    sort_by_spread_key(all, |o| o.0);
    let groups = shared_from_sorted_into(
        all,
        config.dedup.max_shingle_docs,
        std::mem::take(&mut scratch.groups),
    );
    let mut routes = groups.routes.as_slice();
    for (i, &base) in bases.iter().enumerate() {
        let end = bases.get(i + 1).copied().unwrap_or(total);
        let split = routes.partition_point(|r| r.0 < end);
        let (mine, rest) = routes.split_at(split);
        routes = rest;
        let mut out = work.writer(&work.routes_path(j, i), ROUTES)?;
        // Packed in parallel, a few hundred documents per record, written in document order.
        let docs: Vec<&[Route]> = mine.chunk_by(|a, b| a.0 == b.0).collect();
        let records: Vec<Vec<u8>> = docs
            .par_chunks(CHUNK_DOCS)
            .map(|chunk| {
                bincode::serialize(&RouteChunk::pack(chunk, &groups, base))
                    .expect("serializing into memory")
            })
            .collect();
        for bytes in records {
            out.write_serialized(&bytes)?;
        }
        out.finish()?;
    }
    scratch.groups = groups;

    // Candidate pairs of documents.
    keys.par_sort_unstable();
    let mut pairs = pairs_from_sorted(&keys);
    drop(keys);
    pairs.par_sort_unstable();
    pairs.dedup();
    let mut out = work.writer(&work.resolve_path(j, PAIRS), PAIRS)?;
    out.write(&pairs)?;
    out.finish()?;

    // Repeated lines: short lines in enough documents of the corpus.
    lines.par_sort_unstable();
    let threshold = crate::boilerplate::repeated::RepeatParams::from_config(&config.boilerplate)
        .threshold(total as usize);
    let repeated: Vec<u64> = lines
        .chunk_by(|a, b| a == b)
        .filter(|run| run.len() as u64 >= threshold)
        .map(|run| run[0])
        .collect();
    let mut out = work.writer(&work.resolve_path(j, REPEATED), REPEATED)?;
    out.write(&repeated)?;
    out.finish()?;
    work.mark_done(Marker::Resolve(j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The occurrences that pass the filter of their own hashes, in order.
    fn keep_repeated(all: &[Occurrence]) -> Vec<Occurrence> {
        let filter = RepeatFilter::of(all.len(), all.iter().map(|o| &o.0));
        let mut answers = filter.answers();
        all.iter()
            .copied()
            .filter(|o| answers.repeated(o.0))
            .collect()
    }

    proptest! {
        /// Every occurrence of a hash found twice or more stays, in its order; of the hashes
        /// found once, only some do.
        #[test]
        fn repeated_hashes_are_all_kept_in_order(
            hashes in proptest::collection::vec(0u64..400, 0..600),
            spread in any::<u64>(),
        ) {
            // Spread small numbers over the u64 space, as shingle hashes are.
            let all: Vec<Occurrence> = hashes
                .iter()
                .enumerate()
                .map(|(i, &h)| (h.wrapping_mul(spread | 1), i as u32, 0, 0))
                .collect();
            let count = |h: u64| all.iter().filter(|o| o.0 == h).count();
            let kept = keep_repeated(&all);
            let repeated: Vec<Occurrence> =
                all.iter().copied().filter(|o| count(o.0) >= 2).collect();
            // The kept occurrences are in order, and the repeated ones are all among them.
            prop_assert!(kept.windows(2).all(|w| w[0].1 < w[1].1));
            let mut rest = kept.iter();
            for r in &repeated {
                prop_assert!(rest.any(|k| k == r), "{:?} was dropped", r);
            }
        }
    }

    #[test]
    fn a_filter_of_many_buckets_keeps_every_repeated_hash() {
        // Enough hashes for dozens of buckets; every third one is found again later.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut hashes = Vec::new();
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            hashes.push(x);
            if i % 3 == 0 {
                hashes.push(hashes[hashes.len() / 2]);
            }
        }
        let all: Vec<Occurrence> = hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32, 0, 0))
            .collect();
        assert!(
            RepeatFilter::of(all.len(), all.iter().map(|o| &o.0))
                .starts
                .len()
                > 16
        );
        let mut counts = std::collections::HashMap::new();
        for &h in &hashes {
            *counts.entry(h).or_insert(0) += 1;
        }
        let kept = keep_repeated(&all);
        let repeated: Vec<Occurrence> = all.iter().copied().filter(|o| counts[&o.0] >= 2).collect();
        let mut rest = kept.iter();
        for r in &repeated {
            assert!(rest.any(|k| k == r), "{r:?} was dropped");
        }
        let singles = all.len() - repeated.len();
        let passed = kept.len() - repeated.len();
        assert!(
            passed * 5 < singles,
            "{passed} of {singles} single hashes kept"
        );
    }

    #[test]
    fn partitions_cover_at_most_8_mib_of_input_and_16_mib_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        // Only the size counts: 17 MiB, sparse.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(17 << 20)
            .unwrap();
        let inputs = [InputFile {
            path: path.clone(),
            rel_path: "c.jsonl".into(),
            kind: crate::corpus::InputKind::Jsonl(crate::corpus::Compression::None),
        }];
        let config = Config {
            max_memory: Some(1 << 40),
            ..Config::default()
        };
        // 17 MiB in parts of 8 MiB at most, whether one or two are held at once.
        assert_eq!(partitions_for(&config, &inputs, 1), 3);
        assert_eq!(partitions_for(&config, &inputs, 2), 3);
        // Eight at once cover 16 MiB at most: 136 MiB / 16 MiB, rounded up.
        assert_eq!(partitions_for(&config, &inputs, 8), 9);
        // A small budget asks for more.
        let tight = Config {
            max_memory: Some(8 << 20),
            ..Config::default()
        };
        assert!(partitions_for(&tight, &inputs, 1) > 3);
        // Without passages there are no occurrences to split.
        let mut documents_only = config.clone();
        documents_only.dedup.passages = false;
        assert_eq!(partitions_for(&documents_only, &inputs, 1), 1);
    }

    #[test]
    fn most_single_hashes_go() {
        let all: Vec<Occurrence> = (0..10_000u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i as u32, 0, 0))
            .collect();
        let all = keep_repeated(&all);
        assert!(
            all.len() < 2_000,
            "{} of 10000 single hashes kept",
            all.len()
        );
    }
}
