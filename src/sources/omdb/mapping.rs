//! OMDb answers → what the store writes, or what the runner must do.
//!
//! OMDb answers HTTP 200 for "no data" and HTTP 401 for key and quota problems, always with
//! `{"Response":"False","Error":…}`; the text decides. Values are strings with `"N/A"` for
//! unknown: `"142 min"`, `"14 Oct 1994"`, `"$1,234"`, `"1,234,567"`, `"7.1/10"`, `"57%"`.

use chrono::NaiveDate;

use super::awards;
use super::models::{RatingEntry, TitleResponse};
use crate::sources::lenient::{MappingError, from_body, non_empty};
use crate::store::bundle::{OmdbRecord, Rating, metrics, sources};

/// What an OMDb answer means for the importer.
#[derive(Debug, Clone, PartialEq)]
pub enum OmdbAnswer {
    Found(Box<OmdbRecord>),
    /// OMDb has nothing for this id ("Incorrect IMDb ID.", "Error getting data.", "…not found!").
    NoData {
        reason: String,
    },
    /// "Invalid API key!": fatal for the source.
    InvalidKey,
    /// "No API key provided.": fatal for the source.
    NoKey,
    /// "Request limit reached!": the daily quota is spent; stop and resume another day.
    LimitReached,
}

/// Interprets an OMDb title answer (`?i=` or `?t=`).
pub fn omdb_answer(http_status: u16, body: &[u8]) -> Result<OmdbAnswer, MappingError> {
    let response: TitleResponse = from_body("OMDb answer", body).map_err(|e| match e {
        // A 401 whose body is not OMDb's JSON is still a key problem worth naming.
        MappingError::NotJson { reason, .. } if http_status == 401 => MappingError::Value {
            what: "OMDb answer".into(),
            field: "HTTP status".into(),
            value: "401".into(),
            reason: format!("unauthorized, and the body is not JSON: {reason}"),
        },
        other => other,
    })?;
    let failed = response
        .response
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("false"));
    if failed || http_status == 401 {
        let error = response.error.unwrap_or_default();
        return classify_error(http_status, error);
    }
    if !(200..300).contains(&http_status) {
        return Err(MappingError::Value {
            what: "OMDb answer".into(),
            field: "HTTP status".into(),
            value: http_status.to_string(),
            reason: "expected 200 for a found title".into(),
        });
    }
    let raw = String::from_utf8_lossy(body).into_owned();
    record(response, raw).map(|r| OmdbAnswer::Found(Box::new(r)))
}

/// OMDb's `Error` texts that mean "nothing for this id or title" (a final answer, unlike the
/// key and quota errors): "Incorrect IMDb ID.", "Error getting data.", "… not found!".
pub fn is_no_data_error(error: &str) -> bool {
    let lower = error.to_lowercase();
    lower.contains("incorrect imdb id")
        || lower.contains("error getting data")
        || lower.ends_with("not found!")
}

fn classify_error(http_status: u16, error: String) -> Result<OmdbAnswer, MappingError> {
    let lower = error.to_lowercase();
    if lower.contains("request limit reached") {
        return Ok(OmdbAnswer::LimitReached);
    }
    if lower.contains("invalid api key") {
        return Ok(OmdbAnswer::InvalidKey);
    }
    if lower.contains("no api key") {
        return Ok(OmdbAnswer::NoKey);
    }
    if http_status == 200 && is_no_data_error(&error) {
        return Ok(OmdbAnswer::NoData { reason: error });
    }
    Err(MappingError::Value {
        what: "OMDb answer".into(),
        field: "Error".into(),
        value: error,
        reason: format!("an error OMDb is not known to give for a title (HTTP {http_status})"),
    })
}

fn record(r: TitleResponse, raw: String) -> Result<OmdbRecord, MappingError> {
    let imdb_id = known(r.imdb_id.clone()).ok_or_else(|| MappingError::Value {
        what: "OMDb answer".into(),
        field: "imdbID".into(),
        value: r.imdb_id.clone().unwrap_or_default(),
        reason: "a found title needs its IMDb id".into(),
    })?;
    let what = format!("OMDb {imdb_id}");
    let bad = |field: &str, value: &str, reason: &str| MappingError::Value {
        what: what.clone(),
        field: field.into(),
        value: value.into(),
        reason: reason.into(),
    };

    let released = match known(r.released) {
        None => None,
        Some(s) => Some(
            NaiveDate::parse_from_str(&s, "%d %b %Y")
                .or_else(|_| NaiveDate::parse_from_str(&s, "%Y-%m-%d"))
                .map_err(|_| bad("Released", &s, "expected a date like \"14 Oct 1994\""))?,
        ),
    };
    let runtime_minutes = match known(r.runtime) {
        None => None,
        Some(s) => Some(
            s.trim_end_matches("min")
                .trim()
                .replace(',', "")
                .parse::<i32>()
                .map_err(|_| bad("Runtime", &s, "expected minutes like \"142 min\""))?,
        ),
    };
    let box_office_usd = match known(r.box_office) {
        None => None,
        Some(s) => Some(
            s.trim_start_matches('$')
                .replace(',', "")
                .trim()
                .parse::<i64>()
                .map_err(|_| bad("BoxOffice", &s, "expected dollars like \"$1,234\""))?,
        ),
    };
    let awards_text = known(r.awards);
    let awards = awards_text.as_deref().map(awards::parse);

    // The dedicated fields first, the `Ratings` array for what they lack: both say the same
    // where both are present, and old bodies have only the fields.
    let entries = r.ratings.unwrap_or_default();
    let entry = |source: &str| -> Option<&RatingEntry> {
        entries
            .iter()
            .find(|e| e.source.eq_ignore_ascii_case(source))
    };
    let mut ratings = Vec::new();
    let imdb = match known(r.imdb_rating) {
        Some(s) => Some(number(&s).ok_or_else(|| bad("imdbRating", &s, "expected a number"))?),
        None => match entry("Internet Movie Database") {
            Some(e) => over(&e.value, "/10")
                .map_err(|_| bad("Ratings[IMDb]", &e.value, "expected \"x/10\""))?,
            None => None,
        },
    };
    if let Some(v) = imdb {
        ratings.push(Rating::new(sources::IMDB, metrics::RATING, v, Some(10.0)));
    }
    if let Some(s) = known(r.imdb_votes) {
        let votes = s
            .replace(',', "")
            .trim()
            .parse::<i64>()
            .map_err(|_| bad("imdbVotes", &s, "expected a count like \"1,234,567\""))?;
        ratings.push(Rating::new(
            sources::IMDB,
            metrics::VOTES,
            votes as f64,
            None,
        ));
    }
    if let Some(e) = entry("Rotten Tomatoes")
        && let Some(v) = over(&e.value, "%")
            .map_err(|_| bad("Ratings[Rotten Tomatoes]", &e.value, "expected \"x%\""))?
    {
        ratings.push(Rating::new(
            sources::ROTTEN_TOMATOES,
            metrics::TOMATOMETER,
            v,
            Some(100.0),
        ));
    }
    let metascore = match known(r.metascore) {
        Some(s) => Some(number(&s).ok_or_else(|| bad("Metascore", &s, "expected a number"))?),
        None => match entry("Metacritic") {
            Some(e) => over(&e.value, "/100")
                .map_err(|_| bad("Ratings[Metacritic]", &e.value, "expected \"x/100\""))?,
            None => None,
        },
    };
    if let Some(v) = metascore {
        ratings.push(Rating::new(
            sources::METACRITIC,
            metrics::METASCORE,
            v,
            Some(100.0),
        ));
    }

    Ok(OmdbRecord {
        imdb_id,
        title: known(r.title),
        kind: known(r.kind),
        year: known(r.year),
        rated: known(r.rated),
        released,
        runtime_minutes,
        awards_text,
        awards,
        box_office_usd,
        ratings,
        // A body that echoes the key is not stored, as the cache does not store it.
        raw_body: Some(raw).filter(|r| !crate::secret::leaks(r.as_bytes())),
    })
}

/// `None` for absent, `""` and OMDb's `"N/A"`.
fn known(value: Option<String>) -> Option<String> {
    non_empty(value)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.eq_ignore_ascii_case("n/a"))
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `"7.1/10"` with suffix `"/10"` → 7.1; `"N/A"` → `None`; anything else is an error.
fn over(value: &str, suffix: &str) -> Result<Option<f64>, ()> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("n/a") || value.is_empty() {
        return Ok(None);
    }
    value
        .strip_suffix(suffix)
        .and_then(number)
        .map(Some)
        .ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(body: &str) -> OmdbRecord {
        match omdb_answer(200, body.as_bytes()).unwrap() {
            OmdbAnswer::Found(r) => *r,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    fn rating(r: &OmdbRecord, source: &str, metric: &str) -> Option<f64> {
        r.ratings
            .iter()
            .find(|x| x.source == source && x.metric == metric)
            .map(|x| x.value)
    }

    #[test]
    fn values_in_omdb_formats() {
        let r = found(
            r#"{"Title":"X","Year":"1994","Rated":"R","Released":"14 Oct 1994","Runtime":"142 min",
            "Awards":"Won 1 Oscar. Another 5 wins & 6 nominations.","Metascore":"N/A",
            "imdbRating":"9.3","imdbVotes":"1,234,567","imdbID":"tt0111161","Type":"movie",
            "BoxOffice":"$28,341,469","Response":"True",
            "Ratings":[{"Source":"Metacritic","Value":"82/100"},{"Source":"Rotten Tomatoes","Value":"91%"}]}"#,
        );
        assert_eq!(r.released, NaiveDate::from_ymd_opt(1994, 10, 14));
        assert_eq!(r.runtime_minutes, Some(142));
        assert_eq!(r.box_office_usd, Some(28_341_469));
        assert_eq!(rating(&r, "imdb", "rating"), Some(9.3));
        assert_eq!(rating(&r, "imdb", "votes"), Some(1_234_567.0));
        assert_eq!(rating(&r, "rotten_tomatoes", "tomatometer"), Some(91.0));
        assert_eq!(rating(&r, "metacritic", "metascore"), Some(82.0));
        assert_eq!(r.awards.unwrap().total_wins, 6);
    }

    #[test]
    fn na_everywhere_and_no_ratings() {
        let r = found(
            r#"{"Title":"X","Released":"N/A","Runtime":"N/A","Awards":"N/A","Metascore":"N/A",
            "imdbRating":"N/A","imdbVotes":"N/A","imdbID":"tt1","BoxOffice":"N/A","Response":"True"}"#,
        );
        assert_eq!(
            (r.released, r.runtime_minutes, r.box_office_usd),
            (None, None, None)
        );
        assert!(r.ratings.is_empty() && r.awards.is_none() && r.awards_text.is_none());
    }

    #[test]
    fn errors_are_classified() {
        let ans = |status, error: &str| {
            omdb_answer(
                status,
                format!(r#"{{"Response":"False","Error":"{error}"}}"#).as_bytes(),
            )
        };
        assert_eq!(
            ans(401, "Request limit reached!").unwrap(),
            OmdbAnswer::LimitReached
        );
        assert_eq!(
            ans(401, "Invalid API key!").unwrap(),
            OmdbAnswer::InvalidKey
        );
        assert_eq!(ans(401, "No API key provided.").unwrap(), OmdbAnswer::NoKey);
        for no_data in [
            "Incorrect IMDb ID.",
            "Error getting data.",
            "Movie not found!",
        ] {
            assert!(matches!(
                ans(200, no_data).unwrap(),
                OmdbAnswer::NoData { .. }
            ));
        }
        assert!(ans(200, "Too many results.").is_err());
        assert!(omdb_answer(500, br#"{"Title":"X","imdbID":"tt1"}"#).is_err());
    }

    #[test]
    fn malformed_values_name_the_field() {
        let err = omdb_answer(
            200,
            br#"{"imdbID":"tt1","Runtime":"long","Response":"True"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Runtime") && err.contains("long"), "{err}");
    }
}
