//! The built-in families, each with lines it must remove and content with the same words that
//! must survive; the page region, repeats, metadata and user rule files.

use super::*;
use crate::decision::Reason;
use crate::text::blocks;

const PROSE: &str = "The council said on Monday that the new bridge over the river would open to traffic in the spring.";
const PROSE2: &str = "Engineers have spent two years testing the steel and concrete, according to a statement from the city.";

fn engine(config: BoilerplateConfig) -> Boilerplate {
    Boilerplate::from_config(&config).unwrap().unwrap()
}

/// The rules alone: no page region, so each line is judged by its own family.
fn rules_only() -> &'static Boilerplate {
    static ENGINE: std::sync::OnceLock<Boilerplate> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        engine(BoilerplateConfig {
            disable: vec!["page-region".into()],
            ..BoilerplateConfig::default()
        })
    })
}

/// (removed text, reason) of each removal of `text`.
fn removals(b: &Boilerplate, text: &str) -> Vec<(String, String)> {
    b.scan(text)
        .removals
        .iter()
        .map(|r| (text[r.start..r.end].to_string(), r.reason.name()))
        .collect()
}

/// The family of the rule that removed `line` when it stands between two paragraphs.
fn family_of(b: &Boilerplate, line: &str) -> Option<String> {
    let text = format!("{PROSE}\n{line}\n{PROSE2}");
    let found = removals(b, &text);
    let (removed, reason) = found.iter().find(|(t, _)| line.starts_with(t.as_str()))?;
    assert_eq!(removed, line, "the whole line goes");
    let id = reason.strip_prefix("rule:")?;
    let rule = b.rules.rules.iter().find(|r| &*r.id == id).unwrap();
    Some(rule.family.clone())
}

fn assert_family(family: &str, lines: &[&str]) {
    let b = rules_only();
    for line in lines {
        assert_eq!(
            family_of(b, line).as_deref(),
            Some(family),
            "{line:?} should go as {family}"
        );
    }
}

fn assert_kept(lines: &[&str]) {
    let b = rules_only();
    for line in lines {
        let text = format!("{PROSE}\n{line}\n{PROSE2}");
        let found = removals(b, &text);
        assert!(found.is_empty(), "{line:?} is content, removed: {found:?}");
    }
}

#[test]
fn registration_walls_go_and_content_about_registering_stays() {
    assert_family(
        "registration",
        &[
            "Register for free",
            "and continue reading",
            "Already registered? Enter your email to sign in.",
            "Log in to continue",
            "Sign in or Register",
            "Or Continue with",
            "Please use the following structure: example@domain.com",
            "By registering you agree to the terms and conditions. Once registered, you’ll receive our Daily Edition email for free.",
            "Check your email",
            "We sent an email to you at .",
            "It has a link that will sign you in.",
            "Subscribe to continue reading",
        ],
    );
    assert_kept(&[
        "Voters must register by Friday.",
        "By registering early, voters avoid the long queues on election day, officials said.",
        "Please use the side entrance, the museum said in a statement on Friday.",
        "Check your email settings before the migration, the IT team told staff.",
        "Log in data showed a rise in attacks, the bank said.",
    ]);
}

#[test]
fn next_to_boilerplate_spreads_both_ways_and_not_into_prose() {
    let b = rules_only();
    let text = format!("{PROSE}\nOr\nor\nSign in\nOR\n{PROSE2}");
    let reasons: Vec<String> = removals(b, &text).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        reasons,
        [
            "rule:wall-or",
            "rule:wall-or",
            "rule:wall-call",
            "rule:wall-or"
        ]
    );
    assert_kept(&["Or"]);
}

#[test]
fn newsletter_prompts_go_and_news_about_newsletters_stays() {
    assert_family(
        "newsletter",
        &[
            "Never miss breaking news on Israel",
            "Get notifications to stay updated",
            "You're subscribed",
            "Sign up for our daily newsletter to get the latest headlines in your inbox.",
            "Newsletter",
        ],
    );
    assert_kept(&[
        "Never miss a chance to vote, the mayor told residents at the rally on Sunday.",
        "The newsletter, founded in 1998, reached 40,000 readers last year.",
        "Subscribers to the service rose by a third, the company said.",
    ]);
}

#[test]
fn captions_and_credits_go_and_parentheses_in_prose_stay() {
    assert_family(
        "caption",
        &[
            "Defense Minister Benny Gantz and Azerbaijani Defense Minister Zakir Hasanov, during Gantz's visit to Azerbeijan, October 3, 2022. (credit: NICOLE LASKVI/DEFENSE MINISTRY)",
            "(Photo Credit:Nicole Laskavi/MOD)",
            "Illustrative: Then-defense minister Benny Gantz, on a state visit to Azerbaijan, October 3, 2022. (Nicole Laskavi/MOD)",
            "Defense Minister Benny Gantz on a state visit to Azerbaijan, October 3, 2022. (Nicole Laskavi/MOD)",
            "Photo: Reuters",
            "Tanja Ivanova//Getty Images",
            "(AP Photo/Evan Vucci)",
            "REUTERS/Kevin Lamarque",
            "Image credit: NASA",
        ],
    );
    assert_kept(&[
        "Prices rose 4% (year on year) in October, the statistics office said.",
        "He credited the team (and his coach) for the win.",
        "Photo booths are back in fashion, the report found.",
        "The agency (AP) reported the figures first.",
    ]);
}

#[test]
fn social_embeds_go_with_their_attribution_and_reports_of_posts_stay() {
    let b = rules_only();
    let text = format!(
        "{PROSE}\nHeavy artillery fire being reported from Azerbaijan towards Armenia. pic.twitter.com/q3uNO4mJHi\n— Moshe Schwartz (@YWNReporter) September 12, 2022\n{PROSE2}"
    );
    let found = removals(b, &text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(_, r)| r == "rule:tweet"), "{found:?}");
    assert_family(
        "social-embed",
        &[
            "— Jane Doe (@janedoe) March 1, 2024",
            "View this post on Instagram",
            "A post shared by Example News (@examplenews)",
        ],
    );
    assert_kept(&[
        "The minister posted on Twitter that the talks had gone well.",
        "A post on Instagram drew thousands of comments within hours.",
    ]);
}

#[test]
fn share_follow_and_navigation_crumbs_go_and_the_same_words_in_sentences_stay() {
    assert_family(
        "navigation",
        &[
            "search",
            "image",
            "Skip to content",
            "Tags: politics, Israel",
        ],
    );
    assert_family(
        "share",
        &["Share", "Facebook", "Follow us on Twitter", "Copy link"],
    );
    assert_kept(&[
        "Search teams found the missing hikers on Sunday.",
        "Share prices fell 3% after the announcement.",
        "The image of the burning tower was seen around the world.",
    ]);
}

#[test]
fn runs_of_short_menu_lines_outside_the_content_go() {
    let b = engine(BoilerplateConfig::default());
    let menu = "Home\nNews\nSport\nWeather\nCulture\nTravel\n";
    let text = format!("{menu}{PROSE}\n{PROSE2}\n");
    let found = removals(&b, &text);
    assert_eq!(found.len(), 6, "{found:?}");
    // Short lines between paragraphs are a list inside the article: they stay.
    let list = "Flour\nSugar\nButter\nEggs\nMilk\nSalt\n";
    let text = format!("{PROSE}\n{list}{PROSE2}\n{PROSE}");
    let b = engine(BoilerplateConfig {
        in_doc_repeat_min_words: 0,
        ..BoilerplateConfig::default()
    });
    let found = removals(&b, &text);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn related_ads_cookies_copyright_and_comments_go_and_prose_stays() {
    assert_family(
        "related",
        &[
            "read more:",
            "Read more: Israel and Azerbaijan sign drone deal",
            "Related Articles",
            "You may also like",
            "Similar Posts",
            "View all posts by Jane Doe",
            "Other related articles...",
            "You may like to read:",
        ],
    );
    assert_family(
        "advertising",
        &[
            "Advertisement",
            "Advertisement - Continue Reading Below",
            "We may earn commission from links on this page, but we only recommend products we back.",
            "Try for free",
            "Request a Quote",
        ],
    );
    assert_family(
        "cookie-notice",
        &[
            "This website uses cookies to improve your experience.",
            "Please enable JavaScript to view this content",
        ],
    );
    assert_family(
        "copyright",
        &[
            "© 2025 Example Media, Inc. All Rights Reserved.",
            "Copyright 2024 The Daily Example",
        ],
    );
    assert_family(
        "comments",
        &[
            "Leave a Reply",
            "12 Comments",
            "Your email address will not be published. Required fields are marked *",
            "Vlado Orlandich says:",
            "109 Comments | Grow a Garden",
        ],
    );
    assert_kept(&[
        "Read more about the council's plans in the full report published on Monday.",
        "The advertisement ran in three newspapers last week, the company said.",
        "Try it for yourself, the chef said, and learn more about the region's food.",
        "The bakery's cookies use less sugar this year, its owner said.",
        "Copyright law has changed a lot since 1998, experts say.",
        "The comments drew criticism from opposition lawmakers on Tuesday.",
    ]);
}

#[test]
fn a_date_header_is_cut_from_the_text_and_kept_as_metadata() {
    let b = engine(BoilerplateConfig::default());
    let text = format!(" date 2022-10-03 Defense Minister Benny Gantz has returned from an official visit to Azerbaijan.\n\n{PROSE}");
    let facts = b.scan(&text);
    assert_eq!(
        facts.metadata,
        vec![("date".to_string(), "2022-10-03".to_string())]
    );
    assert_eq!(facts.removals.len(), 1);
    let r = &facts.removals[0];
    assert_eq!(&text[r.start..r.end], " date 2022-10-03 ");
    assert_eq!(r.reason, Reason::Meta("date".into()));
    let rule = b.rules.rules.iter().find(|r| &*r.id == "date-header");
    assert_eq!(rule.unwrap().family, "metadata");
    // Only at the very start of the text.
    let later =
        format!("{PROSE}\ndate 2022-10-03 Something happened on that day, the report said.");
    assert!(b.scan(&later).metadata.is_empty());
    // A first line of a whole paragraph (longer than any rule with a word limit takes) is
    // still searched for the header, which has none.
    let paragraph = [PROSE, PROSE2, PROSE, PROSE2, PROSE].join(" ");
    let long = format!("date 2022-10-03 {paragraph}\n{PROSE2}");
    assert!(long.split_whitespace().count() > 90);
    assert_eq!(
        b.scan(&long).metadata,
        vec![("date".to_string(), "2022-10-03".to_string())]
    );
}

#[test]
fn bylines_and_update_stamps_become_metadata() {
    let b = engine(BoilerplateConfig::default());
    let text = format!(
        "By Korin MillerPublished: Jan 29, 2025\nUpdated: Jan 30, 2025 10:04 am\n{PROSE}\n{PROSE2}"
    );
    let facts = b.scan(&text);
    assert_eq!(
        facts.metadata,
        vec![
            ("byline".to_string(), "Korin Miller".to_string()),
            ("updated".to_string(), "Jan 30, 2025 10:04 am".to_string()),
        ]
    );
    let reasons: Vec<String> = facts.removals.iter().map(|r| r.reason.name()).collect();
    assert_eq!(reasons, ["meta:byline", "meta:updated"]);
    assert_kept(&["By Friday, voters must register."]);
    let text = format!("Contributions From: Austin Palmer\nJuly 29, 2019\n{PROSE}\n{PROSE2}\nReply\n4/27/2021 at 11:02pm");
    let facts = b.scan(&text);
    assert_eq!(
        facts.metadata,
        vec![
            ("byline".to_string(), "Austin Palmer".to_string()),
            ("date".to_string(), "July 29, 2019".to_string()),
        ]
    );
    // A later time stamp (a comment's) goes too, but only the first date is kept.
    let reasons: Vec<String> = facts.removals.iter().map(|r| r.reason.name()).collect();
    assert_eq!(
        reasons,
        [
            "meta:byline",
            "meta:date",
            "rule:comment-widget",
            "meta:date"
        ]
    );
    // Inside the article a date is a heading (a timeline): it stays.
    let timeline = format!("{PROSE}\nMarch 3, 2022\n{PROSE2}");
    assert!(b.scan(&timeline).removals.is_empty());
    assert_kept(&["July 29, 2019 was the hottest day on record in Paris, forecasters said."]);
}

#[test]
fn navigation_before_and_footer_after_the_content_go() {
    let b = engine(BoilerplateConfig::default());
    let text = format!(
        "World News\nBridge to open in spring\n{PROSE}\nMayor Jane Doe\n{PROSE2}\nMost read\nStocks fall in Asia\nWeather for the weekend"
    );
    let found = removals(&b, &text);
    let reasons: Vec<(&str, &str)> = found
        .iter()
        .map(|(t, r)| (t.trim_end(), r.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("World News", "rule:before-main-content"),
            ("Bridge to open in spring", "rule:before-main-content"),
            ("Most read", "rule:related-heading"),
            ("Stocks fall in Asia", "rule:after-main-content"),
            ("Weather for the weekend", "rule:after-main-content"),
        ]
    );
    // "Mayor Jane Doe" is short but inside the content: a sub-heading, kept.
    assert!(!found.iter().any(|(t, _)| t.contains("Mayor")));
}

#[test]
fn the_first_copy_of_a_repeated_line_stays() {
    let b = engine(BoilerplateConfig {
        disable: vec!["caption".into()],
        ..BoilerplateConfig::default()
    });
    let caption = "Illustrative: Then-defense minister Benny Gantz, on a state visit to Azerbaijan, October 3, 2022. (Nicole Laskavi/MOD)";
    let text = format!("{PROSE}\n{caption}\n{caption}\n{PROSE2}");
    let facts = b.scan(&text);
    assert_eq!(facts.removals.len(), 1);
    let second = blocks(&text)[2];
    assert_eq!(facts.removals[0].start, second.start);
    assert_eq!(facts.removals[0].reason, Reason::InDocRepeat);
    let off = engine(BoilerplateConfig {
        disable: vec!["caption".into()],
        in_doc_repeat_min_words: 0,
        ..BoilerplateConfig::default()
    });
    assert!(off.scan(&text).removals.is_empty());
    // Short headings that repeat are the page's structure, not copies.
    let text =
        format!("{PROSE}\nWhat we like\n{PROSE2}\n{PROSE} One.\nWhat we like\n{PROSE2} Two.");
    assert!(b.scan(&text).removals.is_empty());
}

#[test]
fn short_lines_in_enough_documents_go_everywhere_long_ones_stay() {
    let b = engine(BoilerplateConfig {
        repeated_min_docs: 3,
        ..BoilerplateConfig::default()
    });
    let short = "The Example Gazette weekly";
    let docs: Vec<String> = (0..3)
        .map(|i| format!("{PROSE} Story {i}.\n{short}\n{PROSE2}\n{PROSE} Again {i}."))
        .collect();
    let facts: Vec<DocFacts> = docs.iter().map(|d| b.scan(d)).collect();
    let refs: Vec<&DocFacts> = facts.iter().collect();
    let mut decisions = vec![DocDecision::default(); 3];
    b.resolve(&refs, &mut decisions);
    for (doc, decision) in docs.iter().zip(&decisions) {
        let reasons: Vec<(&str, String)> = decision
            .removals
            .iter()
            .map(|r| (&doc[r.start..r.end], r.reason.name()))
            .collect();
        // PROSE repeats too, but it is long: a near-duplicate matter, not boilerplate.
        assert_eq!(reasons, [(short, "repeated-line".to_string())]);
    }
    // A short sentence repeated across documents is content.
    let docs: Vec<String> = (0..3)
        .map(|i| format!("{PROSE} Story {i}.\nHe declined to comment.\n{PROSE2} Again {i}."))
        .collect();
    let facts: Vec<DocFacts> = docs.iter().map(|d| b.scan(d)).collect();
    let sentence_refs: Vec<&DocFacts> = facts.iter().collect();
    let mut decisions = vec![DocDecision::default(); 3];
    b.resolve(&sentence_refs, &mut decisions);
    assert!(decisions.iter().all(|d| d.removals.is_empty()));
    // Two documents are not enough.
    let mut decisions = vec![DocDecision::default(); 2];
    b.resolve(&refs[..2], &mut decisions);
    assert!(decisions.iter().all(|d| d.removals.is_empty()));
}

#[test]
fn user_rule_files_add_rules_and_disable_turns_them_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(
        &path,
        "[[rule]]\nid = \"gazette-promo\"\nfamily = \"site\"\nphrases = [\"the example gazette weekly\"]\n",
    )
    .unwrap();
    let text = format!("{PROSE}\nThe Example Gazette Weekly\n{PROSE2}");
    let b = engine(BoilerplateConfig {
        rules: vec![path.clone()],
        ..BoilerplateConfig::default()
    });
    let found = removals(&b, &text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, "rule:gazette-promo");
    let rule = b.rules.rules.last().unwrap();
    assert_eq!(rule.origin, path.display().to_string());
    let b = engine(BoilerplateConfig {
        rules: vec![path],
        disable: vec!["site".into()],
        ..BoilerplateConfig::default()
    });
    assert!(removals(&b, &text).is_empty());
}

#[test]
fn a_prefix_rule_from_a_user_file_cuts_only_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prefix.toml");
    std::fs::write(
        &path,
        "[[rule]]\nid = \"dateline\"\nfamily = \"site\"\nregex = '^[a-z]+, (?P<value>[a-z]+) \\(reuters\\) - '\nremove = \"prefix\"\nmeta = \"dateline\"\n",
    )
    .unwrap();
    let b = engine(BoilerplateConfig {
        rules: vec![path],
        disable: vec!["page-region".into()],
        ..BoilerplateConfig::default()
    });
    let text = format!("LONDON, Monday (Reuters) — {PROSE}");
    let facts = b.scan(&text);
    assert_eq!(
        facts.metadata,
        vec![("dateline".to_string(), "Monday".to_string())]
    );
    let r = &facts.removals[0];
    assert_eq!(&text[r.end..], PROSE);
}

#[test]
fn every_builtin_family_has_a_test_here() {
    let b = engine(BoilerplateConfig::default());
    let source = include_str!("tests.rs");
    let mut families: Vec<&str> = b.rules.rules.iter().map(|r| r.family.as_str()).collect();
    families.dedup();
    for family in families {
        assert!(
            source.contains(&format!("\"{family}\"")),
            "family {family} has no test"
        );
    }
}

#[test]
fn turned_off_the_step_does_nothing() {
    let config = BoilerplateConfig {
        enabled: false,
        ..BoilerplateConfig::default()
    };
    assert!(Boilerplate::from_config(&config).unwrap().is_none());
    let bad = BoilerplateConfig {
        repeated_min_docs: 1,
        ..BoilerplateConfig::default()
    };
    assert!(bad.validate().is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Lines mixing prose, boilerplate phrases, odd characters and date headers.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(PROSE.to_string()),
            Just(PROSE2.to_string()),
            Just("Share".to_string()),
            Just("• Read more ›".to_string()),
            Just(" date 2022-10-03 Héllo wörld".to_string()),
            Just("By Jane Doe".to_string()),
            Just("Or".to_string()),
            Just("(Photo Credit:Ａ/Ｂ)".to_string()),
            "[a-zA-Zé’“”—ﬁ\u{0301}\u{00A0} .,:()/@-]{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Spans lie inside the text on character boundaries, metadata values are non-empty,
        /// and the same text always gives the same facts.
        #[test]
        fn removals_are_well_formed(lines in proptest::collection::vec(line(), 0..12), crlf in any::<bool>()) {
            static ENGINE: std::sync::OnceLock<Boilerplate> = std::sync::OnceLock::new();
            let b = ENGINE.get_or_init(|| engine(BoilerplateConfig::default()));
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let facts = b.scan(&text);
            for r in &facts.removals {
                prop_assert!(r.start < r.end && r.end <= text.len());
                prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            }
            for (_, v) in &facts.metadata {
                prop_assert!(!v.is_empty());
            }
            for l in &facts.short_lines {
                prop_assert!(text.is_char_boundary(l.start as usize) && l.end as usize <= text.len());
            }
            prop_assert_eq!(&b.scan(&text), &facts);
        }
    }
}
