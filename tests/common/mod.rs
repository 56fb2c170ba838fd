//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

pub fn gleaner() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("gleaner").expect("the gleaner binary is built")
}

/// Runs `gleaner clean ARGS...` and returns stdout; panics with stderr when it fails.
pub fn clean_stdout(args: &[&str]) -> String {
    let out = gleaner()
        .arg("clean")
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gleaner clean {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares `actual` with the golden file line by line. `GLEANER_BLESS=1` rewrites the file
/// instead, for a change whose new output has been read and found right.
pub fn assert_golden(actual: &str, golden: &str) {
    let path = fixture(golden);
    if std::env::var_os("GLEANER_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (GLEANER_BLESS=1 writes it)", path.display()));
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        assert_eq!(x, y, "{golden}: line {} differs", i + 1);
    }
    assert_eq!(a.len(), e.len(), "{golden}: number of lines differs");
}

/// The JSON values of a JSONL file, one per line.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

pub fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(bytes), &mut s).unwrap();
    s
}

/// The names in a folder, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
