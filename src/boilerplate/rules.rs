//! Rules as data: the TOML format, loading with errors that name the file, the rule and the line,
//! and compiling the enabled rules into one phrase automaton and one regex set.
//!
//! ```toml
//! [[rule]]
//! id = "register-for-free"          # unique; reported as `rule:<id>`
//! family = "registration"           # `--disable` takes an id or a family
//! description = "a registration wall's call to action"
//! phrases = ["register for free"]   # normalized (case-folded) before matching
//! phrase-match = "whole"            # whole | start | anywhere (word-bounded)
//! # regex = '^read more:'           # over the normalized line; instead of phrases
//! max-words = 8                     # line shape: min-words, max-words, terminal,
//! terminal = false                  #   max-stopword-share, first-lines, last-lines,
//!                                   #   region, next-to-boilerplate, short-run
//! remove = "line"                   # line | line-and-next | prefix
//! # edge = true                     # surrounds articles: marks the main content's edges
//! # next-regex = '...'              # line-and-next: what the next line must match
//! # meta = "date"                   # store the match (group `value`) as metadata
//! ```

use rayon::prelude::*;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::candidates::Candidates;
use crate::error::{Error, Result};
use crate::text::normalize;

/// The rule sets compiled into the binary.
pub const BUILTIN_NAME: &str = "built-in";
const BUILTIN: &str = include_str!("builtin.toml");

/// Largest compiled size of one user regex (bytes); a larger pattern is an error, not a slow run.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a phrase must sit in the line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhraseMatch {
    /// The line is the phrase (trailing punctuation aside).
    #[default]
    Whole,
    /// The line starts with the phrase, followed by a word boundary.
    Start,
    /// The phrase occurs anywhere, at word boundaries.
    Anywhere,
}

/// Where a line lies relative to the page's main-content region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    Before,
    After,
    /// Between two stretches of main content.
    Between,
    Outside,
    Inside,
}

/// What a matching rule removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    #[default]
    Line,
    /// The line and the next non-blank line (when it matches `next-regex`, if given).
    LineAndNext,
    /// The matched prefix of the line (the regex must match at the start).
    Prefix,
}

/// One rule as written in a rule file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleSpec {
    pub id: String,
    pub family: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub phrases: Vec<String>,
    #[serde(default)]
    pub phrase_match: PhraseMatch,
    pub regex: Option<String>,
    pub min_words: Option<usize>,
    pub max_words: Option<usize>,
    pub terminal: Option<bool>,
    pub max_stopword_share: Option<f64>,
    /// Only within the first N non-blank lines.
    pub first_lines: Option<usize>,
    /// Only within the last N non-blank lines.
    pub last_lines: Option<usize>,
    pub region: Option<Region>,
    /// Only when the previous or next non-blank line is removed as boilerplate.
    #[serde(default)]
    pub next_to_boilerplate: bool,
    /// Only inside a run of at least N consecutive non-blank lines that each have at most
    /// `max-words` words and no terminal punctuation.
    pub short_run: Option<usize>,
    /// Boilerplate that surrounds an article (navigation, walls, related links, comment
    /// widgets): a line it takes weighs more against the main-content region.
    #[serde(default)]
    pub edge: bool,
    #[serde(default)]
    pub remove: Action,
    pub next_regex: Option<String>,
    pub meta: Option<String>,
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Arc<str>,
    pub family: String,
    pub description: String,
    /// `built-in` or the rule file it came from.
    pub origin: String,
    pub enabled: bool,
    pub spec: RuleSpec,
    pub regex: Option<Regex>,
    pub next_regex: Option<Regex>,
    pub meta: Option<Arc<str>>,
    /// Phrases in normal form.
    pub phrases: Vec<String>,
}

impl Rule {
    /// Whether the rule needs facts only known after the first pass (neighbours, region).
    pub fn is_contextual(&self) -> bool {
        self.spec.next_to_boilerplate || self.spec.region.is_some()
    }
}

/// All rules, in order (built-in first, then user files in the order given), with the phrases
/// and regex literals of the enabled ones in one automaton. Each regex runs on its own, and only
/// on lines whose shape its rule accepts: one set of all regexes is slower, its lazy DFA keeps
/// overflowing.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Which enabled rules a line can trigger, by their phrases and regex literals.
    pub candidates: Candidates,
    /// The enabled rules that judge a line alone, and those that look at the context, as bit
    /// sets over the rules (bit `r % 64` of number `r / 64`); and the rules that any line may
    /// trigger (no phrases or literals to mark the lines for them).
    alone_bits: Vec<u64>,
    contextual_bits: Vec<u64>,
    unmarked_bits: Vec<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<toml::Table>>,
}

fn line_of(text: &str, offset: usize) -> u64 {
    1 + text[..offset.min(text.len())].matches('\n').count() as u64
}

/// Parses the rules of one file; `name` is used in errors and as the rules' origin.
pub fn parse_rules(name: &str, text: &str) -> Result<Vec<Rule>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        Error::bad_input(name, line, e.message().to_string())
    })?;
    // Regexes compile on the worker threads: compiling them is most of a run's start-up time.
    // The first bad rule in the file is the one reported.
    let tables: Vec<(u64, toml::Table)> = raw
        .rule
        .into_iter()
        .map(|t| (line_of(text, t.span().start), t.into_inner()))
        .collect();
    tables
        .into_par_iter()
        .map(|(line, table)| {
            let id = table.get("id").and_then(|v| v.as_str()).map(str::to_string);
            let who = match &id {
                Some(id) => format!("rule `{id}`"),
                None => "rule without an id".to_string(),
            };
            let bad = |message: String| Error::bad_input(name, line, format!("{who}: {message}"));
            let spec = RuleSpec::deserialize(toml::Value::Table(table))
                .map_err(|e| bad(e.message().trim().to_string()))?;
            compile(name, spec).map_err(bad)
        })
        .collect::<Vec<Result<Rule>>>()
        .into_iter()
        .collect()
}

fn build_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("bad regex: {e}"))
}

fn compile(origin: &str, spec: RuleSpec) -> Result<Rule, String> {
    if spec.id.is_empty()
        || !spec
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("an id is letters, digits, `-` and `_`".into());
    }
    if spec.family.is_empty() {
        return Err("the family must not be empty".into());
    }
    if spec.regex.is_some() && !spec.phrases.is_empty() {
        return Err("give `phrases` or `regex`, not both".into());
    }
    let regex = spec.regex.as_deref().map(build_regex).transpose()?;
    let next_regex = spec.next_regex.as_deref().map(build_regex).transpose()?;
    if spec.next_regex.is_some() && spec.remove != Action::LineAndNext {
        return Err("`next-regex` needs remove = \"line-and-next\"".into());
    }
    if spec.remove == Action::Prefix && regex.is_none() {
        return Err("remove = \"prefix\" needs a `regex` that matches at the line's start".into());
    }
    if let (Some(lo), Some(hi)) = (spec.min_words, spec.max_words) {
        if lo > hi {
            return Err(format!("min-words {lo} is above max-words {hi}"));
        }
    }
    if spec.short_run.is_some() && spec.max_words.is_none() {
        return Err("`short-run` needs `max-words` (what a short line is)".into());
    }
    if let Some(share) = spec.max_stopword_share {
        if !(0.0..=1.0).contains(&share) {
            return Err("max-stopword-share is a share between 0 and 1".into());
        }
    }
    if let Some(meta) = &spec.meta {
        if meta.is_empty() {
            return Err("`meta` names a metadata field".into());
        }
    }
    let no_condition = regex.is_none()
        && spec.phrases.is_empty()
        && spec.region.is_none()
        && spec.short_run.is_none()
        && spec.first_lines.is_none()
        && spec.last_lines.is_none()
        && spec.max_words.is_none();
    if no_condition {
        return Err("the rule would match every line; give phrases, a regex or a shape".into());
    }
    let mut phrases = Vec::with_capacity(spec.phrases.len());
    for p in &spec.phrases {
        let n = super::line::core_of(&normalize(p)).to_string();
        if n.is_empty() {
            return Err(format!("the phrase {p:?} is empty once normalized"));
        }
        phrases.push(n);
    }
    Ok(Rule {
        id: Arc::from(spec.id.as_str()),
        family: spec.family.clone(),
        description: spec.description.clone(),
        origin: origin.to_string(),
        enabled: true,
        meta: spec.meta.as_deref().map(Arc::from),
        regex,
        next_regex,
        phrases,
        spec,
    })
}

impl RuleSet {
    /// The built-in rules, then each user file, with `disable` (rule ids or families) turned off.
    pub fn load(files: &[std::path::PathBuf], disable: &[String]) -> Result<Self> {
        let mut rules = parse_rules(BUILTIN_NAME, BUILTIN)?;
        for path in files {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            rules.extend(parse_rules(&path.display().to_string(), &text)?);
        }
        Self::from_rules(rules, disable)
    }

    /// Checks ids are unique, applies `disable`, and compiles the enabled rules.
    pub fn from_rules(mut rules: Vec<Rule>, disable: &[String]) -> Result<Self> {
        let mut seen = std::collections::HashMap::new();
        for rule in &rules {
            if let Some(first) = seen.insert(rule.id.clone(), rule.origin.clone()) {
                return Err(Error::usage(format!(
                    "{}: rule `{}` is already defined in {first}; disable it and give yours another id",
                    rule.origin, rule.id
                )));
            }
        }
        for name in disable {
            let mut any = false;
            for rule in rules.iter_mut() {
                if *rule.id == **name || rule.family == *name {
                    rule.enabled = false;
                    any = true;
                }
            }
            if !any {
                return Err(Error::usage(format!(
                    "--disable {name}: no rule or family has that name (see `gleaner rules`)"
                )));
            }
        }
        let candidates = Candidates::new(&rules)
            .map_err(|e| Error::usage(format!("cannot build the phrase matcher: {e}")))?;
        let bits = |of: &dyn Fn(usize) -> bool| -> Vec<u64> {
            let mut set = vec![0u64; rules.len().div_ceil(64).max(1)];
            for r in (0..rules.len()).filter(|&r| of(r)) {
                set[r / 64] |= 1 << (r % 64);
            }
            set
        };
        let enabled = |contextual: bool| {
            bits(&|r| rules[r].enabled && rules[r].is_contextual() == contextual)
        };
        Ok(RuleSet {
            alone_bits: enabled(false),
            contextual_bits: enabled(true),
            unmarked_bits: bits(&|r| !candidates.needs_mark(r)),
            rules,
            candidates,
        })
    }

    /// The rules of a pass that line `i` can trigger, in order: those that need no mark, and
    /// those `marks` has for the line. Most rules look for phrases or literals that a line seldom
    /// holds, so a line visits a few rules instead of every one.
    pub fn pass_for_line<'a>(
        &'a self,
        contextual: bool,
        marks: &'a super::candidates::RuleMarks,
        i: usize,
    ) -> impl Iterator<Item = usize> + 'a {
        let pass = if contextual {
            &self.contextual_bits
        } else {
            &self.alone_bits
        };
        let row = marks.row(i);
        pass.iter()
            .zip(&self.unmarked_bits)
            .zip(row)
            .enumerate()
            .flat_map(|(w, ((&pass, &unmarked), &marked))| {
                let mut bits = pass & (unmarked | marked);
                std::iter::from_fn(move || {
                    (bits != 0).then(|| {
                        let r = 64 * w + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        r
                    })
                })
            })
    }

    /// The built-in rule file's text, for `gleaner rules --builtin`.
    pub fn builtin_source() -> &'static str {
        BUILTIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_rules("mine.toml", text).unwrap_err().to_string()
    }

    /// Rules compile in parallel; the error is still the first bad rule's, whichever thread
    /// finished first.
    #[test]
    fn the_first_bad_rule_of_a_file_is_the_one_reported() {
        let bad =
            |id: &str| format!("[[rule]]\nid = \"{id}\"\nfamily = \"f\"\nregex = \"([a-z\"\n\n");
        let good = "[[rule]]\nid = \"ok\"\nfamily = \"f\"\nphrases = [\"x\"]\n\n";
        let text = format!("{good}{}{good}{}", bad("first"), bad("second"))
            .replacen("\"ok\"", "\"ok2\"", 1);
        let e = err(&text);
        assert!(e.starts_with("mine.toml:6: rule `first`: bad regex"), "{e}");
    }

    #[test]
    fn a_line_visits_the_rules_it_can_trigger_in_order() {
        use crate::boilerplate::candidates::RuleMarks;
        use crate::boilerplate::line::Line;
        let set = RuleSet::load(&[], &["share-follow".to_string()]).unwrap();
        let text = "Share on Facebook\nRegister for free to read on\nThe council met on Tuesday.\n\
                    Photo: Reuters\nRead more: the budget\nSubscribe to our newsletter";
        let lines: Vec<Line> = crate::text::blocks(text)
            .into_iter()
            .filter(|b| !b.is_blank(text))
            .map(|b| Line::new(text, b))
            .collect();
        let marks = RuleMarks::new(&set.candidates, &lines, set.rules.len());
        let mut visited_any = false;
        for contextual in [false, true] {
            for i in 0..lines.len() {
                let want: Vec<usize> = (0..set.rules.len())
                    .filter(|&r| set.rules[r].enabled && set.rules[r].is_contextual() == contextual)
                    .filter(|&r| !set.candidates.needs_mark(r) || marks.get(i, r))
                    .collect();
                let got: Vec<usize> = set.pass_for_line(contextual, &marks, i).collect();
                visited_any |= !got.is_empty();
                assert_eq!(got, want, "line {i}, contextual {contextual}");
            }
        }
        assert!(visited_any);
    }

    #[test]
    fn builtin_rules_load_with_unique_ids() {
        let set = RuleSet::load(&[], &[]).unwrap();
        assert!(set.rules.len() > 30);
        assert!(set.rules.iter().all(|r| r.enabled));
        assert!(set.rules.iter().any(|r| r.family == "registration"));
    }

    #[test]
    fn errors_name_file_rule_and_line() {
        let e = err("[[rule]]\nid = \"a\"\nfamily = \"x\"\nphrases = [\"y\"]\n\n[[rule]]\nid = \"b\"\nfamily = \"x\"\nregex = \"(\"\n");
        assert!(e.starts_with("mine.toml:6: rule `b`: bad regex"), "{e}");
        let e = err("[[rule]]\nid = \"c\"\nfamily = \"x\"\nphrases = [\"y\"]\ncolour = 1\n");
        assert!(
            e.starts_with("mine.toml:1: rule `c`: unknown field `colour`"),
            "{e}"
        );
        let e = err("[[rule]]\nid = \"d\"\nfamily = \"x\"\nregex = \"^a\"\nphrases = [\"y\"]\n");
        assert!(e.contains("not both"), "{e}");
        let e = err("[[rule]]\nid = \"e\"\nfamily = \"x\"\n");
        assert!(e.contains("every line"), "{e}");
        let e = err("[[rules]]\nid = 1\n");
        assert!(e.starts_with("mine.toml:1:"), "{e}");
        let e = err("[[rule]]\nid = \"f\"\nfamily = \"x\"\nregex = \"a{1000}{1000}\"\n");
        assert!(e.contains("bad regex"), "{e}");
    }

    #[test]
    fn disable_takes_ids_and_families_and_rejects_unknown_names() {
        let all = parse_rules(BUILTIN_NAME, BUILTIN).unwrap();
        let set = RuleSet::from_rules(all.clone(), &["registration".into()]).unwrap();
        assert!(set
            .rules
            .iter()
            .filter(|r| r.family == "registration")
            .all(|r| !r.enabled));
        assert!(set.rules.iter().any(|r| r.enabled));
        let one = all[0].id.to_string();
        let set = RuleSet::from_rules(all.clone(), std::slice::from_ref(&one)).unwrap();
        assert_eq!(set.rules.iter().filter(|r| !r.enabled).count(), 1);
        let e = RuleSet::from_rules(all, &["no-such-rule".into()]).unwrap_err();
        assert!(e.to_string().contains("no-such-rule"));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let mut rules = parse_rules(BUILTIN_NAME, BUILTIN).unwrap();
        let mut again = rules[0].clone();
        again.origin = "mine.toml".into();
        rules.push(again);
        let e = RuleSet::from_rules(rules, &[]).unwrap_err().to_string();
        assert!(e.contains("already defined in built-in"), "{e}");
    }
}
