//! Every real body in tests/fixtures maps: TMDB details into bundles whose parts match the
//! JSON, OMDb titles into records (N/A, runtime, dates, box office, votes, ratings in any order
//! or missing or absent), OMDb errors into the right answer, and every Awards text parses.

#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use popctl::sources::omdb::{awards, mapping::OmdbAnswer, mapping::omdb_answer};
use popctl::sources::tmdb::mapping::{genre_list, movie_bundle};
use serde_json::Value;

use crate::store_db::details_fixtures;
use crate::support;

fn json_files(sub: &str) -> Vec<(String, Vec<u8>)> {
    support::fixture_files(sub)
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn arr(v: &Value, path: &[&str]) -> Option<usize> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_array().map(Vec::len)
}

#[test]
fn every_tmdb_details_body_maps() {
    let fixtures = details_fixtures();
    for (name, body) in &fixtures {
        let json: Value = serde_json::from_slice(body).unwrap();
        let b = movie_bundle(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(b.tmdb_id(), json["id"].as_i64().unwrap(), "{name}");
        let credits = b.credits.as_ref().map(Vec::len);
        let expected = json.get("credits").map(|_| {
            arr(&json, &["credits", "cast"]).unwrap_or(0)
                + arr(&json, &["credits", "crew"]).unwrap_or(0)
        });
        assert_eq!(credits, expected, "{name}: credits");
        assert_eq!(
            b.genres.as_ref().map(Vec::len),
            arr(&json, &["genres"]),
            "{name}: genres"
        );
        assert_eq!(
            b.keywords.as_ref().map(Vec::len),
            arr(&json, &["keywords", "keywords"]),
            "{name}: keywords"
        );
        assert_eq!(
            b.videos.as_ref().map(Vec::len),
            arr(&json, &["videos", "results"]),
            "{name}: videos"
        );
        assert_eq!(
            b.reviews.as_ref().map(Vec::len),
            arr(&json, &["reviews", "results"]),
            "{name}: reviews"
        );
        assert_eq!(
            b.recommendations.as_ref().map(Vec::len),
            arr(&json, &["recommendations", "results"]),
            "{name}: recommendations"
        );
        let similar =
            arr(&json, &["similar", "results"]).or(arr(&json, &["similar_movies", "results"]));
        assert_eq!(b.similar.as_ref().map(Vec::len), similar, "{name}: similar");
        // Quirks of real bodies.
        assert_eq!(
            b.movie.release_date.is_none(),
            json["release_date"] == "",
            "{name}: release_date"
        );
        assert_eq!(
            b.movie.runtime.is_none(),
            json["runtime"] == 0 || json["runtime"].is_null(),
            "{name}: runtime"
        );
        assert_eq!(
            b.movie.imdb_id.is_none(),
            json["imdb_id"].is_null()
                && json
                    .pointer("/external_ids/imdb_id")
                    .is_none_or(Value::is_null),
            "{name}: imdb_id"
        );
        assert_eq!(
            b.raw_body.as_deref().map(str::as_bytes),
            Some(body.as_slice())
        );
    }
    if !fixtures.is_empty() {
        assert_eq!(fixtures.len(), 31, "PROVENANCE.md counts 31 details bodies");
    }
}

#[test]
fn genre_lists_map() {
    for (name, body) in json_files("tmdb/meta")
        .into_iter()
        .filter(|(n, _)| n.starts_with("genre_"))
    {
        let genres = genre_list(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(genres.len() >= 19, "{name}: {}", genres.len());
        assert!(
            genres.iter().any(|(id, g)| *id == 28 && g == "Action"),
            "{name}"
        );
    }
}

#[test]
fn every_omdb_title_body_maps() {
    let mut seen = 0;
    for sub in ["omdb/movie", "omdb/series", "omdb/episode"] {
        for (name, body) in json_files(sub) {
            seen += 1;
            let json: Value = serde_json::from_slice(&body).unwrap();
            let record = match omdb_answer(200, &body).unwrap_or_else(|e| panic!("{name}: {e}")) {
                OmdbAnswer::Found(r) => r,
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(record.imdb_id, json["imdbID"].as_str().unwrap(), "{name}");
            let na = |k: &str| json.get(k).is_none_or(|v| v == "N/A");
            assert_eq!(
                record.released.is_none(),
                na("Released"),
                "{name}: Released"
            );
            assert_eq!(
                record.box_office_usd.is_none(),
                na("BoxOffice"),
                "{name}: BoxOffice"
            );
            if let Some(rt) = json["Runtime"].as_str().filter(|r| *r != "N/A") {
                let minutes: i32 = rt
                    .trim_end_matches(" min")
                    .replace(',', "")
                    .parse()
                    .unwrap();
                assert_eq!(record.runtime_minutes, Some(minutes), "{name}");
            }
            if let Some(bo) = json["BoxOffice"].as_str().filter(|b| *b != "N/A") {
                let digits: String = bo.chars().filter(char::is_ascii_digit).collect();
                assert_eq!(
                    record.box_office_usd,
                    Some(digits.parse().unwrap()),
                    "{name}"
                );
            }
            let value = |source: &str, metric: &str| {
                record
                    .ratings
                    .iter()
                    .find(|r| r.source == source && r.metric == metric)
                    .map(|r| r.value)
            };
            if let Some(votes) = json["imdbVotes"].as_str().filter(|v| *v != "N/A") {
                assert_eq!(
                    value("imdb", "votes"),
                    Some(votes.replace(',', "").parse().unwrap()),
                    "{name}"
                );
            }
            // Each Ratings entry lands on its own metric, whatever its position.
            for entry in json["Ratings"].as_array().into_iter().flatten() {
                let v = entry["Value"].as_str().unwrap();
                let (source, metric, number) = match entry["Source"].as_str().unwrap() {
                    "Internet Movie Database" => ("imdb", "rating", v.trim_end_matches("/10")),
                    "Rotten Tomatoes" => {
                        ("rotten_tomatoes", "tomatometer", v.trim_end_matches('%'))
                    }
                    "Metacritic" => ("metacritic", "metascore", v.trim_end_matches("/100")),
                    other => panic!("{name}: unexpected source {other}"),
                };
                assert_eq!(
                    value(source, metric),
                    Some(number.parse().unwrap()),
                    "{name}: {source}"
                );
            }
            if json.get("Ratings").is_none() {
                // Legacy bodies: the dedicated fields still give IMDb and Metacritic.
                assert!(value("imdb", "rating").is_some(), "{name}");
                assert!(value("rotten_tomatoes", "tomatometer").is_none(), "{name}");
            }
            assert_eq!(record.awards.is_none(), na("Awards"), "{name}: Awards");
        }
    }
    assert_eq!(seen, 37, "30 movies, 5 series, 2 episodes");
}

#[test]
fn every_awards_text_parses_completely() {
    let mut texts = 0;
    for sub in ["omdb/movie", "omdb/series", "omdb/episode"] {
        for (name, body) in json_files(sub) {
            let json: Value = serde_json::from_slice(&body).unwrap();
            if let Some(text) = json["Awards"].as_str() {
                texts += 1;
                let a = awards::parse(text);
                assert!(a.complete, "{name}: {text:?} -> {a:?}");
                assert!(a.total_wins >= a.oscar_wins, "{name}");
                if text.starts_with("Won ") && text.contains("Oscar") {
                    assert!(a.oscar_wins > 0, "{name}: {text}");
                }
                if text != "N/A" {
                    assert!(a.total_wins + a.total_nominations > 0, "{name}: {text}");
                }
            }
        }
    }
    assert!(texts >= 35, "{texts}");
}

#[test]
fn every_omdb_error_body_is_classified() {
    for (name, body) in json_files("omdb/errors") {
        let status = if name.starts_with("401-") { 401 } else { 200 };
        let answer = omdb_answer(status, &body);
        match name.as_str() {
            n if n.contains("request-limit") => {
                assert_eq!(answer.unwrap(), OmdbAnswer::LimitReached)
            }
            n if n.contains("invalid-api-key") => {
                assert_eq!(answer.unwrap(), OmdbAnswer::InvalidKey)
            }
            n if n.contains("too-many-results") => {
                let err = answer.unwrap_err().to_string();
                assert!(err.contains("Too many results."), "{name}: {err}");
            }
            _ => assert!(
                matches!(answer.unwrap(), OmdbAnswer::NoData { .. }),
                "{name}"
            ),
        }
    }
}
