//! Arbitrary text and removals: blocks tile the text, and the planned edit is sorted, disjoint,
//! on character boundaries, and its output is exactly the text minus the spans.
#![no_main]

use gleaner::decision::{Reason, Removal};
use gleaner::{edit, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<(u16, u16)>)| {
    let (doc, picks) = input;
    let blocks = text::blocks(&doc);
    let mut pos = 0;
    for b in &blocks {
        assert_eq!(b.start, pos);
        assert!(b.start <= b.end && b.end <= b.next);
        pos = b.next;
    }
    assert_eq!(pos, doc.len());
    if blocks.is_empty() {
        return;
    }
    // Removals as the steps make them: whole lines or prefixes of lines.
    let removals: Vec<Removal> = picks
        .iter()
        .map(|&(line, cut)| {
            let b = blocks[line as usize % blocks.len()];
            let mut end = b.start + (cut as usize % (b.end - b.start + 1));
            while !doc.is_char_boundary(end) {
                end += 1;
            }
            let end = if cut % 2 == 0 { b.end } else { end.min(b.end) };
            Removal {
                start: b.start,
                end,
                reason: Reason::RepeatedLine,
            }
        })
        .collect();
    let spans = edit::plan(&doc, &blocks, removals);
    let mut rebuilt = String::new();
    let mut pos = 0;
    for s in &spans {
        assert!(s.start >= pos && s.start < s.end && s.end <= doc.len());
        assert!(doc.is_char_boundary(s.start) && doc.is_char_boundary(s.end));
        rebuilt.push_str(&doc[pos..s.start]);
        pos = s.end;
    }
    rebuilt.push_str(&doc[pos..]);
    assert_eq!(rebuilt, edit::apply(&doc, &spans));
});
