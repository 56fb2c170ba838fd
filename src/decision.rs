//! What gleaner decides about a document: spans to remove, each with its reason, and whether the
//! whole document goes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::corpus::DocId;

/// An earlier document that a removed duplicate came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub doc: DocId,
    /// Byte span in the source's text.
    pub start: usize,
    pub end: usize,
    /// The same span in code points, for the explain file.
    pub cp_start: usize,
    pub cp_end: usize,
    /// How much of the removed text the source supports (0..=1).
    pub score: f64,
}

/// Why a span goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reason {
    /// A boilerplate rule matched (`rule:<id>`).
    Rule(Arc<str>),
    /// A short line that many documents of the corpus carry.
    RepeatedLine,
    /// A second copy of a line inside the same document.
    InDocRepeat,
    /// A passage whose shingles mostly occur in earlier documents.
    NearDupPassage(Source),
    /// A short stub left between removed duplicate passages.
    DupStub,
    /// Moved into the record's metadata (`meta:<field>`).
    Meta(Arc<str>),
    /// Text reused from an earlier document, reported but not removed (`--explain-reuse`).
    Reuse(Source),
}

impl Reason {
    /// The reason as written in the explain file and the report.
    pub fn name(&self) -> String {
        let mut name = String::new();
        self.write_name(&mut name);
        name
    }

    /// [`Reason::name`] written into `out` (cleared first): the report counts every removed
    /// span by its name, and a string per span would be an allocation each.
    pub fn write_name(&self, out: &mut String) {
        out.clear();
        let (kind, id): (&str, &str) = match self {
            Reason::Rule(id) => ("rule:", id),
            Reason::RepeatedLine => ("repeated-line", ""),
            Reason::InDocRepeat => ("in-doc-repeat", ""),
            Reason::NearDupPassage(_) => ("near-dup-passage", ""),
            Reason::DupStub => ("dup-stub", ""),
            Reason::Meta(field) => ("meta:", field),
            Reason::Reuse(_) => ("reuse", ""),
        };
        out.push_str(kind);
        out.push_str(id);
    }

    pub fn source(&self) -> Option<&Source> {
        match self {
            Reason::NearDupPassage(s) | Reason::Reuse(s) => Some(s),
            _ => None,
        }
    }
}

/// A byte span `[start, end)` of the original text and why it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    pub start: usize,
    pub end: usize,
    pub reason: Reason,
}

/// Why a whole document goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DropReason {
    /// A near-copy of an earlier document (the kept root of its cluster).
    NearDupDoc { source: DocId, score: f64 },
    /// Most of its content went as duplicate passages.
    MostlyDuplicate { source: DocId, score: f64 },
    /// Nothing is left after cleaning.
    Empty,
}

impl DropReason {
    pub fn name(&self) -> &'static str {
        match self {
            DropReason::NearDupDoc { .. } => "near-dup-doc",
            DropReason::MostlyDuplicate { .. } => "mostly-duplicate",
            DropReason::Empty => "empty",
        }
    }

    pub fn source(&self) -> Option<(DocId, f64)> {
        match self {
            DropReason::NearDupDoc { source, score }
            | DropReason::MostlyDuplicate { source, score } => Some((*source, *score)),
            DropReason::Empty => None,
        }
    }
}

/// Everything decided about one document before the corpus is written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DocDecision {
    pub removals: Vec<Removal>,
    pub drop: Option<DropReason>,
    /// Facts moved out of the text, in the order found.
    pub metadata: Vec<(String, String)>,
    /// Spans reported in the explain file but not removed (reason `reuse`).
    pub annotations: Vec<Removal>,
}
