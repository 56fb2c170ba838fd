//! A JSONL line: parsing never panics, and a parsed record re-emitted with a new text keeps its
//! other fields and their order.
#![no_main]

use gleaner::corpus::record::RawRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(record) = RawRecord::parse(line) else {
        return;
    };
    let _ = record.string("text");
    let _ = record.id("id");
    let mut out = Vec::new();
    record.write_with(&mut out, "text", "new", &serde_json::Map::new(), &[]);
    let again = std::str::from_utf8(&out).expect("gleaner writes UTF-8");
    let reparsed = RawRecord::parse(again).expect("gleaner writes valid JSON");
    let keys = |r: &RawRecord| r.fields.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&record), keys(&reparsed));
    for ((k, a), (_, b)) in record.fields.iter().zip(&reparsed.fields) {
        if k != "text" {
            assert_eq!(a.get(), b.get(), "field {k} changed");
        }
    }
});
