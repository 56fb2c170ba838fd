//! Passage containment: a passage (a block with enough tokens) is a near-duplicate when at least
//! θ of its shingles already occur in earlier documents. Shingles found in more than C documents
//! are common phrases and left out of the score; a passage needs at least
//! [`MIN_SHARED_SHINGLES`] shingles from earlier documents, and no more than half of its shingles
//! common, to be judged at all. The source named is the earlier passage that shares the most
//! shingles with it.
//!
//! Two halves, so that the work can be split: [`shared_from_sorted`] turns the sorted
//! occurrences of one hash range into what each occurrence needs to know (the first document,
//! whether the shingle is common, the earlier (document, block) pairs that have it), and
//! [`decide_doc`] judges one document from its own facts and those routed entries alone.

use super::spread_sort::sort_by_spread_key;
use std::sync::Arc;

use super::{BlockFacts, DedupConfig, DocFacts};
use crate::corpus::DocId;
use crate::decision::{DocDecision, Reason, Removal, Source};
use crate::error::Result;

/// A passage is judged only on this many shingles found in earlier documents at least: two
/// chance matches in a short passage are not evidence of copying.
pub const MIN_SHARED_SHINGLES: usize = 3;

/// One shingle occurrence as the scan step emits it: (hash, document, position in the
/// document's shingles, block).
pub type Occurrence = (u64, u32, u32, u32);

/// A shingle occurrence shared with at least one other document, as its document sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedEntry {
    /// Position in the document's shingles.
    pub pos: u32,
    /// The first document that has the shingle.
    pub first: u32,
    /// Found in more than C documents: a common phrase, not counted.
    pub common: bool,
    /// Its earlier (document, block) pairs: `DocShared::postings[post_start..post_end]`; empty
    /// when common.
    pub post_start: u32,
    pub post_end: u32,
}

/// Everything the resolve step routes to one document: its shared occurrences, by position.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocShared {
    pub entries: Vec<SharedEntry>,
    /// Distinct earlier (document, block) pairs of each entry's shingle, by document.
    pub postings: Vec<(u32, u32)>,
}

impl DocShared {
    fn earlier_postings(&self, e: &SharedEntry) -> &[(u32, u32)] {
        &self.postings[e.post_start as usize..e.post_end as usize]
    }

    /// Whether entry `e` counts as evidence that document `d` copied: not common, and found in
    /// an earlier document.
    fn earlier(e: &SharedEntry, d: u32) -> bool {
        !e.common && e.first < d
    }
}

/// A routed occurrence: (document, position, group within its partition).
pub type Route = (u32, u32, u32);

/// The shared shingles of one sorted hash range: groups (first document, whether common,
/// postings) and the route of each shared occurrence back to its document.
#[derive(Debug, Default)]
pub struct SharedGroups {
    /// (first document, common, postings start, postings end).
    pub groups: Vec<(u32, bool, u32, u32)>,
    /// Distinct (document, block) pairs of each group that is not common, by document (but
    /// for its last document's, which no occurrence asks for).
    pub postings: Vec<(u32, u32)>,
    /// Shared occurrences that tell their document something, sorted by (document, position):
    /// all of a common shingle's, and those after the first document of the others.
    pub routes: Vec<Route>,
}

impl SharedGroups {
    /// The entry of route `r` for its document, with its earlier postings appended to `out`.
    pub fn entry(&self, r: &Route, out: &mut Vec<(u32, u32)>) -> SharedEntry {
        let (first, common, ps, pe) = self.groups[r.2 as usize];
        let postings = &self.postings[ps as usize..pe as usize];
        let earlier = &postings[..postings.partition_point(|p| p.0 < r.0)];
        let post_start = out.len() as u32;
        out.extend_from_slice(earlier);
        SharedEntry {
            pos: r.1,
            first,
            common,
            post_start,
            post_end: out.len() as u32,
        }
    }
}

/// Groups the sorted occurrences of one hash range. A shingle in more than `max_docs` documents
/// is common; one in a single document is not shared and routes nowhere. Nothing here depends on
/// how the hash space was split.
pub fn shared_from_sorted(all: &[Occurrence], max_docs: usize) -> SharedGroups {
    shared_from_sorted_into(all, max_docs, SharedGroups::default())
}

/// [`shared_from_sorted`] into the buffers of `out` (cleared first): a resolve task keeps them
/// from one partition to the next, since fresh memory costs a page fault per 4 KB.
pub fn shared_from_sorted_into(
    all: &[Occurrence],
    max_docs: usize,
    mut out: SharedGroups,
) -> SharedGroups {
    let max_docs = max_docs.min(u32::MAX as usize) as u32;
    out.groups.clear();
    out.postings.clear();
    out.routes.clear();
    for occurrences in all.chunk_by(|a, b| a.0 == b.0) {
        let first = occurrences[0].1;
        let last = occurrences[occurrences.len() - 1].1;
        if first == last {
            continue; // one document only
        }
        let mut df = 1u32;
        for w in occurrences.windows(2) {
            df += (w[0].1 != w[1].1) as u32;
        }
        let g = out.groups.len() as u32;
        let post_start = out.postings.len() as u32;
        let common = df > max_docs;
        if !common {
            // No occurrence looks back at the last document's pairs: they are not kept.
            for &(_, d, _, b) in occurrences.iter().take_while(|o| o.1 != last) {
                // Distinct within this group (the previous group may end the same way).
                if out.postings.len() == post_start as usize || out.postings.last() != Some(&(d, b))
                {
                    out.postings.push((d, b));
                }
            }
        }
        out.groups
            .push((first, common, post_start, out.postings.len() as u32));
        // To the first document, a shingle that is not common is no evidence (no earlier
        // document has it), just as a shingle of its own: its occurrences there route nowhere.
        // That leaves out about half the routes of a corpus of copied pairs.
        out.routes.extend(
            occurrences
                .iter()
                .filter(|o| common || o.1 != first)
                .map(|&(_, d, pos, _)| (d, pos, g)),
        );
    }
    // (document, position) is unique to an occurrence: one number orders routes as the whole
    // tuples would. Positions take only the bits the longest document needs, so that the
    // sort's counting passes split documents' runs too, not only the documents.
    let pos_bits = out
        .routes
        .iter()
        .map(|r| r.1)
        .max()
        .map_or(0, |p| 32 - p.leading_zeros());
    sort_by_spread_key(&mut out.routes, |&(d, pos, _)| {
        (d as u64) << pos_bits | pos as u64
    });
    out
}

/// The facts of earlier documents that a decision names as its source.
pub trait Sources {
    /// The DocId and facts of the document with ordinal `d`.
    fn source(&self, d: u32) -> crate::error::Result<Arc<(DocId, DocFacts)>>;
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
fn source_of(sources: &dyn Sources, (d, b): (u32, u32), score: f64) -> Result<Source> {
    let src = sources.source(d)?;
    let block: &BlockFacts = &src.1.blocks[b as usize];
    Ok(Source {
        doc: src.0,
        start: block.start,
        end: block.end,
        cp_start: block.cp_start,
        cp_end: block.cp_end,
        score,
    })
}

/// Scratch buffers of one worker.
#[derive(Default)]
pub struct Scratch {
    /// (shingle, entry index or `NOT_SHARED`) of one passage.
    set: Vec<(u64, u32)>,
    votes: Vec<(u32, u32)>,
    /// The distinct shingles of one passage seen so far.
    seen: SeenSet,
}

/// A set of shingle hashes for one passage at a time: open addressing over a table cleared per
/// passage, which a passage's hundred-odd shingles fill faster than a sort would order them.
#[derive(Default)]
struct SeenSet {
    /// Hashes, with 0 for an empty slot (the hash 0 itself is `zero`).
    slots: Vec<u64>,
    zero: bool,
}

impl SeenSet {
    /// Empties the set, with room for `n` hashes.
    fn reset(&mut self, n: usize) {
        let size = (2 * n).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(size, 0);
        self.zero = false;
    }

    /// Adds `h`; whether it was new. Shingle hashes are uniform, so their low bits index.
    fn insert(&mut self, h: u64) -> bool {
        if h == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = h;
                    return true;
                }
                x if x == h => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// A shingle of one document only.
const NOT_SHARED: u32 = u32::MAX;

/// How a passage's shingles stand against earlier documents.
struct Containment {
    /// Distinct shingles.
    distinct: usize,
    /// Shingles that count (not common), distinct.
    counted: usize,
    /// Of those, found in an earlier document.
    earlier: usize,
}

/// The entry index of each of a block's shingles, in order (`NOT_SHARED` for shingles of one
/// document), with the shingle's fingerprint.
fn block_entries<'a>(
    shared: &'a DocShared,
    f: &'a DocFacts,
    b: &BlockFacts,
) -> impl Iterator<Item = (u64, u32)> + 'a {
    let entries = &shared.entries;
    let mut k = entries.partition_point(|e| e.pos < b.first);
    (b.first..b.last).map(move |pos| {
        let e = if k < entries.len() && entries[k].pos == pos {
            k += 1;
            (k - 1) as u32
        } else {
            NOT_SHARED
        };
        (f.fingerprints[pos as usize] as u64, e)
    })
}

fn containment(
    shared: &DocShared,
    f: &DocFacts,
    d: u32,
    b: &BlockFacts,
    scratch: &mut Scratch,
) -> Containment {
    // One entry per distinct shingle (its first): all occurrences of a shingle share a group,
    // so which one stands for it does not matter.
    scratch.set.clear();
    scratch.seen.reset((b.last - b.first) as usize);
    let seen = &mut scratch.seen;
    scratch
        .set
        .extend(block_entries(shared, f, b).filter(|&(h, _)| seen.insert(h)));
    scratch.votes.clear();
    let mut c = Containment {
        distinct: scratch.set.len(),
        counted: 0,
        earlier: 0,
    };
    for &(_, e) in &scratch.set {
        if e == NOT_SHARED {
            c.counted += 1;
            continue;
        }
        let entry = &shared.entries[e as usize];
        if entry.common {
            continue;
        }
        c.counted += 1;
        if DocShared::earlier(entry, d) {
            c.earlier += 1;
            // Postings are distinct (document, block) pairs: one vote each.
            scratch.votes.extend(shared.earlier_postings(entry));
        }
    }
    c
}

/// Decides the near-duplicate passages, dup stubs and reuse spans of document `d` (not dropped)
/// from its facts and its routed shared shingles. Returns (share of tokens removed as
/// duplicates, main source ordinal) when any passage went.
pub fn decide_doc(
    config: &DedupConfig,
    sources: &dyn Sources,
    d: u32,
    f: &DocFacts,
    shared: &DocShared,
    decision: &mut DocDecision,
    scratch: &mut Scratch,
) -> Result<Option<(f64, u32)>> {
    let mut removed = vec![false; f.blocks.len()];
    let mut removed_tokens: Vec<(u32, u64)> = Vec::new();
    for (bi, b) in f.blocks.iter().enumerate() {
        if (b.tokens as usize) < config.min_passage_tokens {
            continue;
        }
        // Most passages share nothing with earlier documents: nothing to count or report.
        let entries = &shared.entries;
        let from = entries.partition_point(|e| e.pos < b.first);
        let to = from + entries[from..].partition_point(|e| e.pos < b.last);
        if !entries[from..to].iter().any(|e| DocShared::earlier(e, d)) {
            continue;
        }
        let c = containment(shared, f, d, b, scratch);
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
                reason: Reason::NearDupPassage(source_of(sources, src, score)?),
            });
        } else if config.explain_reuse {
            reuse_spans(config, sources, d, f, shared, b, decision, scratch)?;
        }
    }
    if removed_tokens.is_empty() {
        return Ok(None);
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
    Ok(Some((gone as f64 / total.max(1) as f64, main.0)))
}

/// Reports the maximal runs of a passage's shingles found in earlier documents that cover at
/// least `reuse-min-tokens` tokens.
#[allow(clippy::too_many_arguments)]
fn reuse_spans(
    config: &DedupConfig,
    sources: &dyn Sources,
    d: u32,
    f: &DocFacts,
    shared: &DocShared,
    b: &BlockFacts,
    decision: &mut DocDecision,
    scratch: &mut Scratch,
) -> Result<()> {
    let w = config.shingle_size.min(b.tokens as usize);
    let marks: Vec<(u64, u32, bool)> = block_entries(shared, f, b)
        .map(|(h, e)| {
            let earlier = e != NOT_SHARED && DocShared::earlier(&shared.entries[e as usize], d);
            (h, e, earlier)
        })
        .collect();
    let mut i = 0;
    while i < marks.len() {
        if !marks[i].2 {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < marks.len() && marks[j + 1].2 {
            j += 1;
        }
        let run = &marks[i..=j];
        if run.len() + w > config.reuse_min_tokens {
            scratch.votes.clear();
            for &(_, e, _) in run {
                scratch
                    .votes
                    .extend(shared.earlier_postings(&shared.entries[e as usize]));
            }
            let ((sd, sb), n) = best_source(&mut scratch.votes).expect("an earlier shingle votes");
            let base = b.first as usize;
            let (start, end) = (
                f.shingle_spans[base + i].start as usize,
                f.shingle_spans[base + j].end as usize,
            );
            // The source span: from the first to the last of the source block's shingles that
            // the run shares.
            let mut run_hashes: Vec<u64> = run.iter().map(|r| r.0).collect();
            run_hashes.sort_unstable();
            let source = sources.source(sd)?;
            let source_facts = &source.1;
            let source_block = &source_facts.blocks[sb as usize];
            let shared_spans = source_facts
                .block_fingerprints(source_block)
                .iter()
                .enumerate()
                .filter(|(_, &h)| run_hashes.binary_search(&(h as u64)).is_ok())
                .map(|(k, _)| source_facts.shingle_spans[source_block.first as usize + k]);
            let (mut first, mut last) = (None::<super::ShingleSpan>, None::<super::ShingleSpan>);
            for s in shared_spans {
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
                    doc: source.0,
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A shingle of documents 0, 1 and 3 routes to 1 and 3 only, with the pairs of 0 and 1 as
    /// postings; a common one (in more than `max_docs` documents) routes to every document and
    /// has no postings.
    #[test]
    fn routes_go_where_they_tell_something() {
        let all: Vec<Occurrence> = vec![
            (5, 0, 0, 0),
            (5, 0, 9, 2),
            (5, 1, 4, 1),
            (5, 3, 7, 0),
            (8, 0, 1, 0),
            (8, 1, 2, 0),
            (8, 2, 3, 0),
            (8, 3, 0, 0),
        ];
        let g = shared_from_sorted(&all, 3);
        assert_eq!(g.groups, vec![(0, false, 0, 3), (0, true, 3, 3)]);
        assert_eq!(g.postings, vec![(0, 0), (0, 2), (1, 1)]);
        assert_eq!(
            g.routes,
            vec![
                (0, 1, 1),
                (1, 2, 1),
                (1, 4, 0),
                (2, 3, 1),
                (3, 0, 1),
                (3, 7, 0)
            ]
        );
        let mut out = Vec::new();
        let e = g.entry(&(3, 7, 0), &mut out);
        assert_eq!((e.first, e.common, e.pos), (0, false, 7));
        assert_eq!(out, vec![(0, 0), (0, 2), (1, 1)]);
    }

    proptest! {
        /// Routes come out in (document, position) order, whatever the positions' size: enough of
        /// them for the counting passes of the sort, with positions small, large and at the
        /// limit of 32 bits.
        #[test]
        fn routes_are_in_document_and_position_order(
            occurrences in proptest::collection::vec(
                (0u64..400, 0u32..40, prop_oneof![0u32..300, any::<u32>()]),
                3000..5000,
            ),
        ) {
            let mut all: Vec<Occurrence> = occurrences
                .iter()
                .map(|&(h, d, pos)| (h, d, pos, 0))
                .collect();
            all.sort_unstable();
            all.dedup_by_key(|o| (o.1, o.2));
            all.sort_unstable();
            let g = shared_from_sorted(&all, 30);
            // The obvious way: every occurrence that tells its document something, by group.
            let mut expected = Vec::new();
            let mut group = 0u32;
            for run in all.chunk_by(|a, b| a.0 == b.0) {
                let first = run[0].1;
                if run.iter().all(|o| o.1 == first) {
                    continue;
                }
                let mut docs: Vec<u32> = run.iter().map(|o| o.1).collect();
                docs.dedup();
                let common = docs.len() > 30;
                expected.extend(
                    run.iter()
                        .filter(|o| common || o.1 != first)
                        .map(|o| (o.1, o.2, group)),
                );
                group += 1;
            }
            expected.sort_unstable();
            prop_assert!(expected.len() > 2048);
            prop_assert_eq!(g.routes, expected);
        }

        /// The set keeps the first of each hash, as a sorted set of the hashes seen so far does,
        /// with 0 and hashes that share slots among them.
        #[test]
        fn seen_set_is_a_set(hashes in proptest::collection::vec(
            prop_oneof![Just(0u64), 0u64..40, any::<u64>()], 0..200)
        ) {
            let mut seen = SeenSet::default();
            seen.reset(hashes.len());
            let mut oracle = std::collections::BTreeSet::new();
            for h in hashes {
                prop_assert_eq!(seen.insert(h), oracle.insert(h));
            }
            seen.reset(3);
            prop_assert!(seen.insert(0) && seen.insert(7));
        }
    }
}
