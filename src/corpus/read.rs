//! Reading documents in corpus order, in batches: a reader thread decompresses and splits lines
//! while the workers parse and process the previous batch.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel};

use rayon::prelude::*;

use super::input::{Compression, InputFile, InputKind};
use super::record::RawRecord;
use crate::error::{Error, Result};

/// A document's place in the corpus: (file index, record index) packed in a u64, so that
/// comparing DocIds compares corpus order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct DocId(pub u64);

impl DocId {
    const RECORD_BITS: u32 = 40;

    pub fn new(file_index: usize, record_index: u64) -> Self {
        DocId(((file_index as u64) << Self::RECORD_BITS) | record_index)
    }

    pub fn file_index(self) -> usize {
        (self.0 >> Self::RECORD_BITS) as usize
    }

    pub fn record_index(self) -> u64 {
        self.0 & ((1 << Self::RECORD_BITS) - 1)
    }
}

/// One document, parsed.
pub struct Document<'a> {
    pub doc_id: DocId,
    /// 1-based line of the record in its file (1 for text files).
    pub line: u64,
    pub id: String,
    pub text: String,
    /// The JSONL line it came from; `None` for a text file, or when not asked for.
    pub raw: Option<&'a str>,
    /// That line's fields, parsed (to write the record back changed); `None` with `raw`, and
    /// when only lines are read.
    pub record: Option<RawRecord<'a>>,
}

/// Which fields of a record hold the text and the id.
#[derive(Debug, Clone)]
pub struct Fields {
    pub text: String,
    pub id: String,
    /// Keep each record's JSONL line in [`Document::raw`] (to write the record back).
    pub raw: bool,
    /// Only each JSONL record's line and place, not its text or id (left empty): for a step
    /// after the scan, which read every record in full.
    pub lines_only: bool,
}

/// Lines read from one file, not parsed yet.
pub struct RawBatch {
    pub file_index: usize,
    data: Vec<u8>,
    items: Vec<RawItem>,
}

struct RawItem {
    record_index: u64,
    line: u64,
    range: Range<usize>,
}

impl RawBatch {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The DocId of each item, in order, known before parsing.
    pub fn doc_ids(&self) -> Vec<DocId> {
        self.items
            .iter()
            .map(|item| DocId::new(self.file_index, item.record_index))
            .collect()
    }

    /// Parses every item and maps each document, with its item of `with`, in the same parallel
    /// task, while its text is still in the cache; one result per item, in order.
    pub fn parse_map<W: Send, T: Send>(
        &self,
        input: &InputFile,
        fields: &Fields,
        with: Vec<W>,
        map: impl Fn(Document<'_>, W) -> T + Sync,
    ) -> Vec<Result<T>> {
        assert_eq!(with.len(), self.items.len(), "one value per item");
        self.items
            .par_iter()
            .zip(with)
            .map(|(item, w)| {
                let bytes = &self.data[item.range.clone()];
                parse_item(input, self.file_index, bytes, item, fields).map(|doc| map(doc, w))
            })
            .collect()
    }

    /// The raw bytes of item `i`, for reporting a record that could not be read.
    pub fn item_bytes(&self, i: usize) -> &[u8] {
        &self.data[self.items[i].range.clone()]
    }
}

fn parse_item<'a>(
    input: &InputFile,
    file_index: usize,
    bytes: &'a [u8],
    item: &RawItem,
    fields: &Fields,
) -> Result<Document<'a>> {
    // Named only in errors: not built for every record.
    let name = || input.display_name();
    let doc_id = DocId::new(file_index, item.record_index);
    if input.kind == InputKind::Text {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Error::bad_input(name(), line as u64, "invalid UTF-8")
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        return Ok(Document {
            doc_id,
            line: 1,
            id: text_id(&input.rel_path),
            text: text.to_string(),
            raw: None,
            record: None,
        });
    }
    // Every record is checked, twice a run: with the vector instructions the machine has.
    let line_text = simdutf8::basic::from_utf8(bytes)
        .map_err(|_| Error::bad_input(name(), item.line, "invalid UTF-8"))?;
    let line_text = if item.line == 1 {
        line_text.strip_prefix('\u{feff}').unwrap_or(line_text)
    } else {
        line_text
    };
    if fields.lines_only {
        return Ok(Document {
            doc_id,
            line: item.line,
            id: String::new(),
            text: String::new(),
            raw: Some(line_text),
            record: None,
        });
    }
    let record = RawRecord::parse(line_text).map_err(|m| Error::bad_input(name(), item.line, m))?;
    let text = record
        .string(&fields.text)
        .map_err(|m| Error::bad_input(name(), item.line, m))?
        .ok_or_else(|| {
            Error::bad_input(
                name(),
                item.line,
                format!("no `{}` field (choose it with --text-field)", fields.text),
            )
        })?;
    let id = record
        .id(&fields.id)
        .unwrap_or_else(|| format!("{}:{}", input.rel_path.display(), item.line));
    Ok(Document {
        doc_id,
        line: item.line,
        id,
        text,
        raw: fields.raw.then_some(line_text),
        record: fields.raw.then_some(record),
    })
}

/// The id of a text file's document: its path relative to its folder, without `.txt`.
fn text_id(rel_path: &Path) -> String {
    let s = rel_path.to_string_lossy().replace('\\', "/");
    s.strip_suffix(".txt").unwrap_or(&s).to_string()
}

/// Opens an input for reading, decompressing as its name says.
pub fn open(input: &InputFile) -> Result<Box<dyn BufRead + Send>> {
    const BUF: usize = 1 << 20;
    const DIRECT_BUF: usize = 1 << 16;
    let path = &input.path;
    if input.kind == InputKind::Stdin && path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(BUF, std::io::stdin())));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn BufRead + Send> = match input.kind {
        InputKind::Jsonl(Compression::Gzip) => Box::new(BufReader::with_capacity(
            BUF,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(BUF, file)),
        )),
        InputKind::Jsonl(Compression::Zstd) => Box::new(BufReader::with_capacity(
            BUF,
            zstd::stream::read::Decoder::new(file).map_err(|e| Error::io(path, e))?,
        )),
        // A small buffer for a file read as it is: requests at least as large bypass it, and
        // `read_file` asks for most of a batch at once, so the bytes go straight into the batch
        // instead of through the buffer (a copy of the whole input, twice a run).
        _ => Box::new(BufReader::with_capacity(DIRECT_BUF, file)),
    };
    Ok(reader)
}

/// Reads the inputs `files` in corpus order and hands batches of about `batch_bytes` to `consume`, on
/// the calling thread, while a reader thread prepares the next batch.
pub fn for_each_batch(
    inputs: &[InputFile],
    files: std::ops::Range<usize>,
    batch_bytes: usize,
    mut consume: impl FnMut(&InputFile, &RawBatch) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<RawBatch>>(2);
        // Consumed batches go back to the reader to be filled again: a fresh buffer of several
        // MB would cost the kernel a page fault per 4 KB.
        let (free_tx, free_rx) = channel::<RawBatch>();
        scope.spawn(move || {
            let mut new_batch = |file_index| match free_rx.try_recv() {
                Ok(mut b) => {
                    b.file_index = file_index;
                    b.data.clear();
                    b.items.clear();
                    b
                }
                Err(_) => RawBatch {
                    file_index,
                    data: Vec::with_capacity(batch_bytes + (1 << 16)),
                    items: Vec::new(),
                },
            };
            for (file_index, input) in inputs.iter().enumerate().take(files.end).skip(files.start) {
                let sent = read_file(input, file_index, batch_bytes, &mut new_batch, &mut |b| {
                    tx.send(Ok(b)).is_ok()
                });
                match sent {
                    Ok(true) => {}
                    Ok(false) => return, // the consumer stopped
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        for batch in rx {
            let batch = batch?;
            consume(&inputs[batch.file_index], &batch)?;
            // The reader may have finished: then the buffer is simply dropped.
            let _ = free_tx.send(batch);
        }
        Ok(())
    })
}

/// Reads one file into batches (empty ones from `new_batch`); returns `Ok(false)` when `send`
/// reports the consumer gone.
fn read_file(
    input: &InputFile,
    file_index: usize,
    batch_bytes: usize,
    new_batch: &mut dyn FnMut(usize) -> RawBatch,
    send: &mut dyn FnMut(RawBatch) -> bool,
) -> Result<bool> {
    let name = input.display_name();
    let mut reader = open(input)?;
    if input.kind == InputKind::Text {
        let mut batch = new_batch(file_index);
        reader
            .read_to_end(&mut batch.data)
            .map_err(|e| Error::io(&input.path, e))?;
        batch.items.push(RawItem {
            record_index: 0,
            line: 1,
            range: 0..batch.data.len(),
        });
        return Ok(send(batch));
    }
    // Whole blocks are read straight into the batch and split at line breaks there; the
    // incomplete last line moves on to the next batch.
    let mut batch = new_batch(file_index);
    let mut lines = LineSplitter::default();
    loop {
        let want = batch_bytes
            .saturating_sub(batch.data.len())
            .max(batch_bytes.min(1 << 16));
        batch.data.reserve(want);
        let n = reader
            .by_ref()
            .take(want as u64)
            .read_to_end(&mut batch.data)
            .map_err(|e| Error::bad_input(&name, lines.line_no + 1, format!("cannot read: {e}")))?;
        let eof = n < want;
        lines.split(&mut batch, eof);
        // A batch holds whole records: one line longer than a batch keeps filling it.
        if (batch.data.len() >= batch_bytes && !batch.items.is_empty()) || eof {
            let rest = batch.data.split_off(lines.done);
            lines.done = 0;
            if !batch.is_empty() && !send(batch) {
                return Ok(false);
            }
            if eof {
                return Ok(true);
            }
            batch = new_batch(file_index);
            batch.data.extend_from_slice(&rest);
        }
    }
}

/// Splits the data of a batch into records at line breaks, counting lines across batches.
#[derive(Default)]
struct LineSplitter {
    line_no: u64,
    record_index: u64,
    /// Bytes of the batch's data already split.
    done: usize,
}

impl LineSplitter {
    /// Adds the complete lines after `done` to the batch's items (and the last, unfinished one
    /// at the end of the file).
    fn split(&mut self, batch: &mut RawBatch, eof: bool) {
        let (data, items) = (&batch.data, &mut batch.items);
        let base = self.done;
        let mut start = base;
        for nl in memchr::memchr_iter(b'\n', &data[base..]) {
            self.push(data, items, start..base + nl);
            start = base + nl + 1;
        }
        if eof && start < data.len() {
            self.push(data, items, start..data.len());
            start = data.len();
        }
        self.done = start;
    }

    /// One line (without its `\n`): a record unless blank.
    fn push(&mut self, data: &[u8], items: &mut Vec<RawItem>, mut line: Range<usize>) {
        self.line_no += 1;
        if line.end > line.start && data[line.end - 1] == b'\r' {
            line.end -= 1;
        }
        // Blank lines hold no record: skipped, as JSONL readers do.
        if data[line.clone()].iter().all(u8::is_ascii_whitespace) {
            return;
        }
        items.push(RawItem {
            record_index: self.record_index,
            line: self.line_no,
            range: line,
        });
        self.record_index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fields() -> Fields {
        Fields {
            text: "text".into(),
            id: "id".into(),
            raw: true,
            lines_only: false,
        }
    }

    /// Each document's DocId, id and text.
    fn read_all(inputs: &[InputFile]) -> Result<Vec<(DocId, String, String)>> {
        let mut docs = Vec::new();
        for_each_batch(inputs, 0..inputs.len(), 64, |input, batch| {
            let ids = batch.doc_ids();
            let parsed = batch.parse_map(input, &fields(), ids.clone(), |doc, id| {
                // The DocIds known before parsing are those of the documents.
                assert_eq!(doc.doc_id, id);
                (doc.doc_id, doc.id, doc.text)
            });
            for doc in parsed {
                docs.push(doc?);
            }
            Ok(())
        })?;
        Ok(docs)
    }

    fn jsonl(dir: &Path, name: &str, body: &str) -> InputFile {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        InputFile {
            path,
            rel_path: PathBuf::from(name),
            kind: InputKind::Jsonl(Compression::None),
        }
    }

    #[test]
    fn docids_follow_corpus_order_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let body: String = (0..50)
            .map(|i| format!("{{\"id\":\"d{i}\",\"text\":\"t{i}\"}}\n"))
            .collect();
        let a = jsonl(dir.path(), "a.jsonl", &body);
        let b = jsonl(dir.path(), "b.jsonl", "\n{\"text\":\"no id\"}\r\n");
        let docs = read_all(&[a, b]).unwrap();
        assert_eq!(docs.len(), 51);
        assert!(docs.windows(2).all(|w| w[0].0 < w[1].0));
        let (doc_id, id, text) = &docs[50];
        assert_eq!(id, "b.jsonl:2");
        assert_eq!(*doc_id, DocId::new(1, 0));
        assert_eq!(text, "no id");
    }

    proptest::proptest! {
        /// Batches of any size hold every non-blank line once, in order, with its line number.
        #[test]
        fn batches_split_lines_like_a_plain_split(
            lines in proptest::collection::vec("[ a-c\r]{0,30}", 0..40),
            crlf in proptest::bool::ANY,
            trailing in proptest::bool::ANY,
            batch_bytes in 1usize..100,
        ) {
            let sep = if crlf { "\r\n" } else { "\n" };
            let mut body = lines.join(sep);
            if trailing {
                body.push('\n');
            }
            let dir = tempfile::tempdir().unwrap();
            let input = jsonl(dir.path(), "a.jsonl", &body);
            let mut got = Vec::new();
            for_each_batch(&[input], 0..1, batch_bytes, |_, batch| {
                for (i, item) in batch.items.iter().enumerate() {
                    got.push((item.line, batch.item_bytes(i).to_vec()));
                }
                Ok(())
            })
            .unwrap();
            let mut pieces: Vec<&str> = body.split('\n').collect();
            if body.ends_with('\n') || body.is_empty() {
                pieces.pop();
            }
            let expected: Vec<(u64, Vec<u8>)> = pieces
                .iter()
                .enumerate()
                .map(|(i, l)| (i as u64 + 1, l.strip_suffix('\r').unwrap_or(l)))
                .filter(|(_, l)| !l.trim_ascii().is_empty())
                .map(|(n, l)| (n, l.as_bytes().to_vec()))
                .collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    /// Reads larger than the input buffer bypass it and land in the batch directly; smaller ones
    /// go through it. Batches around the buffer's size mix both, and hold every line once.
    #[test]
    fn batches_larger_and_smaller_than_the_read_buffer_hold_every_line() {
        let lines: Vec<String> = (0..6000)
            .map(|i| format!("{{\"text\":\"line {i} {}\"}}", "x".repeat(i % 97)))
            .collect();
        let body = lines.join("\n") + "\n";
        assert!(body.len() > 4 << 16, "the input spans several buffers");
        let dir = tempfile::tempdir().unwrap();
        let input = jsonl(dir.path(), "a.jsonl", &body);
        for batch_bytes in [1000, (1 << 16) - 7, 1 << 16, 3 << 16, 1 << 20] {
            let mut got = Vec::new();
            for_each_batch(
                std::slice::from_ref(&input),
                0..1,
                batch_bytes,
                |_, batch| {
                    for i in 0..batch.items.len() {
                        got.push(String::from_utf8(batch.item_bytes(i).to_vec()).unwrap());
                    }
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(got, lines, "batches of {batch_bytes} bytes");
        }
    }

    #[test]
    fn bad_records_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let a = jsonl(dir.path(), "a.jsonl", "{\"text\":\"ok\"}\n{\"text\":\n");
        let err = read_all(&[a]).err().unwrap().to_string();
        assert!(err.contains("a.jsonl:2: malformed JSON"), "{err}");
        let b = jsonl(dir.path(), "b.jsonl", "{\"body\":\"ok\"}\n");
        let err = read_all(&[b]).err().unwrap().to_string();
        assert!(err.contains("b.jsonl:1: no `text` field"), "{err}");
    }

    #[test]
    fn docid_packs_file_and_record() {
        let id = DocId::new(3, 17);
        assert_eq!(id.file_index(), 3);
        assert_eq!(id.record_index(), 17);
        assert!(DocId::new(0, 1 << 30) < DocId::new(1, 0));
    }
}
