//! The `people` stage end to end against the sandbox: the shipped director example stores a
//! filmography and the details of exactly the people its selection names, as the simulator
//! serves them; failed people are asked for again on `--resume` and no one else is; a person
//! TMDB has no page for is skipped with a note; without a fetch stage in the run it takes the
//! people of the database who lack details.

#![expect(
    clippy::disallowed_methods,
    reason = "the tests read the database back by SQL, as a user's sqlite3 would"
)]
#![allow(clippy::unwrap_used)]

use popctl::plan::{FetchSelection, StageKind};
use popctl::sim::{Catalog, Faults, SandboxConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::run_support::*;

/// The TMDB ids of a query's first column, sorted.
async fn ids(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect();
    out.sort_unstable();
    out
}

/// The people a `credited` selection names among the stored credits.
fn selected_sql(cast_top: u32, jobs: &[&str]) -> String {
    let jobs: Vec<String> = jobs.iter().map(|j| format!("'{j}'")).collect();
    format!(
        "SELECT DISTINCT p.tmdb_id FROM movie_credits c JOIN people p ON p.id = c.person_id \
         WHERE (c.credit_type = 'cast' AND c.cast_order < {cast_top}) \
         OR (c.credit_type = 'crew' AND c.job IN ({}))",
        jobs.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_director_example_stores_a_filmography_and_its_people() {
    let dir = tempfile::tempdir().unwrap();
    let url = run_in_sandbox("examples/director.toml", dir.path()).await;

    // The filmography: the movies the sandbox's catalog has with the person in the crew.
    let plan = load_plan("examples/director.toml");
    let Some(StageKind::Fetch(fetch)) = plan.stage("filmography").map(|s| &s.kind) else {
        panic!("no fetch stage `filmography`");
    };
    let FetchSelection::Person(person) = &fetch.selection else {
        panic!("filmography is a person's");
    };
    let Some(StageKind::People(people)) = plan.stage("people").map(|s| &s.kind) else {
        panic!("no people stage `people`");
    };
    let director = person.id as u32;
    assert_eq!(person.jobs, ["Director"]);
    let config = SandboxConfig::default();
    let catalog = Catalog::generate(config.seed, config.movies, config.today);
    // Every movie the sandbox's credits have them direct, once.
    let mut expected: Vec<i64> = catalog
        .filmography(director)
        .unwrap()
        .crew
        .iter()
        .filter(|(_, _, job)| job == "Director")
        .map(|(id, _, _)| i64::from(*id))
        .collect();
    expected.sort_unstable();
    expected.dedup();
    assert!(expected.len() >= 5, "a filmography of {}", expected.len());
    let crew = |id: i64| catalog.credits(id as u32).unwrap().crew;
    assert!(expected.iter().all(|&id| {
        crew(id)
            .iter()
            .any(|c| c.id == director && c.job == "Director")
    }));

    let db = connect(&url).await;
    assert_eq!(ids(&db, "SELECT tmdb_id FROM movies").await, expected);

    // Exactly the selected people have details, as the sandbox serves them.
    let jobs: Vec<&str> = people.jobs.iter().map(String::as_str).collect();
    let selected = ids(&db, &selected_sql(people.cast_top, &jobs)).await;
    assert!(selected.contains(&i64::from(director)));
    let with_details = ids(
        &db,
        "SELECT tmdb_id FROM people WHERE details_fetched_at IS NOT NULL",
    )
    .await;
    assert_eq!(with_details, selected);
    let (ok, failed, skipped, pending) = stage_items(&db, "people").await;
    assert_eq!(
        (ok, failed, skipped, pending),
        (selected.len() as i64, 0, 0, 0)
    );
    let served = catalog.person_details(director).unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT name, biography, place_of_birth, imdb_id, birthday FROM people \
                 WHERE tmdb_id = {director}"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "name").unwrap(), served.name);
    assert_eq!(
        row.try_get::<Option<String>>("", "biography").unwrap(),
        Some(served.biography).filter(|b| !b.is_empty())
    );
    assert_eq!(
        row.try_get::<Option<String>>("", "place_of_birth").unwrap(),
        served.place_of_birth
    );
    assert_eq!(
        row.try_get::<Option<String>>("", "imdb_id").unwrap(),
        served.imdb_id
    );
    assert_eq!(
        row.try_get::<Option<chrono::NaiveDate>>("", "birthday")
            .unwrap()
            .map(|d| d.to_string()),
        served.birthday
    );
    // Their profile pictures (`append = ["images"]`), as the sandbox serves them.
    assert_eq!(people.append, ["images"]);
    let photos = catalog.person_images(director).unwrap().profiles;
    assert_eq!(
        count(
            &db,
            &format!(
                "person_images i JOIN people p ON p.id = i.person_id WHERE p.tmdb_id = {director}"
            )
        )
        .await,
        photos.len() as i64
    );
    assert!(count(&db, "person_images").await >= selected.len() as i64 / 2);
    assert_eq!(last_run_status(&db).await, "ok");
}

/// A plan of one page of popular movies and their people; `extra` is appended to the people
/// stage.
pub(crate) fn people_plan(env: &Env, extra: &str) -> String {
    let base = root().join("plans/base.toml").display().to_string();
    let text = format!(
        r#"[plan]
name = "people"
extends = {base}

[stages.reset]
kind = "reset"

[stages.seed]
kind = "seed"
needs = ["reset"]
sets = ["genres"]
retry = {{ attempts = 30 }}

[stages.popular]
kind = "fetch"
needs = ["seed"]
list = "popular"
append = ["credits"]
retry = {{ attempts = 30 }}

[stages.people]
kind = "people"
needs = ["popular"]
cast_top = 4
concurrency = 8
{extra}
"#,
        base = toml::Value::String(base),
    );
    let path = env.path("people.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

pub(crate) const FAST: [&str; 8] = [
    "--set",
    "cache.mode=off",
    "--set",
    "sources.tmdb.rate=400/s",
    "--set",
    "defaults.retry.initial=10ms",
    "--set",
    "defaults.retry.max=100ms",
];

/// Person answers of the sandbox so far, by status.
pub(crate) fn person_answers(env: &Env, status: u16) -> u64 {
    env.sim
        .stats()
        .routes
        .get("GET /3/person/{id}")
        .and_then(|by| by.get(&status).copied())
        .unwrap_or(0)
}

/// People that fail (a 500 and no retry) leave the run partial; `--resume` asks for exactly
/// them and no one else, and ends with every selected person's details, in a database equal
/// to that of a run that never failed.
async fn failed_people_are_asked_again_on_resume(reference: String, url: String) {
    let env = Env::new(SandboxConfig {
        faults: Faults {
            p500: 0.25,
            ..Faults::none()
        },
        ..small_sim()
    })
    .await;
    let plan = people_plan(&env, "on_error = \"continue\"\nretry = { attempts = 1 }");
    let out = output(env.run_cmd(&plan, &url, &FAST)).await;
    assert_exit(&out, 3);
    let db = connect_next(&url).await;
    let (ok, failed, skipped, pending) = stage_items(&db, "people").await;
    assert!(ok > 0 && failed > 0, "{ok} ok, {failed} failed");
    assert_eq!((skipped, pending), (0, 0));
    db.close().await.ok();

    env.sim.set_faults(Faults::none()).unwrap();
    let before = person_answers(&env, 200);
    let out = output(env.run_cmd(&plan, &url, &[&FAST[..], &["--resume"]].concat())).await;
    assert_exit(&out, 0);
    assert_eq!(
        person_answers(&env, 200) - before,
        failed as u64,
        "only the failed people are asked again"
    );
    let db = connect(&url).await;
    let (ok2, failed2, ..) = stage_items(&db, "people").await;
    assert_eq!((ok2, failed2), (ok + failed, 0));
    let selected = ids(&db, &selected_sql(4, &["Director", "Screenplay", "Writer"])).await;
    assert_eq!(selected.len() as i64, ok2);
    assert_eq!(
        count(&db, "people WHERE details_fetched_at IS NOT NULL").await,
        ok2
    );
    db.close().await.ok();

    let out = output(env.run_cmd(&plan, &reference, &FAST)).await;
    assert_exit(&out, 0);
    assert_eq!(digest(&reference).await, digest(&url).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_people_are_asked_again_on_resume_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}?mode=rwc", dir.path().join(n).display());
    failed_people_are_asked_again_on_resume(url("reference.db"), url("people.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_people_are_asked_again_on_resume_on_postgres() {
    let Some(reference) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let url = crate::store_db::fresh_pg_url().await.unwrap();
    failed_people_are_asked_again_on_resume(reference, url).await;
}

/// With only the people stage run (no fetch stage in this run), it takes the people of the
/// database who lack details; one the sandbox has no page for is skipped and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_tmdb_lacks_is_skipped_with_a_note() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("only.db");
    let db = connect(&url).await;
    popctl::store::migrate(&db).await.unwrap();
    // Two people the sandbox has (pool ids 100 and 113) and one it has not (101).
    let body = serde_json::json!({
        "id": 7, "title": "Seven",
        "credits": {"cast": [
            {"id": 100, "name": "A", "credit_id": "a", "order": 0, "character": "X"},
            {"id": 113, "name": "B", "credit_id": "b", "order": 1, "character": "Y"},
            {"id": 101, "name": "Nobody", "credit_id": "c", "order": 2, "character": "Z"}
        ], "crew": []}
    });
    let bundle =
        popctl::sources::tmdb::mapping::movie_bundle(&serde_json::to_vec(&body).unwrap()).unwrap();
    popctl::store::save_movie(&db, &bundle, 0).await.unwrap();
    db.close().await.ok();

    let plan = people_plan(&env, "");
    let out = output(env.run_cmd(&plan, &url, &[&FAST[..], &["--only", "people"]].concat())).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("1 person TMDB does not have (404), skipped: 101"),
        "{err}"
    );
    let db = connect(&url).await;
    assert_eq!(
        ids(
            &db,
            "SELECT tmdb_id FROM people WHERE details_fetched_at IS NOT NULL"
        )
        .await,
        [100, 113]
    );
    let (ok, failed, skipped, _) = stage_items(&db, "people").await;
    assert_eq!((ok, failed, skipped), (2, 0, 1));
}
