//! The page's main-content region: the stretch of lines that carries the most prose.
//!
//! A scraped page is navigation, then the article, then footers and related links. Each line
//! scores its word count when it reads like prose (enough words, dense in function words, not
//! already removed by a rule) and a fixed penalty otherwise; the region is the run of lines with
//! the highest total (a maximum-subarray scan). The same scan then looks at what is left on
//! either side: a stretch that scores at least `secondary_share` of the main one is content too
//! (a page of several posts, a second part after a large table). Short lines inside the stretches
//! (sub-headings, list items) stay; the lines before, between and after them are what the
//! `page-region` rules remove.

use super::line::Line;

/// What makes a line prose, and what a non-prose line costs.
#[derive(Debug, Clone, Copy)]
pub struct RegionParams {
    pub min_words: usize,
    pub min_stopword_share: f64,
    pub gap_penalty: f64,
    /// What a line that a rule removed costs: boilerplate marks the region's edges.
    pub rule_penalty: f64,
    /// A further stretch counts as content when it scores at least this share of the best one.
    pub secondary_share: f64,
}

/// Whether a line reads like prose.
pub fn is_prose(line: &Line, params: &RegionParams) -> bool {
    line.words >= params.min_words && line.stopword_share >= params.min_stopword_share
}

/// What the first pass of rules made of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// No rule took it.
    No,
    /// A rule took it (captions, ad labels, embeds: they also sit inside articles).
    Inline,
    /// An `edge` rule took it: navigation, walls, related links and comment widgets surround
    /// an article.
    Edge,
}

/// A run of this many lines of at most `MENU_WORDS` words without sentence punctuation looks like
/// a menu (the built-in `menu-run` rule uses the same shape).
const MENU_LINES: usize = 5;
const MENU_WORDS: usize = 3;

/// What a line adds to a stretch: its words when it reads as prose, a penalty otherwise.
fn score(line: &Line, taken: Taken, params: &RegionParams) -> f64 {
    match taken {
        Taken::Edge => -params.rule_penalty,
        Taken::No if is_prose(line, params) => line.words as f64,
        _ => -params.gap_penalty,
    }
}

/// A run of lines being built: first and last line, running score before and after it.
struct Stretch {
    start: usize,
    end: usize,
    low: f64,
    high: f64,
    /// The nearest earlier stretch whose `low` is below this one's.
    lower: Option<usize>,
}

/// The stretches of main content as (first, last) line indexes into `lines`, sorted and
/// disjoint; empty when the page has no prose at all. `taken[i]` says whether a rule already took
/// line `i`.
///
/// The best-scoring run of lines is the main stretch; what is left on either side is searched
/// the same way, and every run found that scores at least `secondary_share` of the main one is
/// content too. These runs are the maximal scoring subsequences of Ruzzo and Tompa (1999), found
/// here in one pass over the lines instead of one scan per run.
pub fn main_regions(lines: &[Line], taken: &[Taken], params: &RegionParams) -> Vec<(usize, usize)> {
    let scores: Vec<f64> = lines
        .iter()
        .zip(taken)
        .map(|(line, &t)| score(line, t, params))
        .collect();
    let runs = maximal_runs(&scores);
    let best = runs.iter().map(|r| r.2).fold(0.0, f64::max);
    let mut regions = Vec::new();
    for (k, &(start, end, score)) in runs.iter().enumerate() {
        if score < params.secondary_share * best {
            continue;
        }
        // Short sentences right after the last prose line ("He declined to comment.") close
        // the article; they are not footer.
        let limit = runs.get(k + 1).map_or(lines.len(), |next| next.0);
        let mut end = end;
        while end + 1 < limit && taken[end + 1] == Taken::No && is_sentence(&lines[end + 1], params)
        {
            end += 1;
        }
        regions.push((start, end));
    }
    // When no rule took a line after the last stretch and nothing there looks like a menu, the
    // page has no footer to speak of: what follows (a closing list, a table) is the article's
    // end, as in text that is already clean.
    if let Some(last) = regions.last_mut() {
        let tail = &lines[last.1 + 1..];
        let mut run = 0;
        let menu_like = tail.iter().any(|l| {
            run = if l.words <= MENU_WORDS && !l.terminal {
                run + 1
            } else {
                0
            };
            run >= MENU_LINES
        });
        if !menu_like && taken[last.1 + 1..].iter().all(|&t| t == Taken::No) {
            last.1 = lines.len() - 1;
        }
    }
    regions
}

/// The maximal scoring runs of `scores` (first, last, score), in order: the best run, then
/// recursively the best runs of what is left on either side, as long as they score above 0.
fn maximal_runs(scores: &[f64]) -> Vec<(usize, usize, f64)> {
    let mut runs: Vec<Stretch> = Vec::new();
    let mut total = 0.0;
    for (i, &score) in scores.iter().enumerate() {
        let before = total;
        total += score;
        if total <= before {
            continue;
        }
        let mut run = Stretch {
            start: i,
            end: i,
            low: before,
            high: total,
            lower: None,
        };
        loop {
            // The rightmost stretch that starts lower than this one.
            let mut j = runs.len().checked_sub(1);
            while let Some(k) = j.filter(|&k| runs[k].low >= run.low) {
                j = runs[k].lower;
            }
            match j {
                // It ends lower too: both belong to one longer stretch.
                Some(k) if runs[k].high < run.high => {
                    run.start = runs[k].start;
                    run.low = runs[k].low;
                    runs.truncate(k);
                }
                _ => {
                    run.lower = j;
                    runs.push(run);
                    break;
                }
            }
        }
    }
    runs.into_iter()
        .map(|r| (r.start, r.end, r.high - r.low))
        .collect()
}

/// A short line that still reads as a sentence: sentence punctuation and function words.
fn is_sentence(line: &Line, params: &RegionParams) -> bool {
    line.terminal && line.words >= 3 && line.stopword_share >= params.min_stopword_share
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::blocks;
    use proptest::prelude::*;

    /// The definition, run naively: the best run (maximum-subarray scan), then the same on
    /// what is left on either side.
    fn naive_runs(scores: &[f64], from: usize, to: usize, out: &mut Vec<(usize, usize, f64)>) {
        let mut best: Option<(f64, usize, usize)> = None;
        let (mut sum, mut start) = (0.0, from);
        for (i, &s) in scores.iter().enumerate().take(to).skip(from) {
            if sum <= 0.0 {
                sum = 0.0;
                start = i;
            }
            sum += s;
            if sum > 0.0 && best.is_none_or(|(b, _, _)| sum > b) {
                best = Some((sum, start, i));
            }
        }
        if let Some((score, s, e)) = best {
            naive_runs(scores, from, s, out);
            out.push((s, e, score));
            naive_runs(scores, e + 1, to, out);
        }
    }

    proptest! {
        #[test]
        fn one_pass_finds_the_runs_of_the_recursive_definition(
            scores in proptest::collection::vec(-50.0f64..30.0, 0..60)
        ) {
            let mut expected = Vec::new();
            naive_runs(&scores, 0, scores.len(), &mut expected);
            let got = maximal_runs(&scores);
            prop_assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                prop_assert_eq!((g.0, g.1), (e.0, e.1));
                prop_assert!((g.2 - e.2).abs() < 1e-6);
            }
        }
    }

    fn region(text: &str) -> Vec<(usize, usize)> {
        region_with(text, |_| Taken::No)
    }

    fn region_with(text: &str, taken: impl Fn(usize) -> Taken) -> Vec<(usize, usize)> {
        let lines: Vec<Line> = blocks(text)
            .into_iter()
            .filter(|b| !b.is_blank(text))
            .map(|b| Line::new(text, b))
            .collect();
        let taken: Vec<Taken> = (0..lines.len()).map(taken).collect();
        let params = RegionParams {
            min_words: 8,
            min_stopword_share: 0.25,
            gap_penalty: 3.0,
            rule_penalty: 10.0,
            secondary_share: 0.3,
        };
        main_regions(&lines, &taken, &params)
    }

    const PROSE: &str =
        "The council said on Monday that the new bridge would open to traffic in the spring.";

    #[test]
    fn navigation_and_footer_fall_outside() {
        let text = format!(
            "Home\nNews\nSport\nWeather\nBridge to open in spring\n{PROSE}\nMayor Jane Doe\n{PROSE}\nShare\nContact us\nPrivacy\n© 2024 Example"
        );
        // The footer's lines are what the rules take.
        let footer = |i: usize| if i >= 8 { Taken::Edge } else { Taken::No };
        assert_eq!(region_with(&text, footer), [(5, 7)]);
    }

    #[test]
    fn short_closing_sentences_stay_in_the_region() {
        let text = format!("Home\n{PROSE}\n{PROSE}\nHe declined to comment.\nIt is up to you.\nContact us\nIt is up to you.");
        let taken = |i: usize| if i == 5 { Taken::Edge } else { Taken::No };
        assert_eq!(region_with(&text, taken), [(1, 4)]);
    }

    #[test]
    fn without_a_footer_the_text_after_the_last_stretch_stays() {
        let text = format!("Home\n{PROSE}\n{PROSE}\nFlour\nSugar\nButter");
        assert_eq!(region(&text), [(1, 5)]);
        let menu = format!("Home\n{PROSE}\n{PROSE}\nNews\nSport\nWeather\nTravel\nCulture");
        assert_eq!(region(&menu), [(1, 2)]);
        let taken = |i: usize| if i == 5 { Taken::Edge } else { Taken::No };
        assert_eq!(region_with(&text, taken), [(1, 2)]);
    }

    #[test]
    fn a_page_without_prose_has_no_region() {
        assert_eq!(region("Home\nNews\nSport\nLog in"), []);
    }

    #[test]
    fn a_distant_prose_teaser_does_not_stretch_the_region() {
        let menu = "Link\n".repeat(12);
        let text = format!("{PROSE}\n{PROSE}\n{PROSE}\n{PROSE}\n{menu}{PROSE}");
        assert_eq!(region(&text), [(0, 3)]);
        // Text after the last stretch stays only when it does not look like a menu.
    }

    #[test]
    fn a_second_stretch_of_prose_counts_when_it_weighs_enough() {
        let menu = "Link\n".repeat(12);
        let text = format!("{PROSE}\n{PROSE}\n{PROSE}\n{menu}{PROSE}\n{PROSE}\nFooter");
        let footer = |i: usize| if i == 17 { Taken::Edge } else { Taken::No };
        assert_eq!(region_with(&text, footer), [(0, 2), (15, 16)]);
    }
}
