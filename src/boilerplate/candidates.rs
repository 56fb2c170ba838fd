//! Which rules a line can trigger at all, found in one pass over the line: the rules whose phrase
//! sits in the line as the rule requires, and the rules whose regex finds one of the literals it
//! cannot match without. Every other rule with phrases or such literals is skipped for the line.

use std::collections::HashMap;

use rayon::prelude::*;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, BuildError, MatchKind, PatternID};

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
    automaton: Option<DFA>,
    needles: Vec<Needle>,
    /// For each rule: it can only match a line that [`Candidates::mark`] marks for it.
    needs_mark: Vec<bool>,
    /// Where in a document, and how long, a line may be for a rule with patterns in the
    /// automaton to take it: other lines (paragraphs of prose, mostly) need no search.
    automaton_reach: Vec<Reach>,
}

/// The lines a rule's shape admits as far as the automaton's search is concerned: at most
/// `max_words` words, among the first `first_lines` and the last `last_lines` lines of the
/// document (each unbounded when the rule sets none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reach {
    max_words: usize,
    first_lines: usize,
    last_lines: usize,
}

impl Reach {
    fn admits(&self, line: &Line, i: usize, n: usize) -> bool {
        line.words <= self.max_words && i < self.first_lines && n - i <= self.last_lines
    }
}

impl Candidates {
    /// Compiles the phrases and regex literals of the enabled `rules`.
    pub fn new(rules: &[Rule]) -> Result<Self, BuildError> {
        let mut whole: HashMap<String, Vec<usize>> = HashMap::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut needles = Vec::new();
        let mut needs_mark = vec![false; rules.len()];
        let mut automaton_reach: Vec<Reach> = Vec::new();
        // Finding a regex's literals parses it again: on the worker threads.
        let mut literals: Vec<Option<Vec<Vec<u8>>>> = rules
            .par_iter()
            .map(|rule| {
                let regex = rule.spec.regex.as_deref().filter(|_| rule.enabled);
                regex.and_then(required_literals)
            })
            .collect();
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
            if let Some(literals) = literals[r].take() {
                needs_mark[r] = true;
                needles.extend(literals.iter().map(|_| Needle::Literal(r)));
                patterns.extend(literals);
            }
        }
        for needle in &needles {
            let (Needle::Phrase(r, _) | Needle::Literal(r)) = *needle;
            let spec = &rules[r].spec;
            let reach = Reach {
                max_words: spec.max_words.unwrap_or(usize::MAX),
                first_lines: spec.first_lines.unwrap_or(usize::MAX),
                last_lines: spec.last_lines.unwrap_or(usize::MAX),
            };
            if !automaton_reach.contains(&reach) {
                automaton_reach.push(reach);
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            // A DFA walked by `each_match`: no prefilter, so only match states are special.
            Some(
                DFA::builder()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&patterns)?,
            )
        };
        Ok(Candidates {
            longest_whole: whole.keys().map(String::len).max().unwrap_or(0),
            whole,
            automaton,
            needles,
            needs_mark,
            automaton_reach,
        })
    }

    /// Whether rule `r` can only match the lines [`Candidates::mark`] marks for it.
    pub fn needs_mark(&self, r: usize) -> bool {
        self.needs_mark[r]
    }

    /// Calls `mark(i, r)` for each rule `r` that `lines[i]` may trigger (a rule may come more
    /// than once).
    pub fn mark(&self, lines: &[Line], mut mark: impl FnMut(usize, usize)) {
        for (i, line) in lines.iter().enumerate() {
            let core = line.core();
            if core.len() <= self.longest_whole {
                for &r in self.whole.get(core).into_iter().flatten() {
                    mark(i, r);
                }
            }
        }
        let Some(automaton) = &self.automaton else {
            return;
        };
        let n = lines.len();
        let mut searched: Vec<usize> = Vec::with_capacity(n);
        searched.extend((0..n).filter(|&i| {
            self.automaton_reach
                .iter()
                .any(|r| r.admits(&lines[i], i, n))
        }));
        let haystacks: Vec<&[u8]> = searched.iter().map(|&i| lines[i].norm.as_bytes()).collect();
        each_match_in_halves(automaton, &haystacks, |k, pattern, end| {
            let i = searched[k];
            let start = end - automaton.pattern_len(pattern);
            if let Some(r) = self.rule_of_match(&lines[i], pattern, start, end) {
                mark(i, r);
            }
        });
    }

    /// The rule that pattern `pattern`, found at `start..end` of `line.norm`, speaks for, if
    /// it sits as the rule requires.
    fn rule_of_match(
        &self,
        line: &Line,
        pattern: PatternID,
        start: usize,
        end: usize,
    ) -> Option<usize> {
        let (r, how) = match self.needles[pattern.as_usize()] {
            Needle::Literal(r) => return Some(r),
            Needle::Phrase(r, how) => (r, how),
        };
        let core = line.core();
        // `core` is a slice of `norm`: where it starts there.
        let core_start = core.as_ptr() as usize - line.norm.as_ptr() as usize;
        if start < core_start || end > core_start + core.len() {
            return None;
        }
        let (start, end) = (start - core_start, end - core_start);
        let sits = match how {
            PhraseMatch::Whole => start == 0 && end == core.len(),
            PhraseMatch::Start => start == 0 && word_edge(core, end),
            PhraseMatch::Anywhere => word_edge(core, start) && word_edge(core, end),
        };
        sits.then_some(r)
    }
}

/// [`each_match`] with each long haystack split in two [`Segment`]s, so that its halves are
/// walked side by side; `found` gets the haystack's index and the match's end in it.
fn each_match_in_halves(
    dfa: &DFA,
    haystacks: &[&[u8]],
    mut found: impl FnMut(usize, PatternID, usize),
) {
    let longest = dfa.max_pattern_len();
    let mut segments: Vec<Segment> = Vec::with_capacity(2 * haystacks.len());
    segments.extend(
        (0..haystacks.len())
            .flat_map(|k| Segment::halves(k, haystacks[k].len(), longest))
            .flatten(),
    );
    let pieces: Vec<&[u8]> = segments
        .iter()
        .map(|s| &haystacks[s.line][s.from..s.to])
        .collect();
    each_match(dfa, &pieces, |k, pattern, end| {
        let segment = &segments[k];
        let end = segment.from + end;
        if end > segment.reports_after {
            found(segment.line, pattern, end);
        }
    });
}

/// A stretch of haystack `line` to search: its bytes `from..to`, of which only matches ending
/// after `reports_after` count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    line: usize,
    from: usize,
    to: usize,
    reports_after: usize,
}

impl Segment {
    /// A haystack of `len` bytes as one segment, or as two about as long that [`each_match`] walks
    /// side by side: the first reports the matches ending in its part, the second starts early
    /// enough (the `longest` pattern's length before the split) to see every match ending after.
    fn halves(line: usize, len: usize, longest: usize) -> [Option<Segment>; 2] {
        let whole = Segment {
            line,
            from: 0,
            to: len,
            reports_after: 0,
        };
        if len < 3 * longest {
            return [Some(whole), None];
        }
        let split = (len + longest) / 2;
        let first = Segment { to: split, ..whole };
        let second = Segment {
            from: split + 1 - longest,
            reports_after: split,
            ..whole
        };
        [Some(first), Some(second)]
    }
}

/// Walks `dfa` over each of `haystacks` from its unanchored start, and calls
/// `found(haystack, pattern, end)` for every occurrence of every pattern (overlapping ones too).
/// Four haystacks are walked side by side: a walk is a chain of dependent table loads, and
/// independent chains overlap, so four take little more time than one.
fn each_match(dfa: &DFA, haystacks: &[&[u8]], mut found: impl FnMut(usize, PatternID, usize)) {
    let start = dfa
        .start_state(Anchored::No)
        .expect("the automaton searches unanchored");
    let mut waiting = haystacks.iter().enumerate();
    let mut lanes: [Walk; 4] = std::array::from_fn(|_| Walk::empty(start));
    loop {
        for lane in &mut lanes {
            while lane.is_done() {
                let Some((k, haystack)) = waiting.next() else {
                    break;
                };
                *lane = Walk::new(k, haystack, start);
            }
        }
        if lanes.iter().all(|l| !l.is_done()) {
            walk_four(dfa, &mut lanes, &mut found);
            continue;
        }
        // Nothing is waiting: the lanes left are walked two at a time.
        let mut left = lanes.iter_mut().filter(|l| !l.is_done());
        while let Some(a) = left.next() {
            if let Some(b) = left.next() {
                walk_both(dfa, a, b, &mut found);
                b.finish(dfa, &mut found);
            }
            a.finish(dfa, &mut found);
        }
        return;
    }
}

/// Steps the four lanes side by side until one of them is done. The states live in locals so
/// that each lane's chain of loads is all the loop waits on.
fn walk_four(dfa: &DFA, lanes: &mut [Walk; 4], found: &mut impl FnMut(usize, PatternID, usize)) {
    let n = lanes.iter().map(Walk::left).min().unwrap_or(0);
    let [a, b, c, d] = lanes;
    let mut states = [a.state, b.state, c.state, d.state];
    let bytes = a.bytes[a.at..a.at + n]
        .iter()
        .zip(&b.bytes[b.at..b.at + n])
        .zip(&c.bytes[c.at..c.at + n])
        .zip(&d.bytes[d.at..d.at + n]);
    for (j, (((&byte_a, &byte_b), &byte_c), &byte_d)) in bytes.enumerate() {
        let next = [byte_a, byte_b, byte_c, byte_d];
        for k in 0..4 {
            states[k] = dfa.next_state(Anchored::No, states[k], next[k]);
        }
        for (k, lane) in [&*a, &*b, &*c, &*d].into_iter().enumerate() {
            if dfa.is_special(states[k]) {
                report(dfa, states[k], lane.haystack, lane.at + j + 1, found);
            }
        }
    }
    for (k, lane) in [a, b, c, d].into_iter().enumerate() {
        lane.state = states[k];
        lane.at += n;
    }
}

/// Steps `a` and `b` side by side until one of them is done. The states live in locals so that
/// each lane's chain of loads is all the loop waits on.
fn walk_both(
    dfa: &DFA,
    a: &mut Walk,
    b: &mut Walk,
    found: &mut impl FnMut(usize, PatternID, usize),
) {
    let n = a.left().min(b.left());
    let (mut state_a, mut state_b) = (a.state, b.state);
    let bytes_a = &a.bytes[a.at..a.at + n];
    let bytes_b = &b.bytes[b.at..b.at + n];
    for (j, (&byte_a, &byte_b)) in bytes_a.iter().zip(bytes_b).enumerate() {
        state_a = dfa.next_state(Anchored::No, state_a, byte_a);
        state_b = dfa.next_state(Anchored::No, state_b, byte_b);
        if dfa.is_special(state_a) {
            report(dfa, state_a, a.haystack, a.at + j + 1, found);
        }
        if dfa.is_special(state_b) {
            report(dfa, state_b, b.haystack, b.at + j + 1, found);
        }
    }
    (a.state, b.state) = (state_a, state_b);
    a.at += n;
    b.at += n;
}

/// Calls `found` with each pattern that ends at `end` of `haystack`, if `state` is a match
/// state.
#[cold]
fn report(
    dfa: &DFA,
    state: StateID,
    haystack: usize,
    end: usize,
    found: &mut impl FnMut(usize, PatternID, usize),
) {
    if dfa.is_match(state) {
        for k in 0..dfa.match_len(state) {
            found(haystack, dfa.match_pattern(state, k), end);
        }
    }
}

/// One haystack being walked by [`each_match`].
struct Walk<'h> {
    haystack: usize,
    bytes: &'h [u8],
    at: usize,
    state: StateID,
}

impl<'h> Walk<'h> {
    fn new(haystack: usize, bytes: &'h [u8], start: StateID) -> Self {
        Walk {
            haystack,
            bytes,
            at: 0,
            state: start,
        }
    }

    fn empty(start: StateID) -> Self {
        Walk::new(0, &[], start)
    }

    fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// Steps to the end of the haystack.
    fn finish(&mut self, dfa: &DFA, found: &mut impl FnMut(usize, PatternID, usize)) {
        let mut state = self.state;
        for (j, &byte) in self.bytes[self.at..].iter().enumerate() {
            state = dfa.next_state(Anchored::No, state, byte);
            if dfa.is_special(state) {
                report(dfa, state, self.haystack, self.at + j + 1, found);
            }
        }
        self.state = state;
        self.at = self.bytes.len();
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
        let words_per_line = rule_count.div_ceil(64).max(1);
        let mut bits = vec![0u64; words_per_line * lines.len()];
        candidates.mark(lines, |i, r| {
            bits[i * words_per_line + r / 64] |= 1 << (r % 64);
        });
        RuleMarks {
            words_per_line,
            bits,
        }
    }

    /// The marks of line `i`, a bit per rule.
    pub fn row(&self, i: usize) -> &[u64] {
        &self.bits[i * self.words_per_line..(i + 1) * self.words_per_line]
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
        set.candidates
            .mark(std::slice::from_ref(line), |_, r| marks[r] = true);
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
        fn walking_four_halves_side_by_side_finds_every_overlapping_match(
            patterns in proptest::collection::vec("[ab]{1,5}", 1..6),
            haystacks in proptest::collection::vec("[abc]{0,60}", 0..12),
        ) {
            let dfa = DFA::builder()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(&patterns)
                .unwrap();
            let reference = aho_corasick::AhoCorasick::new(&patterns).unwrap();
            let mut expected = Vec::new();
            for (k, haystack) in haystacks.iter().enumerate() {
                for m in reference.find_overlapping_iter(haystack) {
                    expected.push((k, m.pattern().as_usize(), m.end()));
                }
            }
            let bytes: Vec<&[u8]> = haystacks.iter().map(|h| h.as_bytes()).collect();
            let mut got = Vec::new();
            each_match_in_halves(&dfa, &bytes, |k, pattern, end| {
                got.push((k, pattern.as_usize(), end));
            });
            expected.sort_unstable();
            got.sort_unstable();
            prop_assert_eq!(got, expected);
        }

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
