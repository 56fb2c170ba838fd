//! The literals a rule's regex cannot match without: when a line contains none of them, the
//! regex need not run. Most lines of a page are prose that no rule's regex matches, and one
//! automaton over every rule's literals settles most of them in one pass over the line.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};

/// Literals one of which every match of `pattern` contains; `None` when the pattern has no such
/// set (a match may be any text) or does not parse.
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    required(&hir)
}

/// Every match of `hir` contains one of the returned literals.
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Capture(group) => required(&group.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for branch in branches {
                all.extend(required(branch)?);
            }
            Some(minimal(all))
        }
        // A match of a sequence holds a match of each part, and of each tail of the parts:
        // take the most selective of those.
        HirKind::Concat(parts) => (0..parts.len())
            .flat_map(|i| {
                [
                    prefix_literals(&Hir::concat(parts[i..].to_vec())),
                    required(&parts[i]),
                ]
            })
            .flatten()
            .max_by_key(|set| selectivity(set)),
        _ => prefix_literals(hir),
    }
}

/// The literals every match of `hir` starts with, when there are finitely many and none is empty.
fn prefix_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(minimal(
        literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
    ))
}

/// Literals longer than this are cut to it: a line holding a literal holds its start, and the
/// search of a long line splits in two with an overlap of the longest pattern.
const MAX_LITERAL_LEN: usize = 16;

/// `set` cut to [`MAX_LITERAL_LEN`], without duplicates and without literals that contain another
/// one of the set (a line holding them holds the other).
fn minimal(set: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut cut: Vec<Vec<u8>> = set
        .into_iter()
        .map(|mut l| {
            l.truncate(MAX_LITERAL_LEN);
            l
        })
        .collect();
    cut.sort_by_key(Vec::len);
    cut.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for literal in cut {
        if !kept.iter().any(|k| contains(&literal, k)) {
            kept.push(literal);
        }
    }
    kept
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Longer shortest literals are rarer in text; fewer literals are rarer still.
fn selectivity(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;

    fn strings(set: Option<Vec<Vec<u8>>>) -> Option<Vec<String>> {
        set.map(|s| {
            s.into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn finds_literals_inside_sequences_and_branches() {
        assert_eq!(strings(required_literals("^abc")), Some(vec!["abc".into()]));
        let got = strings(required_literals(r"^\d+ (?:cats|dogs)$")).unwrap();
        assert!(
            got.iter().all(|l| l.contains("cats") || l.contains("dogs")),
            "{got:?}"
        );
        assert_eq!(required_literals(r"^.*$"), None);
        assert_eq!(required_literals(r"\d+|abc"), None);
        assert_eq!(required_literals(r"(?:abc)?"), None);
        assert_eq!(required_literals("("), None);
    }

    /// Patterns shaped like the rules': anchors, classes, optional parts, branches, repeats.
    fn pattern() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            "[a-d]{1,3}",
            Just(r"\d".to_string()),
            Just(r"\s*".to_string()),
            Just(r"\b".to_string()),
            Just(".".to_string()),
            Just("[^ab]".to_string()),
            Just("é".to_string()),
            Just(" ".to_string()),
        ];
        let piece = atom.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                proptest::collection::vec(inner.clone(), 2..4)
                    .prop_map(|v| format!("(?:{})", v.join("|"))),
                (
                    inner.clone(),
                    prop_oneof![Just("?"), Just("*"), Just("+"), Just("{2}")]
                )
                    .prop_map(|(p, q)| format!("(?:{p}){q}")),
            ]
        });
        (any::<bool>(), piece, any::<bool>()).prop_map(|(start, p, end)| {
            format!(
                "{}{p}{}",
                if start { "^" } else { "" },
                if end { "$" } else { "" }
            )
        })
    }

    proptest! {
        #[test]
        fn a_line_without_the_literals_never_matches(
            pattern in pattern(),
            lines in proptest::collection::vec("[a-e1 .é]{0,12}", 1..20),
        ) {
            let re = Regex::new(&pattern).unwrap();
            if let Some(set) = required_literals(&pattern) {
                for line in &lines {
                    let present = set.iter().any(|l| {
                        line.as_bytes().windows(l.len()).any(|w| w == l.as_slice())
                    });
                    prop_assert!(present || !re.is_match(line), "{pattern} {line:?} {set:?}");
                }
            }
        }
    }
}
