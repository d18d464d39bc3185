//! Post-processing on real upstream bodies: every `Awards` text of the OMDb fixtures parsed to
//! the counts read by hand, the CRI of every OMDb movie fixture, the worked example of
//! `docs/cri.md` rebuilt from its fixtures, computed recommendations among the TMDB fixtures,
//! and the shape of the shipped curated lists.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use popctl::sources::omdb::awards;
use popctl::stages::post::cri::{
    AuthorityKind, AwardCounts, Cri, CriInputs, CriParams, ListMembership, Placement,
};
use popctl::stages::post::similarity::{MovieFeatures, SimilarityParams, similar_movies};
use serde_json::Value;

use crate::support;

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// OMDb's number text ("1,266,466", "8.5", "93%", "87/100"), or `None` for "N/A".
fn omdb_number(v: Option<&Value>) -> Option<f64> {
    let text = v?.as_str()?;
    let head = text
        .split('/')
        .next()?
        .trim_end_matches('%')
        .replace(',', "");
    head.parse().ok()
}

/// What the stage will read from an OMDb body (awards are left to the awards parser).
fn omdb_inputs(body: &Value) -> CriInputs {
    let rating = |source: &str| {
        body["Ratings"].as_array().and_then(|rs| {
            rs.iter()
                .find(|r| r["Source"] == source)
                .and_then(|r| omdb_number(r.get("Value")))
        })
    };
    CriInputs {
        rotten_tomatoes: rating("Rotten Tomatoes"),
        metacritic: omdb_number(body.get("Metascore")),
        imdb_rating: omdb_number(body.get("imdbRating")),
        imdb_votes: omdb_number(body.get("imdbVotes")).map(|v| v as u64),
        release_year: body["Year"].as_str().and_then(|y| y.get(..4)?.parse().ok()),
        ..CriInputs::default()
    }
}

#[test]
fn cri_of_every_omdb_movie_fixture_is_in_range_and_missing_scores_lower_confidence() {
    let cri = Cri::new(CriParams::default(), 2025).unwrap();
    let files = support::fixture_files("omdb/movie");
    assert!(files.len() >= 20, "expected the OMDb movie fixtures");
    for path in files {
        let body = read_json(&path);
        let inputs = omdb_inputs(&body);
        let s = cri.score(&inputs);
        let name = path.file_name().unwrap().to_string_lossy();
        assert!((0.0..=100.0).contains(&s.overall), "{name}: {s:?}");
        for d in s.dimensions.to_array() {
            assert!((0.0..=100.0).contains(&d), "{name}: {s:?}");
        }
        // Without TMDB data, awards or lists, confidence can never be full.
        assert!(s.confidence > 0.0 && s.confidence < 1.0, "{name}: {s:?}");
        if inputs.metacritic.is_none() {
            let full = cri.score(&CriInputs {
                metacritic: Some(50.0),
                ..inputs.clone()
            });
            assert!(full.confidence > s.confidence, "{name}");
        }
    }
}

/// `docs/cri.md` says its example comes from two fixtures; rebuild it from them.
#[test]
fn the_worked_example_of_the_docs_comes_from_the_fixtures() {
    let fixtures = support::fixtures_dir();
    let omdb =
        read_json(&fixtures.join("omdb/movie/tt0088763-back-to-the-future__by-title__ivxsm.json"));
    let tmdb = read_json(&fixtures.join("tmdb/movie_details/105-back-to-the-future__pjones.json"));
    // The counts below are this text, parsed by hand; the stage reads them through the awards
    // parser, which must agree.
    let text = "Won 1 Oscar. 23 wins & 25 nominations total";
    assert_eq!(omdb["Awards"], text);
    let hand = AwardCounts {
        oscar_wins: 1,
        oscar_nominations: 0,
        wins: 23,
        nominations: 25,
    };
    assert_eq!(AwardCounts::from_parsed(&awards::parse(text)), hand);
    let inputs = CriInputs {
        lists: Some(vec![
            ListMembership {
                trust: 0.9,
                kind: AuthorityKind::Collection,
                placement: Placement::Ranked { position: 50 },
            },
            ListMembership {
                trust: 0.6,
                kind: AuthorityKind::Critic,
                placement: Placement::Unranked,
            },
        ]),
        awards: Some(hand),
        tmdb_vote_average: tmdb["vote_average"].as_f64(),
        tmdb_vote_count: tmdb["vote_count"].as_u64(),
        tmdb_popularity: tmdb["popularity"].as_f64(),
        ..omdb_inputs(&omdb)
    };
    let s = Cri::new(CriParams::default(), 2025).unwrap().score(&inputs);
    let round = |x: f64| format!("{x:.2}");
    let dims: Vec<_> = s.dimensions.to_array().into_iter().map(round).collect();
    assert_eq!(dims, ["80.55", "62.17", "71.70", "33.28", "84.33"]);
    assert_eq!(round(s.overall), "66.40");
    assert_eq!(s.confidence, 1.0);
}

/// Genres, keywords, cast and crew of every TMDB detail fixture that has any, one per movie
/// (the first file, by name, of each id).
fn tmdb_features() -> Vec<MovieFeatures> {
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    let mut by_id = BTreeMap::new();
    for path in support::fixture_files("tmdb/movie_details") {
        let body = read_json(&path);
        let Some(id) = body["id"].as_i64() else {
            continue;
        };
        let keywords = &body["keywords"];
        let m = MovieFeatures {
            movie_id: id,
            genres: ids(&body["genres"]),
            keywords: ids(if keywords["keywords"].is_array() {
                &keywords["keywords"]
            } else {
                &keywords["results"]
            }),
            cast: ids(&body["credits"]["cast"]),
            crew: ids(&body["credits"]["crew"]),
        };
        by_id.entry(id).or_insert(m);
    }
    by_id.into_values().collect()
}

/// A string value of a list file, or "" when it is absent or not a string.
fn text(v: Option<&toml::Value>) -> &str {
    v.and_then(toml::Value::as_str).unwrap_or("")
}

fn jaccard(a: &[i64], b: &[i64]) -> f64 {
    let (a, b): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
    let union = a.union(&b).count();
    if union == 0 {
        0.0
    } else {
        a.intersection(&b).count() as f64 / union as f64
    }
}

#[test]
fn recommendations_among_the_tmdb_fixtures_score_as_the_formula_says() {
    let movies = tmdb_features();
    assert!(movies.len() >= 20, "expected the TMDB detail fixtures");
    assert!(
        movies
            .iter()
            .any(|m| m.cast.len() > 100 && m.keywords.len() > 10),
        "expected at least one fixture with credits and keywords"
    );
    let params = SimilarityParams {
        min_score: 0.0,
        top_n: 5,
        ..SimilarityParams::default()
    };
    let out = similar_movies(&movies, &params).unwrap();
    assert!(!out.pairs.is_empty());
    let by_id: BTreeMap<_, _> = movies.iter().map(|m| (m.movie_id, m)).collect();
    for p in &out.pairs {
        let (a, b) = (by_id[&p.movie_id], by_id[&p.similar_id]);
        let want = 0.3 * jaccard(&a.genres, &b.genres)
            + 0.3 * jaccard(&a.keywords, &b.keywords)
            + 0.25 * jaccard(&a.cast, &b.cast)
            + 0.15 * jaccard(&a.crew, &b.crew);
        assert!((p.score - want).abs() < 1e-12, "{p:?}: want {want}");
        assert!((1..=5).contains(&p.rank));
    }
    // The Matrix (603) has only genres: Action and Science Fiction. Five fixtures have those
    // two plus one more (2/3 · 0.3 = 0.2); Matrix Reloaded has them plus two more (0.15).
    // The five tie, and the tie goes to the lower ids.
    let of_matrix: Vec<_> = out
        .pairs
        .iter()
        .filter(|p| p.movie_id == 603)
        .map(|p| (p.similar_id, format!("{:.3}", p.score)))
        .collect();
    let want: Vec<_> = [19995, 87421, 330459, 526896, 624860]
        .into_iter()
        .map(|id| (id, "0.200".to_owned()))
        .collect();
    assert_eq!(of_matrix, want);

    let mut reversed = movies.clone();
    reversed.reverse();
    assert_eq!(similar_movies(&reversed, &params).unwrap(), out);
}

/// The lead fixed the format of `data/lists/*.toml`; check every shipped file keeps to it
/// (its shape only: no test depends on which movies are listed).
#[test]
fn shipped_curated_lists_keep_to_the_format() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lists");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "ship at least two curated lists");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: toml::Table = fs::read_to_string(&path).unwrap().parse().unwrap();
        assert!(!text(doc.get("source")).is_empty(), "{name}: no source");
        let authority = doc["authority"].as_table().unwrap();
        assert!(!text(authority.get("name")).is_empty(), "{name}");
        let kind = text(authority.get("kind"));
        assert!(
            ["award", "collection", "critic", "platform"].contains(&kind),
            "{name}: kind {kind}"
        );
        let trust = authority["trust"].as_float().unwrap();
        assert!((0.0..=1.0).contains(&trust), "{name}: trust {trust}");
        let list = doc["list"].as_table().unwrap();
        assert!(!text(list.get("name")).is_empty(), "{name}");
        assert!(list["year"].as_integer().is_some(), "{name}: list year");
        let list_type = text(list.get("type"));
        let items = doc["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{name}: no items");
        let mut positions = BTreeSet::new();
        let mut imdb_ids = BTreeSet::new();
        for item in items {
            let item = item.as_table().unwrap();
            let identified = item.contains_key("imdb_id")
                || item.contains_key("tmdb_id")
                || (item.contains_key("title") && item.contains_key("year"));
            assert!(
                identified,
                "{name}: an item without an id or title + year: {item:?}"
            );
            if let Some(id) = item.get("imdb_id") {
                let id = id.as_str().unwrap();
                assert!(
                    id.starts_with("tt") && id[2..].chars().all(|c| c.is_ascii_digit()),
                    "{name}: imdb_id {id}"
                );
                assert!(imdb_ids.insert(id.to_owned()), "{name}: {id} twice");
            }
            match list_type {
                "ranked" => {
                    let p = item["position"].as_integer().unwrap();
                    assert!(p >= 1 && positions.insert(p), "{name}: position {p}");
                }
                "award" => {
                    assert!(!text(item.get("category")).is_empty(), "{name}: {item:?}");
                    assert!(["won", "nominated"].contains(&text(item.get("result"))));
                }
                "unranked" => {}
                other => panic!("{name}: list type {other}"),
            }
        }
    }
}

/// Every distinct `Awards` value in the OMDb fixtures (movies, series, episodes), with the
/// counts a person reads in it: (Oscar wins, Oscar nominations as stated, total wins, total
/// nominations that did not win). A fixture text missing here fails the test, so new
/// fixtures get their counts written down too.
const AWARDS_BY_HAND: &[(&str, [u32; 4])] = &[
    ("N/A", [0, 0, 0, 0]),
    ("1 nomination.", [0, 0, 0, 1]),
    ("1 win & 10 nominations.", [0, 0, 1, 10]),
    ("1 win & 2 nominations.", [0, 0, 1, 2]),
    ("1 win & 5 nominations.", [0, 0, 1, 5]),
    ("1 win & 9 nominations.", [0, 0, 1, 9]),
    ("14 nominations.", [0, 0, 0, 14]),
    ("2 wins & 31 nominations.", [0, 0, 2, 31]),
    ("2 wins & 9 nominations", [0, 0, 2, 9]),
    ("3 wins & 11 nominations.", [0, 0, 3, 11]),
    ("4 wins & 8 nominations.", [0, 0, 4, 8]),
    ("7 wins & 16 nominations.", [0, 0, 7, 16]),
    ("7 wins & 42 nominations.", [0, 0, 7, 42]),
    ("7 wins & 46 nominations.", [0, 0, 7, 46]),
    (
        "Nominated for 1 BAFTA Award3 wins & 41 nominations total",
        [0, 0, 3, 41],
    ),
    (
        "Nominated for 1 BAFTA Award7 wins & 46 nominations total",
        [0, 0, 7, 46],
    ),
    (
        "Nominated for 2 Oscars. 10 wins & 31 nominations total",
        [0, 2, 10, 31],
    ),
    // "Another" adds to the headline: 2 Oscar nominations + 16.
    (
        "Nominated for 2 Oscars. Another 12 wins & 16 nominations.",
        [0, 2, 12, 18],
    ),
    // "Another" adds to the headline: 3 Golden Globe nominations + 75.
    (
        "Nominated for 3 Golden Globes. Another 29 wins & 75 nominations.",
        [0, 0, 29, 78],
    ),
    (
        "Nominated for 4 Oscars. 23 wins & 23 nominations total",
        [0, 4, 23, 23],
    ),
    (
        "Won 1 Oscar. 23 wins & 25 nominations total",
        [1, 1, 23, 25],
    ),
    (
        "Won 2 Oscars. 31 wins & 59 nominations total",
        [2, 2, 31, 59],
    ),
    (
        "Won 3 Primetime Emmys. 43 wins & 114 nominations total",
        [0, 0, 43, 114],
    ),
    (
        "Won 4 Oscars. 101 wins & 132 nominations total",
        [4, 4, 101, 132],
    ),
    (
        "Won 59 Primetime Emmys. 397 wins & 655 nominations total",
        [0, 0, 397, 655],
    ),
    (
        "Won 6 Primetime Emmys. 34 wins & 26 nominations total",
        [0, 0, 34, 26],
    ),
];

#[test]
fn every_awards_value_of_the_omdb_fixtures_parses_to_its_counts() {
    let by_hand: BTreeMap<&str, [u32; 4]> = AWARDS_BY_HAND.iter().copied().collect();
    let mut seen = BTreeSet::new();
    for sub in ["omdb/movie", "omdb/series", "omdb/episode"] {
        for path in support::fixture_files(sub) {
            let body = read_json(&path);
            let Some(text) = body["Awards"].as_str() else {
                continue;
            };
            let name = path.file_name().unwrap().to_string_lossy();
            let want = by_hand
                .get(text)
                .unwrap_or_else(|| panic!("{name}: write down the counts of {text:?}"));
            let a = awards::parse(text);
            assert_eq!(
                [
                    a.oscar_wins,
                    a.oscar_nominations,
                    a.total_wins,
                    a.total_nominations
                ],
                *want,
                "{name}: {text:?}"
            );
            assert!(a.complete, "{name}: {text:?}");
            seen.insert(text.to_owned());
        }
    }
    assert_eq!(
        seen.len(),
        AWARDS_BY_HAND.len(),
        "every text is in a fixture"
    );
}
