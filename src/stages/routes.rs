//! The routes file of one partition for one scan shard: for each document with shared shingles in
//! the partition's hash range, the entries it needs (see [`SharedEntry`]), in document order.
//!
//! Entries are packed as small numbers relative to their document `d`: per entry the step in
//! position from the previous entry, `d - first`, the count of earlier postings with the common
//! flag, and per posting `d - 1 - document` and the block, each as LEB128. About five bytes per
//! entry where fixed-width fields take seventeen: resolve writes and apply reads a third of the
//! bytes, and apply decodes a batch's documents into one set of buffers per partition instead
//! of two allocations per document.

use serde::{Deserialize, Serialize};

use super::varint;
use crate::dedup::passages::{DocShared, Route, SharedEntry, SharedGroups};

/// Documents per record: records are decoded whole.
pub const CHUNK_DOCS: usize = 256;

/// One record of a routes file: the entries of consecutive documents.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RouteChunk {
    /// Each document's number in its shard and count of entries, in order.
    docs: Vec<(u32, u32)>,
    /// The entries, packed.
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
}

impl RouteChunk {
    /// Packs the routes of consecutive documents (each slice one document's, by position),
    /// documents numbered from `base` in their shard.
    pub fn pack(docs: &[&[Route]], groups: &SharedGroups, base: u32) -> Self {
        let mut chunk = RouteChunk::default();
        let mut earlier = Vec::new();
        for routes in docs {
            let d = routes[0].0;
            chunk.docs.push((d - base, routes.len() as u32));
            let mut last_pos = 0;
            for r in *routes {
                earlier.clear();
                let e = groups.entry(r, &mut earlier);
                varint::push(&mut chunk.bytes, e.pos - last_pos);
                varint::push(&mut chunk.bytes, d - e.first);
                varint::push(
                    &mut chunk.bytes,
                    (earlier.len() as u32) << 1 | e.common as u32,
                );
                for &(doc, block) in &earlier {
                    varint::push(&mut chunk.bytes, d - 1 - doc);
                    varint::push(&mut chunk.bytes, block);
                }
                last_pos = e.pos;
            }
        }
        chunk
    }

    /// The documents of the record, with their entries counts.
    pub fn docs(&self) -> &[(u32, u32)] {
        &self.docs
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Decodes `count` entries of document `d` (its ordinal in the corpus) from `bytes`, appending
/// them to `out` (postings ranges into `out.postings`); `None` when the bytes are damaged.
pub fn unpack_doc<'a>(
    bytes: &mut impl Iterator<Item = &'a u8>,
    d: u32,
    count: u32,
    out: &mut DocShared,
) -> Option<()> {
    let mut pos = 0u32;
    for k in 0..count {
        let step = varint::read(bytes)?;
        // Positions rise within a document (the first may be 0).
        if k > 0 && step == 0 {
            return None;
        }
        pos = pos.checked_add(step)?;
        let first = d.checked_sub(varint::read(bytes)?)?;
        let flags = varint::read(bytes)?;
        let post_start = out.postings.len() as u32;
        for _ in 0..flags >> 1 {
            let doc = d.checked_sub(1)?.checked_sub(varint::read(bytes)?)?;
            out.postings.push((doc, varint::read(bytes)?));
        }
        out.entries.push(SharedEntry {
            pos,
            first,
            common: flags & 1 == 1,
            post_start,
            post_end: out.postings.len() as u32,
        });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::passages::{shared_from_sorted, Occurrence};
    use proptest::prelude::*;

    proptest! {
        /// What apply decodes is what the groups give each route, for every document.
        #[test]
        fn entries_round_trip(
            picks in proptest::collection::vec((0u64..40, 0u32..30, 0u32..400), 0..600),
            max_docs in 1usize..6,
            base in 0u32..3,
        ) {
            let mut all: Vec<Occurrence> = picks
                .iter()
                .map(|&(h, d, pos)| (h, d + base, pos, pos / 40))
                .collect();
            // One occurrence per (document, position), as a scan gives.
            all.sort_unstable_by_key(|o| (o.1, o.2));
            all.dedup_by_key(|o| (o.1, o.2));
            all.sort_unstable();
            let groups = shared_from_sorted(&all, max_docs);
            let docs: Vec<&[Route]> = groups.routes.chunk_by(|a, b| a.0 == b.0).collect();
            let chunk = RouteChunk::pack(&docs, &groups, base);
            let back: RouteChunk = bincode::deserialize(&bincode::serialize(&chunk).unwrap()).unwrap();
            let mut bytes = back.bytes().iter();
            prop_assert_eq!(back.docs().len(), docs.len());
            for (&(local, count), routes) in back.docs().iter().zip(&docs) {
                let d = local + base;
                prop_assert_eq!(d, routes[0].0);
                let mut expected = DocShared::default();
                for r in *routes {
                    let e = groups.entry(r, &mut expected.postings);
                    expected.entries.push(e);
                }
                let mut got = DocShared::default();
                prop_assert_eq!(unpack_doc(&mut bytes, d, count, &mut got), Some(()));
                prop_assert_eq!(got, expected);
            }
            prop_assert!(bytes.next().is_none());
        }
    }

    #[test]
    fn damaged_entries_are_refused() {
        let mut out = DocShared::default();
        // Cut short.
        assert_eq!(unpack_doc(&mut [3u8, 0].iter(), 5, 1, &mut out), None);
        // A first document after the document itself.
        assert_eq!(unpack_doc(&mut [3u8, 9, 0].iter(), 5, 1, &mut out), None);
        // A posting from a document that is not earlier.
        assert_eq!(
            unpack_doc(&mut [3u8, 1, 2, 5, 0].iter(), 5, 1, &mut out),
            None
        );
        // The same position twice.
        assert_eq!(
            unpack_doc(&mut [3u8, 1, 0, 0, 1, 0].iter(), 5, 2, &mut out),
            None
        );
        let mut out = DocShared::default();
        assert_eq!(
            unpack_doc(&mut [3u8, 1, 2, 0, 7].iter(), 5, 1, &mut out),
            Some(())
        );
        assert_eq!(out.postings, [(4, 7)]);
        assert_eq!(
            out.entries,
            [SharedEntry {
                pos: 3,
                first: 4,
                common: false,
                post_start: 0,
                post_end: 1
            }]
        );
    }
}
