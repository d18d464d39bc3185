//! The `post_process` steps against real databases (SQLite in memory, a SQLite file, a fresh
//! PostgreSQL database per test), filled from the simulator's catalog through the same mapping
//! and store code a run uses: lists linked and ambiguous titles reported, CRI scores in range
//! and equal to the formula over the stored inputs, TMDB recommendations resolved after a
//! second fetch, computed recommendations scored as the formula says, reviews capped, and every
//! step idempotent (the database digest does not move on a rerun).

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use popctl::plan::{
    CriSettings, CulturalListSettings, PostProcessStage, PostStep, RecommendationSettings,
    ReviewSettings,
};
use popctl::sim::model::OmdbAnswer as SimOmdb;
use popctl::sim::{Catalog, ListKind, Part};
use popctl::sources::omdb::awards;
use popctl::sources::omdb::mapping::{OmdbAnswer, omdb_answer};
use popctl::sources::tmdb::mapping::movie_bundle;
use popctl::stages::post::cri::{
    AuthorityKind, AwardCounts, AwardResult, Cri, CriInputs, FORMULA_VERSION, ListMembership,
    Placement,
};
use popctl::stages::post::{PostError, PostEvent, PostReport, StepDetail, execute};
use popctl::store::enrichment::save_omdb;
use popctl::store::{self, MovieBundle};
use sea_orm::{ConnectionTrait, Statement};

use crate::store_db::{Backend, TestDb, on_every_backend};

const PARTS: [Part; 5] = [
    Part::Credits,
    Part::Keywords,
    Part::Reviews,
    Part::Recommendations,
    Part::Similar,
];

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
}

fn catalog() -> Catalog {
    Catalog::generate(2024, 3_000, as_of())
}

fn bundle(cat: &Catalog, id: u32) -> MovieBundle {
    movie_bundle(&cat.details_body(id, &PARTS).unwrap()).unwrap()
}

/// Saves the movies as a fetch stage with an OMDb enrich stage would: details with credits,
/// keywords, reviews, recommendations and similar, then OMDb's record where it has one.
async fn import(t: &TestDb, cat: &Catalog, ids: &[u32]) {
    for &id in ids {
        t.save(&bundle(cat, id)).await;
        let Some(imdb) = cat.entry(id).unwrap().imdb_id.clone() else {
            continue;
        };
        if let Some(SimOmdb::Movie(m)) = cat.omdb(&imdb, false) {
            let body = serde_json::to_vec(&m).unwrap();
            let OmdbAnswer::Found(record) = omdb_answer(200, &body).unwrap() else {
                panic!("OMDb record of {imdb}");
            };
            save_omdb(&t.db, i64::from(id), &record).await.unwrap();
        }
    }
}

fn popular(cat: &Catalog, n: usize) -> Vec<u32> {
    cat.list_ids(ListKind::Popular)[..n].to_vec()
}

/// `n` popular movies that are not among `taken`.
fn popular_except(cat: &Catalog, taken: &[i64], n: usize) -> Vec<u32> {
    cat.list_ids(ListKind::Popular)
        .into_iter()
        .filter(|id| !taken.contains(&i64::from(*id)))
        .take(n)
        .collect()
}

fn stage(steps: &[PostStep]) -> PostProcessStage {
    PostProcessStage {
        steps: steps.to_vec(),
        cultural_lists: CulturalListSettings::default(),
        cri: CriSettings::default(),
        recommendations: RecommendationSettings::default(),
        reviews: ReviewSettings::default(),
    }
}

const ALL_STEPS: [PostStep; 4] = [
    PostStep::CulturalLists,
    PostStep::CriScores,
    PostStep::Recommendations,
    PostStep::Reviews,
];

async fn post(t: &TestDb, stage: &PostProcessStage, data: &Path) -> PostReport {
    execute(&t.db, stage, data, as_of(), &|_| {}).await.unwrap()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

async fn digest(t: &TestDb) -> String {
    store::digest(&t.db).await.unwrap()
}

async fn rows<T: sea_orm::TryGetable>(t: &TestDb, sql: &str) -> Vec<Vec<T>> {
    let backend = t.db.get_database_backend();
    t.db.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            let n = r.column_names().len();
            (0..n)
                .map(|i| r.try_get_by_index::<T>(i).unwrap())
                .collect()
        })
        .collect()
}

/// A ranked list by a critics' circle naming its movies every way an item can, and an award
/// list, both about the given movies.
fn list_files(dir: &Path, by_imdb: &str, by_tmdb: i64, by_title: (&str, i32)) {
    write(
        dir,
        "lists/critics.toml",
        &format!(
            r#"source = "a test"
[authority]
name = "Test Critics Circle"
kind = "critic"
trust = 0.8
[list]
name = "Best Ever"
year = 2020
type = "ranked"
[[items]]
imdb_id = "{by_imdb}"
position = 1
[[items]]
tmdb_id = {by_tmdb}
position = 2
[[items]]
title = "{}"
year = {}
position = 3
[[items]]
title = "Twin Peaks Of Doubt"
year = 1999
position = 4
[[items]]
imdb_id = "tt0999999"
position = 5
[[items]]
tmdb_id = 987654321
position = 6
"#,
            by_title.0, by_title.1
        ),
    );
    write(
        dir,
        "lists/awards.toml",
        &format!(
            r#"source = "a test"
[authority]
name = "Test Academy"
kind = "award"
trust = 0.95
[list]
name = "Best Film"
year = 2021
type = "award"
[[items]]
tmdb_id = {by_tmdb}
category = "Best Film"
result = "won"
[[items]]
imdb_id = "{by_imdb}"
category = "Best Film"
result = "nominated"
"#
        ),
    );
}

/// Five popular movies with an IMDb id and a release date, two of them renamed to one title
/// and year, so a list item by that title is ambiguous. Returns the five TMDB ids.
async fn listed_movies(t: &TestDb, cat: &Catalog) -> Vec<i64> {
    let ids: Vec<u32> = popular(cat, 50)
        .into_iter()
        .filter(|&id| {
            let e = cat.entry(id).unwrap();
            e.imdb_id.is_some() && e.release_date.is_some()
        })
        .take(5)
        .collect();
    import(t, cat, &ids).await;
    for &id in &ids[3..5] {
        let mut b = bundle(cat, id);
        b.movie.title = "Twin Peaks of Doubt!".into();
        b.movie.release_date = NaiveDate::from_ymd_opt(1999, 3, 1);
        t.save(&b).await;
    }
    ids.iter().map(|&i| i64::from(i)).collect()
}

async fn lists_are_matched_and_ambiguous_titles_reported(t: TestDb) {
    let cat = catalog();
    let ids = listed_movies(&t, &cat).await;
    let imdb = cat.entry(ids[0] as u32).unwrap().imdb_id.clone().unwrap();
    let third = cat.entry(ids[2] as u32).unwrap();
    let title = third.title.to_uppercase();
    let year = third
        .release_date
        .map(|d| chrono::Datelike::year(&d))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    list_files(dir.path(), &imdb, ids[1], (&title, year));
    // An authority seeded earlier with another trust: the stored one stays, with a warning.
    t.db.execute_unprepared(
        "INSERT INTO cultural_authorities (name, kind, trust) VALUES ('Test Academy', 'award', 0.5)",
    )
    .await
    .unwrap();

    let report = post(&t, &stage(&[PostStep::CulturalLists]), dir.path()).await;
    let step = &report.steps[0];
    let StepDetail::CulturalLists(lists) = &step.detail else {
        panic!("{step:?}");
    };
    // Files load by name: awards.toml, then critics.toml.
    assert_eq!(lists.lists.len(), 2);
    let (awards, critics) = (&lists.lists[0], &lists.lists[1]);
    assert_eq!((awards.items, awards.matched), (2, 2));
    assert_eq!((critics.items, critics.matched), (6, 3));
    assert_eq!(
        critics.not_in_database,
        ["imdb_id tt0999999", "tmdb_id 987654321"]
    );
    assert_eq!(critics.ambiguous.len(), 1);
    assert_eq!(critics.ambiguous[0].item, "\"Twin Peaks Of Doubt\" (1999)");
    let candidates: Vec<i64> = critics.ambiguous[0]
        .candidates
        .iter()
        .map(|c| c.tmdb_id)
        .collect();
    let mut twins = ids[3..5].to_vec();
    twins.sort_unstable();
    assert_eq!(candidates, twins);
    assert_eq!(step.warnings.len(), 1, "{:?}", step.warnings);
    assert!(
        step.warnings[0].contains("Test Academy") && step.warnings[0].contains("trust 0.5"),
        "{:?}",
        step.warnings
    );
    assert!(step.to_string().contains("5 of 8 items matched"), "{step}");

    let linked: Vec<Vec<String>> = rows(
        &t,
        "SELECT CAST(m.tmdb_id AS TEXT), COALESCE(CAST(i.position AS TEXT), ''), i.award_category, \
         COALESCE(i.award_result, '') FROM movie_list_items i JOIN movies m ON m.id = i.movie_id \
         ORDER BY i.award_category, i.position, m.tmdb_id",
    )
    .await;
    let s = |x: i64| x.to_string();
    let want: Vec<Vec<String>> = vec![
        vec![s(ids[0]), "1".into(), "".into(), "".into()],
        vec![s(ids[1]), "2".into(), "".into(), "".into()],
        vec![s(ids[2]), "3".into(), "".into(), "".into()],
        vec![s(ids[0]), "".into(), "Best Film".into(), "nominated".into()],
        vec![s(ids[1]), "".into(), "Best Film".into(), "won".into()],
    ];
    let (mut got, mut want) = (linked, want);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM cultural_authorities WHERE name = 'Test Academy' AND trust = 0.5"
        )
        .await,
        1
    );

    // Again: nothing changes.
    let before = digest(&t).await;
    let again = post(&t, &stage(&[PostStep::CulturalLists]), dir.path()).await;
    assert_eq!((again.rows_written(), again.rows_deleted()), (0, 0));
    assert_eq!(digest(&t).await, before);

    // An item leaves the file: its row goes. A plan selecting only one list leaves the other.
    let text = std::fs::read_to_string(dir.path().join("lists/critics.toml")).unwrap();
    let cut = text.find("[[items]]\ntmdb_id =").unwrap();
    let end = cut + text[cut..].find("position = 2\n").unwrap() + "position = 2\n".len();
    write(
        dir.path(),
        "lists/critics.toml",
        &format!("{}{}", &text[..cut], &text[end..]),
    );
    let mut only = stage(&[PostStep::CulturalLists]);
    only.cultural_lists.lists = Some(vec!["critics".into()]);
    let cut = post(&t, &only, dir.path()).await;
    assert_eq!(cut.rows_deleted(), 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM movie_list_items").await, 4);
}
on_every_backend!(lists_are_matched_and_ambiguous_titles_reported);

/// The inputs of one movie as the simulator served them, gathered without the step's code.
fn served_inputs(cat: &Catalog, id: u32) -> CriInputs {
    let e = cat.entry(id).unwrap();
    let m = cat.movie(id).unwrap();
    let mut inputs = CriInputs {
        tmdb_vote_average: Some(m.vote_average),
        tmdb_vote_count: Some(u64::from(m.vote_count)),
        tmdb_popularity: Some(m.popularity),
        release_year: e.release_date.map(|d| chrono::Datelike::year(&d)),
        ..CriInputs::default()
    };
    let omdb = e.imdb_id.as_deref().and_then(|imdb| cat.omdb(imdb, false));
    if let Some(SimOmdb::Movie(o)) = omdb {
        let num = |s: &str| {
            s.replace([',', '%'], "")
                .split('/')
                .next()?
                .parse::<f64>()
                .ok()
        };
        inputs.imdb_rating = num(&o.imdb_rating);
        inputs.imdb_votes = num(&o.imdb_votes).map(|v| v as u64);
        inputs.metacritic = num(&o.metascore);
        inputs.rotten_tomatoes = o
            .ratings
            .iter()
            .find(|r| r.source == "Rotten Tomatoes")
            .and_then(|r| num(&r.value));
        if o.awards != "N/A" {
            inputs.awards = Some(AwardCounts::from_parsed(&awards::parse(&o.awards)));
        }
    }
    inputs
}

/// Every stored score equals the formula over the inputs the simulator served, with
/// `lists` as each movie's memberships (`None`: lists unknown).
async fn check_scores(
    t: &TestDb,
    cat: &Catalog,
    lists: impl Fn(u32) -> Option<Vec<ListMembership>>,
) -> usize {
    let cri = Cri::new(
        popctl::stages::post::cri::CriParams::from(&CriSettings::default()),
        2025,
    )
    .unwrap();
    let stored: Vec<Vec<f64>> = rows(
        t,
        "SELECT CAST(m.tmdb_id AS DOUBLE PRECISION), s.overall, s.timelessness, \
         s.cultural_penetration, s.artistic_impact, s.institutional_recognition, \
         s.public_reception, s.confidence FROM cri_scores s JOIN movies m ON m.id = s.movie_id",
    )
    .await;
    for row in &stored {
        let id = row[0] as u32;
        let inputs = CriInputs {
            lists: lists(id),
            ..served_inputs(cat, id)
        };
        let want = cri.score(&inputs);
        let mut expected = vec![want.overall];
        expected.extend(want.dimensions.to_array());
        expected.push(want.confidence);
        for (got, want) in row[1..].iter().zip(&expected) {
            assert!(
                (got - want).abs() < 1e-9,
                "movie {id}: {row:?} vs {expected:?}"
            );
        }
        assert!((0.0..=100.0).contains(&row[1]) && (0.0..=1.0).contains(&row[7]));
    }
    stored.len()
}

async fn cri_scores_follow_the_formula_and_are_stable(t: TestDb) {
    let cat = catalog();
    let ids = popular(&cat, 40);
    import(&t, &cat, &ids).await;
    // No list files: the lists step links nothing, and list components stay unknown.
    let dir = tempfile::tempdir().unwrap();
    let report = post(
        &t,
        &stage(&[PostStep::CulturalLists, PostStep::CriScores]),
        dir.path(),
    )
    .await;
    let StepDetail::CulturalLists(lists) = &report.steps[0].detail else {
        panic!("{report:?}");
    };
    assert!(lists.lists.is_empty());
    let StepDetail::CriScores(r) = report.steps[1].detail else {
        panic!("{report:?}");
    };
    assert_eq!(r.movies_scored, 40);
    assert_eq!(r.formula_version, FORMULA_VERSION);
    assert!(r.mean_confidence > 0.0 && r.mean_confidence < 1.0, "{r:?}");
    assert_eq!(report.rows_written(), 40);
    assert_eq!(check_scores(&t, &cat, |_| None).await, 40);
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM cri_scores WHERE version = {FORMULA_VERSION}"
        ))
        .await,
        40
    );

    let before = digest(&t).await;
    let again = post(&t, &stage(&[PostStep::CriScores]), dir.path()).await;
    assert_eq!(again.rows_written(), 0);
    assert_eq!(digest(&t).await, before);

    // With lists loaded, the listed movies count their memberships and every other movie
    // knows it is on none, so every confidence rises and every row is rewritten.
    let listed = ids
        .iter()
        .copied()
        .filter(|&id| cat.entry(id).unwrap().imdb_id.is_some())
        .take(2)
        .collect::<Vec<_>>();
    let imdb = cat.entry(listed[0]).unwrap().imdb_id.clone().unwrap();
    list_files(
        dir.path(),
        &imdb,
        i64::from(listed[1]),
        ("No Such Film", 1900),
    );
    let with_lists = post(
        &t,
        &stage(&[PostStep::CulturalLists, PostStep::CriScores]),
        dir.path(),
    )
    .await;
    assert_eq!(
        with_lists.steps[1].rows_written, 40,
        "every confidence rose"
    );
    // Both listed movies are on the critics' list (ranked) and the award list.
    let on_both = |position, result| {
        vec![
            ListMembership {
                trust: 0.8,
                kind: AuthorityKind::Critic,
                placement: Placement::Ranked { position },
            },
            ListMembership {
                trust: 0.95,
                kind: AuthorityKind::Award,
                placement: Placement::Award(result),
            },
        ]
    };
    let scored = check_scores(&t, &cat, |id| {
        Some(if id == listed[0] {
            on_both(1, AwardResult::Nominated)
        } else if id == listed[1] {
            on_both(2, AwardResult::Won)
        } else {
            vec![]
        })
    })
    .await;
    assert_eq!(scored, 40);
}
on_every_backend!(cri_scores_follow_the_formula_and_are_stable);

/// Weighted Jaccard over the features stored for two movies, as `docs/plans.md` describes
/// the computed recommendations, from SQL the step does not use.
async fn stored_features(t: &TestDb) -> HashMap<i64, [BTreeSet<i64>; 4]> {
    let mut out: HashMap<i64, [BTreeSet<i64>; 4]> = HashMap::new();
    let queries = [
        "SELECT m.tmdb_id, g.tmdb_id FROM movie_genres j JOIN movies m ON m.id = j.movie_id \
         JOIN genres g ON g.id = j.genre_id",
        "SELECT m.tmdb_id, k.tmdb_id FROM movie_keywords j JOIN movies m ON m.id = j.movie_id \
         JOIN keywords k ON k.id = j.keyword_id",
        "SELECT m.tmdb_id, p.tmdb_id FROM movie_credits c JOIN movies m ON m.id = c.movie_id \
         JOIN people p ON p.id = c.person_id WHERE c.credit_type = 'cast'",
        "SELECT m.tmdb_id, p.tmdb_id FROM movie_credits c JOIN movies m ON m.id = c.movie_id \
         JOIN people p ON p.id = c.person_id WHERE c.credit_type = 'crew'",
    ];
    for (f, sql) in queries.iter().enumerate() {
        for row in rows::<i64>(t, sql).await {
            out.entry(row[0]).or_default()[f].insert(row[1]);
        }
    }
    out
}

fn weighted_jaccard(a: &[BTreeSet<i64>; 4], b: &[BTreeSet<i64>; 4]) -> f64 {
    let w = [0.3, 0.3, 0.25, 0.15];
    (0..4)
        .map(|f| {
            let union = a[f].union(&b[f]).count();
            if union == 0 {
                0.0
            } else {
                w[f] * a[f].intersection(&b[f]).count() as f64 / union as f64
            }
        })
        .sum()
}

async fn recommendations_resolve_after_a_second_fetch(t: TestDb) {
    let cat = catalog();
    let first = popular(&cat, 30);
    import(&t, &cat, &first).await;
    let dir = tempfile::tempdir().unwrap();
    let recs = stage(&[PostStep::Recommendations]);
    let one = post(&t, &recs, dir.path()).await;
    let StepDetail::Recommendations(r1) = one.steps[0].detail else {
        panic!("{one:?}");
    };
    assert!(r1.links_unresolved > 0, "{r1:?}");

    // A second fetch imports 25 movies the first ones point at.
    let targets: Vec<u32> = rows::<i64>(
        &t,
        "SELECT DISTINCT recommended_tmdb_id FROM movie_recommendations \
         WHERE recommended_movie_id IS NULL ORDER BY recommended_tmdb_id",
    )
    .await
    .into_iter()
    .take(25)
    .map(|r| u32::try_from(r[0]).unwrap())
    .collect();
    assert_eq!(targets.len(), 25);
    import(&t, &cat, &targets).await;
    let pending = t
        .count(
            "SELECT COUNT(*) FROM movie_recommendations r WHERE r.kind IN ('recommended', 'similar') \
             AND r.recommended_movie_id IS NULL \
             AND EXISTS (SELECT 1 FROM movies m WHERE m.tmdb_id = r.recommended_tmdb_id)",
        )
        .await;
    assert!(
        pending >= 25,
        "every target is pointed at at least once: {pending}"
    );

    let two = post(&t, &recs, dir.path()).await;
    let StepDetail::Recommendations(r2) = two.steps[0].detail else {
        panic!("{two:?}");
    };
    assert_eq!(r2.links_resolved, pending as u64);
    let wrong = t
        .count(
            "SELECT COUNT(*) FROM movie_recommendations r LEFT JOIN movies m \
             ON m.tmdb_id = r.recommended_tmdb_id \
             WHERE (m.id IS NULL) <> (r.recommended_movie_id IS NULL) \
             OR r.recommended_movie_id <> m.id",
        )
        .await;
    assert_eq!(wrong, 0, "every row links exactly its imported target");
    assert_eq!(
        r2.links_total_resolved + r2.links_unresolved,
        t.count("SELECT COUNT(*) FROM movie_recommendations WHERE kind <> 'computed'")
            .await as u64
    );

    // Computed rows: top N per movie, no self links, scores as the formula says.
    assert!(
        r2.computed_pairs > 0 && r2.movies_with_computed > 0,
        "{r2:?}"
    );
    let features = stored_features(&t).await;
    let computed: Vec<Vec<f64>> = rows(
        &t,
        "SELECT CAST(m.tmdb_id AS DOUBLE PRECISION), CAST(r.recommended_tmdb_id AS DOUBLE PRECISION), \
         CAST(r.rank AS DOUBLE PRECISION), r.score FROM movie_recommendations r \
         JOIN movies m ON m.id = r.movie_id WHERE r.kind = 'computed'",
    )
    .await;
    assert_eq!(computed.len() as u64, r2.computed_pairs);
    let mut per_movie: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for row in &computed {
        let (a, b) = (row[0] as i64, row[1] as i64);
        assert_ne!(a, b);
        let want = weighted_jaccard(&features[&a], &features[&b]);
        assert!(
            (row[3] - want).abs() < 1e-9,
            "{a} -> {b}: {} vs {want}",
            row[3]
        );
        assert!(row[3] >= 0.05, "below min_score: {row:?}");
        per_movie
            .entry(a)
            .or_default()
            .push((row[2] as i64, row[3]));
    }
    for (movie, mut recs) in per_movie {
        recs.sort_by_key(|r| r.0);
        assert!(recs.len() <= 10, "{movie}: {recs:?}");
        let ranks: Vec<i64> = recs.iter().map(|r| r.0).collect();
        assert_eq!(ranks, (1..=recs.len() as i64).collect::<Vec<_>>());
        assert!(
            recs.windows(2).all(|w| w[0].1 >= w[1].1),
            "{movie}: {recs:?}"
        );
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_recommendations WHERE kind = 'computed' AND recommended_movie_id IS NULL")
            .await,
        0
    );

    let before = digest(&t).await;
    let three = post(&t, &recs, dir.path()).await;
    assert_eq!((three.rows_written(), three.rows_deleted()), (0, 0));
    assert_eq!(digest(&t).await, before);

    // A stricter plan: rows that no longer make the cut are removed, more than SQLite's
    // statement for them takes (64 rows), so the removal spans several statements.
    let beyond_two = t
        .count("SELECT COUNT(*) FROM movie_recommendations WHERE kind = 'computed' AND rank > 2")
        .await;
    assert!(beyond_two > 64, "{beyond_two} rows to remove");
    let mut strict = recs.clone();
    strict.recommendations.top_n = 2;
    let four = post(&t, &strict, dir.path()).await;
    assert_eq!(four.rows_deleted(), beyond_two as u64);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_recommendations WHERE kind = 'computed' AND rank > 2")
            .await,
        0
    );

    // A movie deleted (`on_removed = "delete"`) leaves no link pointing at it, TMDB's or
    // computed: the rows of other movies stay, unlinked.
    let most_pointed_at = rows::<i64>(
        &t,
        "SELECT m.tmdb_id, COUNT(*) FROM movie_recommendations r \
         JOIN movies m ON m.id = r.recommended_movie_id GROUP BY m.tmdb_id \
         HAVING SUM(CASE WHEN r.kind = 'computed' THEN 1 ELSE 0 END) > 0 \
         AND SUM(CASE WHEN r.kind = 'computed' THEN 0 ELSE 1 END) > 0 \
         ORDER BY 2 DESC, 1 LIMIT 1",
    )
    .await;
    let target = most_pointed_at
        .first()
        .expect("a movie both TMDB's and computed rows point at")[0];
    let pointing = |linked: &str| {
        format!(
            "SELECT COUNT(*) FROM movie_recommendations r \
             JOIN movies m ON m.id = r.movie_id AND m.tmdb_id <> {target} \
             WHERE r.recommended_tmdb_id = {target} {linked}"
        )
    };
    let before = t.count(&pointing("")).await;
    assert!(before >= 2, "{before} rows point at {target}");
    let removed = store::catalog::delete_movies(&t.db, &[target])
        .await
        .unwrap();
    assert_eq!(removed.movies, 1);
    assert_eq!(t.count(&pointing("")).await, before, "the rows stay");
    assert_eq!(
        t.count(&pointing("AND r.recommended_movie_id IS NOT NULL"))
            .await,
        0,
        "no row links the deleted movie"
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM movie_recommendations r WHERE r.recommended_movie_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM movies m WHERE m.id = r.recommended_movie_id)"
        )
        .await,
        0
    );
}
on_every_backend!(recommendations_resolve_after_a_second_fetch);

/// The recommendations step says how far it is, for the progress line: the parts of the
/// linking, then the reading, then the movies computed, each count rising to its total.
async fn the_recommendations_step_says_how_far_it_is(t: TestDb) {
    let cat = catalog();
    import(&t, &cat, &popular(&cat, 30)).await;
    let dir = tempfile::tempdir().unwrap();
    let seen = Mutex::new(Vec::new());
    let progress = |event: PostEvent<'_>| {
        if let PostEvent::Working {
            step,
            doing,
            done,
            total,
            units,
        } = event
        {
            assert_eq!(step, PostStep::Recommendations);
            seen.lock().unwrap().push((doing, done, total, units));
        }
    };
    let recs = stage(&[PostStep::Recommendations]);
    execute(&t.db, &recs, dir.path(), as_of(), &progress)
        .await
        .unwrap();
    let seen: Vec<_> = seen
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|(doing, done, total, units)| (doing.split(' ').next().unwrap(), done, total, units))
        .collect();
    // 30 movies' TMDB rows are one range of ids; their similar movies one range of movies.
    assert_eq!(
        seen,
        [
            ("linking", 0, 1, "parts"),
            ("linking", 1, 1, "parts"),
            ("reading", 0, 0, ""),
            ("computing", 0, 30, "movies"),
            ("computing", 30, 30, "movies"),
        ]
    );
}

on_every_backend!(the_recommendations_step_says_how_far_it_is);

/// (written at, TMDB review id).
type StoredReview = (Option<DateTime<Utc>>, String);

async fn reviews_are_capped_to_the_newest(t: TestDb) {
    let cat = catalog();
    let ids = popular(&cat, 30);
    import(&t, &cat, &ids).await;
    let backend = t.db.get_database_backend();
    let all =
        t.db.query_all_raw(Statement::from_string(
            backend,
            "SELECT m.tmdb_id, r.created_at, r.tmdb_review_id FROM reviews r \
             JOIN movies m ON m.id = r.movie_id"
                .to_owned(),
        ))
        .await
        .unwrap();
    let mut by_movie: BTreeMap<i64, Vec<StoredReview>> = BTreeMap::new();
    for r in &all {
        by_movie
            .entry(r.try_get_by_index(0).unwrap())
            .or_default()
            .push((
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
            ));
    }
    assert!(
        by_movie.values().any(|v| v.len() > 2),
        "the catalog gives some movies more than 2 reviews"
    );
    let mut want: BTreeSet<String> = BTreeSet::new();
    for reviews in by_movie.values_mut() {
        // Newest first, then the lower id.
        reviews.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        want.extend(reviews.iter().take(2).map(|r| r.1.clone()));
    }

    let mut capped = stage(&[PostStep::Reviews]);
    capped.reviews.per_movie = 2;
    let dir = tempfile::tempdir().unwrap();
    let report = post(&t, &capped, dir.path()).await;
    let StepDetail::Reviews(r) = report.steps[0].detail else {
        panic!("{report:?}");
    };
    let kept: BTreeSet<String> = rows::<String>(&t, "SELECT tmdb_review_id FROM reviews")
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(kept, want);
    assert_eq!(r.reviews_kept as usize, want.len());
    assert_eq!(r.movies_with_reviews as usize, by_movie.len());
    assert!(r.movies_capped > 0 && r.reviews_removed > 0, "{r:?}");

    let capped_digest = digest(&t).await;
    let again = post(&t, &capped, dir.path()).await;
    assert_eq!(again.rows_deleted(), 0);
    assert_eq!(digest(&t).await, capped_digest);

    // A re-fetch stores the full page again; capping again gives the same database.
    import(&t, &cat, &ids[..5]).await;
    post(&t, &capped, dir.path()).await;
    assert_eq!(digest(&t).await, capped_digest);

    capped.reviews.per_movie = 0;
    post(&t, &capped, dir.path()).await;
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 0);
}
on_every_backend!(reviews_are_capped_to_the_newest);

async fn every_step_in_plan_order_is_idempotent(t: TestDb) {
    let cat = catalog();
    let ids = listed_movies(&t, &cat).await;
    import(&t, &cat, &popular_except(&cat, &ids, 35)).await;
    let imdb = cat.entry(ids[0] as u32).unwrap().imdb_id.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    list_files(dir.path(), &imdb, ids[1], ("Nothing", 2000));
    let order = [
        PostStep::Reviews,
        PostStep::Recommendations,
        PostStep::CulturalLists,
        PostStep::CriScores,
    ];
    let events = Mutex::new(Vec::new());
    let report = execute(&t.db, &stage(&order), dir.path(), as_of(), &|e| {
        let said = match e {
            PostEvent::Started { step } => format!("start {}", step.as_str()),
            // How far a step is: the recommendations step's own test.
            PostEvent::Working { .. } => return,
            PostEvent::Finished { report } => format!("done {}", report.step.as_str()),
        };
        events.lock().unwrap().push(said);
    })
    .await
    .unwrap();
    let ran: Vec<PostStep> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(ran, order);
    let want: Vec<String> = order
        .iter()
        .flat_map(|s| {
            [
                format!("start {}", s.as_str()),
                format!("done {}", s.as_str()),
            ]
        })
        .collect();
    assert_eq!(*events.lock().unwrap(), want);
    assert_eq!(t.count("SELECT COUNT(*) FROM cri_scores").await, 40);

    let before = digest(&t).await;
    let again = post(&t, &stage(&ALL_STEPS), dir.path()).await;
    assert_eq!(
        (again.rows_written(), again.rows_deleted()),
        (0, 0),
        "{again:#?}"
    );
    assert_eq!(digest(&t).await, before);
}
on_every_backend!(every_step_in_plan_order_is_idempotent);

/// Leaves `gap` ids of `table` unused: the next row gets the highest id so far + `gap` + 1.
async fn skip_ids(t: &TestDb, table: &str, gap: i64) {
    let sql = match t.backend {
        Backend::Postgres => format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}) + {gap})"
        ),
        Backend::SqliteMemory | Backend::SqliteFile => format!(
            "UPDATE sqlite_sequence SET seq = (SELECT MAX(id) FROM {table}) + {gap} WHERE name = '{table}'"
        ),
    };
    let backend = t.db.get_database_backend();
    t.db.query_all_raw(Statement::from_string(backend, sql.clone()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The steps read and write the catalog a range of ids at a time (scores by 10,000 movie ids,
/// links by 50,000 recommendation rows): movies and rows far apart in id, with empty ranges
/// between them, end exactly as the same movies with ids one after another.
async fn steps_give_the_same_rows_whatever_the_gaps_between_ids(t: TestDb) {
    let cat = catalog();
    let groups: Vec<Vec<u32>> = popular(&cat, 36).chunks(12).map(<[u32]>::to_vec).collect();
    let steps = stage(&[PostStep::CriScores, PostStep::Recommendations]);
    let dir = tempfile::tempdir().unwrap();
    let close = TestDb::migrated(t.backend).await.unwrap();
    for group in &groups {
        import(&close, &cat, group).await;
    }
    post(&close, &steps, dir.path()).await;

    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            skip_ids(&t, "movies", 25_000).await;
            skip_ids(&t, "movie_recommendations", 120_000).await;
        }
        import(&t, &cat, group).await;
    }
    let report = post(&t, &steps, dir.path()).await;
    assert!(t.count("SELECT MAX(id) FROM movies").await > 50_000);
    assert!(t.count("SELECT MAX(id) FROM movie_recommendations").await > 240_000);
    assert_eq!(t.count("SELECT COUNT(*) FROM cri_scores").await, 36);
    assert!(report.rows_written() > 36, "{report:#?}");
    assert_eq!(digest(&t).await, digest(&close).await);
}
on_every_backend!(steps_give_the_same_rows_whatever_the_gaps_between_ids);

/// The same data and plan give the same database on SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_end_with_the_same_digest() {
    let Some(pg) = TestDb::migrated(Backend::Postgres).await else {
        return;
    };
    let sqlite = TestDb::migrated(Backend::SqliteMemory).await.unwrap();
    let cat = catalog();
    let dir = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for t in [&sqlite, &pg] {
        let ids = listed_movies(t, &cat).await;
        import(t, &cat, &popular_except(&cat, &ids, 25)).await;
        let imdb = cat.entry(ids[0] as u32).unwrap().imdb_id.clone().unwrap();
        list_files(dir.path(), &imdb, ids[1], ("Nothing", 2000));
        post(t, &stage(&ALL_STEPS), dir.path()).await;
        digests.push(digest(t).await);
    }
    assert_eq!(digests[0], digests[1]);
}

/// Settings and list files are checked before any step writes; a step that fails on bad
/// database content leaves nothing of itself behind and names the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_clearly_and_writes_nothing() {
    let t = TestDb::migrated(Backend::SqliteMemory).await.unwrap();
    let cat = catalog();
    let ids = listed_movies(&t, &cat).await;
    let imdb = cat.entry(ids[0] as u32).unwrap().imdb_id.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    list_files(dir.path(), &imdb, ids[1], ("Nothing", 2000));
    let before = digest(&t).await;

    write(
        dir.path(),
        "lists/broken.toml",
        "source = \"x\"\n[authority]\n",
    );
    let err = execute(&t.db, &stage(&ALL_STEPS), dir.path(), as_of(), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PostError::List(_)), "{err:?}");
    assert!(err.to_string().contains("broken.toml"), "{err}");
    assert_eq!(digest(&t).await, before, "nothing ran");
    std::fs::remove_file(dir.path().join("lists/broken.toml")).unwrap();

    write(
        dir.path(),
        "lists/again.toml",
        &std::fs::read_to_string(dir.path().join("lists/awards.toml")).unwrap(),
    );
    let err = execute(&t.db, &stage(&ALL_STEPS), dir.path(), as_of(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("again.toml") && err.to_string().contains("awards.toml"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("lists/again.toml")).unwrap();

    let mut bad = stage(&ALL_STEPS);
    bad.recommendations.weights.cast = f64::NAN;
    let err = execute(&t.db, &bad, dir.path(), as_of(), &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cast"), "{err}");
    assert_eq!(digest(&t).await, before, "nothing ran");

    // Values no writer of popctl produces: the CRI step names the row and writes nothing.
    post(&t, &stage(&[PostStep::CulturalLists]), dir.path()).await;
    let cases: [(&[&str], [&str; 2]); 2] = [
        (
            &["UPDATE cultural_authorities SET kind = 'influencer' WHERE name = 'Test Academy'"],
            ["cultural_authorities.kind", "influencer"],
        ),
        (
            &[
                "UPDATE cultural_authorities SET kind = 'award' WHERE name = 'Test Academy'",
                "UPDATE movie_list_items SET position = 0 WHERE award_category = ''",
            ],
            ["movie_list_items.position", "a position from 1"],
        ),
    ];
    for (updates, needles) in cases {
        for sql in updates {
            t.db.execute_unprepared(sql).await.unwrap();
        }
        let cri = stage(&[PostStep::CriScores]);
        let err = execute(&t.db, &cri, dir.path(), as_of(), &|_| {})
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(needles.iter().all(|n| text.contains(n)), "{text}");
        assert_eq!(t.count("SELECT COUNT(*) FROM cri_scores").await, 0);
    }
}

/// A credit of a kind popctl never writes: the recommendations step names the row and writes
/// no computed row. The links it set before reading the credits stay: each range of them was
/// committed as it was linked, so they are there and whole (every row with an imported target
/// points at it).
async fn a_bad_credit_fails_the_recommendations_step_and_leaves_the_links_whole(t: TestDb) {
    let cat = catalog();
    import(&t, &cat, &popular(&cat, 30)).await;
    let dir = tempfile::tempdir().unwrap();
    let linked =
        "SELECT COUNT(*) FROM movie_recommendations WHERE recommended_movie_id IS NOT NULL";
    let unlinked = "SELECT COUNT(*) FROM movie_recommendations r JOIN movies m \
                    ON m.tmdb_id = r.recommended_tmdb_id \
                    WHERE r.recommended_movie_id IS NULL OR r.recommended_movie_id <> m.id";
    let to_link = t.count(unlinked).await;
    assert!(to_link > 0, "the step has links to set");
    assert_eq!(t.count(linked).await, 0);
    t.db.execute_unprepared(
        "UPDATE movie_credits SET credit_type = 'extra' \
         WHERE id = (SELECT MIN(id) FROM movie_credits)",
    )
    .await
    .unwrap();
    let recs = stage(&[PostStep::Recommendations]);
    let err = execute(&t.db, &recs, dir.path(), as_of(), &|_| {})
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("movie_credits") && text.contains("extra"),
        "{text}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM movie_recommendations WHERE kind = 'computed'")
            .await,
        0
    );
    // The links were committed range by range before the step's transaction (on every
    // backend): each one right, whatever became of the rest of the step.
    assert_eq!(t.count(linked).await, to_link);
    assert_eq!(t.count(unlinked).await, 0);
}

on_every_backend!(a_bad_credit_fails_the_recommendations_step_and_leaves_the_links_whole);
