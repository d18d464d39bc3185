//! Errors of the `post_process` steps, each with a stable code (`popctl::post::…`).

use std::path::PathBuf;

use sea_orm::DbErr;

use super::cri::CriError;
use super::similarity::SimilarityError;
use crate::lists::ListError;
use crate::plan::PostStep;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PostError {
    /// A list file is missing or invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    List(#[from] ListError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Cri(#[from] CriError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Similarity(#[from] SimilarityError),

    #[error("post-process step `{step}` failed while {what}: {source}")]
    #[diagnostic(code(popctl::post::query))]
    Query {
        step: &'static str,
        what: String,
        #[source]
        source: DbErr,
    },

    #[error(
        "{table}.{column} of row {row} holds {value:?}, which the `{step}` step cannot use: \
         expected {expected}"
    )]
    #[diagnostic(
        code(popctl::post::bad_value),
        help(
            "the database was written by another program or version; `popctl db reset` and a \
             new run rebuild it"
        )
    )]
    BadValue {
        step: &'static str,
        table: &'static str,
        column: &'static str,
        /// The row's `id`.
        row: i64,
        value: String,
        expected: &'static str,
    },

    #[error(
        "{second}: defines the list {name:?} ({year}) of {authority:?} again, already defined \
         by {first}"
    )]
    #[diagnostic(
        code(popctl::post::duplicate_list),
        help("a list is identified by its authority, name and year; keep one file per list")
    )]
    DuplicateList {
        first: PathBuf,
        second: PathBuf,
        authority: String,
        name: String,
        year: i32,
    },

    #[error("the `{step}` step stopped unexpectedly: {message}")]
    #[diagnostic(
        code(popctl::post::internal),
        help("this is a bug in popctl, please report it")
    )]
    Internal { step: &'static str, message: String },
}

impl PostError {
    /// Maps a database error of `step` to [`PostError::Query`].
    pub(crate) fn query(step: PostStep, what: impl Into<String>) -> impl FnOnce(DbErr) -> Self {
        let what = what.into();
        move |source| PostError::Query {
            step: step.as_str(),
            what,
            source,
        }
    }
}
