//! `gleaner rules`: the rules of a configuration as a table, one rule a line.

use super::{BoilerplateConfig, RuleSet};
use crate::error::Result;

/// One line per rule: id, family, `on`/`off`, origin, description; then a count by family.
pub fn render(config: &BoilerplateConfig) -> Result<String> {
    let set = RuleSet::load(&config.rules, &config.disable)?;
    let width = |f: fn(&super::Rule) -> usize| set.rules.iter().map(f).max().unwrap_or(0);
    let (w_id, w_family, w_origin) = (
        width(|r| r.id.len()).max(2),
        width(|r| r.family.len()).max(6),
        width(|r| r.origin.len()).max(6),
    );
    let mut out = format!(
        "{:w_id$}  {:w_family$}  {:3}  {:w_origin$}  DESCRIPTION\n",
        "ID", "FAMILY", "ON", "ORIGIN"
    );
    for rule in &set.rules {
        let line = format!(
            "{:w_id$}  {:w_family$}  {:3}  {:w_origin$}  {}",
            rule.id,
            rule.family,
            if rule.enabled { "on" } else { "off" },
            rule.origin,
            rule.description
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let enabled = set.rules.iter().filter(|r| r.enabled).count();
    out.push_str(&format!(
        "{} rules, {} on, {} off\n",
        set.rules.len(),
        enabled,
        set.rules.len() - enabled
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_rule_with_its_state() {
        let config = BoilerplateConfig {
            disable: vec!["caption".into()],
            ..BoilerplateConfig::default()
        };
        let text = render(&config).unwrap();
        let caption = text
            .lines()
            .find(|l| l.starts_with("caption-credit "))
            .unwrap();
        assert!(caption.contains(" off "), "{caption}");
        let tweet = text.lines().find(|l| l.starts_with("tweet ")).unwrap();
        assert!(
            tweet.contains(" on ") && tweet.contains("built-in"),
            "{tweet}"
        );
        assert!(text.trim_end().ends_with("off"), "{text}");
    }
}
