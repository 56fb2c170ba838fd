//! The apply step for one document: cut the decided spans, then serialize the clean document, its
//! explain records and, when dropped, its rejected record.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::corpus::record::write_json;
use crate::corpus::{DocId, Document};
use crate::decision::{DocDecision, DropReason, Removal};
use crate::edit;
use crate::report::{bump, Counts, ExplainRecord};
use crate::text::{blocks, CodePoints};

/// What the apply step needs besides the document and its decision.
pub struct ApplyContext<'a> {
    pub text_field: &'a str,
    /// Write the document as a plain text file (folder output of a `.txt` input).
    pub as_text: bool,
    pub explain: bool,
    pub rejected: bool,
    /// Write the text unchanged, with the spans (and any drop) attached to the record.
    pub annotate_only: bool,
    /// Ids of all documents in corpus order, to name the sources of duplicates.
    pub ids: &'a IdIndex,
}

/// Document ids by DocId, for naming the sources of duplicates.
#[derive(Default)]
pub struct IdIndex {
    doc_ids: Vec<DocId>,
    ids: Vec<String>,
    /// Text length in code points.
    lens: Vec<usize>,
}

impl IdIndex {
    /// Adds a document; documents must come in corpus order.
    pub fn push(&mut self, doc_id: DocId, id: String, len_code_points: usize) {
        debug_assert!(self.doc_ids.last().is_none_or(|&last| last < doc_id));
        self.doc_ids.push(doc_id);
        self.ids.push(id);
        self.lens.push(len_code_points);
    }

    pub fn get(&self, doc_id: DocId) -> Option<&str> {
        let i = self.doc_ids.binary_search(&doc_id).ok()?;
        Some(&self.ids[i])
    }

    /// The text length of a document, in code points.
    pub fn len_of(&self, doc_id: DocId) -> usize {
        self.doc_ids
            .binary_search(&doc_id)
            .map_or(0, |i| self.lens[i])
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One document after the apply step, serialized.
#[derive(Default)]
pub struct Applied {
    /// The clean document (a JSONL line or a text file's content); empty when dropped.
    pub output: Vec<u8>,
    pub written: bool,
    pub explain: Vec<u8>,
    pub rejected: Vec<u8>,
    pub counts: Counts,
}

pub fn apply_document(doc: &Document, decision: &DocDecision, ctx: &ApplyContext) -> Applied {
    let text = doc.text.as_str();
    let spans = if decision.removals.is_empty() {
        Vec::new()
    } else {
        edit::plan(text, &blocks(text), decision.removals.clone())
    };
    // Most documents lose nothing: their text is not copied.
    let cleaned: Cow<str> = if spans.is_empty() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(edit::apply(text, &spans))
    };
    let drop = decision
        .drop
        .clone()
        .or_else(|| (!spans.is_empty() && cleaned.trim().is_empty()).then_some(DropReason::Empty));

    let mut applied = Applied::default();
    let counts = &mut applied.counts;
    counts.documents_read = 1;
    counts.bytes_read = text.len() as u64;
    if ctx.explain {
        let annotations: &[Removal] = if drop.is_none() {
            &decision.annotations
        } else {
            &[]
        };
        write_explain(
            doc,
            &spans,
            annotations,
            drop.as_ref(),
            ctx,
            &mut applied.explain,
        );
    }
    if ctx.annotate_only {
        count_spans(counts, &spans);
        if let Some(reason) = &drop {
            counts
                .dropped_by_reason
                .insert(reason.name().to_string(), 1);
        }
        counts.documents_written = 1;
        counts.bytes_written = text.len() as u64;
        applied.written = true;
        let note = annotation(text, &spans, drop.as_ref(), ctx);
        write_annotated(doc, decision, note, ctx, &mut applied.output);
        return applied;
    }
    match &drop {
        Some(reason) => {
            counts.documents_dropped = 1;
            counts.bytes_dropped = text.len() as u64;
            counts
                .dropped_by_reason
                .insert(reason.name().to_string(), 1);
            if ctx.rejected {
                write_rejected(doc, reason, ctx, &mut applied.rejected);
            }
        }
        None => {
            counts.documents_written = 1;
            counts.bytes_written = cleaned.len() as u64;
            count_spans(counts, &spans);
            applied.written = true;
            write_output(
                doc,
                &cleaned,
                !spans.is_empty(),
                decision,
                ctx,
                &mut applied.output,
            );
        }
    }
    applied
}

/// What [`apply_document`] gives a JSONL record whose decision is at most a drop, when no explain,
/// rejected or annotated output is asked for: the record's line back, byte for byte, or nothing.
/// Needs only the line and the text's length, not a parse of the record.
pub fn apply_line(raw: &str, text_bytes: u64, drop: Option<&DropReason>) -> Applied {
    let mut applied = Applied::default();
    let counts = &mut applied.counts;
    counts.documents_read = 1;
    counts.bytes_read = text_bytes;
    match drop {
        Some(reason) => {
            counts.documents_dropped = 1;
            counts.bytes_dropped = text_bytes;
            counts
                .dropped_by_reason
                .insert(reason.name().to_string(), 1);
        }
        None => {
            counts.documents_written = 1;
            counts.bytes_written = text_bytes;
            applied.written = true;
            applied.output.reserve_exact(raw.len() + 1);
            applied.output.extend_from_slice(raw.as_bytes());
            applied.output.push(b'\n');
        }
    }
    applied
}

fn count_spans(counts: &mut Counts, spans: &[Removal]) {
    let mut name = String::new();
    for s in spans {
        s.reason.write_name(&mut name);
        bump(
            &mut counts.removed_bytes_by_reason,
            &name,
            (s.end - s.start) as u64,
        );
        bump(&mut counts.removed_spans_by_reason, &name, 1);
    }
}

/// The `gleaner` field of an annotated record: `{"spans": [{"start", "end", "reason"}, ...]}` in
/// code points of the text (as Python indexes strings), plus `"drop"` when the document would go.
fn annotation(
    text: &str,
    spans: &[Removal],
    drop: Option<&DropReason>,
    ctx: &ApplyContext,
) -> Value {
    let mut cp = CodePoints::new(text);
    let list = spans
        .iter()
        .map(|s| {
            let mut span = Map::new();
            span.insert("start".into(), Value::from(cp.at(s.start)));
            span.insert("end".into(), Value::from(cp.at(s.end)));
            span.insert("reason".into(), Value::String(s.reason.name()));
            if let Some(src) = s.reason.source() {
                if let Some(id) = ctx.ids.get(src.doc) {
                    span.insert("source_id".into(), Value::String(id.to_string()));
                }
                span.insert("score".into(), score_value(src.score));
            }
            Value::Object(span)
        })
        .collect();
    let mut note = Map::new();
    note.insert("spans".into(), Value::Array(list));
    if let Some(reason) = drop {
        note.insert("drop".into(), rejected_value(reason, ctx));
    }
    Value::Object(note)
}

/// Writes one JSONL record of `doc` with `text`, `metadata` merged in and an `extra` field: the
/// input record rewritten (every other value keeps its bytes), or `{"id", "text", ...}` for a
/// text file.
fn write_record(
    doc: &Document,
    ctx: &ApplyContext,
    text: &str,
    metadata: &Map<String, Value>,
    extra: Option<(&str, Value)>,
    out: &mut Vec<u8>,
) {
    match &doc.record {
        Some(record) => {
            let extra: Vec<(&str, Value)> = extra.into_iter().collect();
            record.write_with(out, ctx.text_field, text, metadata, &extra);
        }
        None => {
            let mut record = Map::new();
            record.insert("id".into(), Value::String(doc.id.clone()));
            record.insert("text".into(), Value::String(text.to_string()));
            if !metadata.is_empty() {
                record.insert("metadata".into(), Value::Object(metadata.clone()));
            }
            if let Some((key, value)) = extra {
                record.insert(key.into(), value);
            }
            write_json(out, &Value::Object(record));
        }
    }
    out.push(b'\n');
}

fn write_annotated(
    doc: &Document,
    decision: &DocDecision,
    note: Value,
    ctx: &ApplyContext,
    out: &mut Vec<u8>,
) {
    let metadata = metadata_map(decision);
    write_record(doc, ctx, &doc.text, &metadata, Some(("gleaner", note)), out);
}

fn metadata_map(decision: &DocDecision) -> Map<String, Value> {
    decision
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn write_output(
    doc: &Document,
    cleaned: &str,
    changed: bool,
    decision: &DocDecision,
    ctx: &ApplyContext,
    out: &mut Vec<u8>,
) {
    if ctx.as_text {
        out.extend_from_slice(cleaned.as_bytes());
        return;
    }
    match &doc.raw {
        // Unchanged records are written back byte for byte.
        Some(raw) if !changed && decision.metadata.is_empty() => {
            out.extend_from_slice(raw.as_bytes());
            out.push(b'\n');
        }
        _ => write_record(doc, ctx, cleaned, &metadata_map(decision), None, out),
    }
}

fn rejected_value(reason: &DropReason, ctx: &ApplyContext) -> Value {
    let mut why = Map::new();
    why.insert("reason".into(), Value::String(reason.name().into()));
    if let Some((source, score)) = reason.source() {
        if let Some(id) = ctx.ids.get(source) {
            why.insert("source_id".into(), Value::String(id.to_string()));
        }
        why.insert("score".into(), score_value(score));
    }
    Value::Object(why)
}

fn score_value(score: f64) -> Value {
    serde_json::Number::from_f64((score * 1e4).round() / 1e4).map_or(Value::Null, Value::Number)
}

fn write_rejected(doc: &Document, reason: &DropReason, ctx: &ApplyContext, out: &mut Vec<u8>) {
    let why = rejected_value(reason, ctx);
    write_record(
        doc,
        ctx,
        &doc.text,
        &Map::new(),
        Some(("rejected", why)),
        out,
    );
}

fn write_explain(
    doc: &Document,
    spans: &[Removal],
    annotations: &[Removal],
    drop: Option<&DropReason>,
    ctx: &ApplyContext,
    out: &mut Vec<u8>,
) {
    let text = doc.text.as_str();
    let mut cp = CodePoints::new(text);
    let mut emit = |start: usize,
                    end: usize,
                    reason: String,
                    source: Option<(&str, usize, usize, f64)>,
                    out: &mut Vec<u8>| {
        let record = ExplainRecord {
            id: &doc.id,
            start: cp.at(start),
            end: cp.at(end),
            reason,
            text: &text[start..end],
            source_id: source.map(|s| s.0),
            source_start: source.map(|s| s.1),
            source_end: source.map(|s| s.2),
            score: source.map(|s| (s.3 * 1e4).round() / 1e4),
        };
        serde_json::to_writer(&mut *out, &record).expect("serializing into memory");
        out.push(b'\n');
    };
    match drop {
        Some(reason @ (DropReason::NearDupDoc { .. } | DropReason::MostlyDuplicate { .. })) => {
            let (source, score) = reason.source().expect("duplicate drops name a source");
            let source_id = ctx.ids.get(source).unwrap_or("");
            let source_len = ctx.ids.len_of(source);
            emit(
                0,
                text.len(),
                reason.name().into(),
                Some((source_id, 0, source_len, score)),
                out,
            );
        }
        _ => {
            // Removals in order, with the annotations (kept text) placed by their start.
            let mut notes = annotations.to_vec();
            notes.sort_by_key(|a| (a.start, a.end));
            let mut notes = notes.iter().peekable();
            let source_of = |s: &Removal| {
                s.reason.source().map(|src| {
                    (
                        ctx.ids.get(src.doc).unwrap_or(""),
                        src.cp_start,
                        src.cp_end,
                        src.score,
                    )
                })
            };
            let mut pos = 0;
            for s in spans {
                while let Some(n) = notes.next_if(|n| n.start < s.start) {
                    emit(n.start, n.end, n.reason.name(), source_of(n), out);
                }
                if drop.is_some() && pos < s.start {
                    emit(pos, s.start, DropReason::Empty.name().into(), None, out);
                }
                emit(s.start, s.end, s.reason.name(), source_of(s), out);
                pos = s.end;
            }
            for n in notes {
                emit(n.start, n.end, n.reason.name(), source_of(n), out);
            }
            if drop.is_some() && pos < text.len() {
                emit(pos, text.len(), DropReason::Empty.name().into(), None, out);
            }
        }
    }
}
