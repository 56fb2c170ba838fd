//! Passage containment: a passage (a block with enough tokens) is a near-duplicate when at least
//! θ of its shingles already occur in earlier documents. Shingles found in more than C documents
//! are common phrases and left out of the score. The source named is the earlier passage that
//! shares the most shingles with it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use super::{BlockFacts, DedupConfig, DocFacts};
use crate::corpus::DocId;
use crate::decision::{DocDecision, Reason, Removal, Source};

/// Hash-range partitions of the shingle space (a power of two).
const PARTITIONS: usize = 64;
const PARTITION_SHIFT: u32 = 64 - PARTITIONS.trailing_zeros();
/// Documents per unit of parallel work when gathering shingles.
const CHUNK_DOCS: usize = 256;

/// Shingles are xxh3 hashes already: a map keyed by them needs no further hashing.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdentityMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// What the corpus knows about a shingle found in at least two documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShingleInfo {
    /// Ordinal of the first document that has it.
    pub first: u32,
    /// Number of documents that have it.
    pub df: u32,
    /// Its (document, block) occurrences in `Partition::postings`; none when common (df > C).
    post_start: u32,
    post_len: u32,
}

struct Partition {
    info: IdentityMap<ShingleInfo>,
    postings: Vec<(u32, u32)>,
}

/// Document frequency, first document and occurrences of every shingle that occurs in more than
/// one document, in hash-range partitions. A shingle not found here occurs in one document only.
pub struct ShingleStats {
    parts: Vec<Partition>,
    max_docs: u32,
}

impl ShingleStats {
    /// Gathers (shingle, document, block) triples into partitions, then sorts and counts each
    /// partition in parallel. Everything is sorted, so the result does not depend on threads.
    pub fn build(facts: &[DocFacts], max_docs: usize) -> Self {
        let chunks: Vec<Vec<Vec<(u64, u32, u32)>>> = facts
            .par_chunks(CHUNK_DOCS)
            .enumerate()
            .map(|(c, chunk)| {
                let mut parts: Vec<Vec<(u64, u32, u32)>> = vec![Vec::new(); PARTITIONS];
                for (i, f) in chunk.iter().enumerate() {
                    let d = (c * CHUNK_DOCS + i) as u32;
                    for (bi, b) in f.blocks.iter().enumerate() {
                        for &h in f.block_shingles(b) {
                            parts[(h >> PARTITION_SHIFT) as usize].push((h, d, bi as u32));
                        }
                    }
                }
                parts
            })
            .collect();
        let mut by_part: Vec<Vec<Vec<(u64, u32, u32)>>> =
            (0..PARTITIONS).map(|_| Vec::new()).collect();
        for chunk in chunks {
            for (p, v) in chunk.into_iter().enumerate() {
                by_part[p].push(v);
            }
        }
        let max_docs = max_docs.min(u32::MAX as usize) as u32;
        let parts = by_part
            .into_par_iter()
            .map(|pieces| {
                let mut all: Vec<(u64, u32, u32)> = pieces.concat();
                all.sort_unstable();
                all.dedup();
                Partition::from_sorted(&all, max_docs)
            })
            .collect();
        ShingleStats { parts, max_docs }
    }

    pub fn get(&self, h: u64) -> Option<&ShingleInfo> {
        self.parts[(h >> PARTITION_SHIFT) as usize].info.get(&h)
    }

    /// The (document, block) occurrences of a shingle that is not common.
    pub fn postings(&self, h: u64, info: &ShingleInfo) -> &[(u32, u32)] {
        let p = &self.parts[(h >> PARTITION_SHIFT) as usize];
        &p.postings[info.post_start as usize..(info.post_start + info.post_len) as usize]
    }

    pub fn is_common(&self, info: &ShingleInfo) -> bool {
        info.df > self.max_docs
    }
}

impl Partition {
    fn from_sorted(all: &[(u64, u32, u32)], max_docs: u32) -> Self {
        let mut info = IdentityMap::default();
        let mut postings = Vec::new();
        for group in all.chunk_by(|a, b| a.0 == b.0) {
            let first = group[0].1;
            let mut df = 1u32;
            for w in group.windows(2) {
                df += (w[0].1 != w[1].1) as u32;
            }
            if df < 2 {
                continue;
            }
            let post_start = postings.len() as u32;
            if df <= max_docs {
                postings.extend(group.iter().map(|&(_, d, b)| (d, b)));
            }
            info.insert(
                group[0].0,
                ShingleInfo {
                    first,
                    df,
                    post_start,
                    post_len: postings.len() as u32 - post_start,
                },
            );
        }
        Partition { info, postings }
    }
}

/// The earlier (document, block) with the most votes; ties go to the earliest.
fn best_source(votes: &mut [(u32, u32)]) -> Option<((u32, u32), usize)> {
    votes.sort_unstable();
    let mut best: Option<((u32, u32), usize)> = None;
    for run in votes.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| run.len() > n) {
            best = Some((run[0], run.len()));
        }
    }
    best
}

/// A duplicate passage or reused span with its source.
fn source_of(facts: &[DocFacts], doc_ids: &[DocId], (d, b): (u32, u32), score: f64) -> Source {
    let block: &BlockFacts = &facts[d as usize].blocks[b as usize];
    Source {
        doc: doc_ids[d as usize],
        start: block.start,
        end: block.end,
        cp_start: block.cp_start,
        cp_end: block.cp_end,
        score,
    }
}

/// Scratch buffers of one worker.
#[derive(Default)]
struct Scratch {
    set: Vec<u64>,
    votes: Vec<(u32, u32)>,
}

/// How a passage's shingles stand against earlier documents.
struct Containment {
    /// Shingles that count (not common), distinct.
    counted: usize,
    /// Of those, found in an earlier document.
    earlier: usize,
}

fn containment(
    stats: &ShingleStats,
    d: u32,
    shingles: &[u64],
    scratch: &mut Scratch,
) -> Containment {
    scratch.set.clear();
    scratch.set.extend_from_slice(shingles);
    scratch.set.sort_unstable();
    scratch.set.dedup();
    scratch.votes.clear();
    let mut c = Containment {
        counted: 0,
        earlier: 0,
    };
    for &h in &scratch.set {
        match stats.get(h) {
            None => c.counted += 1,
            Some(info) if stats.is_common(info) => {}
            Some(info) => {
                c.counted += 1;
                if info.first < d {
                    c.earlier += 1;
                    // Postings are distinct (document, block) pairs: one vote each.
                    let earlier = stats.postings(h, info).iter().filter(|p| p.0 < d);
                    scratch.votes.extend(earlier);
                }
            }
        }
    }
    c
}

/// Decides the near-duplicate passages, dup stubs and reuse spans of every document.
/// `removed_share[i]` receives (share of tokens removed as duplicates, main source ordinal).
pub fn decide(
    config: &DedupConfig,
    stats: &ShingleStats,
    doc_ids: &[DocId],
    facts: &[DocFacts],
    decisions: &mut [DocDecision],
    removed_share: &mut [Option<(f64, u32)>],
) {
    decisions
        .par_iter_mut()
        .zip(removed_share.par_iter_mut())
        .enumerate()
        .for_each_init(Scratch::default, |scratch, (d, (decision, share))| {
            *share = decide_doc(config, stats, doc_ids, facts, d as u32, decision, scratch);
        });
}

fn decide_doc(
    config: &DedupConfig,
    stats: &ShingleStats,
    doc_ids: &[DocId],
    facts: &[DocFacts],
    d: u32,
    decision: &mut DocDecision,
    scratch: &mut Scratch,
) -> Option<(f64, u32)> {
    let f = &facts[d as usize];
    let mut removed = vec![false; f.blocks.len()];
    let mut removed_tokens: Vec<(u32, u64)> = Vec::new();
    for (bi, b) in f.blocks.iter().enumerate() {
        if (b.tokens as usize) < config.min_passage_tokens {
            continue;
        }
        let shingles = f.block_shingles(b);
        let c = containment(stats, d, shingles, scratch);
        if c.counted == 0 || c.earlier == 0 {
            continue;
        }
        let score = c.earlier as f64 / c.counted as f64;
        if config.passages && score >= config.passage_threshold {
            let (src, _) = best_source(&mut scratch.votes).expect("an earlier shingle votes");
            removed[bi] = true;
            removed_tokens.push((src.0, b.tokens as u64));
            decision.removals.push(Removal {
                start: b.start,
                end: b.end,
                reason: Reason::NearDupPassage(source_of(facts, doc_ids, src, score)),
            });
        } else if config.explain_reuse {
            reuse_spans(config, stats, doc_ids, facts, d, b, decision, scratch);
        }
    }
    if removed_tokens.is_empty() {
        return None;
    }
    // Short stubs between removed passages go with them.
    let mut i = 0;
    while i < f.blocks.len() {
        let is_stub = |j: usize| {
            !removed[j]
                && (f.blocks[j].tokens as usize) <= config.stub_max_tokens
                && (f.blocks[j].tokens as usize) < config.min_passage_tokens
        };
        if !is_stub(i) || i == 0 || !removed[i - 1] {
            i += 1;
            continue;
        }
        let mut k = i;
        while k < f.blocks.len() && is_stub(k) {
            k += 1;
        }
        if k < f.blocks.len() && removed[k] {
            for b in &f.blocks[i..k] {
                decision.removals.push(Removal {
                    start: b.start,
                    end: b.end,
                    reason: Reason::DupStub,
                });
                removed_tokens.push((u32::MAX, b.tokens as u64));
            }
        }
        i = k;
    }
    // The document's main source: the one most removed tokens came from.
    let mut by_source: Vec<(u32, u64)> = removed_tokens
        .iter()
        .copied()
        .filter(|s| s.0 != u32::MAX)
        .collect();
    by_source.sort_unstable();
    let mut main = (u32::MAX, 0u64);
    for run in by_source.chunk_by(|a, b| a.0 == b.0) {
        let n: u64 = run.iter().map(|r| r.1).sum();
        if n > main.1 {
            main = (run[0].0, n);
        }
    }
    let total = f.total_tokens();
    let gone: u64 = removed_tokens.iter().map(|r| r.1).sum();
    Some((gone as f64 / total.max(1) as f64, main.0))
}

/// Reports the maximal runs of a passage's shingles found in earlier documents that cover at
/// least `reuse-min-tokens` tokens.
#[allow(clippy::too_many_arguments)]
fn reuse_spans(
    config: &DedupConfig,
    stats: &ShingleStats,
    doc_ids: &[DocId],
    facts: &[DocFacts],
    d: u32,
    b: &BlockFacts,
    decision: &mut DocDecision,
    scratch: &mut Scratch,
) {
    let f = &facts[d as usize];
    let shingles = f.block_shingles(b);
    let w = config.shingle_size.min(b.tokens as usize);
    let earlier = |h: u64| {
        stats
            .get(h)
            .is_some_and(|i| !stats.is_common(i) && i.first < d)
    };
    let mut i = 0;
    while i < shingles.len() {
        if !earlier(shingles[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < shingles.len() && earlier(shingles[j + 1]) {
            j += 1;
        }
        let run = &shingles[i..=j];
        if run.len() + w > config.reuse_min_tokens {
            scratch.votes.clear();
            for &h in run {
                let info = stats.get(h).expect("an earlier shingle has stats");
                scratch
                    .votes
                    .extend(stats.postings(h, info).iter().filter(|p| p.0 < d));
            }
            let (src, n) = best_source(&mut scratch.votes).expect("an earlier shingle votes");
            let base = b.first as usize;
            let (start, end) = (
                f.shingle_spans[base + i].0 as usize,
                f.shingle_spans[base + j].1 as usize,
            );
            let score = n as f64 / run.len() as f64;
            decision.annotations.push(Removal {
                start,
                end,
                reason: Reason::Reuse(source_of(facts, doc_ids, src, score)),
            });
        }
        i = j + 1;
    }
}
