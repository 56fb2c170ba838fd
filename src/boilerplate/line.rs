//! What the rules look at in one line: its normal form (with a map back to the original bytes, so
//! a matched prefix can be cut from the original) and its shape: words, stopwords, terminal
//! punctuation.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::text::normalize::unify_char;
use crate::text::tokens::word_run;
use crate::text::Block;

/// One non-blank line of a document, analysed.
#[derive(Debug, Clone)]
pub struct Line {
    /// The block in the original text.
    pub block: Block,
    /// The normal form: the same as [`crate::text::normalize`] for text in composed form (NFKC is
    /// applied one character at a time, so that every output byte maps to an input character).
    pub norm: String,
    /// Word tokens (`\w+` runs).
    pub words: usize,
    /// Share of the words that are common function words.
    pub stopword_share: f64,
    /// Ends like a sentence: `.`, `!`, `?`, `…` (closing quotes and brackets aside).
    pub terminal: bool,
}

impl Line {
    /// Analyses the line `block` of `text`.
    pub fn new(text: &str, block: Block) -> Self {
        Line::new_in(text, block, String::new())
    }

    /// [`Line::new`] with the normal form written into `buf` (cleared first), so that a string
    /// can serve line after line.
    pub fn new_in(text: &str, block: Block, buf: String) -> Self {
        let norm = normalize_into(text, block.start, block.end, buf);
        let (words, stops) = count_words(&norm);
        let terminal = ends_like_sentence(&norm);
        Line {
            block,
            norm,
            words,
            stopword_share: if words == 0 {
                0.0
            } else {
                stops as f64 / words as f64
            },
            terminal,
        }
    }

    /// The map from normalized bytes back to `text` (the document the line is in): computed
    /// only when a rule cuts a prefix or takes a value, which few lines need.
    fn mapping(&self, text: &str) -> (Vec<u32>, Vec<u32>) {
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        normalize_line(
            text,
            self.block.start,
            self.block.end,
            Some((&mut starts, &mut ends)),
        );
        (starts, ends)
    }

    /// The original byte offset where normalized byte `at` starts.
    pub fn original_start(&self, text: &str, at: usize) -> usize {
        let (starts, _) = self.mapping(text);
        starts.get(at).map_or(self.block.end, |&s| s as usize)
    }

    /// The original byte offset just past the character that normalized byte `at - 1` came
    /// from (the original end of a match that ends at `at`).
    pub fn original_end(&self, text: &str, at: usize) -> usize {
        if at == 0 {
            return self.block.start;
        }
        let (_, ends) = self.mapping(text);
        ends.get(at - 1).map_or(self.block.end, |&e| e as usize)
    }

    /// The line without leading bullets and trailing punctuation, for whole-line comparisons.
    pub fn core(&self) -> &str {
        core_of(&self.norm)
    }
}

/// A normalized line without leading bullets and trailing punctuation: "• Share:" is "share".
pub fn core_of(norm: &str) -> &str {
    norm.trim_start_matches(|c: char| c.is_whitespace() || is_bullet(c))
        .trim_end_matches(|c: char| c.is_whitespace() || is_trailing_punct(c))
}

fn is_bullet(c: char) -> bool {
    matches!(
        c,
        '•' | '·' | '◦' | '▪' | '▸' | '►' | '*' | '-' | '|' | '>' | '»' | '›'
    )
}

fn is_trailing_punct(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | '?'
            | ':'
            | ';'
            | ','
            | '…'
            | '|'
            | '-'
            | '>'
            | '»'
            | '›'
            | '"'
            | '\''
            | '↓'
            | '→'
            | '❯'
    )
}

/// Normalizes `text[start..end]` as [`crate::text::normalize`] does; with `map`, records for
/// every output byte the original span (start, end) of the character it came from.
fn normalize_line(
    text: &str,
    start: usize,
    end: usize,
    mut map: Option<(&mut Vec<u32>, &mut Vec<u32>)>,
) -> String {
    let line = &text[start..end];
    if map.is_none() {
        return normalize_into(text, start, end, String::new());
    }
    let mut out = String::with_capacity(line.len());
    let mut pending_space = false;
    let mut buf = [0u8; 4];
    let mut push = |c: char, from: usize, to: usize, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            return;
        }
        if pending_space {
            out.push(' ');
            if let Some((starts, ends)) = map.as_mut() {
                starts.push(from as u32);
                ends.push(from as u32);
            }
            pending_space = false;
        }
        let s = c.encode_utf8(&mut buf);
        out.push_str(s);
        if let Some((starts, ends)) = map.as_mut() {
            for _ in 0..s.len() {
                starts.push(from as u32);
                ends.push(to as u32);
            }
        }
    };
    for (i, c) in line.char_indices() {
        let from = start + i;
        let to = from + c.len_utf8();
        if c.is_ascii() {
            push(c.to_ascii_lowercase(), from, to, &mut out);
        } else {
            for n in std::iter::once(c).nfkc() {
                for l in unify_char(n).to_lowercase() {
                    push(l, from, to, &mut out);
                }
            }
        }
    }
    out
}

/// [`normalize_line`] without the map, written into `buf` (cleared first).
fn normalize_into(text: &str, start: usize, end: usize, buf: String) -> String {
    let line = &text[start..end];
    if line.is_ascii() {
        normalize_ascii(line, buf)
    } else {
        normalize_unmapped(line, buf)
    }
}

/// [`normalize_line`] without the map back to the original bytes: the same characters, with
/// runs of ASCII copied a word at a time and the NFKC machinery skipped for characters that are
/// already in NFKC (nearly all of them).
fn normalize_unmapped(line: &str, buf: String) -> String {
    let mut out = NormalWriter::reusing(buf, line.len());
    let mut rest = line;
    while !rest.is_empty() {
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        out.push_ascii(&rest[..ascii]);
        rest = &rest[ascii..];
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push_other(c);
            rest = chars.as_str();
        }
    }
    out.finish()
}

/// The normal form of an ASCII line (most lines): lower case, runs of white space as one space,
/// none at the ends. The same as the general path.
fn normalize_ascii(line: &str, buf: String) -> String {
    let mut out = NormalWriter::reusing(buf, line.len());
    out.push_ascii(line);
    out.finish()
}

/// The ASCII characters `char::is_whitespace` accepts: space, and tab to carriage return.
fn is_ascii_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// No white space but single spaces: no tab, line feed, vertical tab, form feed or carriage
/// return, and no two spaces in a row.
fn has_single_spaces_only(text: &str) -> bool {
    let bytes = text.as_bytes();
    // A fold, not `any`: no early exit, so the test runs on whole vectors.
    let controls = bytes
        .iter()
        .fold(false, |seen, b| seen | (b'\t'..=b'\r').contains(b));
    !controls && memchr::memmem::find(bytes, b"  ").is_none()
}

/// Builds a normal form: characters in, one space for each run of white space between them.
struct NormalWriter {
    out: String,
    pending_space: bool,
}

impl NormalWriter {
    /// A writer into `buf`, cleared, with room for `capacity` bytes.
    fn reusing(mut buf: String, capacity: usize) -> Self {
        buf.clear();
        buf.reserve(capacity);
        NormalWriter {
            out: buf,
            pending_space: false,
        }
    }

    /// Text that is all ASCII, a word at a time.
    fn push_ascii(&mut self, text: &str) {
        if has_single_spaces_only(text) {
            self.push_ascii_single_spaced(text);
            return;
        }
        let from = self.out.len();
        let mut word_start = 0;
        for (i, &b) in text.as_bytes().iter().enumerate() {
            if is_ascii_space(b) {
                self.push_ascii_word(&text[word_start..i]);
                if !self.out.is_empty() {
                    self.pending_space = true;
                }
                word_start = i + 1;
            }
        }
        self.push_ascii_word(&text[word_start..]);
        self.out[from..].make_ascii_lowercase();
    }

    /// [`NormalWriter::push_ascii`] for text whose only white space is single spaces (most
    /// text): its inside is already in normal form but for case, so it goes in at once.
    fn push_ascii_single_spaced(&mut self, text: &str) {
        let inside = text.strip_prefix(' ').unwrap_or(text);
        let (inside, space_after) = match inside.strip_suffix(' ') {
            Some(inside) => (inside, true),
            None => (inside, false),
        };
        if text.starts_with(' ') && !self.out.is_empty() {
            self.pending_space = true;
        }
        if !inside.is_empty() {
            self.space_if_pending();
            let from = self.out.len();
            self.out.push_str(inside);
            self.out[from..].make_ascii_lowercase();
        }
        if space_after && !self.out.is_empty() {
            self.pending_space = true;
        }
    }

    fn push_ascii_word(&mut self, word: &str) {
        if !word.is_empty() {
            self.space_if_pending();
            self.out.push_str(word);
        }
    }

    /// A non-ASCII character: NFKC, one form for quotes and dashes, lower case.
    fn push_other(&mut self, c: char) {
        if is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
            // A character that is its own NFKC: `nfkc()` would give it back unchanged.
            for l in unify_char(c).to_lowercase() {
                self.push(l);
            }
        } else {
            for n in std::iter::once(c).nfkc() {
                for l in unify_char(n).to_lowercase() {
                    self.push(l);
                }
            }
        }
    }

    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.pending_space = !self.out.is_empty();
        } else {
            self.space_if_pending();
            self.out.push(c);
        }
    }

    fn space_if_pending(&mut self) {
        if self.pending_space {
            self.out.push(' ');
            self.pending_space = false;
        }
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Words and stopwords of a normalized line.
fn count_words(norm: &str) -> (usize, usize) {
    if norm.is_ascii() {
        return count_words_ascii(norm);
    }
    let mut words = 0;
    let mut stops = 0;
    for w in norm
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
    {
        words += 1;
        if is_stopword(w) {
            stops += 1;
        }
    }
    (words, stops)
}

/// [`count_words`] for ASCII text: words are runs of letters, digits and `_`.
fn count_words_ascii(norm: &str) -> (usize, usize) {
    let bytes = norm.as_bytes();
    let (mut words, mut stops) = (0, 0);
    let mut i = 0;
    while i < bytes.len() {
        if !is_word_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        (i, _) = word_run(bytes, i, false);
        words += 1;
        // Function words are 1 to 7 letters long; longer words need no lookup.
        if i - start <= 7 && is_stopword_key(packed_at(bytes, start, i - start)) {
            stops += 1;
        }
    }
    (words, stops)
}

/// [`pack_word`] of the `len` (at most 7) bytes at `start`: one load and a mask where eight
/// bytes are there to load.
fn packed_at(bytes: &[u8], start: usize, len: usize) -> u64 {
    match bytes.get(start..start + 8) {
        Some(eight) => {
            let x = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
            x & ((1u64 << (8 * len)) - 1)
        }
        None => pack_word(&bytes[start..start + len]),
    }
}

/// ASCII letters, digits and `_`.
fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

/// [`is_word_byte`] as a table: one load per byte instead of three range tests.
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

/// Ends like a sentence, looking past closing quotes and brackets.
pub fn ends_like_sentence(norm: &str) -> bool {
    let trimmed = norm.trim_end_matches(['"', '\'', ')', ']', ' ']);
    trimmed.ends_with(['.', '!', '?', '…'])
}

/// Whether `word` (lower case) is a common English function word.
fn is_stopword(word: &str) -> bool {
    word.len() <= 7 && is_stopword_key(pack_word(word.as_bytes()))
}

/// A word of at most 8 bytes as one number (byte `i` in bits `8i..8i + 8`, zeros after the
/// word), so that a lookup compares whole words at once.
const fn pack_word(word: &[u8]) -> u64 {
    let mut key = 0u64;
    let mut i = 0;
    while i < word.len() && i < 8 {
        key |= (word[i] as u64) << (8 * i);
        i += 1;
    }
    key
}

/// Whether `key` is the packed form of a word of [`STOPWORDS`].
fn is_stopword_key(key: u64) -> bool {
    STOPWORD_KEYS.binary_search(&key).is_ok()
}

/// [`STOPWORDS`] packed and sorted, for a binary search of numbers.
const STOPWORD_KEYS: [u64; STOPWORDS.len()] = sorted_keys();

const fn sorted_keys() -> [u64; STOPWORDS.len()] {
    let mut keys = [0u64; STOPWORDS.len()];
    let mut i = 0;
    while i < keys.len() {
        // Insertion sort: `sort` is not available in a constant.
        let key = pack_word(STOPWORDS[i].as_bytes());
        let mut j = i;
        while j > 0 && keys[j - 1] > key {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = key;
        i += 1;
    }
    keys
}

/// Common English function words: prose is dense with them; menus, captions and credits are
/// not. All are 1 to 7 ASCII letters long.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "between", "both", "but", "by", "can",
    "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no",
    "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out",
    "over", "own", "said", "same", "says", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{blocks, normalize};
    use proptest::prelude::*;

    fn line(t: &str) -> Line {
        Line::new(t, blocks(t)[0])
    }

    #[test]
    fn stopwords_are_the_listed_words() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(STOPWORDS.iter().all(|w| is_stopword(w)));
        for w in ["menu", "share", "azerbaijan", "", "thee", "theirs"] {
            assert_eq!(is_stopword(w), STOPWORDS.contains(&w), "{w}");
        }
    }

    #[test]
    fn shape_of_prose_and_menus() {
        let prose = line("Voters must register by Friday, the clerk said.");
        assert_eq!(prose.words, 8);
        assert!(prose.terminal);
        assert!(prose.stopword_share > 0.2);
        let menu = line("Weight Loss");
        assert!(!menu.terminal);
        assert_eq!(menu.stopword_share, 0.0);
        assert!(line("He said “no.”").terminal);
        assert_eq!(line("Read more: ").core(), "read more");
        assert_eq!(line("• Share ›").core(), "share");
        assert_eq!(line("READ MORE ↓").core(), "read more");
    }

    #[test]
    fn maps_back_to_original_bytes() {
        let t = "  Ａ’s  date 2022";
        let l = line(t);
        assert_eq!(l.norm, "a's date 2022");
        let at = l.norm.find("date").unwrap();
        assert_eq!(
            &t[l.original_start(t, at)..l.original_end(t, at + 4)],
            "date"
        );
        assert_eq!(&t[l.original_start(t, 0)..l.original_end(t, 1)], "Ａ");
        assert_eq!(l.original_end(t, l.norm.len()), t.len());
    }

    /// The general path of [`normalize_line`] (with the map back to the original), the oracle of
    /// the fast paths.
    fn normalized_with_map(s: &str) -> String {
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        normalize_line(s, 0, s.len(), Some((&mut starts, &mut ends)))
    }

    proptest! {
        #[test]
        fn ascii_fast_path_agrees(s in "[ -~\t\u{0B}\u{0C}\r]{0,40}") {
            prop_assert_eq!(normalize_ascii(&s, "stale text".into()), normalized_with_map(&s));
        }

        #[test]
        fn single_spaced_ascii_agrees(s in "( ?[a-zA-Z0-9.,'-]{1,6}){0,8} ?") {
            prop_assert_eq!(normalize_ascii(&s, "stale text".into()), normalized_with_map(&s));
            let mixed = format!("é{s}é");
            prop_assert_eq!(normalize_unmapped(&mixed, "stale text".into()), normalized_with_map(&mixed));
        }

        #[test]
        fn unmapped_path_agrees(s in "(\\PC|[\u{300}-\u{36F}\u{1100}-\u{11FF}\u{AC00}-\u{AC20}\u{FB00}-\u{FB06}\u{FF01}-\u{FF5E}\u{2000}-\u{2070}ÅåÉéİı\t\u{0B}\u{0C}\r\u{85}\u{A0}\u{A8}\u{200B}\u{2028}\u{3000} ]){0,40}") {
            prop_assert_eq!(normalize_unmapped(&s, String::new()), normalized_with_map(&s));
        }

        #[test]
        fn packed_lookup_is_list_membership(w in "(the|thee|[a-z]{1,9}|[a-zé_0-9]{0,9}|their|theirs|a)") {
            prop_assert_eq!(is_stopword(&w), STOPWORDS.contains(&w.as_str()));
        }

        #[test]
        fn ascii_word_count_agrees(words in proptest::collection::vec("(the|of|a|x_1|said|Word|between|42|[a-z]{1,9})", 0..12), seps in "[ ,.;:!?'\"()-]{1,3}") {
            let s = words.join(&seps).to_lowercase();
            let mut words = 0;
            let mut stops = 0;
            for w in s.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|w| !w.is_empty()) {
                words += 1;
                stops += usize::from(STOPWORDS.contains(&w));
            }
            prop_assert_eq!(count_words_ascii(&s), (words, stops));
        }

        #[test]
        fn same_normal_form_as_text_normalize(s in "[a-zA-Z0-9 ’“”—\u{00A0}\t.,é]{0,30}") {
            let s = s.replace('\n', " ");
            let (mut starts, mut ends) = (Vec::new(), Vec::new());
            let norm = normalize_line(&s, 0, s.len(), Some((&mut starts, &mut ends)));
            prop_assert_eq!(&norm, &normalize_line(&s, 0, s.len(), None));
            prop_assert_eq!(&norm, &normalize(&s));
            prop_assert_eq!(starts.len(), norm.len());
            prop_assert!(ends.iter().all(|&e| e as usize <= s.len()));
        }
    }
}
