//! The memory the resolve step of near-duplicate detection will need, projected from the scan
//! facts before it starts, so that a run too big for the machine stops with advice instead of
//! being killed half-way.
//!
//! Most of it is exact: the facts are counted. The shingle index (groups, postings and routed
//! occurrences of shingles shared by two or more documents) depends on how much text the corpus
//! shares; it is estimated by building the index of one of the 64 hash-range partitions and
//! scaling it up (shingle hashes are uniform, so each partition holds about a 64th of it).

use super::passages::{self, PARTITIONS, WAVES};
use super::{BlockFacts, DedupConfig, DocFacts, ShingleSpan};

/// What the resolve step is projected to hold at its peak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Projection {
    pub documents: u64,
    /// Shingle occurrences in all documents.
    pub occurrences: u64,
    /// Bytes of the scan facts, held from the scan to the end of the resolve step.
    pub facts: u64,
    /// Bytes of the shingle index of the passage step (estimated).
    pub index: u64,
    /// Bytes of the occurrences being sorted in one wave, with the index they make.
    pub wave: u64,
    /// Resident bytes of the process when projected (the facts, and what else the scan left:
    /// ids, boilerplate facts, allocator slack); 0 where unknown.
    pub resident: u64,
}

impl Projection {
    /// The projected peak: the facts, the whole index, and one wave being sorted while the
    /// routes of earlier waves are held.
    pub fn peak(&self) -> u64 {
        self.facts.max(self.resident) + self.index + self.wave
    }

    pub fn of(config: &DedupConfig, facts: &[DocFacts]) -> Self {
        let mut p = Projection {
            documents: facts.len() as u64,
            resident: resident_bytes().unwrap_or(0),
            ..Projection::default()
        };
        for f in facts {
            p.occurrences += f.shingles.len() as u64;
            p.facts += (std::mem::size_of::<DocFacts>()
                + f.shingles.capacity() * 8
                + f.blocks.capacity() * std::mem::size_of::<BlockFacts>()
                + f.shingle_spans.capacity() * std::mem::size_of::<ShingleSpan>()
                + f.signature.capacity() * 4) as u64;
        }
        if config.passages || config.explain_reuse {
            let sample = passages::sample_partition(facts, config.max_shingle_docs);
            let scale = PARTITIONS as u64;
            // Groups are 16 bytes, postings 8, routed occurrences 12.
            p.index = scale * (sample.groups * 16 + sample.postings * 8 + sample.routes * 12);
            // 16 bytes per occurrence of the wave, plus the growth slack of its pieces, plus
            // the wave's share of the index, built before it joins the rest.
            p.wave = p.occurrences / WAVES as u64 * 20 + p.index / WAVES as u64;
        }
        p
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
