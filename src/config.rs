//! The resolved configuration of a run: defaults, then a `gleaner.toml`, then command-line flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What to do with a record that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Stop with exit status 1 and `FILE:LINE: what is wrong`.
    Stop,
    /// Skip the record, count it in the report and write it to `--rejected`.
    Skip,
}

impl std::fmt::Display for OnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OnError::Stop => "stop",
            OnError::Skip => "skip",
        })
    }
}

/// Every setting of `gleaner clean`. Field names are the TOML keys and the flag names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    /// Field of a JSONL record that holds the text.
    pub text_field: String,
    /// Field of a JSONL record that holds the document id.
    pub id_field: String,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// No progress bar and no summary on stderr.
    pub quiet: bool,
    /// Bytes read per batch handed to the workers; 0 means 1 MiB per worker thread.
    pub batch_bytes: usize,
    /// A run whose resolve step is projected to need more memory than this stops before it
    /// starts; absent: 80% of the machine's memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<u64>,
    /// Disk budget of `gleaner clean`'s temporary work folder: a run whose folder reaches it
    /// stops there; absent: the free space of the folder's disk, less 5 %.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tmp_space: Option<u64>,
    /// Folder for the temporary work files of `gleaner clean` (absent: the system's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmp_dir: Option<std::path::PathBuf>,
    /// What to do with a record that cannot be read.
    pub on_error: OnError,
    /// Write every text unchanged and attach the spans that cleaning would remove.
    pub annotate_only: bool,
    /// The boilerplate step (`[boilerplate]`).
    pub boilerplate: crate::boilerplate::BoilerplateConfig,
    /// Near-duplicate passages and documents (`[dedup]`).
    pub dedup: crate::dedup::DedupConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            text_field: "text".into(),
            id_field: "id".into(),
            threads: 0,
            quiet: false,
            batch_bytes: 0,
            max_memory: None,
            max_tmp_space: None,
            tmp_dir: None,
            on_error: OnError::Stop,
            annotate_only: false,
            boilerplate: Default::default(),
            dedup: crate::dedup::DedupConfig::default(),
        }
    }
}

impl Config {
    /// Reads a `gleaner.toml`; unknown keys and bad values are errors that name the file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text).map_err(|message| {
            let (line, message) = message;
            Error::bad_input(path.display().to_string(), line, message)
        })
    }

    /// Parses TOML text; the error carries the 1-based line it points at.
    pub fn from_toml_str(text: &str) -> Result<Self, (u64, String)> {
        toml::from_str::<Config>(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| 1 + text[..s.start].matches('\n').count() as u64)
                .unwrap_or(1);
            (line, e.message().to_string())
        })
    }

    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<()> {
        if self.text_field.is_empty() {
            return Err(Error::usage("--text-field must not be empty"));
        }
        if self.id_field.is_empty() {
            return Err(Error::usage("--id-field must not be empty"));
        }
        self.boilerplate.validate()?;
        self.dedup.validate()
    }

    /// Bytes read per batch: `batch-bytes`, or 1 MiB per thread of the current pool. A batch
    /// and what the workers make of it stay in the caches, and the few batches in flight take
    /// little memory; each thread still gets a few hundred documents of a batch.
    pub fn batch_bytes(&self) -> usize {
        match self.batch_bytes {
            0 => (1 << 20) * rayon::current_num_threads().max(1),
            n => n,
        }
    }

    /// The memory budget of a run: `max-memory`, or 80% of the machine's memory (none when
    /// that cannot be read).
    pub fn memory_budget(&self) -> Option<u64> {
        self.max_memory
            .or_else(|| total_memory().map(|m| m / 5 * 4))
    }

    /// The number of worker threads to start.
    pub fn worker_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn total_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses a byte count: digits with an optional K, M, G or T suffix (powers of 1024).
pub fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown unit `{c}` in `{text}` (use K, M, G or T)")),
            };
            (&text[..i], shift)
        }
        _ => (text, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count such as 4000000000 or 4G"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Where a run reads and writes, beside its settings.
#[derive(Debug, Clone)]
pub struct Paths {
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    pub report: Option<PathBuf>,
    pub explain: Option<PathBuf>,
    pub rejected: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By default a batch is 1 MiB per thread of the pool the run is in; a set size stays.
    #[test]
    fn batches_grow_with_the_threads() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let auto = Config::default();
        assert_eq!(pool.install(|| auto.batch_bytes()), 3 << 20);
        let set = Config {
            batch_bytes: 5000,
            ..Config::default()
        };
        assert_eq!(pool.install(|| set.batch_bytes()), 5000);
    }

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(super::parse_bytes("1000"), Ok(1000));
        assert_eq!(super::parse_bytes("4k"), Ok(4096));
        assert_eq!(super::parse_bytes("3G"), Ok(3 << 30));
        assert!(super::parse_bytes("3X").is_err());
        assert!(super::parse_bytes("G").is_err());
        assert!(super::parse_bytes("99999999999T").is_err());
    }

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let c = Config::from_toml_str("text-field = \"body\"\nthreads = 3\n").unwrap();
        assert_eq!(c.text_field, "body");
        assert_eq!(c.threads, 3);
        assert_eq!(c.id_field, "id");
        let (line, msg) = Config::from_toml_str("quiet = true\ntext_feld = 1\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("unknown field"), "{msg}");
    }

    #[test]
    fn the_boilerplate_section_has_its_own_keys() {
        let c = Config::from_toml_str(
            "annotate-only = true\n[boilerplate]\nrepeated-min-docs = 5\ndisable = [\"caption\"]\n",
        )
        .unwrap();
        assert!(c.annotate_only);
        assert_eq!(c.boilerplate.repeated_min_docs, 5);
        assert_eq!(c.boilerplate.disable, ["caption"]);
        assert_eq!(c.boilerplate.repeated_max_words, 10);
        let (line, msg) =
            Config::from_toml_str("[boilerplate]\nrepeated-min-docs = 5\nrepeat = 1\n")
                .unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("unknown field"), "{msg}");
        let c = Config::from_toml_str("[boilerplate]\nrepeated-min-docs = 1\n").unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn dedup_section_is_checked() {
        let c = Config::from_toml_str("[dedup]\npassage-threshold = 0.7\n").unwrap();
        assert_eq!(c.dedup.passage_threshold, 0.7);
        assert_eq!(c.dedup.shingle_size, 5);
        let (line, msg) = Config::from_toml_str("[dedup]\nshingle_size = 3\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("unknown field"), "{msg}");
        let bad = Config::from_toml_str("[dedup]\npassage-threshold = 1.5\n").unwrap();
        assert!(bad.validate().is_err());
        assert!(Config::default().validate().is_ok());
    }
}
