//! One normal form for matching and hashing: NFKC, lower case, one form for quotes, apostrophes and
//! dashes, runs of white space as one space, no white space at the ends.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Maps the many quote, apostrophe and dash characters to one form each.
pub fn unify_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{0060}'
        | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => '"',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' => '-',
        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{200B}' => ' ',
        _ => c,
    }
}

/// The normal form of one line, written into `out` (cleared first) so callers can reuse it.
pub fn normalize_into(line: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    if line.is_ascii() {
        for c in line.chars() {
            push(c.to_ascii_lowercase(), out);
        }
    } else if is_nfkc_quick(line.chars()) == IsNormalized::Yes {
        // Already in NFKC (most text is): skip the decomposition machinery.
        for c in line.chars() {
            let c = unify_char(c);
            for l in c.to_lowercase() {
                push(l, out);
            }
        }
    } else {
        for c in line.nfkc() {
            let c = unify_char(c);
            for l in c.to_lowercase() {
                push(l, out);
            }
        }
    }
}

/// The normal form of one line.
pub fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    normalize_into(line, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_quotes_dashes_and_space() {
        assert_eq!(normalize("  You’re  SUBSCRIBED\t"), "you're subscribed");
        assert_eq!(normalize("“Quote” — dash"), "\"quote\" - dash");
        assert_eq!(normalize("ﬁne\u{00A0}print"), "fine print");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn ascii_fast_path_agrees_with_full_path() {
        let s = "Hello,  World -- 'x' \"y\" 123";
        let mut slow = String::new();
        let mut pending = false;
        for c in s.nfkc().map(unify_char).flat_map(char::to_lowercase) {
            if c.is_whitespace() {
                pending = !slow.is_empty();
            } else {
                if pending {
                    slow.push(' ');
                    pending = false;
                }
                slow.push(c);
            }
        }
        assert_eq!(normalize(s), slow);
    }
}
