//! The facts of any document of the corpus, read from the scan shards by global ordinal: the
//! merge verifies candidate pairs with them, the apply step names the sources of duplicates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::files::RecordFile;
use super::scan::{ShardIndex, FACTS};
use super::Work;
use crate::corpus::DocId;
use crate::dedup::DocFacts;
use crate::error::Result;
use crate::pipeline::DocScan;

/// Documents looked up so far are kept up to this many; a popular source is read once.
const CACHE: usize = 4096;

pub struct FileSources {
    indexes: Vec<ShardIndex>,
    bases: Vec<u32>,
    files: Vec<RecordFile>,
    /// Every DocId of the corpus, by ordinal.
    doc_ids: Vec<DocId>,
    cache: Mutex<HashMap<u32, Arc<SourceDoc>>>,
}

/// A document as a source: its facts, id and length.
pub struct SourceDoc {
    pub facts: Arc<(DocId, DocFacts)>,
    pub id: String,
    pub len_code_points: usize,
}

impl FileSources {
    pub fn open(work: &Work) -> Result<Self> {
        let mut indexes = Vec::new();
        let mut bases = Vec::new();
        let mut files = Vec::new();
        let mut doc_ids = Vec::new();
        for i in 0..work.manifest.scan_tasks {
            let index = super::resolve::read_index(work, i)?;
            bases.push(doc_ids.len() as u32);
            doc_ids.extend(index.docs.iter().map(|d| d.0));
            indexes.push(index);
            files.push(RecordFile::open(&work.facts_path(i), FACTS, work.hash)?);
        }
        Ok(FileSources {
            indexes,
            bases,
            files,
            doc_ids,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn len(&self) -> usize {
        self.doc_ids.len()
    }

    pub fn doc_id(&self, d: u32) -> DocId {
        self.doc_ids[d as usize]
    }

    /// The ordinal of a document of the corpus.
    pub fn ordinal(&self, doc_id: DocId) -> Option<u32> {
        self.doc_ids.binary_search(&doc_id).ok().map(|i| i as u32)
    }

    /// The scan shard of document `d` and its number within the shard.
    pub fn shard_of(&self, d: u32) -> (usize, u32) {
        // Empty shards share their base with the next: the last shard starting at or before `d`.
        let shard = self.bases.partition_point(|&b| b <= d) - 1;
        (shard, d - self.bases[shard])
    }

    /// The bytes of document `d`'s text.
    pub fn text_bytes(&self, d: u32) -> u64 {
        let (shard, local) = self.shard_of(d);
        self.indexes[shard].text_bytes[local as usize]
    }

    /// Reads document `d`'s scan facts.
    pub fn scan(&self, d: u32) -> Result<DocScan> {
        let (shard, local) = self.shard_of(d);
        let (start, end) = self.indexes[shard].range(local as usize);
        self.files[shard].read(start, end)
    }

    pub fn get(&self, d: u32) -> Result<Arc<SourceDoc>> {
        if let Some(doc) = self.lock().get(&d) {
            return Ok(doc.clone());
        }
        let scan = self.scan(d)?;
        let doc = Arc::new(SourceDoc {
            facts: Arc::new((scan.doc_id, scan.dedup)),
            id: scan.id,
            len_code_points: scan.len_code_points,
        });
        let mut cache = self.lock();
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(d, doc.clone());
        Ok(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<SourceDoc>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl crate::dedup::passages::Sources for FileSources {
    fn source(&self, d: u32) -> Result<Arc<(DocId, DocFacts)>> {
        Ok(self.get(d)?.facts.clone())
    }
}
