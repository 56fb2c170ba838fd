//! Near-duplicate passages and documents.
//!
//! The scan step turns each document into [`DocFacts`]: per block its span and shingle hashes,
//! per document a MinHash signature. The resolve step ([`resolve`]) decides over the whole corpus,
//! in parallel over hash-range partitions and deterministically ("earlier" is a smaller DocId):
//! - passages whose (non-common) shingles mostly occur in earlier documents go, naming the earlier
//!   passage that shares the most shingles ([`passages`]);
//! - documents that MinHash-LSH pairs with an earlier one and that exact Jaccard or containment
//!   confirms go, naming the smallest document of their cluster ([`docs`]);
//! - documents whose content mostly went as duplicate passages go as well.

pub mod docs;
pub mod lsh;
pub mod minhash;
pub mod passages;
pub mod spread_sort;
pub mod union_find;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::DocId;
use crate::decision::DocDecision;
use crate::error::{Error, Result};
use crate::text::tokens::{Shingler, Token, Tokenizer};
use crate::text::{Block, CodePoints};
use minhash::MinHasher;

/// Settings of near-duplicate detection (`[dedup]` in `gleaner.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DedupConfig {
    /// Tokens per shingle (w).
    pub shingle_size: usize,
    /// Seed of the xxh3-64 shingle hash.
    pub shingle_seed: u64,
    /// Fold every digit to 0 before hashing.
    pub fold_digits: bool,
    /// Remove near-duplicate passages.
    pub passages: bool,
    /// Tokens a block needs to count as a passage.
    pub min_passage_tokens: usize,
    /// Share of a passage's shingles found in earlier documents that makes it a duplicate (θ).
    pub passage_threshold: f64,
    /// A shingle in more than this many documents is a common phrase and does not count (C).
    pub max_shingle_docs: usize,
    /// A line of at most this many tokens between removed duplicate passages goes with them.
    pub stub_max_tokens: usize,
    /// Drop a document when at least this share of its tokens went as duplicate passages.
    pub mostly_duplicate: f64,
    /// Drop near-duplicate documents.
    pub doc_dedup: bool,
    /// A candidate pair of documents whose shingle sets have at least this Jaccard is a duplicate.
    pub doc_jaccard: f64,
    /// ... or whose later document has at least this share of its shingles in the earlier one.
    pub doc_containment: f64,
    /// LSH bands.
    pub bands: usize,
    /// MinHash values per band.
    pub rows: usize,
    /// Seed of the MinHash functions.
    pub minhash_seed: u64,
    /// Report (not remove) reused spans of passages under the threshold, reason `reuse`.
    pub explain_reuse: bool,
    /// Tokens a reused span needs to be reported.
    pub reuse_min_tokens: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            shingle_size: 5,
            shingle_seed: 0x676C_6561_6E65_7231,
            fold_digits: false,
            passages: true,
            min_passage_tokens: 10,
            passage_threshold: 0.5,
            max_shingle_docs: 50,
            stub_max_tokens: 6,
            mostly_duplicate: 0.6,
            doc_dedup: true,
            doc_jaccard: 0.5,
            doc_containment: 0.6,
            bands: 20,
            rows: 3,
            minhash_seed: 0x6D69_6E68_6173_6831,
            explain_reuse: false,
            reuse_min_tokens: 12,
        }
    }
}

impl DedupConfig {
    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) && v > 0.0 {
                Ok(())
            } else {
                Err(Error::usage(format!("{name} must be in (0, 1], not {v}")))
            }
        };
        if !(1..=64).contains(&self.shingle_size) {
            return Err(Error::usage("shingle-size must be between 1 and 64"));
        }
        unit("passage-threshold", self.passage_threshold)?;
        unit("mostly-duplicate", self.mostly_duplicate)?;
        unit("doc-jaccard", self.doc_jaccard)?;
        unit("doc-containment", self.doc_containment)?;
        if self.max_shingle_docs < 2 {
            return Err(Error::usage("max-shingle-docs must be at least 2"));
        }
        if self.bands == 0 || self.rows == 0 || self.bands * self.rows > 4096 {
            return Err(Error::usage(
                "bands and rows must be at least 1, with bands × rows at most 4096",
            ));
        }
        if self.reuse_min_tokens == 0 {
            return Err(Error::usage("reuse-min-tokens must be at least 1"));
        }
        Ok(())
    }

    /// Whether the scan step has anything to compute.
    pub fn enabled(&self) -> bool {
        self.passages || self.doc_dedup
    }
}

/// One block of a document as the resolve step sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockFacts {
    /// Byte span of the block's visible text.
    pub start: usize,
    pub end: usize,
    /// The same span in code points.
    pub cp_start: usize,
    pub cp_end: usize,
    /// Its shingles: `DocFacts::shingles[first..last]`.
    pub first: u32,
    pub last: u32,
    pub tokens: u32,
    /// Removed as boilerplate by the document's own scan (a rule, outside the main content):
    /// left out of the document's signature and shingle set, so that two articles of one site
    /// are not near-copies for their shared navigation.
    pub boilerplate: bool,
}

/// Where a shingle's tokens are in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShingleSpan {
    pub start: u32,
    pub end: u32,
    pub cp_start: u32,
    pub cp_end: u32,
}

/// What the scan step keeps about one document for near-duplicate detection: hashes and spans,
/// not text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DocFacts {
    /// Blocks with at least one token, in order.
    pub blocks: Vec<BlockFacts>,
    /// Shingle hashes of all blocks, in order (a shingle never spans two blocks): held while
    /// scanning, which routes them to the hash-range partitions, and not written to the facts.
    #[serde(skip)]
    pub shingles: Vec<u64>,
    /// Span of each shingle (first token's start, last token's end) in bytes and in code
    /// points; only with `explain-reuse`.
    pub shingle_spans: Vec<ShingleSpan>,
    /// The low 32 bits of each shingle, in half the bytes: what every step after the scan
    /// compares (two distinct shingles of a comparison agree on them with odds of 2^-32). With
    /// passages, those of every block, indexed like `shingles`; without, only those of the
    /// content blocks (not boilerplate), and no blocks are kept.
    #[serde(with = "crate::stages::words")]
    pub fingerprints: Vec<u32>,
    /// MinHash signature of the document's shingle set; empty without document dedup. Only the
    /// scan uses it (for the LSH band keys), so it is not written to the facts.
    #[serde(skip)]
    pub signature: Vec<u32>,
    /// The text's length in code points, counted along with the blocks' offsets (the scan
    /// keeps it with the document's other facts).
    #[serde(skip)]
    pub len_code_points: usize,
}

impl DocFacts {
    pub fn block_shingles(&self, b: &BlockFacts) -> &[u64] {
        &self.shingles[b.first as usize..b.last as usize]
    }

    /// The shingles of blocks that are not boilerplate (what document similarity compares), into
    /// `out`: a buffer the scanning thread keeps from document to document.
    pub fn content_shingles_into(&self, out: &mut Vec<u64>) {
        out.clear();
        for b in self.blocks.iter().filter(|b| !b.boilerplate) {
            out.extend_from_slice(self.block_shingles(b));
        }
    }

    pub fn block_fingerprints(&self, b: &BlockFacts) -> &[u32] {
        &self.fingerprints[b.first as usize..b.last as usize]
    }

    /// Sorted distinct fingerprints of the content shingles: the set that verifies a candidate
    /// pair of documents.
    pub fn fingerprint_set(&self) -> Vec<u32> {
        let mut s: Vec<u32> = if self.blocks.is_empty() {
            self.fingerprints.clone()
        } else {
            let mut s = Vec::with_capacity(self.fingerprints.len());
            for b in self.blocks.iter().filter(|b| !b.boilerplate) {
                s.extend_from_slice(self.block_fingerprints(b));
            }
            s
        };
        // Radix passes over the fingerprints' bytes: a few thousand random 32-bit numbers per
        // document, where a comparison sort costs about twice as much.
        radsort::sort(&mut s);
        s.dedup();
        s
    }

    pub fn total_tokens(&self) -> u64 {
        self.blocks.iter().map(|b| b.tokens as u64).sum()
    }
}

/// Per-thread scanning state built from the configuration.
pub struct Scanner {
    config: DedupConfig,
    minhash: Option<MinHasher>,
}

impl Scanner {
    pub fn new(config: &DedupConfig) -> Self {
        Scanner {
            config: config.clone(),
            minhash: config
                .doc_dedup
                .then(|| MinHasher::new(config.bands * config.rows, config.minhash_seed)),
        }
    }

    /// The facts of one document.
    pub fn scan(&self, text: &str, blocks: &[Block]) -> DocFacts {
        self.scan_excluding(text, blocks, &[])
    }

    /// The facts of one document whose byte spans `boilerplate` (sorted by start) the
    /// boilerplate step removes: a block inside one of them is marked, and its shingles are left
    /// out of the signature.
    pub fn scan_excluding(
        &self,
        text: &str,
        blocks: &[Block],
        boilerplate: &[(usize, usize)],
    ) -> DocFacts {
        let mut facts = DocFacts::default();
        if !self.config.enabled() {
            facts.len_code_points = text.chars().count();
            return facts;
        }
        SCRATCH.with_borrow_mut(|scratch| {
            self.scan_into(text, blocks, boilerplate, scratch, &mut facts)
        });
        facts
    }

    fn scan_into(
        &self,
        text: &str,
        blocks: &[Block],
        boilerplate: &[(usize, usize)],
        scratch: &mut ScanScratch,
        facts: &mut DocFacts,
    ) {
        let ScanScratch {
            tokenizer,
            shingler,
            tokens,
            shingles,
            content,
        } = scratch;
        // Without passages the shingle list is only a step to the fingerprints: its buffer is
        // handed back to the thread at the end, for the next document.
        let keep_shingles = keeps_block_shingles(&self.config);
        facts.shingles = std::mem::take(shingles);
        facts.shingles.clear();
        let c = &self.config;
        if tokenizer
            .as_ref()
            .is_none_or(|t| t.folds_digits() != c.fold_digits)
        {
            *tokenizer = Some(Tokenizer::new(c.fold_digits));
        }
        if shingler
            .as_ref()
            .is_none_or(|s| s.params() != (c.shingle_size, c.shingle_seed))
        {
            *shingler = Some(Shingler::new(c.shingle_size, c.shingle_seed));
        }
        let (tokenizer, shingler) = (tokenizer.as_mut().unwrap(), shingler.as_mut().unwrap());
        // About one shingle per word.
        facts.shingles.reserve(text.len() / 6 + 1);
        facts.blocks.reserve(blocks.len());
        let mut cp = CodePoints::new(text);
        // Shingle starts and ends each ascend: one cursor each keeps both conversions linear.
        let (mut cp_starts, mut cp_ends) = (CodePoints::new(text), CodePoints::new(text));
        let spans = self.config.explain_reuse;
        // reach[i]: the furthest end of the first i + 1 boilerplate spans.
        let reach: Vec<usize> = boilerplate
            .iter()
            .scan(0, |far, s| {
                *far = s.1.max(*far);
                Some(*far)
            })
            .collect();
        for block in blocks {
            tokens.clear();
            tokenizer.tokens(block.text(text), block.start, tokens);
            if tokens.is_empty() {
                continue;
            }
            // The block's visible text: what a removal of the whole passage takes.
            let line = block.text(text);
            let start = block.start + (line.len() - line.trim_start().len());
            let end = block.start + line.trim_end().len();
            let first = facts.shingles.len() as u32;
            shingler.for_each(tokens, |a, b, h| {
                facts.shingles.push(h);
                if spans {
                    let (start, end) = (tokens[a].start, tokens[b].end);
                    facts.shingle_spans.push(ShingleSpan {
                        start: start as u32,
                        end: end as u32,
                        cp_start: cp_starts.at(start) as u32,
                        cp_end: cp_ends.at(end) as u32,
                    });
                }
            });
            let cp_start = cp.at(start);
            let cp_end = cp.at(end);
            // Covered when a span starting at or before the block reaches its end.
            let k = boilerplate.partition_point(|s| s.0 <= start);
            let covered = k > 0 && reach[k - 1] >= end;
            facts.blocks.push(BlockFacts {
                start,
                end,
                cp_start,
                cp_end,
                first,
                last: facts.shingles.len() as u32,
                tokens: tokens.len() as u32,
                boilerplate: covered,
            });
        }
        // The blocks' ends were counted already: only the text after the last one is left.
        facts.len_code_points = cp.at(text.len());
        if let Some(m) = &self.minhash {
            if facts.blocks.iter().any(|b| b.boilerplate) {
                facts.content_shingles_into(content);
                if !content.is_empty() {
                    facts.signature = m.signature(content);
                }
            } else if !facts.shingles.is_empty() {
                facts.signature = m.signature(&facts.shingles);
            }
        }
        if keep_shingles {
            facts.fingerprints = facts.shingles.iter().map(|&h| h as u32).collect();
        } else {
            let mut fingerprints = Vec::with_capacity(facts.shingles.len());
            for b in facts.blocks.iter().filter(|b| !b.boilerplate) {
                fingerprints.extend(facts.block_shingles(b).iter().map(|&h| h as u32));
            }
            facts.fingerprints = fingerprints;
            facts.blocks.clear();
            *shingles = std::mem::take(&mut facts.shingles);
        }
    }
}

/// A scanning thread's buffers, kept from document to document (the tokenizer and shingler
/// remade when a scan of another configuration comes along).
#[derive(Default)]
struct ScanScratch {
    tokenizer: Option<Tokenizer>,
    shingler: Option<Shingler>,
    tokens: Vec<Token>,
    shingles: Vec<u64>,
    /// The shingles of a document's content blocks, for its signature.
    content: Vec<u64>,
}

/// Whether the facts keep each block's shingles (for the passage step and reuse spans).
fn keeps_block_shingles(c: &DedupConfig) -> bool {
    c.passages || c.explain_reuse
}

thread_local! {
    static SCRATCH: std::cell::RefCell<ScanScratch> = std::cell::RefCell::default();
}

/// Fills `decisions` (indexed by corpus ordinal) with near-duplicate passage removals, reuse
/// annotations and document drops, all in memory: the composition of the stage functions that
/// `gleaner clean` and the sharded stages run over files. `doc_ids[i]` and `facts[i]` belong to
/// ordinal `i`.
pub fn resolve(
    config: &DedupConfig,
    doc_ids: &[DocId],
    facts: &[DocFacts],
    decisions: &mut [DocDecision],
) {
    if !config.enabled() || facts.is_empty() {
        return;
    }
    if config.doc_dedup {
        docs::decide(config, doc_ids, facts, decisions);
    }
    if config.passages || config.explain_reuse {
        let shared = shared_in_memory(facts, config.max_shingle_docs);
        let sources = MemorySources { doc_ids, facts };
        decisions.par_iter_mut().enumerate().for_each_init(
            passages::Scratch::default,
            |scratch, (d, decision)| {
                let d = d as u32;
                judge_passages(
                    config,
                    &sources,
                    d,
                    &facts[d as usize],
                    &shared[d as usize],
                    decision,
                    scratch,
                )
                .expect("sources in memory are always found");
            },
        );
    }
}

/// The passage step of one document that is not dropped: its duplicate passages, stubs and
/// reuse spans, then the whole document when its content mostly went as duplicates.
pub fn judge_passages(
    config: &DedupConfig,
    sources: &dyn passages::Sources,
    d: u32,
    facts: &DocFacts,
    shared: &passages::DocShared,
    decision: &mut DocDecision,
    scratch: &mut passages::Scratch,
) -> Result<()> {
    // A document already dropped as a whole keeps no passage decisions.
    if decision.drop.is_some() {
        return Ok(());
    }
    let share = passages::decide_doc(config, sources, d, facts, shared, decision, scratch)?;
    if let Some((share, source)) = share {
        if config.passages && share >= config.mostly_duplicate {
            decision.drop = Some(crate::decision::DropReason::MostlyDuplicate {
                source: sources.source(source)?.0,
                score: share,
            });
        }
    }
    Ok(())
}

/// Every shingle occurrence of a document: (hash, `d`, position, block).
pub fn occurrences(d: u32, f: &DocFacts) -> impl Iterator<Item = passages::Occurrence> + '_ {
    f.blocks.iter().enumerate().flat_map(move |(bi, b)| {
        (b.first..b.last).map(move |pos| (f.shingles[pos as usize], d, pos, bi as u32))
    })
}

/// The routed shared shingles of every document, from one sort of all occurrences.
fn shared_in_memory(facts: &[DocFacts], max_docs: usize) -> Vec<passages::DocShared> {
    let mut all: Vec<passages::Occurrence> = facts
        .par_iter()
        .enumerate()
        .flat_map_iter(|(d, f)| occurrences(d as u32, f))
        .collect();
    all.par_sort_unstable();
    let groups = passages::shared_from_sorted(&all, max_docs);
    let mut shared = vec![passages::DocShared::default(); facts.len()];
    for r in &groups.routes {
        let s = &mut shared[r.0 as usize];
        let e = groups.entry(r, &mut s.postings);
        s.entries.push(e);
    }
    shared
}

/// Sources looked up in facts held in memory.
struct MemorySources<'a> {
    doc_ids: &'a [DocId],
    facts: &'a [DocFacts],
}

impl passages::Sources for MemorySources<'_> {
    fn source(&self, d: u32) -> Result<std::sync::Arc<(DocId, DocFacts)>> {
        let (doc_id, facts) = (self.doc_ids[d as usize], &self.facts[d as usize]);
        Ok(std::sync::Arc::new((doc_id, facts.clone())))
    }
}

#[cfg(test)]
mod tests;
