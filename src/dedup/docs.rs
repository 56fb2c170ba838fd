//! Near-duplicate documents: MinHash-LSH candidates, verified by exact Jaccard and containment of
//! the shingle sets (as 32-bit fingerprints: two distinct shingles of a pair agree on them with
//! odds of 2^-32, and the sets take half the bytes), merged with a union-find whose root is the smallest DocId. Every other member
//! of a cluster is dropped, naming the root.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::union_find::UnionFind;
use super::{DedupConfig, DocFacts};
use crate::corpus::DocId;
use crate::decision::{DocDecision, DropReason};

/// Within a band bucket, each document is paired with this many following members: every pair
/// for the buckets of near-copies, a bounded number for the rare huge bucket.
const BUCKET_WINDOW: usize = 32;

/// A document's LSH band keys: (key, band). A band's key is the hash of its rows (equal rows,
/// equal keys; a rare collision only adds a candidate, which verification rejects).
pub fn band_keys(signature: &[u32], bands: usize, rows: usize) -> Vec<(u64, u32)> {
    if signature.is_empty() {
        return Vec::new();
    }
    let mut bytes = Vec::with_capacity(4 * rows);
    (0..bands)
        .map(|band| {
            bytes.clear();
            for v in &signature[band * rows..(band + 1) * rows] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            (xxh3_64_with_seed(&bytes, band as u64), band as u32)
        })
        .collect()
}

/// Candidate pairs (earlier, later) of documents from sorted (key, band, document) entries:
/// documents in one bucket (same key of the same band) pair up. Not yet distinct.
pub fn pairs_from_sorted(keys: &[(u64, u32, u32)]) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for bucket in keys.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        for (i, a) in bucket.iter().enumerate() {
            for b in bucket.iter().skip(i + 1).take(BUCKET_WINDOW) {
                pairs.push((a.2, b.2));
            }
        }
    }
    pairs
}

/// Candidate pairs (earlier, later) of document ordinals: documents that agree on all rows of
/// at least one band. Sorted and distinct.
pub fn candidates(facts: &[DocFacts], bands: usize, rows: usize) -> Vec<(u32, u32)> {
    let mut keys: Vec<(u64, u32, u32)> = facts
        .par_iter()
        .enumerate()
        .flat_map_iter(|(d, f)| {
            band_keys(&f.signature, bands, rows)
                .into_iter()
                .map(move |(k, band)| (k, band, d as u32))
        })
        .collect();
    keys.par_sort_unstable();
    let mut pairs = pairs_from_sorted(&keys);
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// Size of the intersection of two sorted distinct sets.
pub fn intersection(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Whether a later document `b` duplicates an earlier `a`: Jaccard at least `doc-jaccard`, or at
/// least `doc-containment` of `b`'s shingles in `a` (for a `b` of at least `min_shingles`).
pub fn is_duplicate(config: &DedupConfig, a: &[u32], b: &[u32]) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let inter = intersection(a, b) as f64;
    let jaccard_ok = inter / ((a.len() + b.len()) as f64 - inter) >= config.doc_jaccard;
    let containment_ok =
        b.len() >= config.min_passage_tokens && inter / b.len() as f64 >= config.doc_containment;
    jaccard_ok || containment_ok
}

/// The share of a dropped document's shingles found in the one it is dropped for.
fn score(kept: &[u32], member: &[u32]) -> f64 {
    intersection(kept, member) as f64 / member.len().max(1) as f64
}

/// Drops every document that a verified candidate pair joins to an earlier one.
pub fn decide(
    config: &DedupConfig,
    doc_ids: &[DocId],
    facts: &[DocFacts],
    decisions: &mut [DocDecision],
) {
    let pairs = candidates(facts, config.bands, config.rows);
    let drops = verified_drops(config, facts.len(), &pairs, |d| {
        facts[d as usize].fingerprint_set()
    });
    for (d, root, score) in drops {
        decisions[d as usize].drop = Some(DropReason::NearDupDoc {
            source: doc_ids[root as usize],
            score,
        });
    }
}

/// Candidate pairs verified at a time: only their documents' shingle sets are held.
const PAIR_CHUNK: usize = 4096;

/// From sorted distinct candidate pairs: (document, the root it joins, score) of every document
/// that verified pairs join to an earlier one, by document. `set_of` gives a document's sorted
/// distinct shingle fingerprints; it is asked again for a document of several chunks, so that memory holds
/// the sets of one chunk of pairs, not of every document involved.
pub fn verified_drops(
    config: &DedupConfig,
    documents: usize,
    pairs: &[(u32, u32)],
    set_of: impl Fn(u32) -> Vec<u32> + Sync,
) -> Vec<(u32, u32, f64)> {
    let mut uf = UnionFind::new(documents);
    // The score of each verified pair, for the common case where the earlier document of the
    // pair turns out to be the root of its cluster.
    let mut verified_scores: Vec<((u32, u32), f64)> = Vec::new();
    for chunk in pairs.chunks(PAIR_CHUNK) {
        let sets = Sets::of(chunk, &set_of);
        let verified: Vec<((u32, u32), f64)> = chunk
            .par_iter()
            .filter_map(|&(a, b)| {
                let (sa, sb) = (sets.get(a), sets.get(b));
                is_duplicate(config, sa, sb).then(|| ((a, b), score(sa, sb)))
            })
            .collect();
        for &((a, b), _) in &verified {
            uf.union(a, b);
        }
        verified_scores.extend(verified);
    }
    let mut members: Vec<(u32, u32)> = pairs
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .filter_map(|d| {
            let root = uf.root(d);
            (root != d).then_some((root, d))
        })
        .collect();
    members.par_sort_unstable();
    members.dedup();
    // Pairs come sorted and distinct, so the verified ones are too.
    let mut drops = Vec::with_capacity(members.len());
    let mut unknown = Vec::new();
    for &(root, d) in &members {
        match verified_scores.binary_search_by_key(&(root, d), |v| v.0) {
            Ok(i) => drops.push((d, root, verified_scores[i].1)),
            Err(_) => unknown.push((root, d)),
        }
    }
    for chunk in unknown.chunks(PAIR_CHUNK) {
        let sets = Sets::of(chunk, &set_of);
        drops.par_extend(
            chunk
                .par_iter()
                .map(|&(root, d)| (d, root, score(sets.get(root), sets.get(d)))),
        );
    }
    drops.par_sort_unstable_by_key(|x| x.0);
    drops
}

/// The shingle sets of the documents of some pairs.
struct Sets {
    docs: Vec<u32>,
    sets: Vec<Vec<u32>>,
}

impl Sets {
    fn of(pairs: &[(u32, u32)], set_of: &(impl Fn(u32) -> Vec<u32> + Sync)) -> Self {
        let mut docs: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        docs.sort_unstable();
        docs.dedup();
        let sets = docs.par_iter().map(|&d| set_of(d)).collect();
        Sets { docs, sets }
    }

    fn get(&self, d: u32) -> &[u32] {
        &self.sets[self
            .docs
            .binary_search(&d)
            .expect("a document of the pairs")]
    }
}
