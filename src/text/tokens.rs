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

/// Whether UAX #29 keeps `prev mid next` in one word (rules WB6/7 and WB11/12, ASCII only).
fn joins_across(prev: Class, mid: u8, next: Class) -> bool {
    match (prev, next) {
        (Class::Letter, Class::Letter) => matches!(mid, b'.' | b'\'' | b':'),
        (Class::Digit, Class::Digit) => matches!(mid, b'.' | b'\'' | b',' | b';'),
        _ => false,
    }
}

/// Where the run of word bytes (letters, digits, `_`) that starts at `i` ends, and whether all of
/// them are already their own normal form. Eight bytes at a time: most words end within the
/// first eight, so a word costs one load and a few operations instead of a branch per byte.
pub(crate) fn word_run(bytes: &[u8], mut i: usize, fold_digits: bool) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut plain = true;
    while let Some(eight) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        // On seven-bit values no sum carries into the next byte, so a byte's high bit says
        // whether it reached the threshold; bytes from 0x80 up are never word bytes.
        let low = x & !HIGH;
        let ascii = !x & HIGH;
        let at_least = |c: u8| low + (0x80 - c as u64) * ONES;
        let within = |lo: u8, hi: u8| at_least(lo) & !at_least(hi + 1);
        let lower = within(b'a', b'z');
        let upper = within(b'A', b'Z');
        let digit = within(b'0', b'9');
        let underscore = !((low ^ (b'_' as u64 * ONES)) + 0x7F * ONES);
        let word = (lower | upper | digit | underscore) & ascii;
        let changed = (upper | underscore | if fold_digits { digit } else { 0 }) & ascii;
        // Bytes before the first that is not a word byte (the lowest byte comes first).
        let run = ((!word & HIGH).trailing_zeros() / 8) as usize;
        let covered = if run == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * run)) - 1
        };
        plain &= changed & covered == 0;
        i += run;
        if run < 8 {
            return (i, plain);
        }
    }
    let table = if fold_digits { &BYTES_FOLDED } else { &BYTES };
    while i < bytes.len() && table[bytes[i] as usize].0 != Class::Other {
        plain &= table[bytes[i] as usize].1;
        i += 1;
    }
    (i, plain)
}

/// Where the white-space-separated piece around byte `i` of `line` ends.
fn piece_end(line: &str, i: usize) -> usize {
    line[i..]
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(line.len(), |(k, _)| i + k)
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

/// What the fast path needs of each byte: its class, and whether it is already its own normal
/// form (a lower-case letter or, unless digits fold, a digit).
const fn byte_table(fold_digits: bool) -> [(Class, bool); 256] {
    let mut t = [(Class::Other, false); 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'a'..=b'z' => (Class::Letter, true),
            b'A'..=b'Z' => (Class::Letter, false),
            b'0'..=b'9' => (Class::Digit, !fold_digits),
            b'_' => (Class::Connector, false),
            _ => (Class::Other, false),
        };
        b += 1;
    }
    t
}

static BYTES: [(Class, bool); 256] = byte_table(false);
static BYTES_FOLDED: [(Class, bool); 256] = byte_table(true);

/// How the fast path reads a character that is not a word byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// White space: ends a piece.
    Space,
    /// Punctuation that UAX #29 treats as ASCII punctuation of this byte would be (`'` joins
    /// words like `‘` and `’` do; `-` stands for any other separating mark).
    Like(u8),
    /// Anything else: the piece takes the general path.
    Unknown,
}

/// The character at `bytes[i]` (not a word byte) and its length in bytes.
fn gap(line: &str, i: usize) -> (Gap, usize) {
    let b = line.as_bytes()[i];
    if b < 0x80 {
        let g = if matches!(b, b'\t'..=b'\r' | b' ') {
            Gap::Space
        } else {
            Gap::Like(b)
        };
        return (g, 1);
    }
    let c = line[i..].chars().next().expect("i is a char boundary");
    let g = match c {
        // MidNumLet in UAX #29, as `.` and `'` are.
        '\u{2018}' | '\u{2019}' => Gap::Like(b'\''),
        // Word-break class Other; not letters or digits in any normal form.
        '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}' | '\u{2026}' | '\u{00AB}'
        | '\u{00BB}' => Gap::Like(b'-'),
        c if c.is_whitespace() => Gap::Space,
        _ => Gap::Unknown,
    };
    (g, c.len_utf8())
}

impl Tokenizer {
    pub fn new(fold_digits: bool) -> Self {
        Tokenizer {
            fold_digits,
            ..Tokenizer::default()
        }
    }

    pub fn folds_digits(&self) -> bool {
        self.fold_digits
    }

    /// Appends the tokens of `line` (which holds no line break) to `out`, with spans relative to
    /// `line` plus `offset`.
    ///
    /// Words never span white space, so each white-space-separated piece can be segmented on its
    /// own. A piece of ASCII words and common quotes and dashes takes the fast path, which follows
    /// the same rules without decoding or allocating; a piece with any other non-ASCII character
    /// is segmented in full (its fast-path tokens taken back).
    pub fn tokens(&mut self, line: &str, offset: usize, out: &mut Vec<Token>) {
        let table = if self.fold_digits {
            &BYTES_FOLDED
        } else {
            &BYTES
        };
        let class = |b: u8| table[b as usize].0;
        let bytes = line.as_bytes();
        let n = bytes.len();
        // Where the current piece starts, and how many tokens came before it.
        let mut piece = (0, out.len());
        let mut i = 0;
        while i < n {
            if class(bytes[i]) == Class::Other {
                let (g, len) = gap(line, i);
                match g {
                    Gap::Like(_) => i += len,
                    Gap::Space => {
                        i += len;
                        piece = (i, out.len());
                    }
                    Gap::Unknown => {
                        let end = piece_end(line, i);
                        out.truncate(piece.1);
                        self.unicode_tokens(&line[piece.0..end], offset + piece.0, out);
                        i = end;
                        piece = (i, out.len());
                    }
                }
                continue;
            }
            let start = i;
            let mut plain = true;
            loop {
                let (end, run_plain) = word_run(bytes, i, self.fold_digits);
                plain &= run_plain;
                i = end;
                // `bytes[i - 1]` is a word byte; a joiner needs one after it too.
                if i < n && bytes[i] != b' ' {
                    if let (Gap::Like(mid), len) = gap(line, i) {
                        let next = bytes.get(i + len).map_or(Class::Other, |&b| class(b));
                        if joins_across(class(bytes[i - 1]), mid, next) {
                            plain = false;
                            i += len;
                            continue;
                        }
                    }
                }
                break;
            }
            let word = &bytes[start..i];
            let hash = if plain {
                xxh3_64(word)
            } else {
                self.buf.clear();
                for &b in word {
                    match class(b) {
                        Class::Letter => self.buf.push(b.to_ascii_lowercase()),
                        Class::Digit => self.buf.push(if self.fold_digits { b'0' } else { b }),
                        _ => {}
                    }
                }
                if self.buf.is_empty() {
                    continue;
                }
                xxh3_64(&self.buf)
            };
            out.push(Token {
                start: offset + start,
                end: offset + i,
                hash,
            });
            // Most words end at a plain space, which ends the piece too.
            if bytes.get(i) == Some(&b' ') {
                i += 1;
                piece = (i, out.len());
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

/// Hashes windows of `w` token hashes into shingles.
#[derive(Debug, Clone)]
pub struct Shingler {
    w: usize,
    seed: u64,
    /// xxh3's default secret with the seed folded in, as numbers: the keys its 17 to 128 byte
    /// path mixes the input with.
    keys: [u64; 24],
    buf: Vec<u8>,
}

impl Shingler {
    pub fn new(w: usize, seed: u64) -> Self {
        assert!(w >= 1, "shingle size must be at least 1");
        let secret = xxhash_rust::const_xxh3::const_custom_default_secret(seed);
        let mut keys = [0u64; 24];
        for (key, bytes) in keys.iter_mut().zip(secret.chunks_exact(8)) {
            *key = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        }
        Shingler {
            w,
            seed,
            keys,
            buf: Vec::with_capacity(8 * w),
        }
    }

    pub fn size(&self) -> usize {
        self.w
    }

    /// Shingle size and seed.
    pub fn params(&self) -> (usize, u64) {
        (self.w, self.seed)
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
        if (3..=16).contains(&w) {
            // Straight from the token hashes: no bytes laid out, no dispatch on the length.
            for first in 0..=(n - w) {
                let window = &tokens[first..first + w];
                f(first, first + w - 1, self.hash_words(|i| window[i].hash, w));
            }
            return;
        }
        // The block's token hashes laid out once; each window is a slice of them.
        self.buf.clear();
        for t in tokens {
            self.buf.extend_from_slice(&t.hash.to_le_bytes());
        }
        for first in 0..=(n - w) {
            let h = xxh3_64_with_seed(&self.buf[8 * first..8 * (first + w)], self.seed);
            f(first, first + w - 1, h);
        }
    }

    /// `xxh3_64_with_seed` of the `n` (3 to 16) little-endian numbers `word(0..n)`, computed on
    /// the numbers: xxh3's path for 17 to 128 bytes reads the input in 16-byte pairs at offsets
    /// that are multiples of eight, so each pair is two of the numbers.
    #[inline(always)]
    fn hash_words(&self, word: impl Fn(usize) -> u64, n: usize) -> u64 {
        const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
        let k = &self.keys;
        let mix = |at: usize, key: usize| {
            let product = (word(at) ^ k[key]) as u128 * (word(at + 1) ^ k[key + 1]) as u128;
            product as u64 ^ (product >> 64) as u64
        };
        let mut acc = (8 * n as u64).wrapping_mul(PRIME64_1);
        if n > 4 {
            if n > 8 {
                if n > 12 {
                    acc = acc.wrapping_add(mix(6, 12)).wrapping_add(mix(n - 8, 14));
                }
                acc = acc.wrapping_add(mix(4, 8)).wrapping_add(mix(n - 6, 10));
            }
            acc = acc.wrapping_add(mix(2, 4)).wrapping_add(mix(n - 4, 6));
        }
        acc = acc.wrapping_add(mix(0, 0)).wrapping_add(mix(n - 2, 2));
        // xxh3's avalanche.
        acc ^= acc >> 37;
        acc = acc.wrapping_mul(0x1656_6791_9E37_79F9);
        acc ^ (acc >> 32)
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
        // A shingle is xxh3 of its tokens' hashes, little-endian, one after the other.
        let window: Vec<u8> = toks[1..4]
            .iter()
            .flat_map(|t| t.hash.to_le_bytes())
            .collect();
        assert_eq!(got[1].2, xxh3_64_with_seed(&window, 7));
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

    /// The byte-at-a-time form of [`word_run`].
    fn word_run_slowly(bytes: &[u8], mut i: usize, fold: bool) -> (usize, bool) {
        let mut plain = true;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            plain &= bytes[i].is_ascii_lowercase() || (!fold && bytes[i].is_ascii_digit());
            i += 1;
        }
        (i, plain)
    }

    proptest! {
        #[test]
        fn word_runs_match_a_byte_loop(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'a'), Just(b'Z'), Just(b'_'), Just(b'5')],
                0..40,
            ),
            start in 0usize..40,
            fold in any::<bool>(),
        ) {
            let start = start.min(bytes.len());
            prop_assert_eq!(word_run(&bytes, start, fold), word_run_slowly(&bytes, start, fold));
        }

        #[test]
        fn shingles_are_xxh3_of_the_token_hashes(
            hashes in proptest::collection::vec(any::<u64>(), 1..40),
            w in 1usize..20,
            seed in prop_oneof![Just(0u64), Just(1u64), any::<u64>()],
        ) {
            let tokens: Vec<Token> = hashes.iter().map(|&hash| Token { start: 0, end: 0, hash }).collect();
            let mut shingler = Shingler::new(w, seed);
            let mut got = Vec::new();
            shingler.for_each(&tokens, |a, b, h| got.push((a, b, h)));
            let w = w.min(tokens.len());
            let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
            let want: Vec<(usize, usize, u64)> = (0..=tokens.len() - w)
                .map(|a| (a, a + w - 1, xxh3_64_with_seed(&bytes[8 * a..8 * (a + w)], seed)))
                .collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn ascii_fast_path_matches_unicode_segmentation(
            line in "[a-cA-C0-2_.,;:' \"!?()/-]{0,40}",
            fold in any::<bool>(),
        ) {
            let mut tok = Tokenizer::new(fold);
            let mut fast = Vec::new();
            tok.tokens(&line, 0, &mut fast);
            let mut general = Vec::new();
            tok.unicode_tokens(&line, 0, &mut general);
            prop_assert_eq!(fast, general);
        }

        #[test]
        fn pieces_between_white_space_segment_like_the_whole_line(
            line in "[a-cA-C0-2_.,;:' \"!?()/-]{0,12}([ \t\u{A0}\u{3000}]?[“”‘’–—…«»\u{AD}\u{301}éÉß東京ไทย][a-c0-2.,' ]{0,6}){0,4}",
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
