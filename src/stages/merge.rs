//! The merge: candidate pairs of every partition verified against exact shingle sets, the
//! union-find rooted at the smallest document, one decision file per input file (the documents
//! dropped as near-copies), and the repeated lines of all partitions in one sorted list.

use std::sync::Mutex;

use super::files::StageReader;
use super::resolve::{PAIRS, REPEATED};
use super::sources::FileSources;
use super::{Marker, Work};
use crate::corpus::DocId;
use crate::decision::DropReason;
use crate::dedup::docs::verified_drops;
use crate::error::{Error, Result};

pub const DECISIONS: &str = "decisions";

/// Runs the merge (skipped when already done).
pub fn run(work: &Work) -> Result<()> {
    if work.is_done(Marker::Merge) {
        return Ok(());
    }
    work.require("merge", &work.resolve_markers())?;
    let config = &work.manifest.config.dedup;
    let sources = FileSources::open(work)?;

    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut repeated: Vec<u64> = Vec::new();
    for j in 0..work.manifest.resolve_tasks {
        let mut r = StageReader::open(&work.resolve_path(j, PAIRS), PAIRS, work.hash)?;
        pairs.extend(r.read::<Vec<(u32, u32)>>()?.unwrap_or_default());
        let mut r = StageReader::open(&work.resolve_path(j, REPEATED), REPEATED, work.hash)?;
        // Partitions are hash ranges in order: the concatenation is sorted.
        repeated.extend(r.read::<Vec<u64>>()?.unwrap_or_default());
    }
    pairs.sort_unstable();
    pairs.dedup();

    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let drops = verified_drops(config, sources.len(), &pairs, |d| match sources.get(d) {
        Ok(doc) => doc.facts.1.fingerprint_set(),
        Err(e) => {
            failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(e);
            Vec::new()
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }

    let mut by_file: Vec<Vec<(DocId, DropReason)>> = vec![Vec::new(); work.manifest.inputs.len()];
    for (d, root, score) in drops {
        let doc_id = sources.doc_id(d);
        by_file[doc_id.file_index()].push((
            doc_id,
            DropReason::NearDupDoc {
                source: sources.doc_id(root),
                score,
            },
        ));
    }
    for (file, mut decisions) in by_file.into_iter().enumerate() {
        decisions.sort_by_key(|d| d.0);
        let mut out = work.writer(&work.decisions_path(file), DECISIONS)?;
        out.write(&decisions)?;
        out.finish()?;
    }
    let mut out = work.writer(&work.repeated_path(), REPEATED)?;
    out.write(&repeated)?;
    out.finish()?;
    work.mark_done(Marker::Merge)
}
