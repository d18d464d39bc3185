//! OMDb's `Awards` text → counts.
//!
//! The texts seen in real bodies:
//! - `Won 4 Oscars. 101 wins & 132 nominations total` (current: the totals include the Oscars)
//! - `Won 1 Oscar. Another 11 wins & 36 nominations.` (older: "Another" adds to the headline)
//! - `Nominated for 2 Oscars. Another 12 wins & 16 nominations.`
//! - `Nominated for 1 BAFTA Award7 wins & 46 nominations total` (no separator after "Award")
//! - `Won 6 Primetime Emmys. 34 wins & 26 nominations total`, `Nominated for 3 Golden Globes. …`
//! - `1 win & 10 nominations.`, `14 nominations.`, `1 nomination.`, `N/A`
//!
//! The parser reads words and numbers, never indexes blindly and saturates its sums, so any
//! text gives an answer; `complete` says whether every word was understood.

pub use crate::store::bundle::Awards;

#[derive(Debug, PartialEq)]
enum Token {
    Number(u32),
    /// A number too large for `u32`.
    Overflow,
    Word(String),
    Dot,
    Amp,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() {
                    digits.push(d);
                    chars.next();
                } else if d == ',' {
                    // "1,234 wins": a thousands separator only when a digit follows.
                    let mut ahead = chars.clone();
                    ahead.next();
                    if ahead.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            tokens.push(digits.parse().map_or(Token::Overflow, Token::Number));
        } else if c.is_alphabetic() {
            let mut word = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_alphabetic() || d == '\'' || d == '-' {
                    word.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word.to_lowercase()));
        } else {
            chars.next();
            match c {
                '.' => tokens.push(Token::Dot),
                '&' => tokens.push(Token::Amp),
                _ => {}
            }
        }
    }
    tokens
}

/// Parses an `Awards` value. `"N/A"` and `""` give all zeros, complete.
pub fn parse(text: &str) -> Awards {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("n/a") {
        return Awards {
            complete: true,
            ..Awards::default()
        };
    }
    let tokens = tokenize(text);
    let mut complete = true;
    let mut i = 0;

    // The headline: "Won N <award>" or "Nominated for N <award>".
    let mut headline_wins = 0u32;
    let mut headline_noms = 0u32;
    let mut oscar_wins = 0u32;
    let mut oscar_noms = 0u32;
    let won = matches!(tokens.first(), Some(Token::Word(w)) if w == "won");
    let nominated = matches!(tokens.first(), Some(Token::Word(w)) if w == "nominated")
        && matches!(tokens.get(1), Some(Token::Word(w)) if w == "for");
    if won || nominated {
        i = if won { 1 } else { 2 };
        let count = match tokens.get(i) {
            Some(Token::Number(n)) => {
                i += 1;
                *n
            }
            _ => {
                complete = false;
                0
            }
        };
        let mut award = Vec::new();
        while let Some(Token::Word(w)) = tokens.get(i) {
            award.push(w.as_str());
            i += 1;
        }
        if award.is_empty() {
            complete = false;
        }
        let is_oscar = award.first().is_some_and(|w| w.starts_with("oscar"));
        if won {
            headline_wins = count;
            if is_oscar {
                oscar_wins = count;
                oscar_noms = count;
            }
        } else {
            headline_noms = count;
            if is_oscar {
                oscar_noms = count;
            }
        }
        if matches!(tokens.get(i), Some(Token::Dot)) {
            i += 1;
        }
    }

    // The tail: "[Another] X win(s) [& Y nomination(s)] [total][.]".
    let mut another = false;
    let mut wins: Option<u32> = None;
    let mut noms: Option<u32> = None;
    let mut pending: Option<u32> = None;
    while let Some(token) = tokens.get(i) {
        match token {
            Token::Number(n) => {
                if pending.is_some() {
                    complete = false;
                }
                pending = Some(*n);
            }
            Token::Word(w) if w == "another" => another = true,
            Token::Word(w) if w == "total" => {}
            Token::Word(w) if (w == "win" || w == "wins") && pending.is_some() => {
                wins = pending.take();
            }
            Token::Word(w) if (w == "nomination" || w == "nominations") && pending.is_some() => {
                noms = pending.take();
            }
            Token::Amp | Token::Dot => {}
            Token::Overflow | Token::Word(_) => complete = false,
        }
        i += 1;
    }
    if pending.is_some() {
        complete = false;
    }

    let (wins, noms) = (wins.unwrap_or(0), noms.unwrap_or(0));
    let (total_wins, total_nominations) = if another {
        (
            wins.saturating_add(headline_wins),
            noms.saturating_add(headline_noms),
        )
    } else {
        // "… total", or counts without a headline: the counts are the totals. Never below the
        // headline, which they include.
        (wins.max(headline_wins), noms.max(headline_noms))
    };
    Awards {
        oscar_wins,
        oscar_nominations: oscar_noms,
        total_wins,
        total_nominations,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(text: &str) -> (u32, u32, u32, u32, bool) {
        let a = parse(text);
        (
            a.oscar_wins,
            a.oscar_nominations,
            a.total_wins,
            a.total_nominations,
            a.complete,
        )
    }

    #[test]
    fn every_shape_seen_upstream() {
        assert_eq!(counts("N/A"), (0, 0, 0, 0, true));
        assert_eq!(
            counts("Won 4 Oscars. 101 wins & 132 nominations total"),
            (4, 4, 101, 132, true)
        );
        assert_eq!(
            counts("Won 1 Oscar. Another 11 wins & 36 nominations."),
            (1, 1, 12, 36, true)
        );
        assert_eq!(
            counts("Nominated for 2 Oscars. Another 12 wins & 16 nominations."),
            (0, 2, 12, 18, true)
        );
        assert_eq!(
            counts("Nominated for 4 Oscars. 23 wins & 23 nominations total"),
            (0, 4, 23, 23, true)
        );
        assert_eq!(
            counts("Nominated for 1 BAFTA Award7 wins & 46 nominations total"),
            (0, 0, 7, 46, true)
        );
        assert_eq!(
            counts("Won 6 Primetime Emmys. 34 wins & 26 nominations total"),
            (0, 0, 34, 26, true)
        );
        assert_eq!(
            counts("Nominated for 3 Golden Globes. Another 29 wins & 75 nominations."),
            (0, 0, 29, 78, true)
        );
        assert_eq!(counts("1 win & 10 nominations."), (0, 0, 1, 10, true));
        assert_eq!(counts("2 wins & 9 nominations"), (0, 0, 2, 9, true));
        assert_eq!(counts("14 nominations."), (0, 0, 0, 14, true));
        assert_eq!(counts("1 nomination."), (0, 0, 0, 1, true));
        assert_eq!(counts("3 wins."), (0, 0, 3, 0, true));
        assert_eq!(counts("1,234 wins & 2 nominations."), (0, 0, 1234, 2, true));
    }

    #[test]
    fn odd_text_is_marked_incomplete() {
        assert!(!parse("Won many Oscars").complete);
        assert!(!parse("Something else entirely").complete);
        assert!(!parse("99999999999 wins").complete);
        assert_eq!(parse("Won 2 Oscars. lots of praise").oscar_wins, 2);
    }

    /// `n` as OMDb writes counts: thousands separated by commas.
    fn commas(n: u32) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    fn plural(n: u32, word: &str) -> String {
        format!("{} {word}{}", commas(n), if n == 1 { "" } else { "s" })
    }

    proptest! {
        /// Every shape OMDb writes, with any counts, reads back as written.
        #[test]
        fn the_shapes_omdb_writes_read_back(
            n in 1u32..30, w in 0u32..5_000, m in 0u32..5_000, shape in 0..5usize,
        ) {
            let tail = format!("{} & {}", plural(w, "win"), plural(m, "nomination"));
            let (text, want) = match shape {
                // Current texts: the totals include the headline.
                0 => (
                    format!("Won {}. {} & {} total", plural(n, "Oscar"),
                            plural(w + n, "win"), plural(m, "nomination")),
                    (n, n, w + n, m),
                ),
                1 => (
                    format!("Nominated for {}. {} & {} total", plural(n, "Oscar"),
                            plural(w, "win"), plural(m + n, "nomination")),
                    (0, n, w, m + n),
                ),
                // Older texts: "Another" adds to the headline.
                2 => (format!("Won {}. Another {tail}.", plural(n, "Oscar")), (n, n, w + n, m)),
                3 => (
                    format!("Nominated for {}. Another {tail}.", plural(n, "Golden Globe")),
                    (0, 0, w, m + n),
                ),
                _ => (format!("{tail}."), (0, 0, w, m)),
            };
            let a = parse(&text);
            prop_assert!(a.complete, "{text:?} -> {a:?}");
            prop_assert_eq!(
                (a.oscar_wins, a.oscar_nominations, a.total_wins, a.total_nominations),
                want,
                "{:?}", text
            );
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_award_like_text(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("Won".to_owned()), Just("Nominated for".to_owned()),
                    Just("Oscar".to_owned()), Just("Another".to_owned()), Just("wins".to_owned()),
                    Just("&".to_owned()), Just(".".to_owned()), Just("nominations".to_owned()),
                    Just("total".to_owned()), (0u64..u64::MAX).prop_map(|n| n.to_string()),
                ],
                0..20,
            )
        ) {
            let text = parts.join(" ");
            let a = parse(&text);
            prop_assert!(a.total_wins >= a.oscar_wins);
        }
    }
}
