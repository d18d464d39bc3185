//! Seed, curated list definitions, the run ledger, enrichment state and OMDb data, and the
//! `popctl db` command — on every backend where it matters.

#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use std::path::Path;

use popctl::plan::SeedSet;
use popctl::sources::omdb::mapping::{OmdbAnswer, omdb_answer};
use popctl::store::enrichment::save_omdb;
use popctl::store::ledger::{self, ItemStatus, RunStatus};
use popctl::store::seed::seed;
use popctl::store::{self, EnrichmentScope, EnrichmentState, NoDataRetry, StoreError};

use crate::store_db::{TestDb, on_every_backend, richest_bundles};

const ALL_SETS: [SeedSet; 4] = [
    SeedSet::ExternalSources,
    SeedSet::Genres,
    SeedSet::Authorities,
    SeedSet::Lists,
];

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "seed/external_sources.toml",
        "[[sources]]\nname = \"tmdb\"\ndisplay_name = \"TMDB\"\n\n[[sources]]\nname = \"omdb\"\ndisplay_name = \"OMDb\"\nurl = \"https://example.org\"\n",
    );
    write(
        d,
        "seed/genres.toml",
        "[[genres]]\nid = 1\nname = \"One\"\n\n[[genres]]\nid = 2\nname = \"Two\"\n",
    );
    write(
        d,
        "seed/authorities.toml",
        "[[authorities]]\nname = \"Guild\"\nkind = \"critic\"\ntrust = 0.5\n",
    );
    write(
        d,
        "lists/a.toml",
        "source = \"test\"\n[authority]\nname = \"Guild\"\nkind = \"award\"\ntrust = 0.9\n[list]\nname = \"Top\"\nyear = 2001\ntype = \"ranked\"\n[[items]]\ntmdb_id = 550\nposition = 1\n",
    );
    write(
        d,
        "lists/b.toml",
        "source = \"test\"\n[authority]\nname = \"Archive\"\nkind = \"collection\"\ntrust = 0.7\n[list]\nname = \"Kept\"\nyear = 1999\ntype = \"unranked\"\n[[items]]\nimdb_id = \"tt0137523\"\n",
    );
    dir
}

async fn seed_from_files(t: TestDb) {
    let dir = data_dir();
    let stats = seed(&t.db, &ALL_SETS, None, dir.path()).await.unwrap();
    assert_eq!(
        (
            stats.external_sources,
            stats.genres,
            stats.authorities,
            stats.lists
        ),
        (2, 2, 2, 2)
    );
    // The authorities file wins over a list file's definition, and says so.
    assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
    assert!(stats.warnings[0].contains("Guild"));
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM cultural_authorities WHERE name = 'Guild' AND kind = 'critic'"
        )
        .await,
        1
    );
    let digest = store::digest(&t.db).await.unwrap();
    let again = seed(&t.db, &ALL_SETS, None, dir.path()).await.unwrap();
    assert_eq!(
        (
            again.external_sources,
            again.genres,
            again.authorities,
            again.lists
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(store::digest(&t.db).await.unwrap(), digest);

    // Genres from TMDB replace the bundled list's names.
    seed(
        &t.db,
        &[SeedSet::Genres],
        Some(vec![(1, "Uno".into()), (3, "Tres".into())]),
        dir.path(),
    )
    .await
    .unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM genres").await, 3);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM genres WHERE name = 'Uno'")
            .await,
        1
    );

    // A broken file: a clear error naming it, and nothing written.
    write(
        dir.path(),
        "lists/c.toml",
        "source = \"x\"\n[authority]\nname = \"New\"\nkind = \"award\"\ntrust = 2.0\n[list]\nname = \"L\"\nyear = 2000\ntype = \"unranked\"\n[[items]]\ntmdb_id = 1\n",
    );
    let before = store::digest(&t.db).await.unwrap();
    let err = seed(&t.db, &ALL_SETS, None, dir.path()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::List(_)) && err.to_string().contains("c.toml"),
        "{err}"
    );
    assert_eq!(store::digest(&t.db).await.unwrap(), before);
    std::fs::write(
        dir.path().join("seed/genres.toml"),
        "[[genres]]\nid = \"x\"\n",
    )
    .unwrap();
    let err = seed(&t.db, &[SeedSet::Genres], None, dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("genres.toml"), "{err}");
}
on_every_backend!(seed_from_files);

/// The data shipped in `data/` seeds (whatever it lists).
#[tokio::test]
async fn shipped_data_seeds() {
    let t = TestDb::migrated(crate::store_db::Backend::SqliteMemory)
        .await
        .unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let stats = seed(&t.db, &ALL_SETS, None, &data).await.unwrap();
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    assert_eq!(stats.genres, 19);
    assert!(stats.lists >= 1);
}

async fn ledger_records_runs_and_items(t: TestDb) {
    let run = ledger::start_run(&t.db, "dev", "h1").await.unwrap();
    let keys: Vec<String> = ["550", "603", "550"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        ledger::ensure_items(&t.db, run, "fetch", &keys)
            .await
            .unwrap(),
        2
    );
    ledger::mark_item(&t.db, run, "fetch", "550", ItemStatus::Ok, 1, None)
        .await
        .unwrap();
    ledger::mark_item(
        &t.db,
        run,
        "fetch",
        "603",
        ItemStatus::Failed,
        3,
        Some("HTTP 500"),
    )
    .await
    .unwrap();
    // Already known items keep their status.
    assert_eq!(
        ledger::ensure_items(&t.db, run, "fetch", &keys)
            .await
            .unwrap(),
        0
    );
    let items = ledger::items(&t.db, run, "fetch").await.unwrap();
    assert_eq!(
        items.iter().map(|i| i.status).collect::<Vec<_>>(),
        [ItemStatus::Ok, ItemStatus::Failed]
    );
    let failed = ledger::failed_items(&t.db, run).await.unwrap();
    assert_eq!(
        (
            failed.len(),
            failed[0].attempts,
            failed[0].last_error.as_deref()
        ),
        (1, 3, Some("HTTP 500"))
    );
    assert_eq!(
        ledger::last_unfinished_run(&t.db, "dev")
            .await
            .unwrap()
            .unwrap()
            .id,
        run
    );
    ledger::finish_run(
        &t.db,
        run,
        RunStatus::Partial,
        &serde_json::json!({"fetched": 1}),
    )
    .await
    .unwrap();
    let unfinished = ledger::last_unfinished_run(&t.db, "dev")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            unfinished.status,
            unfinished.stats.unwrap()["fetched"].as_i64()
        ),
        (RunStatus::Partial, Some(1))
    );
    let second = ledger::start_run(&t.db, "dev", "h1").await.unwrap();
    ledger::finish_run(&t.db, second, RunStatus::Ok, &serde_json::json!({}))
        .await
        .unwrap();
    assert!(
        ledger::last_unfinished_run(&t.db, "dev")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ledger::last_unfinished_run(&t.db, "other")
            .await
            .unwrap()
            .is_none()
    );
    let recent = ledger::recent_runs(&t.db, Some("dev"), 10).await.unwrap();
    assert_eq!(
        recent.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, run]
    );
    let counts = ledger::item_counts(&t.db, run).await.unwrap();
    assert_eq!(
        counts,
        [
            ("fetch".to_owned(), ItemStatus::Failed, 1),
            ("fetch".to_owned(), ItemStatus::Ok, 1)
        ]
    );
    // The ledger is left out of the digest: how data got there is not what it is.
    let digest = store::digest(&t.db).await.unwrap();
    ledger::start_run(&t.db, "dev", "h2").await.unwrap();
    assert_eq!(store::digest(&t.db).await.unwrap(), digest);
}
on_every_backend!(ledger_records_runs_and_items);

async fn enrichment_state_and_omdb_data(t: TestDb) {
    let bundles = richest_bundles();
    assert!(bundles.len() >= 3, "expected three TMDB detail fixtures");
    for b in &bundles {
        t.save(b).await;
    }
    let all =
        store::enrichment_candidates(&t.db, "omdb", EnrichmentScope::Missing, NoDataRetry::Never)
            .await
            .unwrap();
    assert_eq!(all.len(), bundles.len() as u64);
    let (a, b, c) = (
        bundles[0].tmdb_id(),
        bundles[1].tmdb_id(),
        bundles[2].tmdb_id(),
    );

    let body = br#"{"Title":"X","Rated":"PG-13","Awards":"Won 2 Oscars. 10 wins & 5 nominations total",
        "imdbRating":"7.5","imdbVotes":"1,000","imdbID":"tt0000001","BoxOffice":"$1,234","Response":"True",
        "Ratings":[{"Source":"Rotten Tomatoes","Value":"80%"},{"Source":"Metacritic","Value":"70/100"}]}"#;
    let OmdbAnswer::Found(record) = omdb_answer(200, body).unwrap() else {
        panic!()
    };
    save_omdb(&t.db, a, &record).await.unwrap();
    let txn = store::begin(&t.db).await.unwrap();
    store::set_enrichment_state(
        &txn,
        b,
        "omdb",
        EnrichmentState::NoData {
            reason: "Error getting data.".into(),
        },
    )
    .await
    .unwrap();
    store::set_enrichment_state(&txn, c, "omdb", EnrichmentState::NoImdbId)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let missing =
        store::enrichment_candidates(&t.db, "omdb", EnrichmentScope::Missing, NoDataRetry::Never)
            .await
            .unwrap();
    assert!(!missing.contains(a) && !missing.contains(b), "{missing:?}");
    // c is marked "no IMDb id" but has one now: it is asked again.
    assert_eq!(missing.contains(c), bundles[2].movie.imdb_id.is_some());
    let retry =
        store::enrichment_candidates(&t.db, "omdb", EnrichmentScope::Missing, NoDataRetry::Always)
            .await
            .unwrap();
    assert!(retry.contains(b) && !retry.contains(a));
    // A cooldown (`retry_no_data_after`): b's answer, recorded just now, is not old enough for
    // a cutoff an hour ago, and is for a cutoff an hour ahead.
    let hour = chrono::Duration::hours(1);
    let cooled = |cutoff| {
        store::enrichment_candidates(
            &t.db,
            "omdb",
            EnrichmentScope::Missing,
            NoDataRetry::CheckedBefore(cutoff),
        )
    };
    let too_soon = cooled(chrono::Utc::now() - hour).await.unwrap();
    assert!(!too_soon.contains(b), "{too_soon:?}");
    let old_enough = cooled(chrono::Utc::now() + hour).await.unwrap();
    assert!(
        old_enough.contains(b) && !old_enough.contains(a),
        "{old_enough:?}"
    );
    let everything =
        store::enrichment_candidates(&t.db, "omdb", EnrichmentScope::All, NoDataRetry::Never)
            .await
            .unwrap();
    assert!(everything.contains(a) && !everything.contains(b));

    let of_a = format!("movie_id = (SELECT id FROM movies WHERE tmdb_id = {a})");
    assert_eq!(t.count(&format!("SELECT COUNT(*) FROM movies WHERE tmdb_id = {a} AND rated = 'PG-13' AND oscar_wins = 2 AND award_wins = 10 AND box_office_usd = 1234")).await, 1);
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM external_ratings WHERE {of_a} AND source <> 'tmdb'"
        ))
        .await,
        4
    );
    // A newer answer without Rotten Tomatoes removes that rating, and only that one.
    let body2 =
        String::from_utf8_lossy(body).replace(r#"{"Source":"Rotten Tomatoes","Value":"80%"},"#, "");
    let OmdbAnswer::Found(record2) = omdb_answer(200, body2.as_bytes()).unwrap() else {
        panic!()
    };
    save_omdb(&t.db, a, &record2).await.unwrap();
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM external_ratings WHERE {of_a} AND source = 'rotten_tomatoes'"
        ))
        .await,
        0
    );
    assert_eq!(t.count(&format!("SELECT COUNT(*) FROM external_ratings WHERE {of_a} AND source IN ('imdb', 'metacritic')")).await, 3);

    let err = store::set_enrichment_state(&t.db, 1, "omdb", EnrichmentState::Fetched)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownMovie { tmdb_id: 1 }),
        "{err}"
    );
    let err = store::set_enrichment_state(&t.db, a, "letterboxd", EnrichmentState::Fetched)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownSource { .. }), "{err}");
}
on_every_backend!(enrichment_state_and_omdb_data);

/// The curated tables and CRI scores are read back through their entities.
async fn curation_entities_match_the_schema(t: TestDb) {
    use popctl::store::entities::{cri_scores, movie_list_items, movies};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let bundles = richest_bundles();
    let b = &bundles[0];
    t.save(b).await;
    seed(&t.db, &ALL_SETS, None, data_dir().path())
        .await
        .unwrap();
    let movie = movies::Entity::find().one(&t.db).await.unwrap().unwrap();
    let list = popctl::store::entities::curated_lists::Entity::find()
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    movie_list_items::ActiveModel {
        list_id: Set(list.id),
        movie_id: Set(movie.id),
        position: Set(Some(1)),
        award_category: Set(String::new()),
        award_result: Set(None),
        ..Default::default()
    }
    .insert(&t.db)
    .await
    .unwrap();
    cri_scores::ActiveModel {
        movie_id: Set(movie.id),
        version: Set(1),
        overall: Set(50.0),
        timelessness: Set(1.0),
        cultural_penetration: Set(2.0),
        artistic_impact: Set(3.0),
        institutional_recognition: Set(4.0),
        public_reception: Set(5.0),
        confidence: Set(Some(0.5)),
        computed_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&t.db)
    .await
    .unwrap();
    assert_eq!(
        cri_scores::Entity::find().all(&t.db).await.unwrap()[0].public_reception,
        5.0
    );
    assert_eq!(
        movie_list_items::Entity::find().all(&t.db).await.unwrap()[0].position,
        Some(1)
    );
    // Every table reads back through its entity (the digest reads them all).
    let tables = store::digest::table_digests(&t.db).await.unwrap();
    assert_eq!(tables["cri_scores"].rows, 1);
    assert_eq!(tables["movie_list_items"].rows, 1);
}
on_every_backend!(curation_entities_match_the_schema);

#[test]
fn db_command_migrates_shows_status_and_guards_reset() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let popctl = || assert_cmd::Command::cargo_bin("popctl").unwrap();
    popctl()
        .args(["db", "migrate", "--url", &url])
        .assert()
        .success();
    let out = popctl()
        .args(["db", "status"])
        .env("DATABASE_URL", &url)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("applied  m20261124_000005_create_run_ledger") && stdout.contains("movies"),
        "{stdout}"
    );
    let out = popctl()
        .args([
            "db",
            "reset",
            "--url",
            "postgres://me:hunter2@db.example.com/prod",
        ])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("refusing to reset") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    popctl()
        .args(["db", "reset", "--url", &url])
        .assert()
        .success();
}
