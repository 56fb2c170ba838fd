//! Word tokens and shingles for near-duplicate detection.
//!
//! A token is a word of Unicode word segmentation (UAX #29) in its normal form: NFKC, lower case,
//! one form for quotes, apostrophes and dashes, punctuation stripped ("U.S." gives `us`, "don't"
//! gives `dont`, "1,000" gives `1000`), digits optionally folded to `0`. Scripts written without
//! spaces (Han, kana, Thai, Lao, Khmer, Myanmar) give one token per character, so their shingles
//! are character n-grams. A shingle is xxh3-64, with a fixed seed, of `w` consecutive token hashes.
//!
//! ASCII lines take a fast path that follows the same segmentation rules without allocating; a
//! property test checks it against the general path.

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::normalize::unify_char;

/// One token of a line: its byte span in the line and the hash of its normal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub hash: u64,
}

/// Splits lines into tokens, reusing its buffers from line to line.
#[derive(Debug, Default)]
pub struct Tokenizer {
    fold_digits: bool,
    buf: Vec<u8>,
    chars: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Connector,
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Digit,
        b'_' => Class::Connector,
        _ => Class::Other,
    }
}

/// Whether UAX #29 keeps `prev mid next` in one word (rules WB6/7 and WB11/12, ASCII only).
fn joins_across(prev: Class, mid: u8, next: Class) -> bool {
    match (prev, next) {
        (Class::Letter, Class::Letter) => matches!(mid, b'.' | b'\'' | b':'),
        (Class::Digit, Class::Digit) => matches!(mid, b'.' | b'\'' | b',' | b';'),
        _ => false,
    }
}

/// Scripts written without spaces between words.
fn spaceless(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

impl Tokenizer {
    pub fn new(fold_digits: bool) -> Self {
        Tokenizer {
            fold_digits,
            ..Tokenizer::default()
        }
    }

    /// Appends the tokens of `line` (which holds no line break) to `out`, with spans relative to
    /// `line` plus `offset`.
    pub fn tokens(&mut self, line: &str, offset: usize, out: &mut Vec<Token>) {
        if line.is_ascii() {
            self.ascii_tokens(line.as_bytes(), offset, out);
            return;
        }
        // Words never span white space, so each white-space-separated piece is segmented on its
        // own: the ASCII pieces of a line with a few curly quotes or accents stay on the fast path.
        let mut start = None;
        for (i, c) in line
            .char_indices()
            .chain(std::iter::once((line.len(), ' ')))
        {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    let piece = &line[s..i];
                    if piece.is_ascii() {
                        self.ascii_tokens(piece.as_bytes(), offset + s, out);
                    } else {
                        self.unicode_tokens(piece, offset + s, out);
                    }
                    start = None;
                }
                _ => {}
            }
        }
    }

    fn ascii_tokens(&mut self, bytes: &[u8], offset: usize, out: &mut Vec<Token>) {
        let mut i = 0;
        let n = bytes.len();
        while i < n {
            if class(bytes[i]) == Class::Other {
                i += 1;
                continue;
            }
            let start = i;
            self.buf.clear();
            let mut prev = Class::Other;
            while i < n {
                let b = bytes[i];
                let c = class(b);
                if c == Class::Other {
                    let next = bytes.get(i + 1).map_or(Class::Other, |&b| class(b));
                    if joins_across(prev, b, next) {
                        prev = Class::Other; // the joiner itself; the next byte is a word byte
                        i += 1;
                        continue;
                    }
                    break;
                }
                match c {
                    Class::Letter => self.buf.push(b.to_ascii_lowercase()),
                    Class::Digit => self.buf.push(if self.fold_digits { b'0' } else { b }),
                    _ => {}
                }
                prev = c;
                i += 1;
            }
            if !self.buf.is_empty() {
                out.push(Token {
                    start: offset + start,
                    end: offset + i,
                    hash: xxh3_64(&self.buf),
                });
            }
        }
    }

    fn unicode_tokens(&mut self, line: &str, offset: usize, out: &mut Vec<Token>) {
        for (at, word) in line.split_word_bound_indices() {
            if !word.chars().any(char::is_alphanumeric) {
                continue;
            }
            if word.chars().any(spaceless) {
                for (i, c) in word.char_indices() {
                    self.normal_form(&word[i..i + c.len_utf8()]);
                    if !self.chars.is_empty() {
                        out.push(Token {
                            start: offset + at + i,
                            end: offset + at + i + c.len_utf8(),
                            hash: xxh3_64(self.chars.as_bytes()),
                        });
                    }
                }
            } else {
                self.normal_form(word);
                if !self.chars.is_empty() {
                    out.push(Token {
                        start: offset + at,
                        end: offset + at + word.len(),
                        hash: xxh3_64(self.chars.as_bytes()),
                    });
                }
            }
        }
    }

    /// The normal form of one word into `self.chars`: NFKC, unified punctuation, lower case,
    /// only letters and digits kept.
    fn normal_form(&mut self, word: &str) {
        self.chars.clear();
        for c in word.nfkc().map(unify_char).flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                let c = if self.fold_digits && c.is_numeric() {
                    '0'
                } else {
                    c
                };
                self.chars.push(c);
            }
        }
    }
}

/// Hashes windows of `w` token hashes into shingles, reusing one buffer.
#[derive(Debug, Clone)]
pub struct Shingler {
    w: usize,
    seed: u64,
    buf: Vec<u8>,
}

impl Shingler {
    pub fn new(w: usize, seed: u64) -> Self {
        assert!(w >= 1, "shingle size must be at least 1");
        Shingler {
            w,
            seed,
            buf: Vec::with_capacity(8 * w),
        }
    }

    pub fn size(&self) -> usize {
        self.w
    }

    /// The hash of one window of token hashes.
    pub fn hash(&mut self, window: &[u64]) -> u64 {
        self.buf.clear();
        for h in window {
            self.buf.extend_from_slice(&h.to_le_bytes());
        }
        xxh3_64_with_seed(&self.buf, self.seed)
    }

    /// Calls `f(first_token, last_token, shingle)` for each shingle of one block's tokens, in
    /// order: one per window of `w` tokens, or one of all tokens when the block has fewer than
    /// `w` (none when it has none).
    pub fn for_each(&mut self, tokens: &[Token], mut f: impl FnMut(usize, usize, u64)) {
        let n = tokens.len();
        if n == 0 {
            return;
        }
        let w = self.w.min(n);
        let mut window: [u64; 16] = [0; 16];
        let mut long = Vec::new();
        for first in 0..=(n - w) {
            let hashes: &[u64] = if w <= window.len() {
                for (slot, t) in window.iter_mut().zip(&tokens[first..first + w]) {
                    *slot = t.hash;
                }
                &window[..w]
            } else {
                long.clear();
                long.extend(tokens[first..first + w].iter().map(|t| t.hash));
                &long
            };
            let h = self.hash(hashes);
            f(first, first + w - 1, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(line: &str, fold: bool) -> Vec<String> {
        let mut t = Tokenizer::new(fold);
        let mut out = Vec::new();
        t.tokens(line, 0, &mut out);
        out.iter()
            .map(|t| line[t.start..t.end].to_string())
            .collect()
    }

    fn hashes(line: &str, fold: bool) -> Vec<u64> {
        let mut t = Tokenizer::new(fold);
        let mut out = Vec::new();
        t.tokens(line, 0, &mut out);
        out.iter().map(|t| t.hash).collect()
    }

    #[test]
    fn words_keep_inner_punctuation_and_drop_the_rest() {
        assert_eq!(
            words(
                "U.S. troops, 1,000 of them, don't (re-)deploy: pic.twitter.com/x",
                false
            ),
            [
                "U.S",
                "troops",
                "1,000",
                "of",
                "them",
                "don't",
                "re",
                "deploy",
                "pic.twitter.com",
                "x"
            ]
        );
    }

    #[test]
    fn normal_form_unifies_case_quotes_width_and_digits() {
        assert_eq!(hashes("Don’t", false), hashes("DON'T", false));
        assert_eq!(hashes("don't", false), hashes("dont", false));
        assert_eq!(hashes("ＡＢＣ １２３", false), hashes("abc 123", false));
        assert_ne!(hashes("abc 123", false), hashes("abc 456", false));
        assert_eq!(hashes("abc 123", true), hashes("abc 456", true));
        assert_eq!(hashes("Élysée ٣", true), hashes("élysée 0", true));
    }

    #[test]
    fn spaceless_scripts_give_one_token_per_character() {
        assert_eq!(
            words("東京都に住む", false),
            ["東", "京", "都", "に", "住", "む"]
        );
        assert_eq!(words("ok 東京", false), ["ok", "東", "京"]);
    }

    #[test]
    fn spans_are_offset() {
        let mut t = Tokenizer::new(false);
        let mut out = Vec::new();
        t.tokens("ab cd", 10, &mut out);
        assert_eq!((out[1].start, out[1].end), (13, 15));
    }

    #[test]
    fn shingles_cover_windows_or_the_whole_short_block() {
        let mut tok = Tokenizer::new(false);
        let mut toks = Vec::new();
        tok.tokens("a b c d", 0, &mut toks);
        let mut sh = Shingler::new(3, 7);
        let mut got = Vec::new();
        sh.for_each(&toks, |a, b, h| got.push((a, b, h)));
        assert_eq!(
            got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
            [(0, 2), (1, 3)]
        );
        assert_ne!(got[0].2, got[1].2);
        let mut short = Vec::new();
        sh.for_each(&toks[..2], |a, b, _| short.push((a, b)));
        assert_eq!(short, [(0, 1)]);
        sh.for_each(&[], |_, _, _| panic!("no tokens, no shingle"));
        // Another seed gives other shingles.
        let mut other = Shingler::new(3, 8);
        let mut o = Vec::new();
        other.for_each(&toks, |_, _, h| o.push(h));
        assert_ne!(o[0], got[0].2);
    }

    proptest! {
        #[test]
        fn ascii_fast_path_matches_unicode_segmentation(
            line in "[a-cA-C0-2_.,;:' \"!?()/-]{0,40}",
            fold in any::<bool>(),
        ) {
            let mut tok = Tokenizer::new(fold);
            let mut fast = Vec::new();
            tok.ascii_tokens(line.as_bytes(), 0, &mut fast);
            let mut general = Vec::new();
            tok.unicode_tokens(&line, 0, &mut general);
            prop_assert_eq!(fast, general);
        }

        #[test]
        fn pieces_between_white_space_segment_like_the_whole_line(
            line in "[a-cA-C0-2_.,;:' \"!?()/-]{0,12}([ \t\u{A0}\u{3000}]?[“”’éÉß東京ไทย][a-c.' ]{0,6}){0,4}",
            fold in any::<bool>(),
        ) {
            let mut tok = Tokenizer::new(fold);
            let mut pieces = Vec::new();
            tok.tokens(&line, 3, &mut pieces);
            let mut whole = Vec::new();
            tok.unicode_tokens(&line, 3, &mut whole);
            prop_assert_eq!(pieces, whole);
        }
    }
}
