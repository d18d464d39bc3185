//! `popctl schema`: the JSON Schema of plan files, for TOML editors.

use std::path::PathBuf;

use crate::plan::schema::json_schema;
use crate::report::Shell;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Write the schema to this file instead of stdout.
    pub output: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SchemaError {
    #[error("cannot write the schema to {path}: {source}")]
    #[diagnostic(code(popctl::schema::write))]
    Write {
        path: String,
        source: std::io::Error,
    },
}

pub fn run(opts: &Options, shell: &Shell) -> Result<(), SchemaError> {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&json_schema()).unwrap_or_default()
    );
    match &opts.output {
        None => shell.out_text(&text),
        Some(path) => {
            std::fs::write(path, text).map_err(|source| SchemaError::Write {
                path: path.display().to_string(),
                source,
            })?;
            shell.status("Wrote", path.display());
        }
    }
    Ok(())
}
