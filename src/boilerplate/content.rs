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

/// The stretches of main content as (first, last) line indexes into `lines`, sorted and
/// disjoint; empty when the page has no prose at all. `taken[i]` says whether a rule already took
/// line `i`.
pub fn main_regions(lines: &[Line], taken: &[Taken], params: &RegionParams) -> Vec<(usize, usize)> {
    let Some((best, start, end)) = best_stretch(lines, taken, params, 0, lines.len()) else {
        return Vec::new();
    };
    let mut regions = vec![(start, end)];
    // The parts left on either side of each stretch found, searched the same way.
    let mut rest = vec![(0, start), (end + 1, lines.len())];
    while let Some((from, to)) = rest.pop() {
        if from >= to {
            continue;
        }
        if let Some((score, s, e)) = best_stretch(lines, taken, params, from, to) {
            if score >= params.secondary_share * best {
                regions.push((s, e));
                rest.push((from, s));
                rest.push((e + 1, to));
            }
        }
    }
    regions.sort_unstable();
    regions
}

/// The highest-scoring run of lines within `from..to`: its score, first and last line.
fn best_stretch(
    lines: &[Line],
    taken: &[Taken],
    params: &RegionParams,
    from: usize,
    to: usize,
) -> Option<(f64, usize, usize)> {
    let mut best: Option<(f64, usize, usize)> = None;
    let mut sum = 0.0;
    let mut start = from;
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        let score = match taken[i] {
            Taken::Edge => -params.rule_penalty,
            Taken::No if is_prose(line, params) => line.words as f64,
            _ => -params.gap_penalty,
        };
        if sum <= 0.0 {
            sum = 0.0;
            start = i;
        }
        sum += score;
        // Strictly greater: on a tie the earlier, shorter region wins, the same on every run.
        if sum > 0.0 && best.is_none_or(|(b, _, _)| sum > b) {
            best = Some((sum, start, i));
        }
    }
    let (score, start, mut end) = best?;
    // Short sentences right after the last prose line ("He declined to comment.") close the
    // article; they are not footer.
    while end + 1 < to && taken[end + 1] == Taken::No && is_sentence(&lines[end + 1], params) {
        end += 1;
    }
    Some((score, start, end))
}

/// A short line that still reads as a sentence: sentence punctuation and function words.
fn is_sentence(line: &Line, params: &RegionParams) -> bool {
    line.terminal && line.words >= 3 && line.stopword_share >= params.min_stopword_share
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::blocks;

    fn region(text: &str) -> Vec<(usize, usize)> {
        let lines: Vec<Line> = blocks(text)
            .into_iter()
            .filter(|b| !b.is_blank(text))
            .map(|b| Line::new(text, b))
            .collect();
        let taken = vec![Taken::No; lines.len()];
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
        assert_eq!(region(&text), [(5, 7)]);
    }

    #[test]
    fn short_closing_sentences_stay_in_the_region() {
        let text = format!("Home\n{PROSE}\n{PROSE}\nHe declined to comment.\nIt is up to you.\nContact us\nIt is up to you.");
        assert_eq!(region(&text), [(1, 4)]);
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
    }

    #[test]
    fn a_second_stretch_of_prose_counts_when_it_weighs_enough() {
        let menu = "Link\n".repeat(12);
        let text = format!("{PROSE}\n{PROSE}\n{PROSE}\n{menu}{PROSE}\n{PROSE}\nFooter");
        assert_eq!(region(&text), [(0, 2), (15, 16)]);
    }
}
