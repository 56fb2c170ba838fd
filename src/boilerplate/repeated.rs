//! Lines a site repeats (CCNet's idea): a short line whose normal form occurs in many documents
//! of the corpus is boilerplate in all of them. Long repeated passages are not handled here: they
//! are near-duplicates, whose first copy stays.
//!
//! Counting is a sum of per-document sets, so the result depends only on the corpus, not on the
//! order in which documents were scanned.

use std::collections::HashMap;

use super::engine::DocFacts;
use crate::decision::{Reason, Removal};

/// When a short line counts as repeated.
#[derive(Debug, Clone, Copy)]
pub struct RepeatParams {
    /// At least this many documents carry the line ...
    pub min_docs: u64,
    /// ... and at least this share of the corpus.
    pub min_share: f64,
}

impl RepeatParams {
    pub fn from_config(config: &super::BoilerplateConfig) -> Self {
        RepeatParams {
            min_docs: config.repeated_min_docs,
            min_share: config.repeated_min_share,
        }
    }

    /// The number of documents a line must occur in, for a corpus of `docs` documents.
    pub fn threshold(&self, docs: usize) -> u64 {
        let by_share = (self.min_share * docs as f64).ceil() as u64;
        self.min_docs.max(by_share).max(1)
    }
}

/// Document frequency of every short-line hash.
pub fn document_frequency<'a>(facts: impl Iterator<Item = &'a DocFacts>) -> HashMap<u64, u64> {
    let mut df: HashMap<u64, u64> = HashMap::new();
    let mut seen = Vec::new();
    for doc in facts {
        doc.distinct_line_hashes(&mut seen);
        for &h in &seen {
            *df.entry(h).or_default() += 1;
        }
    }
    df
}

/// The hashes of lines repeated in at least `threshold` documents, sorted.
pub fn repeated_hashes(df: &HashMap<u64, u64>, threshold: u64) -> Vec<u64> {
    let mut hashes: Vec<u64> = df
        .iter()
        .filter(|(_, &n)| n >= threshold)
        .map(|(&h, _)| h)
        .collect();
    hashes.sort_unstable();
    hashes
}

/// The `repeated-line` removals of one document; `repeated` is sorted.
pub fn removals(facts: &DocFacts, repeated: &[u64]) -> Vec<Removal> {
    facts
        .short_lines
        .iter()
        .filter(|l| repeated.binary_search(&l.hash).is_ok())
        .map(|l| Removal {
            start: l.start as usize,
            end: l.end as usize,
            reason: Reason::RepeatedLine,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boilerplate::engine::ShortLine;

    fn doc(hashes: &[u64]) -> DocFacts {
        DocFacts {
            short_lines: hashes
                .iter()
                .enumerate()
                .map(|(i, &hash)| ShortLine {
                    hash,
                    start: i as u32 * 10,
                    end: i as u32 * 10 + 5,
                })
                .collect(),
            ..DocFacts::default()
        }
    }

    #[test]
    fn counts_documents_not_occurrences() {
        let docs = [doc(&[1, 1, 1, 2]), doc(&[1, 3]), doc(&[2])];
        let df = document_frequency(docs.iter());
        assert_eq!(df[&1], 2);
        assert_eq!(df[&2], 2);
        assert_eq!(df[&3], 1);
        let r = removals(&docs[0], &repeated_hashes(&df, 2));
        assert_eq!(r.len(), 4);
        assert!(removals(&docs[1], &repeated_hashes(&df, 2))
            .iter()
            .all(|r| r.start == 0));
        assert!(removals(&docs[0], &repeated_hashes(&df, 3)).is_empty());
    }

    #[test]
    fn order_of_documents_does_not_matter() {
        let docs = [doc(&[5, 6]), doc(&[6, 7]), doc(&[7, 5, 6])];
        let fwd = document_frequency(docs.iter());
        let back = document_frequency(docs.iter().rev());
        assert_eq!(fwd, back);
    }

    #[test]
    fn threshold_is_the_larger_of_count_and_share() {
        let p = RepeatParams {
            min_docs: 3,
            min_share: 0.01,
        };
        assert_eq!(p.threshold(100), 3);
        assert_eq!(p.threshold(1000), 10);
        assert_eq!(p.threshold(1001), 11);
    }

    #[test]
    fn lines_removed_for_another_reason_are_not_removed_twice() {
        let removed = DocFacts {
            removed_short_lines: vec![9],
            ..DocFacts::default()
        };
        let kept = doc(&[9]);
        let df = document_frequency([&removed, &removed, &kept].into_iter());
        assert_eq!(df[&9], 3);
        assert!(removals(&removed, &repeated_hashes(&df, 2)).is_empty());
        assert_eq!(removals(&kept, &repeated_hashes(&df, 3)).len(), 1);
    }
}
