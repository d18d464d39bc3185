//! "Did you mean …?" for unknown keys, kinds, lists, append parts, sources and stage names.

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn closest<'a, S: AsRef<str>>(word: &str, candidates: &'a [S]) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(AsRef::as_ref)
        .map(|c| {
            (
                strsim::jaro_winkler(&word_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `did you mean `concurrency`?` or nothing.
pub fn did_you_mean<S: AsRef<str>>(word: &str, candidates: &[S]) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `one of `a`, `b`, `c``, for help lines.
pub fn one_of<S: AsRef<str>>(candidates: &[S]) -> String {
    let quoted: Vec<String> = candidates
        .iter()
        .map(|c| format!("`{}`", c.as_ref()))
        .collect();
    quoted.join(", ")
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
pub fn all_of<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|c| format!("`{}`", c.as_ref())).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(all_of(&["a"]), "`a`");
        assert_eq!(all_of(&["a", "b"]), "`a` and `b`");
        assert_eq!(all_of(&["a", "b", "c"]), "`a`, `b` and `c`");
    }

    #[test]
    fn typos_find_their_word_and_nonsense_finds_nothing() {
        let keys = ["concurrency", "needs", "enabled", "delay"];
        assert_eq!(closest("concurency", &keys), Some("concurrency"));
        assert_eq!(closest("need", &keys), Some("needs"));
        assert_eq!(closest("Enabled", &keys), Some("enabled"));
        assert_eq!(closest("xyz", &keys), None);
        assert_eq!(
            did_you_mean("dealy", &keys).as_deref(),
            Some("did you mean `delay`?")
        );
        assert_eq!(one_of(&["a", "b"]), "`a`, `b`");
    }
}
