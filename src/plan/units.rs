//! Durations ("500ms", "15s", "2m", "1h", "1d"), rates ("40/s", "300/10s", "1000/day") and
//! sizes ("8MiB", "512KiB", "1000000B") as plans write them.
//!
//! All are strings with a unit so a plan never has to guess whether `timeout = 15` means seconds
//! or milliseconds; a size may also be a bare integer of bytes, which cannot be misread. A parse
//! error is a short phrase the compiler puts into a labelled diagnostic.

use std::fmt;
use std::time::Duration;

use super::model::Rate;

/// Why a duration or rate string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// A lower-case phrase for the label: "unknown unit `sec`".
    pub reason: String,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn err(reason: impl Into<String>) -> UnitError {
    UnitError {
        reason: reason.into(),
    }
}

/// The units a duration accepts, with their length in milliseconds.
const DURATION_UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Parses `"<whole number><unit>"` with unit `ms`, `s`, `m`, `h` or `d`. `"0ms"` is allowed.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(if text.is_empty() {
            err("empty duration")
        } else if text.starts_with('-') {
            err("a duration cannot be negative")
        } else {
            err("a duration starts with a whole number, like `500ms` or `15s`")
        });
    }
    if unit.is_empty() {
        return Err(err(format!(
            "missing unit: write `{number}ms`, `{number}s`, `{number}m`, `{number}h` or `{number}d`"
        )));
    }
    if unit.starts_with(char::is_whitespace) {
        let unit = unit.trim_start();
        return Err(if DURATION_UNITS.iter().any(|(u, _)| *u == unit) {
            err(format!("write `{number}{unit}` without a space"))
        } else {
            err(format!("unknown unit `{unit}`: use ms, s, m, h or d"))
        });
    }
    if let Some(rest) = unit.strip_prefix('.') {
        let exact = fraction(number, rest, DURATION_UNITS)
            .map(|ms| format_duration(Duration::from_millis(ms)));
        return Err(err(match exact {
            Some(whole) => format!("not a whole number: did you mean `{whole}`?"),
            None => {
                "a duration is a whole number of milliseconds or more, like `1500ms`".to_owned()
            }
        }));
    }
    let Some(&(_, millis)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(err(format!("unknown unit `{unit}`: use ms, s, m, h or d")));
    };
    let number: u64 = number.parse().map_err(|_| err("the number is too large"))?;
    number
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| err("the duration is too long"))
}

/// `number.digits unit` (the text after the `.`) in the units' base (milliseconds, bytes), when
/// it is a whole number of them: `1` `5s` → 1500. `None` for anything else.
fn fraction(number: &str, after_dot: &str, units: &[(&str, u64)]) -> Option<u64> {
    let digits_end = after_dot
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_dot.len());
    let (digits, unit) = after_dot.split_at(digits_end);
    let &(_, len) = units.iter().find(|(u, _)| *u == unit)?;
    let scale = 10u128.checked_pow(u32::try_from(digits.len()).ok()?)?;
    let whole: u128 = format!("{number}{digits}").parse().ok()?;
    let base = whole.checked_mul(u128::from(len))?;
    if digits.is_empty() || base % scale != 0 {
        return None;
    }
    u64::try_from(base / scale).ok()
}

/// Parses `"<count>/<period>"`: the period is a unit (`s`, `m`, `h`, `d`, `day`) or a duration
/// (`10s`, `500ms`). The count must be at least 1 and the period longer than zero.
pub fn parse_rate(text: &str) -> Result<Rate, UnitError> {
    let text = text.trim();
    let Some((count, per)) = text.split_once('/') else {
        return Err(err(
            "a rate is `<requests>/<period>`, like `40/s`, `300/10s` or `1000/day`",
        ));
    };
    let count = count.trim();
    let per = per.trim();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!("`{count}` is not a whole number of requests")));
    }
    let count: u32 = count
        .parse()
        .map_err(|_| err("the request count is too large"))?;
    if count == 0 {
        return Err(err("a rate must allow at least 1 request"));
    }
    let per = match per {
        "day" => Duration::from_secs(86_400),
        "ms" | "s" | "m" | "h" | "d" => parse_duration(&format!("1{per}"))?,
        "" => {
            return Err(err(
                "missing period after `/`: use s, m, h, day or a duration",
            ));
        }
        other => parse_duration(other).map_err(|e| err(format!("bad period: {e}")))?,
    };
    if per.is_zero() {
        return Err(err("the period must be longer than zero"));
    }
    Ok(Rate { count, per })
}

/// The units a size accepts, with their length in bytes, largest first. Binary and decimal
/// prefixes mean what they say: `1MiB` is 1,048,576 bytes, `1MB` is 1,000,000.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("GiB", 1 << 30),
    ("GB", 1_000_000_000),
    ("MiB", 1 << 20),
    ("MB", 1_000_000),
    ("KiB", 1 << 10),
    ("kB", 1_000),
    ("KB", 1_000),
    ("B", 1),
];

const SIZE_UNIT_NAMES: &str = "B, KiB, MiB, GiB (or kB, MB, GB)";

/// Parses `"<whole number><unit>"` with unit `B`, `KiB`, `MiB`, `GiB`, `kB`/`KB`, `MB` or `GB`.
/// `"0B"` parses; whether zero makes sense is the caller's call.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(if text.is_empty() {
            err("empty size")
        } else if text.starts_with('-') {
            err("a size cannot be negative")
        } else {
            err("a size starts with a whole number, like `8MiB` or `512KiB`")
        });
    }
    if unit.is_empty() {
        return Err(err(format!(
            "missing unit: write `{number}B`, `{number}KiB` or `{number}MiB`, or an integer of bytes without quotes"
        )));
    }
    if let Some(rest) = unit.strip_prefix('.') {
        return Err(err(match fraction(number, rest, SIZE_UNITS) {
            Some(bytes) => format!("not a whole number: did you mean `{}`?", format_size(bytes)),
            None => "a size is a whole number of bytes or more, like `1536KiB`".to_owned(),
        }));
    }
    let known = |u: &str| SIZE_UNITS.iter().find(|(name, _)| *name == u);
    if unit.starts_with(char::is_whitespace) {
        let unit = unit.trim_start();
        return Err(if known(unit).is_some() {
            err(format!("write `{number}{unit}` without a space"))
        } else {
            err(format!("unknown unit `{unit}`: use {SIZE_UNIT_NAMES}"))
        });
    }
    let Some(&(_, len)) = known(unit) else {
        return Err(err(format!("unknown unit `{unit}`: use {SIZE_UNIT_NAMES}")));
    };
    let number: u64 = number.parse().map_err(|_| err("the number is too large"))?;
    number
        .checked_mul(len)
        .ok_or_else(|| err("the size is too large"))
}

/// Writes a size back in the plan's own syntax, in the largest binary unit that is exact
/// (`8MiB`, `1500B`), so it reads back to the same number of bytes.
pub fn format_size(bytes: u64) -> String {
    for unit in ["GiB", "MiB", "KiB"] {
        let len = SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map_or(1, |(_, l)| *l);
        if bytes != 0 && bytes.is_multiple_of(len) {
            return format!("{}{unit}", bytes / len);
        }
    }
    format!("{bytes}B")
}

/// Bytes for people, in binary units with one decimal: `512 B`, `12.3 KiB`, `20.0 MiB`. The
/// one way popctl shows a size (the run report, `cache stats`, errors about `max_body`), so
/// no two outputs disagree on what a kilobyte is.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Writes a duration back in the plan's own syntax, in the largest unit that is exact.
pub fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    for &(unit, len) in DURATION_UNITS.iter().rev() {
        let len = u128::from(len);
        if millis != 0 && millis.is_multiple_of(len) {
            return format!("{}{unit}", millis / len);
        }
    }
    format!("{millis}ms")
}

/// Writes a rate back in the plan's own syntax: `40/s`, `300/10s`, `1000/day`.
pub fn format_rate(rate: Rate) -> String {
    let per = match format_duration(rate.per).as_str() {
        "1s" => "s".to_owned(),
        "1m" => "m".to_owned(),
        "1h" => "h".to_owned(),
        "1d" => "day".to_owned(),
        other => other.to_owned(),
    };
    format!("{}/{per}", rate.count)
}

/// A duration for people: "250ms", "5.3s", "3m 20s", "1h 5m", "2d 3h".
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    if secs < 60 {
        let tenths = d.as_millis().div_ceil(100);
        return if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = if d.subsec_nanos() > 0 { secs + 1 } else { secs };
    let (d_, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d_, h, m, s) {
        (0, 0, m, 0) => format!("{m}m"),
        (0, 0, m, s) => format!("{m}m {s}s"),
        (0, h, 0, _) => format!("{h}h"),
        (0, h, m, _) => format!("{h}h {m}m"),
        (d_, 0, _, _) => format!("{d_}d"),
        (d_, h, _, _) => format!("{d_}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("0ms"), Ok(ms(0)));
        assert_eq!(parse_duration("15s"), Ok(ms(15_000)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1d"), Ok(ms(86_400_000)));
        assert_eq!(parse_duration(" 7d "), Ok(ms(7 * 86_400_000)));
    }

    #[test]
    fn bad_durations_say_why() {
        let reason = |t: &str| parse_duration(t).unwrap_err().reason;
        assert_eq!(reason(""), "empty duration");
        assert!(reason("15").starts_with("missing unit: write `15ms`"));
        assert_eq!(reason("15sec"), "unknown unit `sec`: use ms, s, m, h or d");
        assert_eq!(
            reason("5 seconds"),
            "unknown unit `seconds`: use ms, s, m, h or d"
        );
        assert_eq!(reason("5 s"), "write `5s` without a space");
        assert_eq!(reason("-1s"), "a duration cannot be negative");
        assert_eq!(reason("1.5s"), "not a whole number: did you mean `1500ms`?");
        assert_eq!(reason("2.5m"), "not a whole number: did you mean `150s`?");
        assert_eq!(reason("0.5d"), "not a whole number: did you mean `12h`?");
        assert_eq!(
            reason("1.50s"),
            "not a whole number: did you mean `1500ms`?"
        );
        assert!(reason("1.0005s").starts_with("a duration is a whole number of milliseconds"));
        assert!(reason("1.5sec").starts_with("a duration is a whole number"));
        assert!(reason("s").starts_with("a duration starts with a whole number"));
        assert_eq!(reason("99999999999999999999s"), "the number is too large");
        assert_eq!(reason("9999999999999999d"), "the duration is too long");
    }

    #[test]
    fn rates_with_units_and_durations() {
        let rate = |t: &str| parse_rate(t).unwrap();
        assert_eq!(
            rate("40/s"),
            Rate {
                count: 40,
                per: ms(1000)
            }
        );
        assert_eq!(
            rate("300/10s"),
            Rate {
                count: 300,
                per: ms(10_000)
            }
        );
        assert_eq!(
            rate("1000/day"),
            Rate {
                count: 1000,
                per: ms(86_400_000)
            }
        );
        assert_eq!(
            rate("1000/d"),
            Rate {
                count: 1000,
                per: ms(86_400_000)
            }
        );
        assert_eq!(
            rate("90/m"),
            Rate {
                count: 90,
                per: ms(60_000)
            }
        );
        assert_eq!(
            rate("500/h"),
            Rate {
                count: 500,
                per: ms(3_600_000)
            }
        );
        assert_eq!(
            rate("3/500ms"),
            Rate {
                count: 3,
                per: ms(500)
            }
        );
        assert_eq!(
            rate(" 5 / s "),
            Rate {
                count: 5,
                per: ms(1000)
            }
        );
    }

    #[test]
    fn bad_rates_say_why() {
        let reason = |t: &str| parse_rate(t).unwrap_err().reason;
        assert!(reason("40").starts_with("a rate is `<requests>/<period>`"));
        assert_eq!(reason("0/s"), "a rate must allow at least 1 request");
        assert_eq!(reason("x/s"), "`x` is not a whole number of requests");
        assert_eq!(reason("-3/s"), "`-3` is not a whole number of requests");
        assert!(reason("40/").starts_with("missing period"));
        assert_eq!(reason("40/0s"), "the period must be longer than zero");
        assert_eq!(
            reason("40/week"),
            "bad period: a duration starts with a whole number, like `500ms` or `15s`"
        );
        assert_eq!(reason("5000000000/s"), "the request count is too large");
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["500ms", "15s", "2m", "1h", "1d", "90s", "0ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(ms(90_000)), "90s");
        assert_eq!(format_duration(ms(0)), "0ms");
        for (text, back) in [
            ("40/s", "40/s"),
            ("300/10s", "300/10s"),
            ("1000/day", "1000/day"),
            ("6/60s", "6/m"),
        ] {
            assert_eq!(format_rate(parse_rate(text).unwrap()), back);
        }
    }

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1500B"), Ok(1500));
        assert_eq!(parse_size("3kB"), Ok(3000));
        assert_eq!(parse_size("3KB"), Ok(3000));
        assert_eq!(parse_size(" 2MB "), Ok(2_000_000));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("0B"), Ok(0));
    }

    #[test]
    fn bad_sizes_say_why() {
        let reason = |t: &str| parse_size(t).unwrap_err().reason;
        assert_eq!(reason(""), "empty size");
        assert!(reason("1024").starts_with("missing unit: write `1024B`"));
        assert_eq!(
            reason("8megs"),
            "unknown unit `megs`: use B, KiB, MiB, GiB (or kB, MB, GB)"
        );
        assert_eq!(reason("8 MiB"), "write `8MiB` without a space");
        assert_eq!(reason("-1MiB"), "a size cannot be negative");
        assert_eq!(
            reason("1.5MiB"),
            "not a whole number: did you mean `1536KiB`?"
        );
        assert_eq!(reason("1.5kB"), "not a whole number: did you mean `1500B`?");
        assert!(reason("0.3B").starts_with("a size is a whole number of bytes"));
        assert!(reason("MiB").starts_with("a size starts with a whole number"));
        assert_eq!(reason("99999999999999999999B"), "the number is too large");
        assert_eq!(reason("99999999999GiB"), "the size is too large");
        // Units are case-sensitive: `mb` could mean millibits.
        assert!(reason("8mib").starts_with("unknown unit `mib`"));
    }

    #[test]
    fn sizes_format_exactly_and_for_people() {
        for n in [
            0,
            1,
            1500,
            1 << 10,
            8 << 20,
            3 << 30,
            1_000_000,
            (8 << 20) + 1,
        ] {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{n}");
        }
        assert_eq!(format_size(8 << 20), "8MiB");
        assert_eq!(format_size(1536), "1536B");
        assert_eq!(format_size(3072), "3KiB");
        assert_eq!(format_size(1_000_000), "1000000B");
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(20 << 20), "20.0 MiB");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(ms(250)), "250ms");
        assert_eq!(human_duration(ms(5_250)), "5.3s");
        assert_eq!(human_duration(ms(40_000)), "40s");
        assert_eq!(human_duration(ms(200_000)), "3m 20s");
        assert_eq!(human_duration(ms(3_900_000)), "1h 5m");
        assert_eq!(human_duration(ms(2 * 86_400_000 + 3 * 3_600_000)), "2d 3h");
    }
}
