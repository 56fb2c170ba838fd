//! The sharded stages (plan, scan, resolve, merge, apply) against `gleaner clean`: the same bytes
//! for any number of tasks, refusals before upstream work is done or when inputs changed, and
//! reruns that skip finished tasks.

mod common;

use std::path::{Path, PathBuf};

use common::gleaner;
use gleaner::config::Paths;
use gleaner::corpus::discover;
use gleaner::stages::{apply, merge, resolve, scan, Manifest, Task, Work};
use gleaner::Config;
use proptest::prelude::*;

/// A deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&str; 24] = [
    "the",
    "minister",
    "said",
    "on",
    "Friday",
    "that",
    "talks",
    "with",
    "the",
    "border",
    "service",
    "would",
    "resume",
    "after",
    "a",
    "visit",
    "to",
    "Baku",
    "by",
    "officials",
    "Share",
    "Subscribe",
    "Read more",
    "Photo credit: AP",
];

/// `files` JSONL files of news-like documents: fresh paragraphs, paragraphs and whole documents
/// copied from earlier files, and short lines that many documents repeat.
fn corpus(dir: &Path, seed: u64, files: usize, docs_per_file: usize) {
    let mut rng = Rng(seed);
    let mut paragraphs: Vec<String> = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    std::fs::create_dir_all(dir).unwrap();
    for f in 0..files {
        let mut out = String::new();
        for d in 0..docs_per_file {
            let text = if !docs.is_empty() && rng.below(6) == 0 {
                docs[rng.below(docs.len())].clone()
            } else {
                let mut text = String::new();
                for _ in 0..1 + rng.below(5) {
                    let p = if !paragraphs.is_empty() && rng.below(4) == 0 {
                        paragraphs[rng.below(paragraphs.len())].clone()
                    } else {
                        let p: Vec<&str> = (0..4 + rng.below(30))
                            .map(|_| WORDS[rng.below(20)])
                            .collect();
                        p.join(" ") + "."
                    };
                    text.push_str(&p);
                    text.push_str("\n\n");
                    paragraphs.push(p);
                }
                if rng.below(2) == 0 {
                    text.push_str(WORDS[20 + rng.below(4)]);
                    text.push('\n');
                }
                text
            };
            docs.push(text.clone());
            let record = serde_json::json!({"id": format!("f{f}-d{d}"), "text": text});
            out.push_str(&record.to_string());
            out.push('\n');
        }
        std::fs::write(dir.join(format!("part-{f:02}.jsonl")), out).unwrap();
    }
}

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        out.push((
            path.strip_prefix(dir).unwrap().to_path_buf(),
            std::fs::read(&path).unwrap(),
        ));
    }
    out.sort();
    out
}

fn config() -> Config {
    Config {
        quiet: true,
        ..Config::default()
    }
}

/// `gleaner clean` into a folder, in this process.
fn clean(input: &Path, output: &Path) {
    let paths = Paths {
        inputs: vec![input.to_path_buf()],
        output: output.to_path_buf(),
        report: None,
        explain: None,
        rejected: None,
    };
    gleaner::pipeline::clean(&config(), &paths).unwrap();
}

/// The stages with `n` scan, `p` resolve and `m` apply tasks, tasks run in a shuffled order
/// within each stage.
fn staged(input: &Path, work: &Path, output: &Path, (n, p, m): (usize, usize, usize), seed: u64) {
    let inputs = discover(&[input.to_path_buf()]).unwrap();
    let manifest = Manifest::new(&config(), &inputs, output, (n, p), true).unwrap();
    let work = Work::plan(work, manifest).unwrap();
    let mut rng = Rng(seed);
    let shuffled = |k: usize, rng: &mut Rng| {
        let mut v: Vec<usize> = (0..k).collect();
        for i in (1..k).rev() {
            v.swap(i, rng.below(i + 1));
        }
        v
    };
    let boilerplate =
        gleaner::boilerplate::Boilerplate::from_config(&config().boilerplate).unwrap();
    for i in shuffled(n, &mut rng) {
        scan::run(&work, i, boilerplate.as_ref(), true).unwrap();
    }
    for j in shuffled(p, &mut rng) {
        resolve::run(&work, j).unwrap();
    }
    merge::run(&work).unwrap();
    for i in shuffled(m, &mut rng) {
        apply::run_task(&work, Task { index: i, count: m }, true).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any split into tasks gives the bytes of the one-process run.
    #[test]
    fn any_task_counts_give_the_output_of_clean(
        seed in any::<u64>(),
        files in 1usize..7,
        n in 1usize..6,
        p in 1usize..6,
        m in 1usize..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        corpus(&input, seed, files, 12);
        clean(&input, &dir.path().join("ref"));
        staged(&input, &dir.path().join("work"), &dir.path().join("out"), (n, p, m), seed);
        let (expected, actual) = (tree(&dir.path().join("ref")), tree(&dir.path().join("out")));
        prop_assert_eq!(expected.len(), files);
        prop_assert!(expected == actual, "outputs differ for N={} P={} M={}", n, p, m);
    }
}

fn run_ok(args: &[&str]) -> String {
    let out = gleaner().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "gleaner {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run_fails(args: &[&str], code: i32, message: &str) {
    let out = gleaner().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "gleaner {args:?}: {stderr}");
    assert!(stderr.contains(message), "gleaner {args:?}: {stderr}");
}

/// The command line: a stage waits for its upstream markers, a changed input fails its scan
/// task, a rerun skips what is done, files of another plan are refused, and the result equals
/// `gleaner clean`.
#[test]
fn stage_commands_check_their_inputs_and_skip_finished_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    corpus(&input, 7, 6, 20);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (work, out) = (s(&dir.path().join("work")), s(&dir.path().join("out")));
    let input_s = s(&input);
    let plan = [
        "plan",
        &input_s,
        "--work",
        &work,
        "-o",
        &out,
        "--scan-tasks",
        "3",
        "--resolve-tasks",
        "2",
        "-q",
    ];
    run_ok(&plan);
    // The same plan again is a rerun; another one is refused.
    run_ok(&plan);
    run_fails(
        &[
            "plan",
            &input_s,
            "--work",
            &work,
            "-o",
            &out,
            "--scan-tasks",
            "2",
            "-q",
        ],
        2,
        "holds another plan",
    );
    run_fails(
        &["resolve", "--work", &work, "--task", "0/2", "-q"],
        2,
        "upstream task(s) not done",
    );
    run_fails(
        &["scan", "--work", &work, "--task", "0/4", "-q"],
        2,
        "the plan has 3 scan tasks",
    );
    run_fails(&["merge", "--work", &work, "-q"], 2, "cannot start");

    // A file changed after the plan fails the scan task that reads it, and only that one.
    let victim = input.join("part-05.jsonl");
    let original = std::fs::read(&victim).unwrap();
    std::fs::write(
        &victim,
        [&original[..], b"{\"text\":\"added later\"}\n"].concat(),
    )
    .unwrap();
    run_fails(
        &["scan", "--work", &work, "--task", "2/3", "-q"],
        2,
        "changed since `gleaner plan`",
    );
    assert!(!dir.path().join("work/scan/2.done").exists());
    std::fs::write(&victim, &original).unwrap();

    for i in 0..3 {
        run_ok(&["scan", "--work", &work, "--task", &format!("{i}/3"), "-q"]);
    }
    let facts = dir.path().join("work/scan/0/facts.bin");
    let before = std::fs::metadata(&facts).unwrap().modified().unwrap();
    run_ok(&["scan", "--work", &work, "--task", "0/3", "-q"]);
    assert_eq!(
        std::fs::metadata(&facts).unwrap().modified().unwrap(),
        before,
        "a finished task is skipped"
    );
    for j in 0..2 {
        run_ok(&[
            "resolve",
            "--work",
            &work,
            "--task",
            &format!("{j}/2"),
            "-q",
        ]);
    }
    run_ok(&["merge", "--work", &work, "-q"]);
    run_fails(
        &["apply", "--work", &work, "--task", "1/0"],
        2,
        "index must be below the count",
    );
    for i in 0..4 {
        run_ok(&["apply", "--work", &work, "--task", &format!("{i}/4"), "-q"]);
    }
    let reference = dir.path().join("ref");
    run_ok(&["clean", &input_s, "-o", &s(&reference), "-q"]);
    assert!(
        tree(&reference) == tree(Path::new(&out)),
        "staged output equals clean's"
    );

    // A stage file from another plan is refused, naming the file.
    let other = s(&dir.path().join("other"));
    run_ok(&[
        "plan",
        &input_s,
        "--work",
        &other,
        "-o",
        &s(&dir.path().join("out2")),
        "--scan-tasks",
        "3",
        "--resolve-tasks",
        "2",
        "--no-passages",
        "-q",
    ]);
    for i in 0..3 {
        run_ok(&["scan", "--work", &other, "--task", &format!("{i}/3"), "-q"]);
    }
    std::fs::copy(
        dir.path().join("work/scan/1/partition-0.bin"),
        dir.path().join("other/scan/1/partition-0.bin"),
    )
    .unwrap();
    run_fails(
        &["resolve", "--work", &other, "--task", "0/2", "-q"],
        2,
        "written for another plan",
    );
}

#[test]
fn plan_refuses_what_a_sharded_run_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    corpus(&input, 1, 2, 3);
    let (input_s, work) = (input.to_str().unwrap(), dir.path().join("w"));
    let work_s = work.to_str().unwrap();
    run_fails(
        &["plan", input_s, "--work", work_s, "-o", "out.jsonl"],
        2,
        "give a folder as --output",
    );
    run_fails(
        &[
            "plan",
            input_s,
            "--work",
            work_s,
            "-o",
            "out",
            "--explain",
            "e.jsonl",
        ],
        2,
        "for `gleaner clean`",
    );
    run_fails(
        &["scan", "--work", work_s, "--task", "0/1"],
        2,
        "run `gleaner plan",
    );
}

/// Under a small `--max-memory`, `clean` resolves in more, smaller partitions and writes
/// the same bytes as with the default budget.
#[test]
fn a_small_memory_budget_spills_to_more_partitions_with_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    corpus(&input, 3, 8, 250);
    let input_s = input.to_str().unwrap();
    let default_out = dir.path().join("a.jsonl");
    run_ok(&["clean", input_s, "-o", default_out.to_str().unwrap(), "-q"]);
    let small_out = dir.path().join("b.jsonl");
    let stderr = run_ok(&[
        "clean",
        input_s,
        "-o",
        small_out.to_str().unwrap(),
        "--max-memory",
        "2M",
        // Small batches: the apply step reads each partition's routes over many batches.
        "--batch-bytes",
        "3000",
    ]);
    let partitions: usize = stderr
        .split(" hash-range partition")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no partition count in: {stderr}"));
    assert!(partitions > 1, "{stderr}");
    assert_eq!(
        std::fs::read(&default_out).unwrap(),
        std::fs::read(&small_out).unwrap()
    );
}

/// A routes file damaged inside its packed entries stops the apply step with a message that
/// names the file, and no output appears.
#[test]
fn damaged_routes_name_their_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    corpus(&input, 5, 2, 60);
    let output = dir.path().join("out");
    let inputs = discover(std::slice::from_ref(&input)).unwrap();
    let manifest = Manifest::new(&config(), &inputs, &output, (1, 1), true).unwrap();
    let work = Work::plan(&dir.path().join("work"), manifest).unwrap();
    let boilerplate =
        gleaner::boilerplate::Boilerplate::from_config(&config().boilerplate).unwrap();
    scan::run(&work, 0, boilerplate.as_ref(), true).unwrap();
    resolve::run(&work, 0).unwrap();
    merge::run(&work).unwrap();
    // The file ends with the last record's packed entries: continuation bytes that never end.
    let routes = work.routes_path(0, 0);
    let mut bytes = std::fs::read(&routes).unwrap();
    let n = bytes.len();
    assert!(n > 200, "the corpus shares shingles: {n} bytes of routes");
    bytes[n - 6..].fill(0xFF);
    std::fs::write(&routes, bytes).unwrap();
    let err = apply::run_task(&work, Task { index: 0, count: 1 }, true)
        .expect_err("damaged routes are refused")
        .to_string();
    assert!(
        err.contains("routes-0.bin") && err.contains("damaged"),
        "{err}"
    );
    let written = std::fs::read_dir(&output).map_or(0, |d| d.count());
    assert_eq!(written, 0, "nothing written under the output");
}
