//! When output is coloured: one decision, taken once per process from `--color` and the
//! environment, and followed by the shell, the logs and the diagnostics alike.
//!
//! `auto` follows the conventions cargo follows (through anstream): `NO_COLOR` (set and not
//! empty) turns colour off, `CLICOLOR_FORCE` (not `0`) turns it on even into a pipe,
//! `CLICOLOR=0` and `TERM=dumb` turn it off; otherwise a terminal gets colour and a file or
//! pipe does not. `always` and `never` win over all of these.

/// The value of `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether a stream that `is_terminal` (or not) gets colour, with `var` reading the
    /// environment (`std::env::var_os` outside tests).
    pub fn colors(self, is_terminal: bool, var: impl Fn(&str) -> Option<String>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let set = |name: &str| var(name).filter(|v| !v.is_empty());
                if set("NO_COLOR").is_some() {
                    false
                } else if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                    true
                } else if set("CLICOLOR").is_some_and(|v| v == "0")
                    || set("TERM").is_some_and(|t| t == "dumb")
                {
                    false
                } else {
                    is_terminal
                }
            }
        }
    }

    /// [`ColorChoice::colors`] for the process's stderr, where every coloured line goes.
    pub fn for_stderr(self) -> bool {
        use std::io::IsTerminal;
        self.colors(std::io::stderr().is_terminal(), |name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn auto_colours_a_terminal_only() {
        assert!(ColorChoice::Auto.colors(true, env(&[])));
        assert!(!ColorChoice::Auto.colors(false, env(&[])));
    }

    #[test]
    fn the_environment_decides_auto_as_cargo_does() {
        let auto = ColorChoice::Auto;
        assert!(!auto.colors(true, env(&[("NO_COLOR", "1")])));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(auto.colors(true, env(&[("NO_COLOR", "")])));
        assert!(auto.colors(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!auto.colors(false, env(&[("CLICOLOR_FORCE", "0")])));
        // NO_COLOR wins over CLICOLOR_FORCE.
        assert!(!auto.colors(true, env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])));
        assert!(!auto.colors(true, env(&[("CLICOLOR", "0")])));
        assert!(!auto.colors(true, env(&[("TERM", "dumb")])));
    }

    #[test]
    fn always_and_never_win_over_everything() {
        assert!(ColorChoice::Always.colors(false, env(&[("NO_COLOR", "1")])));
        assert!(!ColorChoice::Never.colors(true, env(&[("CLICOLOR_FORCE", "1")])));
    }
}
