//! The boilerplate step: rules as data (built-in and user files), the page's main-content region,
//! repeats inside a document, metadata lines (date headers, bylines), and short lines that many
//! documents of the corpus repeat.
//!
//! [`Boilerplate::scan`] runs per document in the scan step and keeps compact facts;
//! [`Boilerplate::resolve`] counts repeated lines over all documents and fills the decisions.

pub mod candidates;
pub mod content;
pub mod engine;
pub mod line;
pub mod listing;
pub mod literals;
pub mod repeated;
pub mod rules;

use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use engine::DocFacts;
pub use rules::{Rule, RuleSet};

use crate::decision::DocDecision;
use crate::error::{Error, Result};
use content::RegionParams;
use engine::EngineParams;
use repeated::RepeatParams;

/// The `[boilerplate]` section of `gleaner.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BoilerplateConfig {
    /// Run the boilerplate step at all.
    pub enabled: bool,
    /// Rule files added after the built-in rules.
    pub rules: Vec<PathBuf>,
    /// Rule ids or families turned off.
    pub disable: Vec<String>,
    /// Remove the second and later copies of a line of at least this many words inside a
    /// document (0: keep them). Shorter lines repeat as structure ("Pros", "Cons").
    pub in_doc_repeat_min_words: usize,
    /// A line with at most this many words can be a repeated line.
    pub repeated_max_words: usize,
    /// A short line in at least this many documents is boilerplate everywhere ...
    pub repeated_min_docs: u64,
    /// ... if that is also at least this share of the corpus (0 to 1).
    pub repeated_min_share: f64,
    /// Never count short lines that read as sentences (sentence punctuation, function words).
    pub repeated_keep_sentences: bool,
    /// A prose line of the main-content region has at least this many words ...
    pub region_min_words: usize,
    /// ... and at least this share of function words.
    pub region_min_stopword_share: f64,
    /// What each non-prose line costs the region, in words of prose.
    pub region_gap_penalty: f64,
    /// What each line removed by a rule costs the region, in words of prose.
    pub region_rule_penalty: f64,
    /// Another stretch of prose is content too when it scores at least this share of the main
    /// one (0 to 1; 1 keeps only the main stretch).
    pub region_secondary_share: f64,
}

impl Default for BoilerplateConfig {
    fn default() -> Self {
        BoilerplateConfig {
            enabled: true,
            rules: Vec::new(),
            disable: Vec::new(),
            in_doc_repeat_min_words: 5,
            repeated_max_words: 10,
            repeated_min_docs: 3,
            repeated_min_share: 0.0,
            repeated_keep_sentences: true,
            region_min_words: 12,
            region_min_stopword_share: 0.25,
            region_gap_penalty: 3.0,
            region_rule_penalty: 40.0,
            region_secondary_share: 0.3,
        }
    }
}

impl BoilerplateConfig {
    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<()> {
        if self.repeated_min_docs < 2 {
            return Err(Error::usage(
                "repeated-min-docs must be at least 2 (a line in one document is not repeated)",
            ));
        }
        if !(0.0..=1.0).contains(&self.repeated_min_share) {
            return Err(Error::usage(
                "repeated-min-share is a share between 0 and 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.region_secondary_share) {
            return Err(Error::usage(
                "region-secondary-share is a share between 0 and 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.region_min_stopword_share) {
            return Err(Error::usage(
                "region-min-stopword-share is a share between 0 and 1",
            ));
        }
        for (name, value) in [
            ("region-gap-penalty", self.region_gap_penalty),
            ("region-rule-penalty", self.region_rule_penalty),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(Error::usage(format!("{name} must be 0 or more")));
            }
        }
        Ok(())
    }
}

/// The compiled boilerplate step of a run.
#[derive(Debug)]
pub struct Boilerplate {
    pub rules: RuleSet,
    engine: EngineParams,
    repeat: RepeatParams,
}

impl Boilerplate {
    /// Loads the rules; `None` when the step is turned off.
    pub fn from_config(config: &BoilerplateConfig) -> Result<Option<Self>> {
        if !config.enabled {
            return Ok(None);
        }
        let rules = RuleSet::load(&config.rules, &config.disable)?;
        Ok(Some(Boilerplate {
            rules,
            engine: EngineParams {
                region: RegionParams {
                    min_words: config.region_min_words,
                    min_stopword_share: config.region_min_stopword_share,
                    gap_penalty: config.region_gap_penalty,
                    rule_penalty: config.region_rule_penalty,
                    secondary_share: config.region_secondary_share,
                },
                in_doc_repeat_min_words: config.in_doc_repeat_min_words,
                repeated_max_words: config.repeated_max_words,
                repeated_keep_sentences: config.repeated_keep_sentences,
            },
            repeat: RepeatParams::from_config(config),
        }))
    }

    /// The scan step for one document.
    pub fn scan(&self, text: &str) -> DocFacts {
        self.scan_blocks(text, &crate::text::blocks(text))
    }

    /// [`Boilerplate::scan`] of a document whose lines (`blocks`) are already split.
    pub fn scan_blocks(&self, text: &str, blocks: &[crate::text::Block]) -> DocFacts {
        engine::scan(&self.rules, &self.engine, text, blocks)
    }

    /// Repeated lines over the whole corpus, then each document's removals and metadata into its
    /// decision, in memory. `facts[i]` belongs to `decisions[i]` (corpus order).
    pub fn resolve(&self, facts: &[&DocFacts], decisions: &mut [DocDecision]) {
        let df = repeated::document_frequency(facts.iter().copied());
        let repeated = repeated::repeated_hashes(&df, self.repeat.threshold(facts.len()));
        decisions
            .par_iter_mut()
            .zip(facts.par_iter())
            .for_each(|(decision, doc)| Self::decide(doc, &repeated, decision));
    }

    /// One document's removals (rules, region, in-document repeats, and the short lines in
    /// `repeated`, sorted) and metadata, into its decision.
    pub fn decide(doc: &DocFacts, repeated: &[u64], decision: &mut DocDecision) {
        decision.removals.extend(doc.removals.iter().cloned());
        decision.removals.extend(repeated::removals(doc, repeated));
        decision.metadata.extend(doc.metadata.iter().cloned());
    }
}

#[cfg(test)]
mod tests;
