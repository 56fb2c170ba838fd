//! Command-line flags (clap) and their mapping onto a [`Config`]: defaults < `--config` file <
//! flags given on the command line.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};

use crate::boilerplate::BoilerplateConfig;
use crate::config::{Config, OnError, Paths};
use crate::dedup::DedupConfig;
use crate::error::Result;

#[derive(Debug, Parser)]
#[command(
    name = "gleaner",
    version,
    about = "Turns scraped text into a clean corpus: strips boilerplate, removes near-duplicate passages and documents, explains every removed byte."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Clean a corpus: read INPUT..., write the clean corpus to OUTPUT.
    Clean(Box<CleanArgs>),
    /// List the boilerplate rules: id, family, whether on, where defined, what each removes.
    Rules(RulesArgs),
    /// Print the probability that two documents become LSH candidates at each Jaccard, to choose
    /// --bands and --rows.
    Lsh(LshArgs),
    /// Stage 1 of a sharded run: freeze the inputs (paths, sizes, content hashes) and the
    /// configuration into a work folder. Takes the flags of `clean`; the output is a folder.
    Plan(Box<PlanArgs>),
    /// Stage 2: scan task i/N (the files of shard i).
    Scan(TaskArgs),
    /// Stage 3: resolve task j/P (hash-range partition j).
    Resolve(TaskArgs),
    /// Stage 4: verify candidate pairs, join near-copies, write one decision file per input file.
    Merge(StageArgs),
    /// Stage 5: apply task i/M (any M): write the clean output of a range of input files.
    Apply(TaskArgs),
    /// Run the stages of a planned work folder on a Slurm cluster.
    #[command(subcommand)]
    Slurm(SlurmCommand),
}

/// Flags of `gleaner plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The work folder: manifest, stage files, done markers, logs.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,

    /// Scan tasks (N): shards of input files, about equal in bytes.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub scan_tasks: usize,

    /// Resolve tasks (P): equal ranges of the hash space.
    #[arg(long, value_name = "P", default_value_t = 8)]
    pub resolve_tasks: usize,

    #[command(flatten)]
    pub clean: CleanArgs,
}

/// Flags of a stage that works on the whole work folder.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// The work folder made by `gleaner plan`.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,

    /// Worker threads; 0 means one per core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Flags of a stage task.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Which task: i/N, zero-based.
    #[arg(long, value_name = "i/N")]
    pub task: crate::stages::Task,

    #[command(flatten)]
    pub stage: StageArgs,
}

/// `gleaner slurm ...`
#[derive(Debug, Subcommand)]
pub enum SlurmCommand {
    /// Submit scan, resolve, merge and apply as job arrays chained with afterok.
    Submit(SlurmSubmitArgs),
}

/// Flags of `gleaner slurm submit`.
#[derive(Debug, Args)]
pub struct SlurmSubmitArgs {
    /// The work folder made by `gleaner plan`.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,

    /// Apply tasks (M).
    #[arg(long, value_name = "M", default_value_t = 4)]
    pub apply_tasks: usize,

    /// Pass this argument to every sbatch call (repeatable), e.g. --sbatch-arg=--partition=cpu.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,

    /// The gleaner binary the jobs run (default: this one).
    #[arg(long, value_name = "PATH")]
    pub gleaner: Option<PathBuf>,
}

/// Flags of `gleaner lsh`.
#[derive(Debug, Args)]
pub struct LshArgs {
    /// LSH bands.
    #[arg(long, value_name = "B", default_value_t = DedupConfig::default().bands)]
    pub bands: usize,

    /// MinHash values per band.
    #[arg(long, value_name = "R", default_value_t = DedupConfig::default().rows)]
    pub rows: usize,

    /// Jaccard step between lines.
    #[arg(long, value_name = "STEP", default_value_t = 0.05)]
    pub step: f64,
}

impl LshArgs {
    /// The table `gleaner lsh` prints.
    pub fn table(&self) -> Result<String> {
        if self.bands == 0 || self.rows == 0 || self.bands * self.rows > 4096 {
            return Err(crate::Error::usage(
                "bands and rows must be at least 1, with bands × rows at most 4096",
            ));
        }
        if !(self.step > 0.0 && self.step <= 1.0) {
            return Err(crate::Error::usage("--step must be in (0, 1]"));
        }
        Ok(crate::dedup::lsh::table(self.bands, self.rows, self.step))
    }
}

/// Flags of `gleaner clean`. Each setting flag has the same name as its `gleaner.toml` key.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Input files or folders: .jsonl, .jsonl.gz, .jsonl.zst, .txt; `-` reads JSONL from stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output: a path ending in .jsonl, .jsonl.gz or .jsonl.zst (or `-` for stdout) gives one JSONL
    /// corpus; any other path is a folder that mirrors the input tree.
    #[arg(short = 'o', long = "output", value_name = "OUTPUT")]
    pub output: PathBuf,

    /// Read settings from this TOML file; flags given on the command line win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Field of a JSONL record that holds the text.
    #[arg(long, value_name = "NAME", default_value_t = Config::default().text_field)]
    pub text_field: String,

    /// Field of a JSONL record that holds the document id (absent: `<file>:<line>`).
    #[arg(long, value_name = "NAME", default_value_t = Config::default().id_field)]
    pub id_field: String,

    /// Write a JSON run report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write one JSONL line per removed span here.
    #[arg(long, value_name = "FILE")]
    pub explain: Option<PathBuf>,

    /// Write dropped documents, with their reason, here (JSONL).
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,

    /// Worker threads; 0 means one per core.
    #[arg(long, value_name = "N", default_value_t = Config::default().threads)]
    pub threads: usize,

    /// No progress bar and no summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// What to do with a record that cannot be read: stop with its FILE:LINE, or skip it (counted
    /// in the report, written to --rejected).
    #[arg(long, value_name = "WHAT", default_value_t = Config::default().on_error)]
    pub on_error: OnError,

    /// Bytes read per batch handed to the workers (0: 1 MiB per worker thread).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().batch_bytes)]
    pub batch_bytes: usize,

    /// Memory budget (bytes, or with a K, M, G or T suffix; default 80% of the machine's memory):
    /// the resolve step is split into enough hash-range partitions, resolved one at a time, to
    /// stay under it, and a run projected over it stops before the resolve step.
    #[arg(long, value_name = "BYTES", value_parser = crate::config::parse_bytes)]
    pub max_memory: Option<u64>,

    /// Folder for the temporary work files (default: the system's temporary folder). They take
    /// two to five bytes per input byte (more for text of short lines or without spaces), and
    /// are removed at the end of the run.
    #[arg(long, value_name = "DIR")]
    pub tmp_dir: Option<PathBuf>,

    /// Disk budget of the temporary work folder (bytes, or with a K, M, G or T suffix; default:
    /// the free space of --tmp-dir's disk, less 5%): a run whose work folder reaches it stops
    /// there, before the disk is full, and writes nothing.
    #[arg(long, value_name = "BYTES", value_parser = crate::config::parse_bytes)]
    pub max_tmp_space: Option<u64>,

    /// Tokens per shingle (w).
    #[arg(long, value_name = "W", default_value_t = DedupConfig::default().shingle_size, help_heading = "Near duplicates")]
    pub shingle_size: usize,

    /// Fold every digit to 0 before hashing tokens.
    #[arg(long, help_heading = "Near duplicates")]
    pub fold_digits: bool,

    /// Tokens a line needs to count as a passage.
    #[arg(long, value_name = "N", default_value_t = DedupConfig::default().min_passage_tokens, help_heading = "Near duplicates")]
    pub min_passage_tokens: usize,

    /// A passage goes when at least this share of its shingles occur in earlier documents (θ).
    #[arg(long, value_name = "THETA", default_value_t = DedupConfig::default().passage_threshold, help_heading = "Near duplicates")]
    pub passage_threshold: f64,

    /// Shingles in more than this many documents are common phrases and do not count (C).
    #[arg(long, value_name = "C", default_value_t = DedupConfig::default().max_shingle_docs, help_heading = "Near duplicates")]
    pub max_shingle_docs: usize,

    /// Drop a document when at least this share of its tokens went as duplicate passages.
    #[arg(long, value_name = "SHARE", default_value_t = DedupConfig::default().mostly_duplicate, help_heading = "Near duplicates")]
    pub mostly_duplicate: f64,

    /// Two documents are near-duplicates at this Jaccard of their shingle sets...
    #[arg(long, value_name = "J", default_value_t = DedupConfig::default().doc_jaccard, help_heading = "Near duplicates")]
    pub doc_jaccard: f64,

    /// ... or when this share of the later one's shingles are in the earlier one.
    #[arg(long, value_name = "SHARE", default_value_t = DedupConfig::default().doc_containment, help_heading = "Near duplicates")]
    pub doc_containment: f64,

    /// LSH bands (see `gleaner lsh`).
    #[arg(long, value_name = "B", default_value_t = DedupConfig::default().bands, help_heading = "Near duplicates")]
    pub bands: usize,

    /// MinHash values per LSH band.
    #[arg(long, value_name = "R", default_value_t = DedupConfig::default().rows, help_heading = "Near duplicates")]
    pub rows: usize,

    /// Keep near-duplicate passages.
    #[arg(long, help_heading = "Near duplicates")]
    pub no_passages: bool,

    /// Keep near-duplicate documents.
    #[arg(long, help_heading = "Near duplicates")]
    pub no_doc_dedup: bool,

    /// Report (not remove) reused spans of passages under the threshold, reason `reuse`.
    #[arg(long, help_heading = "Near duplicates")]
    pub explain_reuse: bool,

    /// Tokens a reused span needs to be reported.
    #[arg(long, value_name = "N", default_value_t = DedupConfig::default().reuse_min_tokens, help_heading = "Near duplicates")]
    pub reuse_min_tokens: usize,
    /// Write every text unchanged and attach the spans cleaning would remove to each record
    /// (`"gleaner": {"spans": [{"start", "end", "reason"}]}`, offsets in code points).
    #[arg(long)]
    pub annotate_only: bool,

    /// Add the boilerplate rules of this TOML file (repeatable; after those of `--config`).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Turn off a boilerplate rule or a whole family, by name (repeatable; see `gleaner rules`).
    #[arg(long = "disable", value_name = "ID")]
    pub disable: Vec<String>,

    /// Skip the boilerplate step entirely.
    #[arg(long)]
    pub no_boilerplate: bool,

    /// A line with at most this many words can be a repeated line.
    #[arg(long, value_name = "N", default_value_t = BoilerplateConfig::default().repeated_max_words)]
    pub repeated_max_words: usize,

    /// A short line in at least this many documents is boilerplate everywhere ...
    #[arg(long, value_name = "N", default_value_t = BoilerplateConfig::default().repeated_min_docs)]
    pub repeated_min_docs: u64,

    /// ... when that is also at least this share of the corpus (0 to 1).
    #[arg(long, value_name = "SHARE", default_value_t = BoilerplateConfig::default().repeated_min_share)]
    pub repeated_min_share: f64,
}

/// Flags of `gleaner rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Read `[boilerplate]` rules and disable lists from this TOML file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Add the rules of this TOML file (repeatable), checking it.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Show this rule or family as turned off (repeatable).
    #[arg(long = "disable", value_name = "ID")]
    pub disable: Vec<String>,

    /// Print the built-in rule file (TOML), a starting point for your own.
    #[arg(long, conflicts_with_all = ["rules", "disable", "config"])]
    pub builtin: bool,
}

impl RulesArgs {
    /// The boilerplate settings to list: the `--config` file's, plus the flags.
    pub fn resolve(&self) -> Result<BoilerplateConfig> {
        let mut config = match &self.config {
            Some(path) => Config::from_toml_file(path)?.boilerplate,
            None => BoilerplateConfig::default(),
        };
        config.rules.extend(self.rules.iter().cloned());
        config.disable.extend(self.disable.iter().cloned());
        Ok(config)
    }
}

/// Whether the user gave `id` on the command line (not just its default).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

impl CleanArgs {
    /// The configuration of this run: defaults, then the `--config` file, then the flags given.
    pub fn resolve(&self, matches: &ArgMatches) -> Result<(Config, Paths)> {
        let mut config = match &self.config {
            Some(path) => Config::from_toml_file(path)?,
            None => Config::default(),
        };
        macro_rules! flag {
            ($id:literal, $field:ident) => {
                if given(matches, $id) {
                    config.$field = self.$field.clone();
                }
            };
        }
        flag!("text_field", text_field);
        flag!("id_field", id_field);
        flag!("threads", threads);
        flag!("quiet", quiet);
        flag!("batch_bytes", batch_bytes);
        if self.max_memory.is_some() {
            config.max_memory = self.max_memory;
        }
        if self.tmp_dir.is_some() {
            config.tmp_dir = self.tmp_dir.clone();
        }
        if self.max_tmp_space.is_some() {
            config.max_tmp_space = self.max_tmp_space;
        }
        flag!("on_error", on_error);
        flag!("annotate_only", annotate_only);
        let bp = &mut config.boilerplate;
        // Lists add to those of the config file.
        bp.rules.extend(self.rules.iter().cloned());
        bp.disable.extend(self.disable.iter().cloned());
        if self.no_boilerplate {
            bp.enabled = false;
        }
        if given(matches, "repeated_max_words") {
            bp.repeated_max_words = self.repeated_max_words;
        }
        if given(matches, "repeated_min_docs") {
            bp.repeated_min_docs = self.repeated_min_docs;
        }
        if given(matches, "repeated_min_share") {
            bp.repeated_min_share = self.repeated_min_share;
        }
        macro_rules! dedup_flag {
            ($id:literal, $field:ident) => {
                if given(matches, $id) {
                    config.dedup.$field = self.$field.clone();
                }
            };
            ($id:literal, $field:ident = $value:expr) => {
                if given(matches, $id) {
                    config.dedup.$field = $value;
                }
            };
        }
        dedup_flag!("shingle_size", shingle_size);
        dedup_flag!("fold_digits", fold_digits);
        dedup_flag!("min_passage_tokens", min_passage_tokens);
        dedup_flag!("passage_threshold", passage_threshold);
        dedup_flag!("max_shingle_docs", max_shingle_docs);
        dedup_flag!("mostly_duplicate", mostly_duplicate);
        dedup_flag!("doc_jaccard", doc_jaccard);
        dedup_flag!("doc_containment", doc_containment);
        dedup_flag!("bands", bands);
        dedup_flag!("rows", rows);
        dedup_flag!("no_passages", passages = false);
        dedup_flag!("no_doc_dedup", doc_dedup = false);
        dedup_flag!("explain_reuse", explain_reuse);
        dedup_flag!("reuse_min_tokens", reuse_min_tokens);
        config.validate()?;
        let paths = Paths {
            inputs: self.inputs.clone(),
            output: self.output.clone(),
            report: self.report.clone(),
            explain: self.explain.clone(),
            rejected: self.rejected.clone(),
        };
        Ok((config, paths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn parse(args: &[&str]) -> (CleanArgs, ArgMatches) {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let Command::Clean(clean) = cli.command else {
            panic!("not a clean command")
        };
        let sub = matches.subcommand_matches("clean").unwrap().clone();
        (*clean, sub)
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("gleaner.toml");
        std::fs::write(&toml, "text-field = \"body\"\nthreads = 3\n").unwrap();
        let toml_arg = toml.to_str().unwrap();
        let (args, m) = parse(&[
            "gleaner",
            "clean",
            "in.jsonl",
            "-o",
            "-",
            "--config",
            toml_arg,
            "--threads",
            "2",
        ]);
        let (config, _) = args.resolve(&m).unwrap();
        assert_eq!(config.text_field, "body");
        assert_eq!(config.threads, 2);
        // A flag left at its default does not undo the file's setting.
        let (args, m) = parse(&[
            "gleaner", "clean", "in.jsonl", "-o", "-", "--config", toml_arg,
        ]);
        assert_eq!(args.resolve(&m).unwrap().0.threads, 3);
    }

    #[test]
    fn boilerplate_flags_add_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("gleaner.toml");
        std::fs::write(
            &toml,
            "[boilerplate]\nrules = [\"a.toml\"]\ndisable = [\"caption\"]\nrepeated-min-docs = 7\n",
        )
        .unwrap();
        let toml_arg = toml.to_str().unwrap();
        let (args, m) = parse(&[
            "gleaner",
            "clean",
            "in.jsonl",
            "-o",
            "-",
            "--config",
            toml_arg,
            "--rules",
            "b.toml",
            "--disable",
            "share",
            "--annotate-only",
        ]);
        let (config, _) = args.resolve(&m).unwrap();
        let bp = &config.boilerplate;
        assert_eq!(bp.rules, [PathBuf::from("a.toml"), PathBuf::from("b.toml")]);
        assert_eq!(bp.disable, ["caption", "share"]);
        assert_eq!(bp.repeated_min_docs, 7);
        assert!(config.annotate_only && bp.enabled);
        let (args, m) = parse(&[
            "gleaner",
            "clean",
            "in.jsonl",
            "-o",
            "-",
            "--config",
            toml_arg,
            "--repeated-min-docs",
            "4",
            "--no-boilerplate",
        ]);
        let (config, _) = args.resolve(&m).unwrap();
        assert_eq!(config.boilerplate.repeated_min_docs, 4);
        assert!(!config.boilerplate.enabled);
    }

    #[test]
    fn dedup_flags_map_over_the_dedup_section() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("gleaner.toml");
        std::fs::write(&toml, "[dedup]\nshingle-size = 4\nbands = 10\n").unwrap();
        let toml_arg = toml.to_str().unwrap();
        let (args, m) = parse(&[
            "gleaner",
            "clean",
            "in.jsonl",
            "-o",
            "-",
            "--config",
            toml_arg,
            "--shingle-size",
            "6",
            "--no-passages",
            "--explain-reuse",
        ]);
        let (config, _) = args.resolve(&m).unwrap();
        assert_eq!(config.dedup.shingle_size, 6);
        assert_eq!(config.dedup.bands, 10);
        assert!(!config.dedup.passages);
        assert!(config.dedup.doc_dedup);
        assert!(config.dedup.explain_reuse);
        let (args, m) = parse(&["gleaner", "clean", "in.jsonl", "-o", "-", "--rows", "0"]);
        assert!(args.resolve(&m).is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
