//! Near-duplicate passages and documents through the command line.

use std::path::Path;

mod common;

use common::{gleaner, read_jsonl};
use serde_json::Value;

fn explain_records(path: &Path) -> Vec<Value> {
    read_jsonl(path)
}

#[test]
fn seed_paragraph_is_removed_as_a_near_duplicate_of_the_earlier_seed() {
    let dir = tempfile::tempdir().unwrap();
    let explain = dir.path().join("explain.jsonl");
    let out = dir.path().join("out");
    gleaner()
        .args(["clean", "fixtures/seeds", "--quiet", "-o"])
        .arg(&out)
        .arg("--explain")
        .arg(&explain)
        .assert()
        .success();
    let records = explain_records(&explain);
    let sentence = "During the visit, Gantz also met with the Chief of the State Border Service Colonel General Elchin Guliyev and visited a State Border Service headquarters.";
    let hit = records
        .iter()
        .find(|r| r["text"].as_str().unwrap().trim() == sentence)
        .expect("the seed 001 passage is explained");
    assert_eq!(hit["id"], "001_fe8099629fd8fa10");
    assert_eq!(hit["reason"], "near-dup-passage");
    assert_eq!(hit["source_id"], "000_bdda7d98754e0a9e");
    let score = hit["score"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&score), "score {score}");
    // The source span is seed 000's paragraph, in code points.
    let source = std::fs::read_to_string("fixtures/seeds/000_bdda7d98754e0a9e.txt").unwrap();
    let chars: Vec<char> = source.chars().collect();
    let (s, e) = (
        hit["source_start"].as_u64().unwrap() as usize,
        hit["source_end"].as_u64().unwrap() as usize,
    );
    let span: String = chars[s..e].iter().collect();
    assert!(span.starts_with("During the visit, Gantz also met with Minister of Defense"));
    assert!(span.ends_with("visited a State Border Service headquarters."));
    // The first copy stays, and no seed goes as a whole.
    assert!(!records
        .iter()
        .any(|r| r["id"] == "000_bdda7d98754e0a9e" && r["reason"] == "near-dup-passage"));
    assert!(!records.iter().any(|r| {
        let reason = r["reason"].as_str().unwrap();
        reason == "near-dup-doc" || reason == "mostly-duplicate" || reason == "empty"
    }));
    let kept = std::fs::read_to_string(out.join("000_bdda7d98754e0a9e.txt")).unwrap();
    assert!(kept.contains("Chief of the State Border Service Colonel General Elchin Guliyev"));
    let copy = std::fs::read_to_string(out.join("001_fe8099629fd8fa10.txt")).unwrap();
    assert!(!copy.contains(sentence));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
}

#[test]
fn explain_reuse_reports_shared_spans_without_removing_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for reuse in [false, true] {
        let explain = dir.path().join(format!("explain{reuse}.jsonl"));
        let out = dir.path().join(format!("out{reuse}.jsonl"));
        let mut cmd = gleaner();
        cmd.args(["clean", "fixtures/seeds.jsonl", "--quiet", "-o"])
            .arg(&out)
            .arg("--explain")
            .arg(&explain);
        if reuse {
            cmd.arg("--explain-reuse");
        }
        cmd.assert().success();
        outputs.push((std::fs::read(&out).unwrap(), explain_records(&explain)));
    }
    assert_eq!(outputs[0].0, outputs[1].0, "reuse spans are not removed");
    let reuse: Vec<&Value> = outputs[1]
        .1
        .iter()
        .filter(|r| r["reason"] == "reuse")
        .collect();
    assert!(!outputs[0].1.iter().any(|r| r["reason"] == "reuse"));
    let hit = reuse
        .iter()
        .find(|r| r["id"] == "002_2a08958b6e817694")
        .expect("seed 002 reuses seed 000");
    assert_eq!(hit["source_id"], "000_bdda7d98754e0a9e");
    let text = hit["text"].as_str().unwrap();
    assert!(
        text.contains("State Border Service Colonel General Elchin Guliyev"),
        "{text}"
    );
    // The source span holds the same words.
    let source = std::fs::read_to_string("fixtures/seeds/000_bdda7d98754e0a9e.txt").unwrap();
    let chars: Vec<char> = source.chars().collect();
    let span: String = chars[hit["source_start"].as_u64().unwrap() as usize
        ..hit["source_end"].as_u64().unwrap() as usize]
        .iter()
        .collect();
    assert_eq!(span, text);
}

/// A corpus with document copies, reprints with a new first line and shared passages, built
/// from the seeds' lines in a fixed shuffled order.
fn mixed_corpus(path: &Path) {
    let mut lines: Vec<String> = Vec::new();
    for entry in std::fs::read_dir("fixtures/seeds").unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    lines.sort();
    let mut state = 12345u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    let mut docs: Vec<String> = Vec::new();
    for i in 0..120 {
        let text = match i % 4 {
            1 if !docs.is_empty() => docs[next(docs.len())].clone(),
            2 if !docs.is_empty() => {
                format!("Reprinted {i}.\n\n{}", docs[next(docs.len())])
            }
            _ => (0..2 + next(5))
                .map(|_| lines[next(lines.len())].clone())
                .collect::<Vec<_>>()
                .join("\n\n"),
        };
        docs.push(text);
    }
    let jsonl: String = docs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{}\n",
                serde_json::json!({"id": format!("d{i}"), "text": t})
            )
        })
        .collect();
    std::fs::write(path, jsonl).unwrap();
}

#[test]
fn output_and_explain_do_not_depend_on_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    mixed_corpus(&input);
    let mut results = Vec::new();
    for threads in ["1", "4"] {
        let out = dir.path().join(format!("out{threads}.jsonl"));
        let explain = dir.path().join(format!("explain{threads}.jsonl"));
        let rejected = dir.path().join(format!("rejected{threads}.jsonl"));
        gleaner()
            .args([
                "clean",
                "--quiet",
                "--explain-reuse",
                "--batch-bytes",
                "4096",
            ])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .arg("--explain")
            .arg(&explain)
            .arg("--rejected")
            .arg(&rejected)
            .args(["--threads", threads])
            .assert()
            .success();
        results.push([
            std::fs::read(&out).unwrap(),
            std::fs::read(&explain).unwrap(),
            std::fs::read(&rejected).unwrap(),
        ]);
    }
    assert!(results[0] == results[1], "1 thread and 4 threads differ");
    // The corpus has copies, so the comparison covers every kind of decision.
    let explain = String::from_utf8(results[0][1].clone()).unwrap();
    for reason in ["near-dup-doc", "near-dup-passage"] {
        assert!(
            explain.contains(&format!("\"reason\":\"{reason}\"")),
            "no {reason}"
        );
    }
}

#[test]
fn no_doc_dedup_and_no_passages_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    mixed_corpus(&input);
    let out = dir.path().join("out.jsonl");
    gleaner()
        .args([
            "clean",
            "--quiet",
            "--no-doc-dedup",
            "--no-passages",
            "--no-boilerplate",
        ])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&input).unwrap());
}

#[test]
fn lsh_prints_the_candidate_curve() {
    let out = gleaner()
        .args(["lsh", "--bands", "20", "--rows", "5"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let at = |j: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(j)).unwrap();
        line.split('\t').nth(1).unwrap().parse().unwrap()
    };
    // 1 - (1 - 0.8^5)^20
    assert!((at("0.80") - 0.99964).abs() < 1e-4);
    assert!(at("0.30") < 0.05);
    gleaner().args(["lsh", "--bands", "0"]).assert().failure();
}

#[test]
fn clean_help_shows_dedup_defaults() {
    let out = gleaner().args(["clean", "--help"]).assert().success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for flag in [
        "--shingle-size",
        "--passage-threshold",
        "--bands",
        "--explain-reuse",
    ] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
    assert!(help.contains("[default: "));
}

/// Two different short articles behind the same registration wall: the wall goes as
/// boilerplate, so it does not make them near-copies; without the boilerplate step it would.
#[test]
fn shared_boilerplate_does_not_make_two_articles_near_copies() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string("fixtures/seeds/001_fe8099629fd8fa10.txt").unwrap();
    let wall: String = seed
        .lines()
        .skip(33)
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    let articles = [
        "The city council approved a new budget for the harbour district on Tuesday, after a long debate about ferry routes and the price of parking near the old fish market.",
        "Scientists at the university reported that the spring flood carried far less silt than in earlier years, which they link to the dams built upstream during the last decade.",
    ];
    let input = dir.path().join("in.jsonl");
    let records: Vec<String> = articles
        .iter()
        .enumerate()
        .map(|(i, a)| {
            serde_json::json!({"id": format!("a{i}"), "text": format!("{a}\n\n{wall}\n")})
                .to_string()
        })
        .collect();
    std::fs::write(&input, records.join("\n") + "\n").unwrap();
    let written = |extra: &[&str]| -> Vec<String> {
        let out = dir.path().join("out.jsonl");
        gleaner()
            .arg("clean")
            .arg(&input)
            .args(["-q", "-o"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        read_jsonl(&out)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(written(&[]), ["a0", "a1"]);
    assert_eq!(
        written(&["--no-boilerplate"]),
        ["a0"],
        "the wall alone joins them"
    );
}

/// Documents only: near-copies go whole, every other record is written back unchanged.
#[test]
fn documents_only_drops_near_copies_and_edits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    mixed_corpus(&input);
    let (out, rejected) = (dir.path().join("out.jsonl"), dir.path().join("rej.jsonl"));
    gleaner()
        .args(["clean", "--quiet", "--no-passages", "--no-boilerplate"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--rejected")
        .arg(&rejected)
        .assert()
        .success();
    let dropped = read_jsonl(&rejected);
    assert!(!dropped.is_empty(), "the corpus has copies");
    assert!(dropped
        .iter()
        .all(|r| r["rejected"]["reason"] == "near-dup-doc"));
    let input_text = std::fs::read_to_string(&input).unwrap();
    let input_lines: Vec<&str> = input_text.lines().collect();
    let output = std::fs::read_to_string(&out).unwrap();
    for line in output.lines() {
        assert!(input_lines.contains(&line), "written unchanged: {line}");
    }
    assert_eq!(output.lines().count() + dropped.len(), input_lines.len());
}

/// A documents-only run with no side output writes kept records back from their lines alone,
/// without parsing them again: the same corpus and counts as a run whose explain and rejected
/// files make it read every record in full (here with a byte-order mark and CRLF line ends).
#[test]
fn documents_only_output_is_the_same_with_or_without_side_files() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.jsonl");
    mixed_corpus(&plain);
    let input = dir.path().join("in.jsonl");
    let text = std::fs::read_to_string(&plain).unwrap();
    std::fs::write(&input, format!("\u{feff}{}", text.replace('\n', "\r\n"))).unwrap();
    let run = |name: &str, side_files: bool| {
        let (out, report) = (
            dir.path().join(format!("{name}.jsonl")),
            dir.path().join(format!("{name}-report.json")),
        );
        let mut cmd = gleaner();
        cmd.args(["clean", "--quiet", "--no-passages", "--no-boilerplate"])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .arg("--report")
            .arg(&report);
        if side_files {
            cmd.arg("--explain")
                .arg(dir.path().join("explain.jsonl"))
                .arg("--rejected")
                .arg(dir.path().join("rejected.jsonl"));
        }
        cmd.assert().success();
        let mut report: Value =
            serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        for key in ["seconds", "output"] {
            report.as_object_mut().unwrap().remove(key);
        }
        (std::fs::read(out).unwrap(), report)
    };
    let (lines, lines_report) = run("lines", false);
    let (parsed, parsed_report) = run("parsed", true);
    assert!(lines == parsed, "the two outputs differ");
    assert_eq!(lines_report, parsed_report);
    assert!(lines_report["documents_dropped"].as_u64().unwrap() > 0);
    assert!(lines_report["bytes_read"].as_u64().unwrap() > 0);
}
