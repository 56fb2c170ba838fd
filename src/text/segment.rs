//! Splitting a document into blocks (lines) that keep their byte spans in the original text.

/// One line of a document: `start..end` excludes the line break, `next` is where the following
/// line starts (after `\n`, or the text's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub end: usize,
    pub next: usize,
}

impl Block {
    pub fn text<'t>(&self, doc: &'t str) -> &'t str {
        &doc[self.start..self.end]
    }

    pub fn is_blank(&self, doc: &str) -> bool {
        self.text(doc).trim().is_empty()
    }
}

/// The lines of `text`, split at `\n` (a `\r` before it is left out of the block). A text that
/// ends with `\n` has no empty block after it.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::with_capacity(text.len() / 64 + 1);
    let bytes = text.as_bytes();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        let end = if nl > start && bytes[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        out.push(Block {
            start,
            end,
            next: nl + 1,
        });
        start = nl + 1;
    }
    if start < text.len() {
        out.push(Block {
            start,
            end: text.len(),
            next: text.len(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_and_spans() {
        let t = "a\r\n\nbc";
        let b = blocks(t);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].text(t), "a");
        assert_eq!(b[0].next, 3);
        assert!(b[1].is_blank(t));
        assert_eq!(b[2].text(t), "bc");
        assert_eq!(blocks("x\n").len(), 1);
        assert!(blocks("").is_empty());
    }

    proptest! {
        #[test]
        fn blocks_tile_the_text(t in "[a-c\r\n ]{0,40}") {
            let b = blocks(&t);
            let mut pos = 0;
            for block in &b {
                prop_assert_eq!(block.start, pos);
                prop_assert!(block.end <= block.next);
                prop_assert!(!t[block.start..block.end].contains('\n'));
                pos = block.next;
            }
            prop_assert_eq!(pos, t.len());
            // Same lines as the standard library's split, minus a trailing empty piece.
            let mut expected: Vec<&str> = t.split('\n').collect();
            if t.is_empty() || t.ends_with('\n') { expected.pop(); }
            let got: Vec<&str> = b.iter().map(|x| &t[x.start..x.next]).map(|s| s.trim_end_matches('\n')).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
