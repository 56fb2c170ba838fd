//! `gleaner slurm submit`: submits the four stages of a planned work folder to Slurm as a chain
//! of jobs, scan -> resolve -> merge -> apply. Scan, resolve and apply are job arrays (one task
//! per shard); each job waits for the whole previous one to succeed (`afterok`), and Slurm
//! cancels the rest of the chain when a task fails (`--kill-on-invalid-dep=yes`).
//!
//! Resubmitting after a failure is safe: tasks whose done marker exists exit at once, so only the
//! failed tasks and the stages after them do real work.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Stands for the job id of the previous stage in [`SlurmJob::calls`]; `submit` replaces it.
pub const PREVIOUS: &str = "{previous}";

/// The `--dependency` argument of every stage after the first.
fn dependency() -> String {
    format!("--dependency=afterok:{PREVIOUS}")
}

/// One submission of a planned work folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmJob {
    /// The gleaner binary the jobs run (absolute: jobs do not start in the caller's folder).
    pub gleaner: PathBuf,
    /// The work folder made by `gleaner plan` (absolute).
    pub work: PathBuf,
    pub scan_tasks: usize,
    pub resolve_tasks: usize,
    pub apply_tasks: usize,
    /// Extra sbatch arguments, given to every stage after gleaner's own (so they can override
    /// e.g. `--output`). They must not set `--dependency`, which chains the stages.
    pub sbatch_args: Vec<String>,
}

impl SlurmJob {
    /// A job for the work folder `work`, with the task counts of its `manifest.json`.
    pub fn from_manifest(
        gleaner: PathBuf,
        work: PathBuf,
        apply_tasks: usize,
        sbatch_args: Vec<String>,
    ) -> Result<Self> {
        let path = work.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::usage(format!(
                    "{}: no manifest; run `gleaner plan` for this work folder first",
                    path.display()
                ))
            } else {
                Error::io(&path, e)
            }
        })?;
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
        let count = |key: &str| -> Result<usize> {
            manifest
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{}: `{key}` is missing or not a number",
                        path.display()
                    ))
                })
        };
        Ok(SlurmJob {
            gleaner,
            work,
            scan_tasks: count("scan_tasks")?,
            resolve_tasks: count("resolve_tasks")?,
            apply_tasks,
            sbatch_args,
        })
    }

    /// The sbatch command lines of the four stages, in order (scan, resolve, merge, apply); each
    /// starts with `sbatch`. Every stage after the first depends on [`PREVIOUS`]. Uses the paths
    /// as given: [`SlurmJob::submit`] makes them absolute first. Task counts must be at least 1.
    pub fn calls(&self) -> Vec<Vec<String>> {
        let gleaner = shell_quote(&self.gleaner.to_string_lossy());
        let work = shell_quote(&self.work.to_string_lossy());
        let logs = log_pattern(&self.work.join("logs"));
        let stages: [(&str, Option<usize>); 4] = [
            ("scan", Some(self.scan_tasks)),
            ("resolve", Some(self.resolve_tasks)),
            ("merge", None),
            ("apply", Some(self.apply_tasks)),
        ];
        stages
            .iter()
            .enumerate()
            .map(|(k, &(stage, tasks))| {
                let mut call = vec![
                    "sbatch".to_string(),
                    "--parsable".to_string(),
                    format!("--job-name=gleaner-{stage}"),
                ];
                let mut wrap = format!("{gleaner} {stage} --work {work}");
                match tasks {
                    Some(n) => {
                        call.push(format!("--output={logs}/{stage}-%a.log"));
                        call.push(format!("--array=0-{}", n.saturating_sub(1)));
                        wrap.push_str(&format!(" --task ${{SLURM_ARRAY_TASK_ID}}/{n}"));
                    }
                    None => call.push(format!("--output={logs}/{stage}-%j.log")),
                }
                call.push("--kill-on-invalid-dep=yes".to_string());
                if k > 0 {
                    call.push(dependency());
                }
                call.extend(self.sbatch_args.iter().cloned());
                call.push("--wrap".to_string());
                call.push(wrap);
                call
            })
            .collect()
    }

    /// Submits the four stages with `sbatch` and returns (stage, job id) for each. Creates
    /// `<work>/logs` for the job logs. Makes `gleaner` and `work` absolute first (a bare
    /// `gleaner` is looked up on PATH).
    pub fn submit(&self) -> Result<Vec<(String, String)>> {
        self.submit_with(OsStr::new("sbatch"))
    }

    fn submit_with(&self, sbatch: &OsStr) -> Result<Vec<(String, String)>> {
        for (what, n) in [
            ("scan", self.scan_tasks),
            ("resolve", self.resolve_tasks),
            ("apply", self.apply_tasks),
        ] {
            if n == 0 {
                return Err(Error::usage(format!("{what} tasks must be at least 1")));
            }
        }
        let work = std::fs::canonicalize(&self.work).map_err(|e| Error::io(&self.work, e))?;
        let gleaner = find_program(&self.gleaner)?;
        for path in [&work, &gleaner] {
            if path.to_str().is_none() {
                return Err(Error::usage(format!(
                    "{}: Slurm jobs need a path that is valid UTF-8",
                    path.display()
                )));
            }
        }
        let logs = work.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
        let job = SlurmJob {
            gleaner,
            work,
            ..self.clone()
        };

        let stages = ["scan", "resolve", "merge", "apply"];
        let mut submitted: Vec<(String, String)> = Vec::new();
        for (stage, call) in stages.iter().zip(job.calls()) {
            let args: Vec<String> = match submitted.last() {
                Some((_, previous)) => call[1..]
                    .iter()
                    .map(|a| {
                        if *a == dependency() {
                            a.replace(PREVIOUS, previous)
                        } else {
                            a.clone()
                        }
                    })
                    .collect(),
                None => call[1..].to_vec(),
            };
            let output = Command::new(sbatch).args(&args).output().map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::usage(format!(
                        "sbatch not found: `gleaner slurm submit` needs Slurm's sbatch on PATH ({})",
                        sbatch.to_string_lossy()
                    ))
                } else {
                    Error::io(PathBuf::from(sbatch), e)
                }
            })?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let id = if output.status.success() {
                parse_job_id(&stdout)
            } else {
                None
            };
            match id {
                Some(id) => submitted.push((stage.to_string(), id)),
                None => {
                    let detail = if output.status.success() {
                        format!("no job id in its output {:?}", stdout.trim())
                    } else {
                        String::from_utf8_lossy(&output.stderr).trim().to_string()
                    };
                    let mut message = format!(
                        "sbatch failed for the {stage} stage ({}): {detail}",
                        output.status
                    );
                    if !submitted.is_empty() {
                        let ids: Vec<String> = submitted
                            .iter()
                            .map(|(s, id)| format!("{s} {id}"))
                            .collect();
                        message.push_str(&format!(
                            "; already submitted: {} (cancel with scancel if unwanted)",
                            ids.join(", ")
                        ));
                    }
                    return Err(Error::usage(message));
                }
            }
        }
        Ok(submitted)
    }
}

/// Quotes `s` for the shell: single quotes, each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `dir` for a `--output` pattern: a literal `%` is written `%%`.
fn log_pattern(dir: &Path) -> String {
    dir.to_string_lossy().replace('%', "%%")
}

/// The job id in `sbatch --parsable` output: `jobid` or `jobid;cluster` on the last line.
fn parse_job_id(stdout: &str) -> Option<String> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty())?;
    let id = line.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

/// The absolute path of `program`: canonicalized when it names a path, else looked up on PATH.
fn find_program(program: &Path) -> Result<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return std::fs::canonicalize(program).map_err(|e| Error::io(program, e));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return std::fs::canonicalize(&candidate).map_err(|e| Error::io(&candidate, e));
        }
    }
    Err(Error::usage(format!(
        "{}: not found on PATH; give --gleaner an absolute path",
        program.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> SlurmJob {
        SlurmJob {
            gleaner: PathBuf::from("/opt/bin/gleaner"),
            work: PathBuf::from("/data/work"),
            scan_tasks: 4,
            resolve_tasks: 3,
            apply_tasks: 5,
            sbatch_args: vec!["--partition=cpu".to_string(), "--mem=4G".to_string()],
        }
    }

    #[test]
    fn calls_chain_the_four_stages() {
        let calls = job().calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(
            calls[0],
            [
                "sbatch",
                "--parsable",
                "--job-name=gleaner-scan",
                "--output=/data/work/logs/scan-%a.log",
                "--array=0-3",
                "--kill-on-invalid-dep=yes",
                "--partition=cpu",
                "--mem=4G",
                "--wrap",
                "'/opt/bin/gleaner' scan --work '/data/work' --task ${SLURM_ARRAY_TASK_ID}/4",
            ]
        );
        assert_eq!(
            calls[2],
            [
                "sbatch",
                "--parsable",
                "--job-name=gleaner-merge",
                "--output=/data/work/logs/merge-%j.log",
                "--kill-on-invalid-dep=yes",
                "--dependency=afterok:{previous}",
                "--partition=cpu",
                "--mem=4G",
                "--wrap",
                "'/opt/bin/gleaner' merge --work '/data/work'",
            ]
        );
        // Only the first stage runs without a dependency.
        for (k, call) in calls.iter().enumerate() {
            let deps: Vec<&String> = call
                .iter()
                .filter(|a| a.starts_with("--dependency"))
                .collect();
            if k == 0 {
                assert!(deps.is_empty());
            } else {
                assert_eq!(deps, ["--dependency=afterok:{previous}"]);
            }
            // Extra arguments come after gleaner's own, the command last.
            assert_eq!(
                call[call.len() - 4..call.len() - 2],
                ["--partition=cpu", "--mem=4G"]
            );
            assert_eq!(call[call.len() - 2], "--wrap");
        }
    }

    #[test]
    fn arrays_cover_one_task_per_shard() {
        let calls = job().calls();
        let arrays: Vec<Option<&String>> = calls
            .iter()
            .map(|c| c.iter().find(|a| a.starts_with("--array=")))
            .collect();
        assert_eq!(arrays[0].unwrap(), "--array=0-3");
        assert_eq!(arrays[1].unwrap(), "--array=0-2");
        assert_eq!(arrays[2], None);
        assert_eq!(arrays[3].unwrap(), "--array=0-4");
        assert!(calls[1]
            .last()
            .unwrap()
            .ends_with(" resolve --work '/data/work' --task ${SLURM_ARRAY_TASK_ID}/3"));
        assert!(calls[3]
            .last()
            .unwrap()
            .ends_with(" apply --work '/data/work' --task ${SLURM_ARRAY_TASK_ID}/5"));
        assert!(calls[3].contains(&"--output=/data/work/logs/apply-%a.log".to_string()));

        let single = SlurmJob {
            scan_tasks: 1,
            ..job()
        };
        assert!(single.calls()[0].contains(&"--array=0-0".to_string()));
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        let odd = SlurmJob {
            gleaner: PathBuf::from("/opt/my tools/gleaner"),
            work: PathBuf::from("/data/bob's work 100%"),
            ..job()
        };
        let calls = odd.calls();
        assert_eq!(
            calls[0].last().unwrap(),
            r"'/opt/my tools/gleaner' scan --work '/data/bob'\''s work 100%' --task ${SLURM_ARRAY_TASK_ID}/4"
        );
        // The log path is one argument (no shell), with `%` escaped for Slurm's pattern.
        assert!(calls[0].contains(&"--output=/data/bob's work 100%%/logs/scan-%a.log".to_string()));
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_quoted_command_survives_the_shell() {
        let odd = SlurmJob {
            gleaner: PathBuf::from("/opt/my tools/it's $HOME `x`"),
            work: PathBuf::from("/data/a \"b\" c"),
            ..job()
        };
        let wrap = odd.calls()[0].last().unwrap().clone();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "SLURM_ARRAY_TASK_ID=2; set -- {wrap}; printf '%s\\n' \"$@\""
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "/opt/my tools/it's $HOME `x`\nscan\n--work\n/data/a \"b\" c\n--task\n2/4\n"
        );
    }

    #[test]
    fn job_ids_are_read_from_parsable_output() {
        assert_eq!(parse_job_id("1234\n").as_deref(), Some("1234"));
        assert_eq!(parse_job_id("77;cluster-a\n").as_deref(), Some("77"));
        assert_eq!(parse_job_id("warning line\n99\n\n").as_deref(), Some("99"));
        assert_eq!(parse_job_id(""), None);
        assert_eq!(parse_job_id("Submitted batch job 5\n"), None);
    }

    #[cfg(unix)]
    #[test]
    fn submit_chains_the_job_ids() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let gleaner = dir.path().join("gleaner");
        std::fs::write(&gleaner, "").unwrap();
        // A fake sbatch: records its arguments, answers ids 100, 101, ... (one with a cluster).
        let record = dir.path().join("calls");
        let sbatch = dir.path().join("sbatch");
        std::fs::write(
            &sbatch,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" '--' >> '{r}'\nn=$(grep -c '^--$' '{r}')\n\
                 if [ \"$n\" = 2 ]; then echo \"10$((n - 1));local\"; else echo \"10$((n - 1))\"; fi\n",
                r = record.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();

        let job = SlurmJob {
            gleaner: gleaner.clone(),
            work: work.join("."),
            ..job()
        };
        let ids = job.submit_with(sbatch.as_os_str()).unwrap();
        let pairs: Vec<(&str, &str)> = ids.iter().map(|(s, i)| (s.as_str(), i.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("scan", "100"),
                ("resolve", "101"),
                ("merge", "102"),
                ("apply", "103")
            ]
        );
        assert!(work.join("logs").is_dir());

        let text = std::fs::read_to_string(&record).unwrap();
        let calls: Vec<Vec<&str>> = text
            .split_terminator("--\n")
            .map(|c| c.lines().collect())
            .collect();
        assert_eq!(calls.len(), 4);
        let deps: Vec<Option<&&str>> = calls
            .iter()
            .map(|c| c.iter().find(|a| a.starts_with("--dependency")))
            .collect();
        assert_eq!(
            deps,
            [
                None,
                Some(&"--dependency=afterok:100"),
                Some(&"--dependency=afterok:101"),
                Some(&"--dependency=afterok:102"),
            ]
        );
        let work = std::fs::canonicalize(&work).unwrap();
        let gleaner = std::fs::canonicalize(&gleaner).unwrap();
        assert_eq!(
            *calls[2].last().unwrap(),
            format!(
                "{} merge --work {}",
                shell_quote(gleaner.to_str().unwrap()),
                shell_quote(work.to_str().unwrap())
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn submit_reports_sbatch_errors() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let gleaner = dir.path().join("gleaner");
        std::fs::write(&gleaner, "").unwrap();
        let sbatch = dir.path().join("sbatch");
        std::fs::write(
            &sbatch,
            "#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
        let job = SlurmJob {
            gleaner,
            work: dir.path().to_path_buf(),
            ..job()
        };
        let err = job.submit_with(sbatch.as_os_str()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("invalid partition"), "{err}");

        let err = job
            .submit_with(dir.path().join("missing").as_os_str())
            .unwrap_err();
        assert!(err.to_string().starts_with("sbatch not found"), "{err}");

        let none = SlurmJob {
            apply_tasks: 0,
            ..job
        };
        assert_eq!(
            none.submit_with(sbatch.as_os_str())
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn the_manifest_gives_the_task_counts() {
        let dir = tempfile::tempdir().unwrap();
        let err = SlurmJob::from_manifest("g".into(), dir.path().into(), 2, vec![]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"version": 1, "scan_tasks": 6, "resolve_tasks": 2}"#,
        )
        .unwrap();
        let job = SlurmJob::from_manifest("g".into(), dir.path().into(), 3, vec![]).unwrap();
        assert_eq!(
            (job.scan_tasks, job.resolve_tasks, job.apply_tasks),
            (6, 2, 3)
        );
    }
}
