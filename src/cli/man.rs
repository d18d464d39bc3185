//! `popctl man`: manual pages (roff) generated from the clap definitions, so they never drift
//! from `--help`. One page for `popctl` on stdout, or with `-o DIR` one page per command,
//! named as git and cargo name theirs: `popctl.1`, `popctl-run.1`, `popctl-db-status.1`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

use crate::report::Shell;

/// Print popctl's manual page, or write one page per command into a directory.
///
/// `popctl man | man -l -` reads it at once; `popctl man -o /usr/local/share/man/man1`
/// installs `popctl.1`, `popctl-run.1`, `popctl-db-status.1` and the others for `man popctl-run`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `popctl.1` and a `popctl-COMMAND.1` for every command into DIR (created if
    /// needed) instead of printing the main page
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

pub fn exec(args: ManArgs, shell: &Shell) -> ExitCode {
    let mut command = super::Cli::command().disable_help_subcommand(true);
    // Global flags (`--color`) are copied into each command here, so every page lists them.
    command.build();
    match args.output {
        None => {
            let mut page = Vec::new();
            if let Err(e) = page_of(command).render(&mut page) {
                shell.error(format!("cannot render the manual page: {e}"));
                return ExitCode::from(1);
            }
            shell.out_text(&String::from_utf8_lossy(&page));
            ExitCode::SUCCESS
        }
        Some(dir) => match write_pages(command, &dir) {
            Ok(written) => {
                shell.status(
                    "Wrote",
                    format!("{} manual pages into {}", written.len(), dir.display()),
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                shell.error(format!(
                    "cannot write manual pages into {}: {e}",
                    dir.display()
                ));
                ExitCode::from(1)
            }
        },
    }
}

/// The page of `command`, its footer naming popctl and its version on every page (clap_mangen
/// would name the subcommand, without a version).
fn page_of(command: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(command).source(format!("popctl {}", env!("CARGO_PKG_VERSION")))
}

/// Writes the page of `command` and of each of its visible subcommands, depth first; returns
/// the files written.
fn write_pages(command: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut todo = vec![command];
    while let Some(command) = todo.pop() {
        todo.extend(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .cloned(),
        );
        written.push(page_of(command).generate_to(dir)?);
    }
    written.sort();
    Ok(written)
}
