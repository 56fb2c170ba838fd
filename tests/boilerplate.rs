//! `gleaner clean` and `gleaner rules` on the seed articles: the boilerplate goes, the date
//! headers become metadata, every sentence of the articles stays, and every removal is explained.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use common::{fixture, gleaner, read_jsonl};
use serde_json::Value;

fn seeds() -> PathBuf {
    fixture("seeds")
}

/// The boilerplate lines of the seeds, by document.
const BOILERPLATE: &[(&str, &str)] = &[
    ("000", "(credit: NICOLE LASKVI/DEFENSE MINISTRY)"),
    ("001", "search"),
    ("001", "Illustrative: Then-defense minister Benny Gantz"),
    ("001", "Defense Minister Benny Gantz on a state visit to Azerbaijan, October 3, 2022. (Nicole Laskavi/MOD)"),
    ("001", "read more:"),
    ("001", "Never miss breaking news on Israel"),
    ("001", "Get notifications to stay updated"),
    ("001", "You're subscribed"),
    ("001", "image"),
    ("001", "Register for free"),
    ("001", "and continue reading"),
    ("001", "Registering also lets you comment"),
    ("001", "Already registered? Enter your email to sign in."),
    ("001", "Please use the following structure: example@domain.com"),
    ("001", "By registering you agree to the terms and conditions"),
    ("001", "Register to continue"),
    ("001", "Or Continue with"),
    ("001", "Log in to continue"),
    ("001", "Sign in or Register"),
    ("001", "heck your email"),
    ("001", "We sent an email to you at ."),
    ("001", "It has a link that will sign you in."),
    ("002", "(Photo Credit:Nicole Laskavi/MOD)"),
    ("002", "pic.twitter.com/q3uNO4mJHi"),
    ("002", "Moshe Schwartz (@YWNReporter) September 12, 2022"),
    ("000", " date 2022-10-03"),
    ("004", " date 2022-10-03"),
];

fn is_boilerplate(doc: &str, line: &str) -> bool {
    BOILERPLATE
        .iter()
        .any(|(d, b)| doc.starts_with(d) && line.contains(b.trim()))
}

fn clean_seeds(dir: &Path, extra: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let out = dir.join("out.jsonl");
    let explain = dir.join("explain.jsonl");
    gleaner()
        .arg("clean")
        .arg(seeds())
        .arg("-o")
        .arg(&out)
        .arg("--explain")
        .arg(&explain)
        .arg("-q")
        // Boilerplate alone: near-duplicate passages are the subject of tests/dedup.rs.
        .args(["--no-passages", "--no-doc-dedup"])
        .args(extra)
        .assert()
        .success();
    (read_jsonl(&out), read_jsonl(&explain))
}

#[test]
fn seeds_lose_their_boilerplate_and_keep_every_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (records, explain) = clean_seeds(dir.path(), &[]);
    assert_eq!(records.len(), 5);
    for record in &records {
        let id = record["id"].as_str().unwrap();
        let text = record["text"].as_str().unwrap();
        let original = std::fs::read_to_string(seeds().join(format!("{id}.txt"))).unwrap();
        for (doc, line) in BOILERPLATE {
            if id.starts_with(doc) {
                assert!(!text.contains(line.trim()), "{id}: {line:?} is still there");
            }
        }
        for line in original.lines().filter(|l| !l.trim().is_empty()) {
            if is_boilerplate(id, line) {
                continue;
            }
            assert!(text.contains(line.trim()), "{id}: lost {line:?}");
        }
        // The date header's line keeps its content.
        if id.starts_with("000") {
            assert!(text.starts_with("Defense Minister Benny Gantz has returned"));
        }
    }
    let dates: BTreeMap<&str, &str> = records
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?, r["metadata"]["date"].as_str()?)))
        .collect();
    assert_eq!(dates.len(), 2, "{dates:?}");
    assert!(dates
        .iter()
        .all(|(id, d)| (id.starts_with("000") || id.starts_with("004")) && *d == "2022-10-03"));
    // Every removal is explained with one of the boilerplate reasons.
    let reasons: Vec<&str> = explain
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"meta:date"));
    assert!(reasons.contains(&"rule:tweet"));
    assert!(reasons.iter().all(|r| r.starts_with("rule:")
        || r.starts_with("meta:")
        || *r == "in-doc-repeat"
        || *r == "repeated-line"));
}

#[test]
fn annotate_only_keeps_the_text_and_attaches_the_spans() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds.jsonl");
    gleaner()
        .args(["clean", "--annotate-only", "-q", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    let originals = read_jsonl(&input);
    let records = read_jsonl(&out);
    assert_eq!(records.len(), originals.len());
    let mut spans_seen = 0;
    for (record, original) in records.iter().zip(&originals) {
        let text = record["text"].as_str().unwrap();
        assert_eq!(text, original["text"].as_str().unwrap());
        let chars: Vec<char> = text.chars().collect();
        for span in record["gleaner"]["spans"].as_array().unwrap() {
            let (start, end) = (
                span["start"].as_u64().unwrap() as usize,
                span["end"].as_u64().unwrap() as usize,
            );
            let removed: String = chars[start..end].iter().collect();
            assert!(!removed.trim().is_empty());
            if span["reason"] == "rule:tweet" {
                assert!(
                    removed.contains("pic.twitter.com") || removed.contains("(@YWNReporter)"),
                    "{removed:?}"
                );
            }
            spans_seen += 1;
        }
    }
    assert!(spans_seen > 20);
    // Text files written into a folder cannot carry spans: a clear error, not silent loss.
    gleaner()
        .args(["clean", "--annotate-only", "-q", "-o"])
        .arg(dir.path().join("folder"))
        .arg(seeds())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--annotate-only"));
}

#[test]
fn the_report_counts_removals_by_reason_and_threads_do_not_change_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "3"] {
        let out = dir.path().join(format!("out{threads}.jsonl"));
        let report = dir.path().join(format!("report{threads}.json"));
        gleaner()
            .arg("clean")
            .arg(seeds())
            .arg("-o")
            .arg(&out)
            .arg("--report")
            .arg(&report)
            .args(["-q", "--batch-bytes", "4000", "--threads", threads])
            .assert()
            .success();
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        let spans = &report["removed_spans_by_reason"];
        assert_eq!(spans["meta:date"], 2);
        assert_eq!(spans["rule:tweet"], 2, "the tweet and its attribution line");
        assert!(
            report["removed_bytes_by_reason"]["rule:wall-call"]
                .as_u64()
                .unwrap()
                > 50
        );
        outputs.push(std::fs::read(out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn user_rules_and_disable_change_what_goes() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"why-heading\"\nfamily = \"mine\"\nregex = '^why do .+\\?$'\n",
    )
    .unwrap();
    let (records, explain) = clean_seeds(
        dir.path(),
        &[
            "--rules",
            rules.to_str().unwrap(),
            "--disable",
            "registration",
        ],
    );
    assert!(explain.iter().any(|e| e["reason"] == "rule:why-heading"
        && e["text"].as_str().unwrap().starts_with("Why do Israel")));
    assert!(explain
        .iter()
        .all(|e| !e["reason"].as_str().unwrap().starts_with("rule:wall-")));
    let seed1 = records.iter().find(|r| r["id"] == "001_fe8099629fd8fa10");
    assert!(!seed1.unwrap()["text"]
        .as_str()
        .unwrap()
        .contains("Why do Israel"));
}

#[test]
fn a_bad_rule_file_names_the_file_the_rule_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"ok\"\nfamily = \"mine\"\nphrases = [\"x\"]\n\n[[rule]]\nid = \"broken\"\nfamily = \"mine\"\nregex = \"([a-z\"\n",
    )
    .unwrap();
    let expected = format!("{}:6: rule `broken`: bad regex", rules.display());
    gleaner()
        .arg("clean")
        .arg(seeds())
        .arg("-o")
        .arg(dir.path().join("out.jsonl"))
        .arg("--rules")
        .arg(&rules)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(expected.clone()));
    assert!(!dir.path().join("out.jsonl").exists());
    gleaner()
        .arg("rules")
        .arg("--rules")
        .arg(&rules)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(expected));
    gleaner()
        .args(["rules", "--disable", "no-such-family"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no-such-family"));
}

#[test]
fn rules_lists_every_rule_and_prints_the_builtin_file() {
    let out = gleaner()
        .args(["rules", "--disable", "caption"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let line = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} not listed"))
            .to_string()
    };
    assert!(line("caption-credit").contains(" off "));
    assert!(line("tweet").contains(" on "));
    assert!(line("date-header").contains("metadata"));
    let builtin = gleaner().args(["rules", "--builtin"]).assert().success();
    let toml = String::from_utf8(builtin.get_output().stdout.clone()).unwrap();
    assert!(toml.contains("[[rule]]\nid = \"tweet\""));
}

#[test]
fn clean_help_shows_the_boilerplate_defaults() {
    let help = gleaner().args(["clean", "--help"]).assert().success();
    let text = String::from_utf8(help.get_output().stdout.clone()).unwrap();
    assert!(text.contains("--repeated-min-docs"), "{text}");
    assert!(text.contains("[default: 3]"), "{text}");
    assert!(text.contains("--annotate-only"));
}
