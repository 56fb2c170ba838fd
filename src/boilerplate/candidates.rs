//! Which rules a line can trigger at all, found in one pass over the line: the rules whose phrase
//! sits in the line as the rule requires, and the rules whose regex finds one of the literals it
//! cannot match without. Every other rule with phrases or such literals is skipped for the line.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, BuildError, MatchKind};

use super::line::Line;
use super::literals::required_literals;
use super::rules::{PhraseMatch, Rule};

/// What a pattern of the automaton stands for.
#[derive(Debug, Clone, Copy)]
enum Needle {
    /// A `start` or `anywhere` phrase of rule `usize`.
    Phrase(usize, PhraseMatch),
    /// A literal that rule `usize`'s regex needs.
    Literal(usize),
}

/// The enabled rules' phrases and regex literals, compiled for [`Candidates::mark`].
#[derive(Debug)]
pub struct Candidates {
    /// `whole` phrases (a line is one phrase, so a map lookup settles it), with their rules.
    whole: HashMap<String, Vec<usize>>,
    longest_whole: usize,
    /// The other phrases and the regex literals; pattern `i` is `needles[i]`.
    automaton: Option<AhoCorasick>,
    needles: Vec<Needle>,
    /// For each rule: it can only match a line that [`Candidates::mark`] marks for it.
    needs_mark: Vec<bool>,
    /// The most words a line may have for a rule with patterns in the automaton to take it:
    /// longer lines (paragraphs of prose) need no search.
    automaton_max_words: usize,
}

impl Candidates {
    /// Compiles the phrases and regex literals of the enabled `rules`.
    pub fn new(rules: &[Rule]) -> Result<Self, BuildError> {
        let mut whole: HashMap<String, Vec<usize>> = HashMap::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut needles = Vec::new();
        let mut needs_mark = vec![false; rules.len()];
        let mut automaton_max_words = 0;
        for (r, rule) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            let how = rule.spec.phrase_match;
            for p in &rule.phrases {
                if how == PhraseMatch::Whole {
                    let owners = whole.entry(p.clone()).or_default();
                    if owners.last() != Some(&r) {
                        owners.push(r);
                    }
                } else {
                    patterns.push(p.as_bytes().to_vec());
                    needles.push(Needle::Phrase(r, how));
                }
            }
            needs_mark[r] = !rule.phrases.is_empty();
            let literals = rule.spec.regex.as_deref().and_then(required_literals);
            if let Some(literals) = literals {
                needs_mark[r] = true;
                needles.extend(literals.iter().map(|_| Needle::Literal(r)));
                patterns.extend(literals);
            }
        }
        for needle in &needles {
            let (Needle::Phrase(r, _) | Needle::Literal(r)) = *needle;
            let max_words = rules[r].spec.max_words.unwrap_or(usize::MAX);
            automaton_max_words = automaton_max_words.max(max_words);
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            // A DFA: the pattern list is small and every line is searched (overlapping).
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&patterns)?,
            )
        };
        Ok(Candidates {
            longest_whole: whole.keys().map(String::len).max().unwrap_or(0),
            whole,
            automaton,
            needles,
            needs_mark,
            automaton_max_words,
        })
    }

    /// Whether rule `r` can only match the lines [`Candidates::mark`] marks for it.
    pub fn needs_mark(&self, r: usize) -> bool {
        self.needs_mark[r]
    }

    /// Calls `mark` with each rule that `line` may trigger (a rule may come more than once).
    pub fn mark(&self, line: &Line, mut mark: impl FnMut(usize)) {
        let core = line.core();
        if core.len() <= self.longest_whole {
            for &r in self.whole.get(core).into_iter().flatten() {
                mark(r);
            }
        }
        let Some(automaton) = &self.automaton else {
            return;
        };
        if line.words > self.automaton_max_words {
            return;
        }
        // `core` is a slice of `norm`: where it starts and ends there.
        let core_start = core.as_ptr() as usize - line.norm.as_ptr() as usize;
        let core_end = core_start + core.len();
        for m in automaton.find_overlapping_iter(line.norm.as_str()) {
            match self.needles[m.pattern().as_usize()] {
                Needle::Literal(r) => mark(r),
                Needle::Phrase(r, how) => {
                    if m.start() < core_start || m.end() > core_end {
                        continue;
                    }
                    let (start, end) = (m.start() - core_start, m.end() - core_start);
                    let sits = match how {
                        PhraseMatch::Whole => start == 0 && end == core.len(),
                        PhraseMatch::Start => start == 0 && word_edge(core, end),
                        PhraseMatch::Anywhere => word_edge(core, start) && word_edge(core, end),
                    };
                    if sits {
                        mark(r);
                    }
                }
            }
        }
    }
}

/// Whether byte offset `at` of `s` lies between a word character and a non-word character (or an
/// end of the string), seen from the phrase's side.
pub fn word_edge(s: &str, at: usize) -> bool {
    let before = s[..at].chars().next_back();
    let after = s[at..].chars().next();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    !(word(before) && word(after))
}

/// One bit per line and rule: the rules [`Candidates::mark`] marked for each line.
#[derive(Debug)]
pub struct RuleMarks {
    words_per_line: usize,
    bits: Vec<u64>,
}

impl RuleMarks {
    /// The marks of `candidates` for each of `lines`, out of `rule_count` rules.
    pub fn new(candidates: &Candidates, lines: &[Line], rule_count: usize) -> Self {
        let words_per_line = rule_count.div_ceil(64);
        let mut bits = vec![0u64; words_per_line * lines.len()];
        for (line, row) in lines
            .iter()
            .zip(bits.chunks_exact_mut(words_per_line.max(1)))
        {
            candidates.mark(line, |r| row[r / 64] |= 1 << (r % 64));
        }
        RuleMarks {
            words_per_line,
            bits,
        }
    }

    /// Whether rule `r` is marked for line `i`.
    pub fn get(&self, i: usize, r: usize) -> bool {
        self.bits[i * self.words_per_line + r / 64] & (1 << (r % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boilerplate::rules::{parse_rules, RuleSet, BUILTIN_NAME};
    use crate::text::blocks;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const EXTRA: &str = r#"
[[rule]]
id = "anywhere-test"
family = "test"
phrases = ["read more", "a", "photo"]
phrase-match = "anywhere"
"#;

    /// The built-in rules and a rule with `anywhere` phrases, compiled once for all cases.
    fn rule_set() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        SET.get_or_init(|| {
            let mut rules = parse_rules(BUILTIN_NAME, RuleSet::builtin_source()).unwrap();
            rules.extend(parse_rules("extra.toml", EXTRA).unwrap());
            RuleSet::from_rules(rules, &[]).unwrap()
        })
    }

    /// The rules whose phrases sit in `core` as required, by trying every phrase at every
    /// position.
    fn phrase_hits_by_trying(rules: &[Rule], core: &str) -> Vec<usize> {
        let mut hits = Vec::new();
        for (r, rule) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            let sits = rule.phrases.iter().any(|p| {
                (0..=core.len()).any(|start| {
                    let end = start + p.len();
                    core.is_char_boundary(start)
                        && core[start..].starts_with(p.as_str())
                        && match rule.spec.phrase_match {
                            PhraseMatch::Whole => start == 0 && end == core.len(),
                            PhraseMatch::Start => start == 0 && word_edge(core, end),
                            PhraseMatch::Anywhere => word_edge(core, start) && word_edge(core, end),
                        }
                })
            });
            if sits {
                hits.push(r);
            }
        }
        hits
    }

    fn marked(set: &RuleSet, line: &Line) -> Vec<usize> {
        let mut marks = vec![false; set.rules.len()];
        set.candidates.mark(line, |r| marks[r] = true);
        (0..marks.len()).filter(|&r| marks[r]).collect()
    }

    /// Lines built from phrases, literals of the rules, words and punctuation.
    fn line_text() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("Read more"),
            Just("share"),
            Just("photo"),
            Just("(AP Photo/Jane Doe)"),
            Just("sign in"),
            Just("follow us on"),
            Just("©"),
            Just("2024"),
            Just("said"),
            Just("the"),
            Just("a"),
            Just("x"),
            Just("Sponsored by"),
            Just("Getty Images"),
            Just("we use cookies"),
            Just("comments"),
            Just("•"),
            Just("›"),
            Just(":"),
            Just("..."),
            Just("’"),
            Just("é"),
            Just("pic.twitter.com/abc"),
            Just("by"),
            Just("updated"),
            Just("Jan 5, 2024"),
            Just("photos"),
            Just("reading"),
        ];
        let sep = prop_oneof![Just(" "), Just(""), Just(": "), Just(", "), Just("  ")];
        proptest::collection::vec((token, sep), 1..8)
            .prop_map(|parts| parts.into_iter().flat_map(|(t, s)| [t, s]).collect())
    }

    proptest! {
        #[test]
        fn marks_the_phrase_rules_that_trying_every_phrase_finds(text in line_text()) {
            let set = rule_set();
            prop_assume!(!text.trim().is_empty());
            let line = Line::new(&text, blocks(&text)[0]);
            let phrase_marks: Vec<usize> = marked(set, &line)
                .into_iter()
                .filter(|&r| !set.rules[r].phrases.is_empty())
                .collect();
            prop_assert_eq!(phrase_marks, phrase_hits_by_trying(&set.rules, line.core()));
        }

        #[test]
        fn marks_every_regex_rule_that_matches(text in line_text()) {
            let set = rule_set();
            prop_assume!(!text.trim().is_empty());
            let line = Line::new(&text, blocks(&text)[0]);
            let marks = marked(set, &line);
            for (r, rule) in set.rules.iter().enumerate() {
                let matches = rule.regex.as_ref().is_some_and(|re| re.is_match(&line.norm));
                prop_assert!(
                    !matches || !set.candidates.needs_mark(r) || marks.contains(&r),
                    "{} {:?}", rule.id, line.norm
                );
            }
        }
    }
}
