//! Byte offsets to Unicode code point offsets, as Python indexes strings.

/// Converts ascending byte offsets of `text` to code point offsets in one pass.
pub struct CodePoints<'t> {
    text: &'t str,
    byte: usize,
    chars: usize,
    /// In ASCII text every offset is the same in both.
    ascii: bool,
}

impl<'t> CodePoints<'t> {
    pub fn new(text: &'t str) -> Self {
        CodePoints {
            text,
            byte: 0,
            chars: 0,
            ascii: text.is_ascii(),
        }
    }

    /// The code point offset of byte offset `at`; calls must not go backwards, or they restart.
    pub fn at(&mut self, at: usize) -> usize {
        if self.ascii {
            return at;
        }
        if at < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += match self.text.get(self.byte..at) {
            // The standard library's count, several bytes at a time.
            Some(s) => s.chars().count(),
            // Not a character boundary: count bytes that start a character.
            None => self.text.as_bytes()[self.byte..at]
                .iter()
                .filter(|&&b| (b as i8) >= -0x40)
                .count(),
        };
        self.byte = at;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_char_indices() {
        let t = "a’b€c\u{1F600}d";
        let mut cp = CodePoints::new(t);
        for (n, (i, _)) in t.char_indices().enumerate() {
            assert_eq!(cp.at(i), n);
        }
        assert_eq!(cp.at(t.len()), t.chars().count());
        assert_eq!(cp.at(1), 1);
        // Inside a character: the characters that start before it.
        assert_eq!(CodePoints::new(t).at(2), 2);
        let mut cp = CodePoints::new(t);
        assert_eq!((cp.at(2), cp.at(4)), (2, 2));
        let mut ascii = CodePoints::new("plain text");
        assert_eq!((ascii.at(5), ascii.at(2), ascii.at(10)), (5, 2, 10));
    }
}
