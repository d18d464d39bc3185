//! Stage kinds, one file per kind, behind one trait.
