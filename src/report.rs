//! The run report (counts, times, configuration) and the explain records.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;

/// Counts for one document or, summed, for the run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub documents_read: u64,
    /// Records that could not be read, skipped under `--on-error skip`.
    pub records_skipped: u64,
    pub documents_written: u64,
    pub documents_dropped: u64,
    /// Dropped documents by reason (`near-dup-doc`, ...).
    pub dropped_by_reason: BTreeMap<String, u64>,
    /// UTF-8 bytes of the text field, over all documents read.
    pub bytes_read: u64,
    /// UTF-8 bytes of the text field, over the documents written.
    pub bytes_written: u64,
    /// Text bytes of the dropped documents.
    pub bytes_dropped: u64,
    /// Bytes cut out of the documents written, by reason (`rule:<id>`, ...).
    pub removed_bytes_by_reason: BTreeMap<String, u64>,
    /// Spans cut out of the documents written, by reason.
    pub removed_spans_by_reason: BTreeMap<String, u64>,
}

impl Counts {
    /// Adds another document's counts; sums are order-independent, so the totals are the same
    /// whatever the thread count.
    pub fn add(&mut self, other: &Counts) {
        self.documents_read += other.documents_read;
        self.records_skipped += other.records_skipped;
        self.documents_written += other.documents_written;
        self.documents_dropped += other.documents_dropped;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.bytes_dropped += other.bytes_dropped;
        for (map, from) in [
            (&mut self.dropped_by_reason, &other.dropped_by_reason),
            (
                &mut self.removed_bytes_by_reason,
                &other.removed_bytes_by_reason,
            ),
            (
                &mut self.removed_spans_by_reason,
                &other.removed_spans_by_reason,
            ),
        ] {
            for (k, v) in from {
                bump(map, k, *v);
            }
        }
    }
}

/// Adds `by` to the count of `key`; the key is copied only the first time it is counted.
pub fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    match map.get_mut(key) {
        Some(count) => *count += by,
        None => {
            map.insert(key.to_string(), by);
        }
    }
}

/// Wall-clock seconds per step.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Timings {
    pub scan: f64,
    pub resolve: f64,
    pub apply: f64,
    pub total: f64,
}

/// The JSON document written by `--report`.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub gleaner_version: &'static str,
    pub inputs: Vec<String>,
    pub output: String,
    pub threads: usize,
    #[serde(flatten)]
    pub counts: &'a Counts,
    pub seconds: &'a Timings,
    pub config: &'a Config,
}

/// One line of the `--explain` file: a removed span in code points of the original text.
#[derive(Debug, Serialize)]
pub struct ExplainRecord<'a> {
    pub id: &'a str,
    pub start: usize,
    pub end: usize,
    pub reason: String,
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_start: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_end: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// A byte count for people: MiB, or bytes under one MiB.
pub fn mib(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{bytes} bytes")
    } else {
        format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_reason() {
        let mut a = Counts::default();
        let mut b = Counts {
            documents_read: 1,
            bytes_read: 10,
            ..Counts::default()
        };
        b.removed_bytes_by_reason.insert("rule:x".into(), 4);
        a.add(&b);
        a.add(&b);
        assert_eq!(a.documents_read, 2);
        assert_eq!(a.bytes_read, 20);
        assert_eq!(a.removed_bytes_by_reason["rule:x"], 8);
    }

    #[test]
    fn explain_leaves_out_absent_sources() {
        let r = ExplainRecord {
            id: "a",
            start: 0,
            end: 3,
            reason: "rule:x".into(),
            text: "abc",
            source_id: None,
            source_start: None,
            source_end: None,
            score: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"id":"a","start":0,"end":3,"reason":"rule:x","text":"abc"}"#
        );
    }
}
