//! Arbitrary bytes as a JSONL file (plain and gzip-named) and as a text file: reading either
//! succeeds or returns an error that names the file; it never panics or hangs.
#![no_main]

use gleaner::corpus::{discover, for_each_batch, Fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    for name in ["in.jsonl", "in.txt", "in.jsonl.gz", "in.jsonl.zst"] {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let inputs = discover(&[dir.path().to_path_buf()]).unwrap();
    let fields = Fields {
        text: "text".into(),
        id: "id".into(),
    };
    for input in &inputs {
        let result = for_each_batch(std::slice::from_ref(input), 0..1, 256, |input, batch| {
            for doc in batch.parse(input, &fields) {
                doc?;
            }
            Ok(())
        });
        if let Err(e) = result {
            let message = e.to_string();
            assert!(message.contains("in."), "error does not name the file: {message}");
        }
    }
});
