//! The `gleaner` command: parse flags, run, map errors to exit statuses.

use std::io::Write;

use clap::{CommandFactory, FromArgMatches};

use gleaner::cli::{Cli, Command, SlurmCommand};
use gleaner::stages::commands as stages;
use gleaner::Error;

fn main() {
    // SIGINT/SIGTERM end the process without destructors: remove temporary outputs first.
    let _ = ctrlc::set_handler(|| {
        gleaner::corpus::atomic::remove_pending();
        eprintln!("gleaner: interrupted; no output written");
        std::process::exit(130);
    });
    // A panic (a bug) aborts a release build without destructors, too: the same cleanup.
    gleaner::corpus::atomic::remove_pending_on_panic();
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => e.exit(), // usage errors exit with 2, --help and --version with 0
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match &cli.command {
        Command::Clean(args) => {
            let sub = matches
                .subcommand_matches("clean")
                .expect("clap matched the clean subcommand");
            run_clean(args, sub)
        }
        Command::Rules(args) => run_rules(args),
        Command::Lsh(args) => args.table().map(|t| print!("{t}")),
        Command::Plan(args) => {
            let sub = matches
                .subcommand_matches("plan")
                .expect("clap matched the plan subcommand");
            stages::plan(args, sub)
        }
        Command::Scan(args) => stages::scan(args),
        Command::Resolve(args) => stages::resolve(args),
        Command::Merge(args) => stages::merge(args),
        Command::Apply(args) => stages::apply(args),
        Command::Slurm(SlurmCommand::Submit(args)) => stages::slurm_submit(args),
    };
    if let Err(e) = result {
        if !matches!(e, Error::BrokenPipe) {
            eprintln!("gleaner: {e}");
        }
        std::process::exit(e.exit_code());
    }
}

fn run_rules(args: &gleaner::cli::RulesArgs) -> gleaner::Result<()> {
    let text = if args.builtin {
        gleaner::boilerplate::RuleSet::builtin_source().to_string()
    } else {
        gleaner::boilerplate::listing::render(&args.resolve()?)?
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}

fn run_clean(args: &gleaner::cli::CleanArgs, matches: &clap::ArgMatches) -> gleaner::Result<()> {
    let (config, paths) = args.resolve(matches)?;
    let summary = gleaner::pipeline::clean(&config, &paths)?;
    if !config.quiet {
        let c = &summary.counts;
        eprintln!(
            "gleaner: {} documents read, {} written, {} dropped; {} of {} text bytes removed in {:.2}s",
            c.documents_read,
            c.documents_written,
            c.documents_dropped,
            c.bytes_read - c.bytes_written,
            c.bytes_read,
            summary.timings.total
        );
    }
    Ok(())
}
