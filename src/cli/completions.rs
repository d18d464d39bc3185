//! `popctl completions SHELL`: a completion script generated from the clap definitions, so it
//! knows every command and flag of this very binary.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::report::Shell;

/// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
///
/// bash: `popctl completions bash > ~/.local/share/bash-completion/completions/popctl`;
/// zsh: `popctl completions zsh > ~/.zfunc/_popctl` (with `fpath+=~/.zfunc` before
/// `compinit`); fish: `popctl completions fish > ~/.config/fish/completions/popctl.fish`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell the script is for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

pub fn exec(args: CompletionsArgs, shell: &Shell) -> ExitCode {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "popctl", &mut script);
    shell.out_text(&String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}
