//! Reading and writing corpora: JSONL (plain, gzip, zstd), folders of text files, stdin/stdout.

pub mod atomic;
pub mod guard;
pub mod input;
pub mod read;
pub mod record;
pub mod write;

pub use input::{discover, Compression, InputFile, InputKind};
pub use read::{for_each_batch, DocId, Document, Fields};
pub use write::{CorpusWriter, OutputTarget};
