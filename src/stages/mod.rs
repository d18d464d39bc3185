//! Stage kinds, one file per kind, behind one trait.

pub mod post;
