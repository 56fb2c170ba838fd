//! `gleaner clean` end to end: input and output forms, field pass-through, determinism, report,
//! explain, errors and output safety.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::*;
use predicates::prelude::*;

fn seeds() -> String {
    fixture("seeds").display().to_string()
}

#[test]
fn seeds_output_matches_the_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let explain = dir.path().join("explain.jsonl");
    let out = clean_stdout(&[&seeds(), "-o", "-", "--explain", explain.to_str().unwrap()]);
    assert_golden(&out, "expected/seeds.clean.jsonl");
    assert_golden(
        &std::fs::read_to_string(&explain).unwrap(),
        "expected/seeds.explain.jsonl",
    );
}

#[test]
fn every_input_form_gives_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = std::fs::read(fixture("seeds.jsonl")).unwrap();
    // Crawl shards are multi-member gzip: split the corpus over two members.
    let cut = jsonl.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut multi = gzip(&jsonl[..cut]);
    multi.extend(gzip(&jsonl[cut..]));
    std::fs::write(dir.path().join("seeds.jsonl.gz"), multi).unwrap();
    std::fs::write(dir.path().join("seeds.jsonl.zst"), zstd(&jsonl)).unwrap();

    let from_folder = clean_stdout(&[&seeds(), "-o", "-"]);
    assert_eq!(from_folder.lines().count(), 5);
    let from_jsonl = clean_stdout(&[fixture("seeds.jsonl").to_str().unwrap(), "-o", "-"]);
    let from_gz = clean_stdout(&[
        dir.path().join("seeds.jsonl.gz").to_str().unwrap(),
        "-o",
        "-",
    ]);
    let from_zst = clean_stdout(&[
        dir.path().join("seeds.jsonl.zst").to_str().unwrap(),
        "-o",
        "-",
    ]);
    let from_stdin = gleaner()
        .args(["clean", "-", "-o", "-", "--quiet"])
        .write_stdin(jsonl)
        .output()
        .unwrap();
    assert!(from_stdin.status.success());
    for (name, out) in [
        ("jsonl", &from_jsonl),
        ("gz", &from_gz),
        ("zst", &from_zst),
        ("stdin", &String::from_utf8(from_stdin.stdout).unwrap()),
    ] {
        assert_eq!(out, &from_folder, "{name} differs from the text folder");
    }
}

#[test]
fn records_keep_every_field_in_order() {
    let input = std::fs::read_to_string(fixture("fields.jsonl")).unwrap();
    let out = clean_stdout(&[fixture("fields.jsonl").to_str().unwrap(), "-o", "-"]);
    // Nothing to clean in these records: each comes back byte for byte.
    assert_eq!(out, input);
}

#[test]
fn text_and_id_fields_can_be_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(
        &path,
        "{\"body\":\"Hello.\",\"key\":\"k1\"}\n{\"body\":\"Again.\"}\n",
    )
    .unwrap();
    let explain = dir.path().join("e.jsonl");
    let out = clean_stdout(&[
        path.to_str().unwrap(),
        "-o",
        "-",
        "--text-field",
        "body",
        "--id-field",
        "key",
    ]);
    assert_eq!(
        out,
        "{\"body\":\"Hello.\",\"key\":\"k1\"}\n{\"body\":\"Again.\"}\n"
    );
    gleaner()
        .args([
            "clean",
            path.to_str().unwrap(),
            "-o",
            "-",
            "-q",
            "--explain",
        ])
        .arg(&explain)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("in.jsonl:1: no `text` field"));
    assert!(!explain.exists());
}

#[test]
fn folder_output_mirrors_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("txt")).unwrap();
    for entry in std::fs::read_dir(fixture("seeds")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), input.join("txt").join(entry.file_name())).unwrap();
    }
    let jsonl = std::fs::read(fixture("fields.jsonl")).unwrap();
    std::fs::write(input.join("fields.jsonl.gz"), gzip(&jsonl)).unwrap();
    let out = dir.path().join("out");
    gleaner()
        .args([
            "clean",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ])
        .assert()
        .success();
    assert_eq!(listing(&out), ["fields.jsonl.gz", "txt"]);
    assert_eq!(listing(&out.join("txt")), listing(&fixture("seeds")));
    let clean = std::fs::read(out.join("fields.jsonl.gz")).unwrap();
    assert_eq!(gunzip(&clean), String::from_utf8(jsonl).unwrap());
    for name in listing(&fixture("seeds")) {
        let original = std::fs::read_to_string(fixture("seeds").join(&name)).unwrap();
        let cleaned = std::fs::read_to_string(out.join("txt").join(&name)).unwrap();
        assert!(original.len() >= cleaned.len(), "{name} grew");
    }
}

#[test]
fn compressed_jsonl_output() {
    let dir = tempfile::tempdir().unwrap();
    let plain = clean_stdout(&[&seeds(), "-o", "-"]);
    for name in ["out.jsonl.gz", "out.jsonl.zst"] {
        let path = dir.path().join(name);
        clean_stdout(&[&seeds(), "-o", path.to_str().unwrap()]);
        let bytes = std::fs::read(&path).unwrap();
        let text = if name.ends_with(".gz") {
            gunzip(&bytes)
        } else {
            String::from_utf8(zstd::stream::decode_all(&bytes[..]).unwrap()).unwrap()
        };
        assert_eq!(text, plain, "{name}");
    }
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for threads in ["1", "4"] {
        let out = dir.path().join(format!("out{threads}.jsonl"));
        let explain = dir.path().join(format!("explain{threads}.jsonl"));
        clean_stdout(&[
            &seeds(),
            fixture("fields.jsonl").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--explain",
            explain.to_str().unwrap(),
            "--threads",
            threads,
            // Small batches, so the documents really are spread over the threads.
            "--batch-bytes",
            "300",
        ]);
        runs.push((
            std::fs::read(&out).unwrap(),
            std::fs::read(&explain).unwrap(),
        ));
    }
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn report_counts_documents_bytes_and_records_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    clean_stdout(&[
        &seeds(),
        "-o",
        "-",
        "--report",
        report.to_str().unwrap(),
        "--threads",
        "2",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["documents_read"], 5);
    assert_eq!(
        r["documents_written"].as_u64().unwrap() + r["documents_dropped"].as_u64().unwrap(),
        5
    );
    let seeds_bytes: u64 = std::fs::read_dir(fixture("seeds"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(r["bytes_read"], seeds_bytes);
    let removed: u64 = r["removed_bytes_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        r["bytes_written"].as_u64().unwrap() + removed + r["bytes_dropped"].as_u64().unwrap(),
        seeds_bytes
    );
    assert_eq!(r["threads"], 2);
    assert_eq!(r["gleaner_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r["config"]["text-field"], "text");
    for step in ["scan", "resolve", "apply", "total"] {
        assert!(r["seconds"][step].as_f64().is_some(), "{step}");
    }
}

#[test]
fn explain_spans_are_code_points_of_the_original_text() {
    let dir = tempfile::tempdir().unwrap();
    let explain = dir.path().join("explain.jsonl");
    clean_stdout(&[&seeds(), "-o", "-", "--explain", explain.to_str().unwrap()]);
    let originals: std::collections::HashMap<String, Vec<char>> =
        std::fs::read_to_string(fixture("seeds.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["text"].as_str().unwrap().chars().collect(),
                )
            })
            .collect();
    for line in std::fs::read_to_string(&explain).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = &originals[v["id"].as_str().unwrap()];
        let (start, end) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        let span: String = text[start..end].iter().collect();
        assert_eq!(span, v["text"].as_str().unwrap(), "{line}");
    }
}

#[test]
fn config_file_sets_options_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, "{\"body\":\"Hello.\"}\n").unwrap();
    let config = dir.path().join("gleaner.toml");
    std::fs::write(&config, "text-field = \"body\"\n").unwrap();
    let out = clean_stdout(&[
        path.to_str().unwrap(),
        "-o",
        "-",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out, "{\"body\":\"Hello.\"}\n");
    gleaner()
        .args([
            "clean",
            path.to_str().unwrap(),
            "-o",
            "-",
            "-q",
            "--text-field",
            "text",
            "--config",
        ])
        .arg(&config)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no `text` field"));
    std::fs::write(&config, "text-feld = \"body\"\n").unwrap();
    gleaner()
        .args(["clean", path.to_str().unwrap(), "-o", "-", "-q", "--config"])
        .arg(&config)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "gleaner.toml:1: unknown field `text-feld`",
        ));
}

#[test]
fn help_lists_options_with_defaults() {
    gleaner()
        .args(["clean", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--text-field <NAME>"))
        .stdout(predicate::str::contains("[default: text]"))
        .stdout(predicate::str::contains("--explain <FILE>"))
        .stdout(predicate::str::contains("--report <FILE>"))
        .stdout(predicate::str::contains("--rejected <FILE>"));
}

#[test]
fn usage_errors_exit_2() {
    gleaner().args(["clean", "-o", "-"]).assert().code(2);
    gleaner().args(["clean", "x.jsonl"]).assert().code(2);
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("x.csv");
    std::fs::write(&odd, "a,b\n").unwrap();
    gleaner()
        .args(["clean", odd.to_str().unwrap(), "-o", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("x.csv: unknown input format"));
}

#[test]
fn bad_input_names_file_and_line_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "bad.jsonl",
            b"{\"text\":\"ok\"}\n\n{\"text\": oops}\n".to_vec(),
            "bad.jsonl:3: malformed JSON",
        ),
        (
            "arr.jsonl",
            b"[1,2]\n".to_vec(),
            "arr.jsonl:1: not a JSON object",
        ),
        (
            "num.jsonl",
            b"{\"text\":\"ok\"}\n{\"text\":5}\n".to_vec(),
            "num.jsonl:2: field `text` is not a string",
        ),
        (
            "utf.jsonl",
            b"{\"text\":\"\xff\"}\n".to_vec(),
            "utf.jsonl:1: invalid UTF-8",
        ),
    ];
    for (name, body, message) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, body).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        gleaner()
            .args(["clean", input.to_str().unwrap(), "-q", "-o"])
            .arg(out.join("clean.jsonl"))
            .arg("--report")
            .arg(out.join("report.json"))
            .arg("--explain")
            .arg(out.join("explain.jsonl"))
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
        assert!(listing(&out).is_empty(), "{name}: left {:?}", listing(&out));
    }
    // A truncated gzip stream is bad input too.
    let jsonl = std::fs::read(fixture("seeds.jsonl")).unwrap();
    let gz = gzip(&jsonl);
    let input = dir.path().join("cut.jsonl.gz");
    std::fs::write(&input, &gz[..gz.len() / 2]).unwrap();
    let out = dir.path().join("cut-out.jsonl");
    gleaner()
        .args([
            "clean",
            input.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cut.jsonl.gz:"));
    assert!(!out.exists());
}

#[test]
fn refuses_to_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let body = std::fs::read(fixture("fields.jsonl")).unwrap();
    std::fs::write(&input, &body).unwrap();
    for flag in ["-o", "--explain", "--report", "--rejected"] {
        let mut cmd = gleaner();
        cmd.args(["clean", input.to_str().unwrap(), "-q"]);
        if flag != "-o" {
            cmd.args(["-o", dir.path().join("o.jsonl").to_str().unwrap()]);
        }
        cmd.arg(flag)
            .arg(&input)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("refusing to write over an input"));
        assert_eq!(std::fs::read(&input).unwrap(), body);
    }
    // Nor into the folder it is reading.
    gleaner()
        .args(["clean", fixture("seeds").to_str().unwrap(), "-q", "-o"])
        .arg(fixture("seeds").join("clean.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a folder being read"));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    // Enough records that the output outgrows the pipe buffer.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    for i in 0..20_000 {
        writeln!(
            f,
            "{{\"id\":\"d{i}\",\"text\":\"Document number {i} says something.\"}}"
        )
        .unwrap();
    }
    drop(f);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("gleaner"))
        .args(["clean", input.to_str().unwrap(), "-o", "-", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"d0\""));
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_interrupted_run_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    // A FIFO as input: the second read (the apply step) blocks until a writer opens it again, so
    // the run is caught with its outputs half written.
    let fifo = input.join("feed.jsonl");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("gleaner"))
        .args(["clean", input.to_str().unwrap(), "-q", "-o"])
        .arg(out.join("clean.jsonl"))
        .arg("--explain")
        .arg(out.join("explain.jsonl"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&fifo, "{\"text\":\"one\"}\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while listing(&out).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "outputs never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(listing(&out).is_empty(), "left {:?}", listing(&out));
}

#[test]
fn byte_order_marks_crlf_empty_files_and_empty_texts_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(
        input.join("a.jsonl"),
        "\u{feff}{\"id\":\"bom\",\"text\":\"x\"}\r\n{\"id\":\"empty\",\"text\":\"\"}\r\n",
    )
    .unwrap();
    std::fs::write(input.join("b.jsonl"), "").unwrap();
    std::fs::write(input.join("c.txt"), "\u{feff}line one\r\nline two\r\n").unwrap();
    // Reading is under test: texts this short would go as boilerplate.
    let out = clean_stdout(&[input.to_str().unwrap(), "-o", "-", "--no-boilerplate"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "bom");
    assert_eq!(lines[1]["text"], "");
    assert_eq!(lines[2]["id"], "c");
    assert_eq!(lines[2]["text"], "line one\r\nline two\r\n");
    // A raw NUL byte inside a JSON string is malformed JSON, named with its line.
    std::fs::write(
        input.join("d.jsonl"),
        b"{\"text\":\"ok\"}\n{\"text\":\"a\x00b\"}\n",
    )
    .unwrap();
    gleaner()
        .args(["clean", input.to_str().unwrap(), "-o", "-", "-q"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("d.jsonl:2: malformed JSON"));
}

#[test]
fn on_error_skip_keeps_going_and_accounts_for_every_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"a\",\"text\":\"good one\"}\n{\"id\":\"b\",\"text\":\n[1]\n{\"id\":\"c\",\"text\":\"good two\"}\n{\"id\":\"d\"}\n",
    )
    .unwrap();
    let rejected = dir.path().join("rejected.jsonl");
    let report = dir.path().join("report.json");
    let out = clean_stdout(&[
        input.to_str().unwrap(),
        "-o",
        "-",
        "--on-error",
        "skip",
        "--rejected",
        rejected.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let ids: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["a", "c"]);
    let rejected = std::fs::read_to_string(&rejected).unwrap();
    let errors: Vec<String> = rejected
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rejected"]["error"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(errors.len(), 3);
    assert!(
        errors[0].contains("mixed.jsonl:2: malformed JSON"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("mixed.jsonl:3: not a JSON object"),
        "{errors:?}"
    );
    assert!(
        errors[2].contains("mixed.jsonl:5: no `text` field"),
        "{errors:?}"
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["records_skipped"], 3);
    assert_eq!(r["documents_read"], 2);
}

#[test]
fn ids_never_name_output_files() {
    // Folder output is named after the input files, never after record ids.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"../../escape\",\"text\":\"a\"}\n{\"id\":\"/etc/passwd\",\"text\":\"b\"}\n{\"id\":\"nul\\u0000x\",\"text\":\"c\"}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    gleaner()
        .args([
            "clean",
            input.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(listing(dir.path()), ["in.jsonl", "out"]);
    assert_eq!(listing(&out), ["in.jsonl"]);
    assert_eq!(
        std::fs::read(out.join("in.jsonl")).unwrap(),
        std::fs::read(&input).unwrap()
    );
}

#[test]
fn a_hundred_megabyte_document_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let sentence = "A long document keeps every one of its sentences. ";
    let text = sentence.repeat(100_000_000 / sentence.len());
    let record = serde_json::json!({"id": "big", "text": text}).to_string();
    std::fs::write(&input, format!("{record}\n")).unwrap();
    let out = dir.path().join("out.jsonl");
    gleaner()
        .args([
            "clean",
            input.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&input).unwrap());
}

/// Every cleaning step turned off.
const STEPS_OFF: [&str; 3] = ["--no-boilerplate", "--no-passages", "--no-doc-dedup"];

#[test]
fn with_every_step_off_the_output_is_the_input_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    // JSONL records, as they came (the seeds carry boilerplate and duplicates to remove).
    let out = dir.path().join("seeds.jsonl");
    let mut args = vec![
        fixture("seeds.jsonl").to_str().unwrap().to_string(),
        "-o".into(),
    ];
    args.push(out.to_str().unwrap().into());
    args.extend(STEPS_OFF.iter().map(|s| s.to_string()));
    clean_stdout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(std::fs::read(&out).unwrap() == std::fs::read(fixture("seeds.jsonl")).unwrap());
    // Text files into a folder: identical files.
    let folder = dir.path().join("txt");
    let mut args = vec![fixture("seeds").to_str().unwrap().to_string(), "-o".into()];
    args.push(folder.to_str().unwrap().into());
    args.extend(STEPS_OFF.iter().map(|s| s.to_string()));
    clean_stdout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for name in listing(&fixture("seeds")) {
        assert!(
            std::fs::read(folder.join(&name)).unwrap()
                == std::fs::read(fixture("seeds").join(&name)).unwrap(),
            "{name} changed"
        );
    }
}

#[test]
fn the_same_bytes_for_1_2_and_8_threads_and_for_repeated_runs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: &str, n: usize| {
        let out = dir.path().join(format!("out-{threads}-{n}.jsonl"));
        let explain = dir.path().join(format!("explain-{threads}-{n}.jsonl"));
        let rejected = dir.path().join(format!("rejected-{threads}-{n}.jsonl"));
        clean_stdout(&[
            &seeds(),
            fixture("seeds.jsonl").to_str().unwrap(),
            fixture("fields.jsonl").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--explain",
            explain.to_str().unwrap(),
            "--rejected",
            rejected.to_str().unwrap(),
            "--threads",
            threads,
            "--batch-bytes",
            "500",
        ]);
        [out, explain, rejected].map(|p| std::fs::read(p).unwrap())
    };
    let first = run("1", 0);
    // The seeds twice: the JSONL copies are dropped as near-copies of the text files.
    assert!(!first[2].is_empty());
    for (threads, n) in [("2", 0), ("8", 0), ("8", 1), ("1", 1)] {
        assert!(
            run(threads, n) == first,
            "{threads} threads, run {n} differs"
        );
    }
}

#[test]
fn a_truncated_zstd_stream_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let zst = zstd(&std::fs::read(fixture("seeds.jsonl")).unwrap());
    let input = dir.path().join("cut.jsonl.zst");
    std::fs::write(&input, &zst[..zst.len() / 2]).unwrap();
    let out = dir.path().join("out.jsonl");
    gleaner()
        .args([
            "clean",
            input.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cut.jsonl.zst:"));
    assert_eq!(listing(dir.path()), ["cut.jsonl.zst"]);
}

#[test]
fn a_document_of_a_million_lines_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.jsonl");
    let text: String = (0..1_000_000)
        .map(|i| format!("Line {i} of a very long document.\n"))
        .collect();
    let record = serde_json::json!({"id": "long", "text": text}).to_string();
    std::fs::write(&input, format!("{record}\n")).unwrap();
    let report = dir.path().join("report.json");
    let out = clean_stdout(&[
        input.to_str().unwrap(),
        "-o",
        "-",
        "--report",
        report.to_str().unwrap(),
    ]);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["documents_read"], 1);
    // Whatever cleaning decided, every byte read is accounted for.
    let removed: u64 = r["removed_bytes_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        r["bytes_written"].as_u64().unwrap() + removed + r["bytes_dropped"].as_u64().unwrap(),
        text.len() as u64
    );
    assert_eq!(
        out.lines().count() as u64,
        r["documents_written"].as_u64().unwrap()
    );
}

/// A run whose temporary work folder would pass `--max-tmp-space` stops there with the knobs
/// named, leaves no output and removes its work folder; within the budget the output is the
/// usual one.
#[test]
fn max_tmp_space_stops_a_run_before_its_work_folder_passes_it() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = dir.path().join("out.jsonl");
    let input = fixture("seeds.jsonl");
    let args = |space: &str| {
        vec![
            "clean".to_string(),
            input.to_str().unwrap().to_string(),
            "-o".into(),
            out.to_str().unwrap().to_string(),
            "--tmp-dir".into(),
            tmp.to_str().unwrap().to_string(),
            "--max-tmp-space".into(),
            space.into(),
        ]
    };
    gleaner()
        .args(args("8K"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "the temporary work folder in {} reached --max-tmp-space 8192 bytes",
            tmp.display()
        )))
        .stderr(predicate::str::contains(
            "point --tmp-dir at a disk with more room",
        ));
    assert!(!out.exists(), "no output under its name after the stop");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "work folder removed"
    );
    gleaner().args(args("1G")).assert().success();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        clean_stdout(&[input.to_str().unwrap(), "-o", "-"])
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "work folder removed"
    );
}

/// A run projected over `--max-memory` stops before the resolve step, names the knob and leaves
/// no output; within the budget, the projection is printed and the output is the usual one.
#[test]
fn max_memory_refuses_a_run_over_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let input = fixture("seeds.jsonl");
    gleaner()
        .args([
            "clean",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--max-memory", "1K"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("resolve projected at"))
        .stderr(predicate::str::contains(
            "more than --max-memory 1024 bytes; raise --max-memory",
        ));
    assert!(!out.exists(), "no output under its name after a refusal");
    gleaner()
        .args(["clean", input.to_str().unwrap(), "-o", "-", "-q"])
        .args(["--max-memory", "1x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-memory"));
    let within = gleaner()
        .args(["clean", input.to_str().unwrap(), "-o", "-"])
        .args(["--max-memory", "64G"])
        .output()
        .unwrap();
    assert!(within.status.success());
    let stderr = String::from_utf8_lossy(&within.stderr);
    assert!(
        stderr.contains("resolve projected at") && stderr.contains("--max-memory 65536 MiB"),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8(within.stdout).unwrap(),
        clean_stdout(&[input.to_str().unwrap(), "-o", "-"])
    );
}
