//! Matching rules against one document: a first pass with the rules that look at a line alone,
//! the main-content region, a second pass with the rules that look at neighbours and the region,
//! then repeats inside the document. The result is compact: spans, reasons, metadata, and hashes
//! of the short lines that the resolve step counts over the corpus.

use std::collections::HashSet;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::candidates::RuleMarks;
use super::content::{main_regions, RegionParams, Taken};
use super::line::Line;
use super::rules::{Action, Region, Rule, RuleSet};
use crate::decision::{Reason, Removal};
use crate::text::Block;

/// Seed of the line hashes (fixed, so hashes are the same on every run and machine).
pub const LINE_HASH_SEED: u64 = 0x676c_6561_6e65_7231;

/// The hash of a line's normal form, trailing punctuation aside.
pub fn line_hash(line: &Line) -> u64 {
    xxh3_64_with_seed(line.core().as_bytes(), LINE_HASH_SEED)
}

/// A short line that the resolve step may remove as repeated (16 bytes: scans of large corpora
/// keep one per short line).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShortLine {
    pub hash: u64,
    /// Byte span of the line in the original text.
    pub start: u32,
    pub end: u32,
}

/// What the scan step keeps about one document.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DocFacts {
    pub removals: Vec<Removal>,
    pub metadata: Vec<(String, String)>,
    /// Short lines still in the text.
    pub short_lines: Vec<ShortLine>,
    /// Hashes of short lines already removed for another reason: counted, not removed twice.
    pub removed_short_lines: Vec<u64>,
}

impl DocFacts {
    /// The distinct hashes of the document's short lines, kept or removed, into `out` (cleared
    /// first): a line counts once per document toward the repeated-line threshold.
    pub fn distinct_line_hashes(&self, out: &mut Vec<u64>) {
        out.clear();
        out.extend(self.short_lines.iter().map(|l| l.hash));
        out.extend(self.removed_short_lines.iter().copied());
        out.sort_unstable();
        out.dedup();
    }
}

/// Settings of the per-document pass.
#[derive(Debug, Clone, Copy)]
pub struct EngineParams {
    pub region: RegionParams,
    /// A later copy of a line with at least this many words goes (0: never).
    pub in_doc_repeat_min_words: usize,
    /// Lines with at most this many words are counted for `repeated-line`.
    pub repeated_max_words: usize,
    /// Short lines that read as sentences are never `repeated-line`.
    pub repeated_keep_sentences: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// The whole line goes, by rule `usize`.
    Line(usize),
    /// The line's start goes up to this original byte offset, by rule `usize`.
    Prefix(usize, usize),
}

/// Per-document matching state.
struct Doc<'a> {
    text: &'a str,
    lines: Vec<Line>,
    /// The rules each line can trigger by its phrases and regex literals.
    marks: RuleMarks,
    verdicts: Vec<Option<Verdict>>,
    /// Stretches of main content, sorted and disjoint.
    regions: Vec<(usize, usize)>,
    /// For each `max-words` of a `short-run` rule: the length of the run of short lines each
    /// line belongs to (0 for a line that is not short).
    short_runs: Vec<(usize, Vec<u32>)>,
}

/// Judges every non-blank line of `text` (whose lines are `blocks`) with the enabled rules, the
/// main-content region and in-document repeats.
pub fn scan(rules: &RuleSet, params: &EngineParams, text: &str, blocks: &[Block]) -> DocFacts {
    // The lines' normal forms go into strings the thread keeps from document to document: a
    // document has dozens of lines, and each would be an allocation and a free.
    let mut spare = SPARE_NORMS.take();
    let mut lines: Vec<Line> = Vec::with_capacity(blocks.len());
    lines.extend(
        blocks
            .iter()
            .copied()
            .filter(|b| !b.is_blank(text))
            .map(|b| Line::new_in(text, b, spare.pop().unwrap_or_default())),
    );
    let marks = RuleMarks::new(&rules.candidates, &lines, rules.rules.len());
    let mut short_runs: Vec<(usize, Vec<u32>)> = Vec::new();
    for rule in rules.rules.iter().filter(|r| r.enabled) {
        if let (Some(_), Some(max_words)) = (rule.spec.short_run, rule.spec.max_words) {
            if !short_runs.iter().any(|(m, _)| *m == max_words) {
                short_runs.push((max_words, run_lengths(&lines, max_words)));
            }
        }
    }
    let mut doc = Doc {
        text,
        verdicts: vec![None; lines.len()],
        lines,
        marks,
        regions: Vec::new(),
        short_runs,
    };
    // Pass 1: rules that judge a line alone.
    for i in 0..doc.lines.len() {
        if doc.verdicts[i].is_none() {
            doc.judge(rules, i, false);
        }
    }
    let taken: Vec<Taken> = doc
        .verdicts
        .iter()
        .map(|v| match v {
            Some(Verdict::Line(r)) if rules.rules[*r].spec.edge => Taken::Edge,
            Some(Verdict::Line(_)) => Taken::Inline,
            _ => Taken::No,
        })
        .collect();
    doc.regions = main_regions(&doc.lines, &taken, &params.region);
    // Pass 2: rules that look at the region and the neighbours, until nothing changes. Each
    // round sweeps forward and back, so a run of boilerplate spreads in one round whichever end
    // it starts from; a round that changes nothing ends the loop.
    loop {
        let mut changed = false;
        let n = doc.lines.len();
        for i in (0..n).chain((0..n).rev()) {
            if doc.verdicts[i].is_none() && doc.judge(rules, i, true) {
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let facts = doc.facts(rules, params);
    spare.extend(doc.lines.into_iter().map(|l| l.norm));
    SPARE_NORMS.set(spare);
    facts
}

thread_local! {
    /// Strings of normal forms that [`scan`] used, to be used again.
    static SPARE_NORMS: std::cell::Cell<Vec<String>> = const { std::cell::Cell::new(Vec::new()) };
}

/// For each line, the length of the run of consecutive short lines (at most `max_words` words, no
/// sentence punctuation) it belongs to; 0 for a line that is not short.
fn run_lengths(lines: &[Line], max_words: usize) -> Vec<u32> {
    let short = |l: &Line| l.words <= max_words && !l.terminal;
    let mut lens = vec![0u32; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let n = lines[i..].iter().take_while(|l| short(l)).count();
        for len in &mut lens[i..i + n] {
            *len = u32::try_from(n).unwrap_or(u32::MAX);
        }
        i += n.max(1);
    }
    lens
}

impl Doc<'_> {
    /// Tries every enabled rule of the pass on line `i`; the first that matches decides.
    fn judge(&mut self, rules: &RuleSet, i: usize, contextual: bool) -> bool {
        for r in rules.pass_for_line(contextual, &self.marks, i) {
            let rule = &rules.rules[r];
            if !self.shape_matches(rule, i) {
                continue;
            }
            if rule
                .regex
                .as_ref()
                .is_some_and(|re| !re.is_match(&self.lines[i].norm))
            {
                continue;
            }
            match rule.spec.remove {
                Action::Line => self.verdicts[i] = Some(Verdict::Line(r)),
                Action::LineAndNext => {
                    self.verdicts[i] = Some(Verdict::Line(r));
                    if let Some(next) = self.lines.get(i + 1) {
                        let takes = rule
                            .next_regex
                            .as_ref()
                            .is_none_or(|re| re.is_match(&next.norm));
                        if takes && self.verdicts[i + 1].is_none() {
                            self.verdicts[i + 1] = Some(Verdict::Line(r));
                        }
                    }
                }
                Action::Prefix => {
                    let line = &self.lines[i];
                    let re = rule.regex.as_ref().expect("prefix rules have a regex");
                    let Some(m) = re
                        .find(&line.norm)
                        .filter(|m| m.start() == 0 && m.end() > 0)
                    else {
                        continue;
                    };
                    let mut end = line.original_end(self.text, m.end());
                    let rest = &self.text[end..line.block.end];
                    end += rest.len() - rest.trim_start().len();
                    self.verdicts[i] = Some(if end >= line.block.end {
                        Verdict::Line(r)
                    } else {
                        Verdict::Prefix(r, end)
                    });
                }
            }
            return true;
        }
        false
    }

    fn shape_matches(&self, rule: &Rule, i: usize) -> bool {
        let s = &rule.spec;
        let line = &self.lines[i];
        let n = self.lines.len();
        if s.min_words.is_some_and(|m| line.words < m)
            || s.max_words.is_some_and(|m| line.words > m)
            || s.terminal.is_some_and(|t| line.terminal != t)
            || s.max_stopword_share
                .is_some_and(|m| line.stopword_share > m)
            || s.first_lines.is_some_and(|k| i >= k)
            || s.last_lines.is_some_and(|k| n - i > k)
        {
            return false;
        }
        if let Some(region) = s.region {
            let (Some(&(first, _)), Some(&(_, last))) = (self.regions.first(), self.regions.last())
            else {
                return false;
            };
            // The last stretch starting at or before `i` (they are sorted and disjoint).
            let k = self.regions.partition_point(|&(a, _)| a <= i);
            let inside = k > 0 && self.regions[k - 1].1 >= i;
            let ok = match region {
                Region::Before => i < first,
                Region::After => i > last,
                Region::Between => !inside && i > first && i < last,
                Region::Outside => !inside,
                Region::Inside => inside,
            };
            if !ok {
                return false;
            }
        }
        if s.next_to_boilerplate {
            let gone = |j: usize| matches!(self.verdicts.get(j), Some(Some(Verdict::Line(_))));
            if !((i > 0 && gone(i - 1)) || gone(i + 1)) {
                return false;
            }
        }
        if let (Some(min_run), Some(max_words)) = (s.short_run, s.max_words) {
            let runs = self.short_runs.iter().find(|(m, _)| *m == max_words);
            let len = runs.map_or(0, |(_, runs)| runs[i] as usize);
            if len < min_run {
                return false;
            }
        }
        true
    }

    /// The metadata value a rule captured on line `i`: group `value` if the regex has one,
    /// else the matched text, in the original spelling.
    fn meta_value(&self, rule: &Rule, i: usize) -> String {
        let line = &self.lines[i];
        let span = rule.regex.as_ref().and_then(|re| {
            let caps = re.captures(&line.norm)?;
            let m = caps.name("value").or_else(|| caps.get(0))?;
            Some((m.start(), m.end()))
        });
        let (from, to) = match span {
            Some((s, e)) => (
                line.original_start(self.text, s),
                line.original_end(self.text, e),
            ),
            None => (line.block.start, line.block.end),
        };
        self.text[from..to.max(from)].trim().to_string()
    }

    fn facts(&self, rules: &RuleSet, params: &EngineParams) -> DocFacts {
        let mut facts = DocFacts::default();
        let mut seen_meta: HashSet<Arc<str>> = HashSet::new();
        for (i, verdict) in self.verdicts.iter().enumerate() {
            let Some(verdict) = *verdict else { continue };
            let (r, end) = match verdict {
                Verdict::Line(r) => (r, self.lines[i].block.end),
                Verdict::Prefix(r, end) => (r, end),
            };
            let rule = &rules.rules[r];
            let reason = match &rule.meta {
                Some(field) => {
                    if seen_meta.insert(field.clone()) {
                        let value = self.meta_value(rule, i);
                        if !value.is_empty() {
                            facts.metadata.push((field.to_string(), value));
                        }
                    }
                    Reason::Meta(field.clone())
                }
                None => Reason::Rule(rule.id.clone()),
            };
            facts.removals.push(Removal {
                start: self.lines[i].block.start,
                end,
                reason,
            });
        }
        let repeats = self.in_doc_repeats(params);
        for (i, line) in self.lines.iter().enumerate() {
            let whole_gone = matches!(self.verdicts[i], Some(Verdict::Line(_)));
            let mut removed = whole_gone;
            if !whole_gone && repeats.binary_search(&i).is_ok() {
                let start = match self.verdicts[i] {
                    Some(Verdict::Prefix(_, end)) => end,
                    _ => line.block.start,
                };
                facts.removals.push(Removal {
                    start,
                    end: line.block.end,
                    reason: Reason::InDocRepeat,
                });
                removed = true;
            }
            // "He declined to comment." recurs across a news corpus and is still content.
            let sentence = params.repeated_keep_sentences
                && line.terminal
                && line.words >= 3
                && line.stopword_share >= params.region.min_stopword_share;
            if line.words > 0 && line.words <= params.repeated_max_words && !sentence {
                removed |= self.verdicts[i].is_some();
                let hash = line_hash(line);
                // Lines past 4 GiB into a text are counted but never removed as repeated.
                let span = u32::try_from(line.block.start)
                    .and_then(|s| Ok((s, u32::try_from(line.block.end)?)));
                match span {
                    Ok((start, end)) if !removed => {
                        facts.short_lines.push(ShortLine { hash, start, end })
                    }
                    _ => facts.removed_short_lines.push(hash),
                }
            }
        }
        facts.removals.sort_by_key(|r| (r.start, r.end));
        facts
    }

    /// The lines, in order, that repeat an earlier line of the document word for word: of the
    /// lines not removed whole and long enough to count, all but the first of each normal form.
    /// Sorted by hash rather than put in a hash set: one allocation, no rehashing.
    fn in_doc_repeats(&self, params: &EngineParams) -> Vec<usize> {
        if params.in_doc_repeat_min_words == 0 {
            return Vec::new();
        }
        // Room for every line at once: a filtered collect would grow the list several times.
        let mut keyed: Vec<(u64, usize)> = Vec::with_capacity(self.lines.len());
        keyed.extend(
            self.lines
                .iter()
                .enumerate()
                .filter(|&(i, line)| {
                    !matches!(self.verdicts[i], Some(Verdict::Line(_)))
                        && line.words >= params.in_doc_repeat_min_words
                })
                .map(|(i, line)| (xxh3_64_with_seed(line.norm.as_bytes(), LINE_HASH_SEED), i)),
        );
        keyed.sort_unstable();
        let mut repeats: Vec<usize> = keyed
            .chunk_by(|a, b| a.0 == b.0)
            .flat_map(|run| run[1..].iter().map(|&(_, i)| i))
            .collect();
        repeats.sort_unstable();
        repeats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::blocks;

    #[test]
    fn run_lengths_cover_whole_runs_of_short_lines() {
        let text = "Home\nNews\nA sentence here.\nSport\nWeather\nCulture\nOne two three four";
        let lines: Vec<Line> = blocks(text)
            .into_iter()
            .map(|b| Line::new(text, b))
            .collect();
        assert_eq!(run_lengths(&lines, 3), [2, 2, 0, 3, 3, 3, 0]);
        assert_eq!(run_lengths(&lines, 4), [2, 2, 0, 4, 4, 4, 4]);
        assert!(run_lengths(&[], 3).is_empty());
    }
}
