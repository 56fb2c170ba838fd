//! Turning a document's removals into the final edit: overlaps settled, whole lines taken with
//! their line break, blank lines that a removal left doubled or dangling taken with it. Every
//! removed byte belongs to exactly one span, so the explain file accounts for all of them.

use crate::decision::Removal;
use crate::text::Block;

/// Settles `removals` into sorted, disjoint spans that tidy the text around them.
pub fn plan(text: &str, blocks: &[Block], mut removals: Vec<Removal>) -> Vec<Removal> {
    removals.retain(|r| r.start < r.end && r.end <= text.len());
    if removals.is_empty() {
        return removals;
    }
    // Earlier start first; on a tie the longer span wins. Later spans lose what they share.
    removals.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut spans: Vec<Removal> = Vec::with_capacity(removals.len());
    for mut r in removals {
        if let Some(last) = spans.last() {
            if r.end <= last.end {
                continue;
            }
            r.start = r.start.max(last.end);
        }
        spans.push(r);
    }
    widen_to_lines(text, blocks, &mut spans);
    absorb_blank_lines(text, blocks, &mut spans);
    make_disjoint(spans)
}

/// Widening can make a span reach over a neighbour (a removal inside a blank line it absorbed):
/// the earlier span keeps the shared bytes.
fn make_disjoint(mut spans: Vec<Removal>) -> Vec<Removal> {
    spans.sort_by_key(|s| s.start);
    let mut out: Vec<Removal> = Vec::with_capacity(spans.len());
    for mut s in spans {
        if let Some(last) = out.last() {
            s.start = s.start.max(last.end);
        }
        if s.start < s.end {
            out.push(s);
        }
    }
    out
}

/// Removed bytes of `[from, to)`, given sorted disjoint spans starting the search at `*i`.
fn removed_in(spans: &[Removal], from: usize, to: usize) -> usize {
    spans
        .iter()
        .map(|s| s.end.min(to).saturating_sub(s.start.max(from)))
        .sum()
}

/// A line whose visible content is all removed goes whole, line break included: the white space
/// left over is given to the span that removed the line's content.
fn widen_to_lines(text: &str, blocks: &[Block], spans: &mut [Removal]) {
    for block in blocks {
        let line = &text[block.start..block.next];
        let visible = line.trim().len();
        if visible == 0 {
            continue;
        }
        let first = spans.partition_point(|s| s.end <= block.start);
        let last = spans.partition_point(|s| s.start < block.next);
        if first >= last {
            continue;
        }
        let touching = &spans[first..last];
        let removed = removed_in(touching, block.start, block.next);
        let leftover_visible = {
            let mut pos = block.start;
            let mut any = false;
            for s in touching {
                if s.start > pos && !text[pos..s.start.min(block.next)].trim().is_empty() {
                    any = true;
                }
                pos = pos.max(s.end);
            }
            any || (pos < block.next && !text[pos..block.next].trim().is_empty())
        };
        if leftover_visible || removed == block.next - block.start {
            continue;
        }
        // Give the line's leftover white space to its first and last spans.
        let first_span = &mut spans[first];
        first_span.start = first_span.start.min(block.start);
        let last_span = &mut spans[last - 1];
        last_span.end = last_span.end.max(block.next);
        // Spans in between already cover the rest; make them disjoint again.
        fill_gaps_between(spans, first, last);
    }
}

/// Within `spans[first..last]` (one line), stretches each span up to the next so that no byte of
/// the line is left between them.
fn fill_gaps_between(spans: &mut [Removal], first: usize, last: usize) {
    for i in first..last.saturating_sub(1) {
        let next_start = spans[i + 1].start;
        if spans[i].end < next_start {
            spans[i].end = next_start;
        }
    }
}

/// A kept blank line goes with the removal next to it when, once the removal is made, it would
/// open or close the text or follow another blank line.
fn absorb_blank_lines(text: &str, blocks: &[Block], spans: &mut [Removal]) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Content,
        Blank,
        Removed,
    }
    let covered = |spans: &[Removal], b: &Block| {
        let i = spans.partition_point(|s| s.end <= b.start);
        i < spans.len() && spans[i].start <= b.start && spans[i].end >= b.next
    };
    let states: Vec<State> = blocks
        .iter()
        .map(|b| {
            if covered(spans, b) {
                State::Removed
            } else if b.is_blank(text) {
                State::Blank
            } else {
                State::Content
            }
        })
        .collect();
    // The next line that no removal covers, for each line.
    let mut next_kept = vec![None; blocks.len()];
    let mut upcoming = None;
    for i in (0..blocks.len()).rev() {
        next_kept[i] = upcoming;
        if states[i] != State::Removed {
            upcoming = Some(i);
        }
    }
    let mut absorbed = vec![false; blocks.len()];
    let mut prev_kept: Option<State> = None;
    let mut removal_before = false;
    for i in 0..blocks.len() {
        match states[i] {
            State::Removed => removal_before = true,
            State::Content => {
                prev_kept = Some(State::Content);
                removal_before = false;
            }
            State::Blank => {
                let next = next_kept[i];
                let removal_after = next.map_or(i + 1 < blocks.len(), |n| n > i + 1);
                let doubled = removal_before && prev_kept != Some(State::Content);
                let dangling = removal_after && (next.is_none() || prev_kept.is_none());
                if doubled || dangling {
                    // Gone, it counts as a removal for the lines after it.
                    absorbed[i] = true;
                    removal_before = true;
                } else {
                    prev_kept = Some(State::Blank);
                    removal_before = false;
                }
            }
        }
    }
    // Hand each absorbed line to the span that ends where it starts, or else starts where it ends.
    for (i, block) in blocks.iter().enumerate() {
        if !absorbed[i] {
            continue;
        }
        let j = spans.partition_point(|s| s.end < block.start);
        if j < spans.len() && spans[j].end == block.start {
            spans[j].end = block.next;
        } else if j < spans.len() && spans[j].start == block.next {
            spans[j].start = block.start;
        }
    }
}

/// The text with the planned spans cut out.
pub fn apply(text: &str, spans: &[Removal]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for s in spans {
        out.push_str(&text[pos..s.start]);
        pos = s.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Reason;
    use crate::text::blocks;
    use proptest::prelude::*;

    fn rule(start: usize, end: usize) -> Removal {
        Removal {
            start,
            end,
            reason: Reason::Rule("t".into()),
        }
    }

    fn remove_lines(text: &str, lines: &[usize]) -> (String, Vec<Removal>) {
        let b = blocks(text);
        let removals = lines.iter().map(|&i| rule(b[i].start, b[i].end)).collect();
        let spans = plan(text, &b, removals);
        (apply(text, &spans), spans)
    }

    #[test]
    fn whole_lines_go_with_their_break() {
        let (out, _) = remove_lines("a\nb\nc\n", &[1]);
        assert_eq!(out, "a\nc\n");
    }

    #[test]
    fn blank_lines_do_not_double_or_dangle() {
        assert_eq!(remove_lines("a\n\ncap\n\nb", &[2]).0, "a\n\nb");
        assert_eq!(remove_lines("search\n\nTitle\n", &[0]).0, "Title\n");
        assert_eq!(remove_lines("\ncredit\nBody", &[1]).0, "Body");
        assert_eq!(remove_lines("Body\n\nread more:\nx\n", &[2, 3]).0, "Body\n");
        // Blank lines that no removal touches stay as they were.
        assert_eq!(remove_lines("\n\na\n\n\nb\n\n", &[]).0, "\n\na\n\n\nb\n\n");
    }

    #[test]
    fn a_prefix_goes_alone() {
        let text = " date 2022-10-03 Defense Minister\nx";
        let b = blocks(text);
        let spans = plan(text, &b, vec![rule(0, 17)]);
        assert_eq!(apply(text, &spans), "Defense Minister\nx");
    }

    #[test]
    fn a_removal_inside_an_absorbed_blank_line_stays_disjoint() {
        // Found by fuzzing: the form feed line is blank, removed, and absorbed by line 0's span.
        let text = "\0\n\u{c}\n";
        let b = blocks(text);
        let spans = plan(text, &b, vec![rule(2, 3), rule(0, 1)]);
        assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
        assert_eq!(apply(text, &spans), "");
    }

    #[test]
    fn a_million_lines_plan_in_linear_time() {
        // Every other line removed, every line blank-separated: the worst case for absorbing.
        let text = "content line\n\nboilerplate\n\n".repeat(250_000);
        let b = blocks(&text);
        assert_eq!(b.len(), 1_000_000);
        let removals = b
            .iter()
            .skip(2)
            .step_by(4)
            .map(|x| rule(x.start, x.end))
            .collect();
        let spans = plan(&text, &b, removals);
        let out = apply(&text, &spans);
        // The text's own trailing blank line stays, as every other blank line between kept lines.
        let expected = "content line\n\n".repeat(250_000);
        let first_difference = out.bytes().zip(expected.bytes()).position(|(a, b)| a != b);
        assert_eq!((first_difference, out.len()), (None, expected.len()));
    }

    #[test]
    fn overlaps_are_settled_first_come() {
        let text = "abcdefgh";
        let spans = plan(
            text,
            &blocks(text),
            vec![rule(2, 5), rule(0, 3), rule(3, 4)],
        );
        assert_eq!(
            spans.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            vec![(0, 3), (3, 5)]
        );
    }

    /// The longest run of consecutive white-space-only lines.
    fn max_blank_run(text: &str) -> usize {
        let mut best = 0;
        let mut run = 0;
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
            run = if line.trim().is_empty() { run + 1 } else { 0 };
            best = best.max(run);
        }
        best
    }

    proptest! {
        /// The output is the input minus the spans; spans are disjoint and sorted; no visible
        /// character survives in a line whose visible text a removal fully covered.
        #[test]
        fn spans_account_for_every_removed_byte(
            lines in proptest::collection::vec("[ab ]{0,4}", 0..12),
            picks in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let text = lines.join("\n");
            let b = blocks(&text);
            let chosen: Vec<usize> = (0..b.len()).filter(|&i| picks[i] && !b[i].is_blank(&text)).collect();
            let (out, spans) = remove_lines(&text, &chosen);
            let mut pos = 0;
            let mut rebuilt = String::new();
            for s in &spans {
                prop_assert!(s.start >= pos && s.start < s.end);
                rebuilt.push_str(&text[pos..s.start]);
                pos = s.end;
            }
            rebuilt.push_str(&text[pos..]);
            prop_assert_eq!(&rebuilt, &out);
            for &i in &chosen {
                prop_assert!(spans.iter().any(|s| s.start <= b[i].start && s.end >= b[i].end));
            }
            if chosen.is_empty() {
                prop_assert_eq!(&out, &text);
            }
            prop_assert!(max_blank_run(&out) <= max_blank_run(&text).max(1));
        }
    }
}
