//! The stage commands: `gleaner plan`, `scan`, `resolve`, `merge`, `apply`, `slurm submit`.

use super::{Manifest, Marker, Task, Work};
use crate::cli::{PlanArgs, SlurmSubmitArgs, StageArgs, TaskArgs};
use crate::corpus::{discover, guard, InputKind, OutputTarget};
use crate::error::{Error, Result};

/// `gleaner plan`: checks the settings and outputs as `clean` would, then freezes the plan.
pub fn plan(args: &PlanArgs, matches: &clap::ArgMatches) -> Result<()> {
    let (config, paths) = args.clean.resolve(matches)?;
    if paths.report.is_some() || paths.explain.is_some() || paths.rejected.is_some() {
        return Err(Error::usage(
            "a sharded run writes the corpus only; --report, --explain and --rejected are for `gleaner clean`",
        ));
    }
    let inputs = discover(&paths.inputs)?;
    if inputs.iter().any(|i| i.kind == InputKind::Stdin) {
        return Err(Error::usage(
            "a sharded run reads files that every task can open; stdin cannot be planned",
        ));
    }
    let target = OutputTarget::from_arg(&paths.output);
    let OutputTarget::Folder(dir) = &target else {
        return Err(Error::usage(
            "a sharded run writes one output file per input file: give a folder as --output",
        ));
    };
    guard::check_outputs(
        &paths.inputs,
        &inputs,
        &target.planned_paths(&inputs),
        Some(dir),
    )?;
    crate::pipeline::check_annotate_only(&config, &target, &inputs)?;
    // Rule files are loaded now so that a bad one fails the plan, not every scan task.
    crate::boilerplate::Boilerplate::from_config(&config.boilerplate)?;
    let output = std::path::absolute(&paths.output).map_err(|e| Error::io(&paths.output, e))?;
    let inputs: Vec<_> = inputs
        .into_iter()
        .map(|mut i| {
            i.path = std::path::absolute(&i.path).unwrap_or(i.path);
            i
        })
        .collect();
    let manifest = Manifest::new(
        &config,
        &inputs,
        &output,
        (args.scan_tasks, args.resolve_tasks),
        true,
    )?;
    let work = Work::plan(&args.work, manifest)?;
    if !config.quiet {
        eprintln!(
            "gleaner: planned {} input files into {} scan and {} resolve tasks in {}",
            work.manifest.inputs.len(),
            work.manifest.scan_tasks,
            work.manifest.resolve_tasks,
            args.work.display()
        );
    }
    Ok(())
}

fn open(stage: &StageArgs) -> Result<(Work, rayon::ThreadPool)> {
    let work = Work::open(&stage.work)?;
    let mut config = work.manifest.config.clone();
    config.threads = stage.threads;
    Ok((work, crate::pipeline::thread_pool(&config)?))
}

fn check_count(task: Task, planned: usize, what: &str) -> Result<()> {
    if task.count != planned {
        return Err(Error::usage(format!(
            "the plan has {planned} {what} tasks, not {}",
            task.count
        )));
    }
    Ok(())
}

/// `gleaner scan --task i/N`.
pub fn scan(args: &TaskArgs) -> Result<()> {
    let (work, pool) = open(&args.stage)?;
    check_count(args.task, work.manifest.scan_tasks, "scan")?;
    let boilerplate =
        crate::boilerplate::Boilerplate::from_config(&work.manifest.config.boilerplate)?;
    pool.install(|| {
        super::scan::run(
            &work,
            args.task.index,
            boilerplate.as_ref(),
            args.stage.quiet,
        )
    })?;
    done(&args.stage, &format!("scan {}", args.task))
}

/// `gleaner resolve --task j/P`.
pub fn resolve(args: &TaskArgs) -> Result<()> {
    let (work, pool) = open(&args.stage)?;
    check_count(args.task, work.manifest.resolve_tasks, "resolve")?;
    pool.install(|| super::resolve::run(&work, args.task.index))?;
    done(&args.stage, &format!("resolve {}", args.task))
}

/// `gleaner merge`.
pub fn merge(args: &StageArgs) -> Result<()> {
    let (work, pool) = open(args)?;
    pool.install(|| super::merge::run(&work))?;
    done(args, "merge")
}

/// `gleaner apply --task i/M`.
pub fn apply(args: &TaskArgs) -> Result<()> {
    let (work, pool) = open(&args.stage)?;
    let counts = pool.install(|| super::apply::run_task(&work, args.task, args.stage.quiet))?;
    if !args.stage.quiet && counts.documents_read > 0 {
        eprintln!(
            "gleaner: apply {}: {} documents read, {} written, {} dropped",
            args.task, counts.documents_read, counts.documents_written, counts.documents_dropped
        );
    }
    debug_assert!(work.is_done(Marker::Apply(args.task)));
    Ok(())
}

fn done(args: &StageArgs, what: &str) -> Result<()> {
    if !args.quiet {
        eprintln!("gleaner: {what} done");
    }
    Ok(())
}

/// `gleaner slurm submit`.
pub fn slurm_submit(args: &SlurmSubmitArgs) -> Result<()> {
    let gleaner = match &args.gleaner {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| Error::io("<current executable>", e))?,
    };
    // Checks the plan before anything is submitted.
    Work::open(&args.work)?;
    let job = super::slurm::SlurmJob::from_manifest(
        gleaner,
        args.work.clone(),
        args.apply_tasks,
        args.sbatch_args.clone(),
    )?;
    for (stage, id) in job.submit()? {
        println!("{stage}\t{id}");
    }
    Ok(())
}
