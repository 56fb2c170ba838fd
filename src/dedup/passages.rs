//! Passage containment: a passage (a block with enough tokens) is a near-duplicate when at least
//! θ of its shingles already occur in earlier documents. Shingles found in more than C documents
//! are common phrases and left out of the score; a passage needs at least
//! [`MIN_SHARED_SHINGLES`] shingles from earlier documents, and no more than half of its shingles
//! common, to be judged at all. The source named is the earlier passage that shares the most
//! shingles with it.

use rayon::prelude::*;

use super::{BlockFacts, DedupConfig, DocFacts};
use crate::corpus::DocId;
use crate::decision::{DocDecision, Reason, Removal, Source};

/// Hash-range partitions of the shingle space (a power of two), sorted in parallel.
pub const PARTITIONS: usize = 64;
const PARTITION_SHIFT: u32 = 64 - PARTITIONS.trailing_zeros();
/// Partitions are gathered in this many waves, so that only a share of all occurrences is held
/// at once (an eighth: 2 bytes per occurrence on top of the 8 of the scan facts). A wave costs
/// one more pass over the facts, which is cheap next to the sorts.
pub const WAVES: usize = 8;
/// Documents per unit of parallel work when gathering shingles.
const CHUNK_DOCS: usize = 256;
/// No shingle group: the shingle occurs in one document only.
const UNIQUE: u32 = u32::MAX;
/// A passage is judged only on this many shingles found in earlier documents at least: two
/// chance matches in a short passage are not evidence of copying.
pub const MIN_SHARED_SHINGLES: usize = 3;

/// A shingle found in at least two documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Ordinal of the first document that has it.
    pub first: u32,
    /// Number of documents that have it (near-copies already dropped not counted).
    pub df: u32,
    /// Its distinct (document, block) occurrences in `ShingleStats::postings`; none when common.
    post_start: u32,
    post_len: u32,
}

/// For every shingle occurrence shared with another document: its group (first document,
/// document frequency, occurrences). Built by sorting (shingle, document, position) triples in
/// hash-range partitions, then routing each group back to its occurrences, sorted by document:
/// no hash map, and nothing depends on the number of threads.
pub struct ShingleStats {
    groups: Vec<Group>,
    postings: Vec<(u32, u32)>,
    /// (document, position in the document's shingles, group) of shared occurrences, sorted;
    /// `doc_start[d]..doc_start[d + 1]` are document `d`'s.
    shared: Vec<(u32, u32, u32)>,
    doc_start: Vec<usize>,
    max_docs: u32,
}

/// Sorted occurrences of one partition turned into groups, postings and routes.
struct PartitionOut {
    groups: Vec<Group>,
    postings: Vec<(u32, u32)>,
    /// (document, position, group index within the partition).
    routes: Vec<(u32, u32, u32)>,
}

impl ShingleStats {
    /// Documents marked in `uncounted` (near-copies already dropped) are earlier text like any
    /// other, but do not count towards a shingle's document frequency.
    pub fn build(facts: &[DocFacts], uncounted: &[bool], max_docs: usize) -> Self {
        let max_docs = max_docs.min(u32::MAX as usize) as u32;
        let per_wave = PARTITIONS / WAVES;
        let mut groups = Vec::new();
        let mut postings = Vec::new();
        // The routes of every partition, appended into one vector and sorted in place at the
        // end: 12 bytes per shared occurrence, never a second copy.
        let mut shared: Vec<(u32, u32, u32)> = Vec::new();
        for wave in 0..WAVES {
            let first_part = wave * per_wave;
            let chunks: Vec<Vec<Vec<(u64, u32, u32)>>> = facts
                .par_chunks(CHUNK_DOCS)
                .enumerate()
                .map(|(c, chunk)| {
                    // Hashes are uniform: each partition gets about its share, plus slack.
                    let total: usize = chunk.iter().map(|f| f.shingles.len()).sum();
                    let share = total / PARTITIONS + total / (4 * PARTITIONS) + 16;
                    let mut parts: Vec<Vec<(u64, u32, u32)>> =
                        (0..per_wave).map(|_| Vec::with_capacity(share)).collect();
                    for (i, f) in chunk.iter().enumerate() {
                        let d = (c * CHUNK_DOCS + i) as u32;
                        for (pos, &h) in f.shingles.iter().enumerate() {
                            let p = (h >> PARTITION_SHIFT) as usize;
                            if p >= first_part && p < first_part + per_wave {
                                parts[p - first_part].push((h, d, pos as u32));
                            }
                        }
                    }
                    parts
                })
                .collect();
            let mut by_part: Vec<Vec<Vec<(u64, u32, u32)>>> =
                (0..per_wave).map(|_| Vec::new()).collect();
            for chunk in chunks {
                for (p, v) in chunk.into_iter().enumerate() {
                    by_part[p].push(v);
                }
            }
            let outs: Vec<PartitionOut> = by_part
                .into_par_iter()
                .map(|pieces| {
                    // Each piece is freed as soon as it is copied, so a partition is not held
                    // twice over.
                    let mut all = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
                    for piece in pieces {
                        all.extend_from_slice(&piece);
                    }
                    all.sort_unstable();
                    PartitionOut::from_sorted(&all, facts, uncounted, max_docs)
                })
                .collect();
            // Partitions are appended in hash order, so group numbers are the same every run.
            for out in outs {
                let (g0, p0) = (groups.len() as u32, postings.len() as u32);
                groups.extend(out.groups.into_iter().map(|mut g| {
                    g.post_start += p0;
                    g
                }));
                postings.extend(out.postings);
                shared.extend(out.routes.iter().map(|&(d, pos, g)| (d, pos, g + g0)));
            }
        }
        // A position has one shingle, so (document, position) is unique and the order is too.
        shared.par_sort_unstable();
        shared.shrink_to_fit();
        let mut doc_start = vec![0usize; facts.len() + 1];
        for r in &shared {
            doc_start[r.0 as usize + 1] += 1;
        }
        for d in 0..facts.len() {
            doc_start[d + 1] += doc_start[d];
        }
        ShingleStats {
            groups,
            postings,
            shared,
            doc_start,
            max_docs,
        }
    }

    /// Document `d`'s shared occurrences: (document, position, group), by position.
    fn shared_of(&self, d: u32) -> &[(u32, u32, u32)] {
        &self.shared[self.doc_start[d as usize]..self.doc_start[d as usize + 1]]
    }

    fn group(&self, g: u32) -> &Group {
        &self.groups[g as usize]
    }

    /// The distinct (document, block) occurrences of a group that is not common.
    fn postings(&self, g: &Group) -> &[(u32, u32)] {
        &self.postings[g.post_start as usize..(g.post_start + g.post_len) as usize]
    }

    fn is_common(&self, g: &Group) -> bool {
        g.df > self.max_docs
    }

    /// Whether group `g` counts as evidence that document `d` copied: not common, and found in
    /// an earlier document.
    fn earlier(&self, g: u32, d: u32) -> bool {
        g != UNIQUE && {
            let group = self.group(g);
            !self.is_common(group) && group.first < d
        }
    }
}

impl PartitionOut {
    fn from_sorted(
        all: &[(u64, u32, u32)],
        facts: &[DocFacts],
        uncounted: &[bool],
        max_docs: u32,
    ) -> Self {
        let mut out = PartitionOut {
            groups: Vec::new(),
            postings: Vec::new(),
            routes: Vec::new(),
        };
        for occurrences in all.chunk_by(|a, b| a.0 == b.0) {
            let first = occurrences[0].1;
            let last = occurrences[occurrences.len() - 1].1;
            if first == last {
                continue; // one document only
            }
            let mut df = (!uncounted[first as usize]) as u32;
            for w in occurrences.windows(2) {
                df += (w[0].1 != w[1].1 && !uncounted[w[1].1 as usize]) as u32;
            }
            let g = out.groups.len() as u32;
            let post_start = out.postings.len() as u32;
            if df <= max_docs {
                for &(_, d, pos) in occurrences {
                    let blocks = &facts[d as usize].blocks;
                    let b = blocks.partition_point(|b| b.last <= pos) as u32;
                    // Distinct within this group (the previous group may end the same way).
                    if out.postings.len() == post_start as usize
                        || out.postings.last() != Some(&(d, b))
                    {
                        out.postings.push((d, b));
                    }
                }
            }
            out.groups.push(Group {
                first,
                df,
                post_start,
                post_len: out.postings.len() as u32 - post_start,
            });
            out.routes
                .extend(occurrences.iter().map(|&(_, d, pos)| (d, pos, g)));
        }
        out
    }
}

/// What the index of one hash-range partition holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionSample {
    pub groups: u64,
    pub postings: u64,
    pub routes: u64,
}

/// Builds the index of the first hash-range partition alone and counts what it holds, as if no
/// document had been dropped yet: a 64th of the whole index, for [`super::memory`].
pub fn sample_partition(facts: &[DocFacts], max_docs: usize) -> PartitionSample {
    let mut all: Vec<(u64, u32, u32)> = facts
        .par_iter()
        .enumerate()
        .flat_map_iter(|(d, f)| {
            f.shingles
                .iter()
                .enumerate()
                .filter(|(_, &h)| h >> PARTITION_SHIFT == 0)
                .map(move |(pos, &h)| (h, d as u32, pos as u32))
        })
        .collect();
    all.par_sort_unstable();
    let uncounted = vec![false; facts.len()];
    let max_docs = max_docs.min(u32::MAX as usize) as u32;
    let out = PartitionOut::from_sorted(&all, facts, &uncounted, max_docs);
    PartitionSample {
        groups: out.groups.len() as u64,
        postings: out.postings.len() as u64,
        routes: out.routes.len() as u64,
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
    /// (shingle, group) of one passage.
    set: Vec<(u64, u32)>,
    votes: Vec<(u32, u32)>,
}

/// How a passage's shingles stand against earlier documents.
struct Containment {
    /// Distinct shingles.
    distinct: usize,
    /// Shingles that count (not common), distinct.
    counted: usize,
    /// Of those, found in an earlier document.
    earlier: usize,
}

/// The groups of a block's shingles, in order (`UNIQUE` for shingles of one document).
fn block_groups<'a>(
    stats: &'a ShingleStats,
    f: &'a DocFacts,
    d: u32,
    b: &BlockFacts,
) -> impl Iterator<Item = (u64, u32)> + 'a {
    let shared = stats.shared_of(d);
    let mut k = shared.partition_point(|s| s.1 < b.first);
    (b.first..b.last).map(move |pos| {
        let g = if k < shared.len() && shared[k].1 == pos {
            k += 1;
            shared[k - 1].2
        } else {
            UNIQUE
        };
        (f.shingles[pos as usize], g)
    })
}

fn containment(
    stats: &ShingleStats,
    f: &DocFacts,
    d: u32,
    b: &BlockFacts,
    scratch: &mut Scratch,
) -> Containment {
    scratch.set.clear();
    scratch.set.extend(block_groups(stats, f, d, b));
    scratch.set.sort_unstable();
    scratch.set.dedup();
    scratch.votes.clear();
    let mut c = Containment {
        distinct: scratch.set.len(),
        counted: 0,
        earlier: 0,
    };
    for &(_, g) in &scratch.set {
        if g == UNIQUE {
            c.counted += 1;
            continue;
        }
        let group = stats.group(g);
        if stats.is_common(group) {
            continue;
        }
        c.counted += 1;
        if group.first < d {
            c.earlier += 1;
            // Postings are distinct (document, block) pairs: one vote each.
            let earlier = stats.postings(group).iter().filter(|p| p.0 < d);
            scratch.votes.extend(earlier);
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
            // A document already dropped as a whole keeps no passage decisions.
            if decision.drop.is_none() {
                *share = decide_doc(config, stats, doc_ids, facts, d as u32, decision, scratch);
            }
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
        let c = containment(stats, f, d, b, scratch);
        if c.counted == 0 || c.earlier == 0 {
            continue;
        }
        let score = c.earlier as f64 / c.counted as f64;
        // Common phrases do not count, but a passage made mostly of them is not judged.
        let judged = c.earlier >= MIN_SHARED_SHINGLES && 2 * c.counted >= c.distinct;
        if config.passages && judged && score >= config.passage_threshold {
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
    let w = config.shingle_size.min(b.tokens as usize);
    let marks: Vec<(u32, bool)> = block_groups(stats, f, d, b)
        .map(|(_, g)| (g, stats.earlier(g, d)))
        .collect();
    let mut i = 0;
    while i < marks.len() {
        if !marks[i].1 {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < marks.len() && marks[j + 1].1 {
            j += 1;
        }
        let run = &marks[i..=j];
        if run.len() + w > config.reuse_min_tokens {
            scratch.votes.clear();
            for &(g, _) in run {
                let group = stats.group(g);
                scratch
                    .votes
                    .extend(stats.postings(group).iter().filter(|p| p.0 < d));
            }
            let ((sd, sb), n) = best_source(&mut scratch.votes).expect("an earlier shingle votes");
            let base = b.first as usize;
            let (start, end) = (
                f.shingle_spans[base + i].start as usize,
                f.shingle_spans[base + j].end as usize,
            );
            // The source span: from the first to the last of the source block's shingles that
            // the run shares.
            let mut run_groups: Vec<u32> = run.iter().map(|r| r.0).collect();
            run_groups.sort_unstable();
            let source_facts = &facts[sd as usize];
            let source_block = &source_facts.blocks[sb as usize];
            let shared = block_groups(stats, source_facts, sd, source_block)
                .enumerate()
                .filter(|(_, (_, g))| run_groups.binary_search(g).is_ok())
                .map(|(k, _)| source_facts.shingle_spans[source_block.first as usize + k]);
            let (mut first, mut last) = (None::<super::ShingleSpan>, None::<super::ShingleSpan>);
            for s in shared {
                first.get_or_insert(s);
                last = Some(s);
            }
            let (first, last) = (
                first.expect("the source shares"),
                last.expect("the source shares"),
            );
            decision.annotations.push(Removal {
                start,
                end,
                reason: Reason::Reuse(Source {
                    doc: doc_ids[sd as usize],
                    start: first.start as usize,
                    end: last.end as usize,
                    cp_start: first.cp_start as usize,
                    cp_end: last.cp_end as usize,
                    score: n as f64 / run.len() as f64,
                }),
            });
        }
        i = j + 1;
    }
}
