//! A run never leaves the app without its data: the new database is built beside the live one
//! and swapped in only when every stage has ended well; a failed run leaves the live data as
//! it was; reset owns only popctl's tables; the guard reads the URL as the driver does and asks
//! the server; an unreachable server is named within the connect timeout; a run needs only the
//! keys its stages use. On SQLite and PostgreSQL where both apply.

#![expect(
    clippy::disallowed_methods,
    reason = "tests read the database back, and break it on purpose, by SQL as a user's psql would"
)]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::run_support::*;

/// Whether a new database is waiting beside the live one at `url`.
async fn next_exists(url: &str) -> bool {
    let live = match url.starts_with("sqlite:") {
        true => None,
        false => Some(connect(url).await),
    };
    let next = popctl::store::NextDb::beside(url, live.as_ref())
        .await
        .unwrap()
        .unwrap();
    next.exists(live.as_ref()).await.unwrap()
}

/// The scenario of the issue: a good import, then a run that fails half way (an `--offline`
/// miss in its seed stage, after its reset). The live database still holds the good import;
/// the failed run's new database waits beside it, `status` shows it, and `--resume` finishes
/// it and swaps it in, ending equal to an uninterrupted run.
async fn a_failed_run_leaves_the_live_data_as_it_was(live: String, reference: String) {
    let env = Env::new(small_sim()).await;
    let one_page = quick(1);
    assert_exit(&output(env.quick(&live, &one_page, &[])).await, 0);
    let before = digest(&live).await;
    assert_eq!(count(&connect(&live).await, "movies").await, 20);

    // Two pages, offline with an empty cache: the seed stage misses the genre list.
    let mut two_pages = quick(2);
    two_pages.retain(|s| s != "cache.mode=off");
    let mut cmd = env.quick(&live, &two_pages, &["--offline"]);
    cmd.arg("--set")
        .arg(format!("cache.dir={}", env.path("empty-cache").display()));
    let out = output(cmd).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("is not in the cache"), "{err}");
    assert!(err.contains("is unchanged"), "{err}");
    assert_eq!(digest(&live).await, before, "the live data is untouched");
    assert_eq!(count(&connect(&live).await, "movies").await, 20);
    assert!(next_exists(&live).await);

    let mut status = popctl();
    status.args(["status", "--url", &live]);
    let shown = output(status).await;
    assert_exit(&shown, 0);
    let text = stdout(&shown);
    assert!(text.contains("quick-20  ok"), "the live run: {text}");
    assert!(
        text.contains("a new database is being built beside this one"),
        "{text}"
    );
    assert!(
        text.contains("quick-20  failed"),
        "the new one's run: {text}"
    );

    // Online again, --resume finishes the new database and swaps it in.
    let out = output(env.quick(&live, &two_pages, &["--resume"])).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("the new database replaced popctl's tables"),
        "{}",
        stderr(&out)
    );
    assert!(
        !next_exists(&live).await,
        "nothing left beside the live one"
    );
    assert_exit(&output(env.quick(&reference, &two_pages, &[])).await, 0);
    assert_eq!(digest(&live).await, digest(&reference).await);
    assert_eq!(count(&connect(&live).await, "movies").await, 40);
    deleting_a_movie_unlinks_what_points_at_it(&connect(&live).await).await;
}

/// After swaps, deleting a movie still sets the links pointing at it to NULL: SQLite's foreign
/// key, PostgreSQL's trigger on `movies`, whose function the swap moves with the tables.
async fn deleting_a_movie_unlinks_what_points_at_it(db: &DatabaseConnection) {
    let exec = |sql: String| async move { db.execute_unprepared(&sql).await.unwrap() };
    exec(
        "INSERT INTO movie_recommendations \
         (movie_id, recommended_tmdb_id, recommended_movie_id, kind, rank) \
         SELECT a.id, b.tmdb_id, b.id, 'recommended', 99 FROM movies a, movies b \
         WHERE a.id = (SELECT MIN(id) FROM movies) AND b.id = (SELECT MAX(id) FROM movies)"
            .to_owned(),
    )
    .await;
    let linked = "movie_recommendations WHERE rank = 99 AND recommended_movie_id IS NOT NULL";
    assert_eq!(count(db, linked).await, 1);
    exec("DELETE FROM movies WHERE id = (SELECT MAX(id) FROM movies)".to_owned()).await;
    assert_eq!(count(db, linked).await, 0, "the link to the deleted movie");
    assert_eq!(count(db, "movie_recommendations WHERE rank = 99").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_leaves_the_live_data_as_it_was_on_sqlite() {
    let env_dir = tempfile::tempdir().unwrap();
    let url = |n: &str| format!("sqlite://{}?mode=rwc", env_dir.path().join(n).display());
    a_failed_run_leaves_the_live_data_as_it_was(url("live.db"), url("reference.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_leaves_the_live_data_as_it_was_on_postgres() {
    let Some(live) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let reference = crate::store_db::fresh_pg_url().await.unwrap();
    a_failed_run_leaves_the_live_data_as_it_was(live, reference).await;
}

/// The first swap run into a SQLite file that does not exist yet moves its new file into
/// place; a later one copies popctl's tables into the live file, which keeps its inode (an
/// app holding it open sees the new data) and the app's own tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_swaps_keep_the_live_file_and_the_apps_tables() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("app.db");
    let file = env.path("app.db");
    assert_exit(&output(env.quick(&url, &quick(1), &[])).await, 0);
    assert!(file.exists());
    assert!(!env.path("app.db.next").exists());

    // The app's own table, and a connection of the app's held open across the next run.
    let app = connect(&url).await;
    exec(
        &app,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
    )
    .await;
    exec(&app, "INSERT INTO users VALUES (1, 'ann')").await;
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&file).unwrap().ino()
    };
    let out = output(env.quick(&url, &quick(2), &[])).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("the reset keeps 1 table popctl did not create: users"),
        "{err}"
    );
    // The app's open connection reads the new data and its own row.
    assert_eq!(count(&app, "movies").await, 40);
    assert_eq!(count(&app, "users").await, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);
    }
    assert!(!env.path("app.db.next").exists());
}

/// Reset owns only popctl's tables: an app's table with a foreign key into them stops the run
/// before anything is created or dropped (swap and in place alike); without the foreign key
/// the table stays, named in a warning; `scope = "database"` drops it too.
async fn reset_owns_only_what_popctl_created(url: String) {
    let env = Env::new(small_sim()).await;
    assert_exit(&output(env.quick(&url, &quick(1), &[])).await, 0);
    let app = connect(&url).await;
    let pg = url.starts_with("postgres");
    let key = if pg { "BIGINT" } else { "INTEGER" };
    exec(
        &app,
        &format!(
            "CREATE TABLE favourites (id {key} PRIMARY KEY, movie_id {key} REFERENCES movies (id))"
        ),
    )
    .await;
    exec(&app, "INSERT INTO favourites SELECT 1, MIN(id) FROM movies").await;
    let before = digest(&url).await;

    for mode in ["swap", "in_place"] {
        let mut sets = quick(2);
        sets.push(format!("stages.reset.mode={mode}"));
        let out = output(env.quick(&url, &sets, &[])).await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("refusing to reset")
                && err.contains("favourites")
                && err.contains("`movies`"),
            "{mode}: {err}"
        );
        assert!(!err.contains("Started"), "{mode}: nothing ran: {err}");
        assert_eq!(digest(&url).await, before, "{mode}");
        assert_eq!(count(&app, "favourites").await, 1);
        assert!(!next_exists(&url).await, "{mode}: no new database was made");
    }
    if pg {
        // A view on popctl's tables would block dropping them too.
        exec(&app, "DROP TABLE favourites").await;
        exec(&app, "CREATE VIEW top_titles AS SELECT title FROM movies").await;
        let out = output(env.quick(&url, &quick(2), &[])).await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(err.contains("top_titles (view)"), "{err}");
        exec(&app, "DROP VIEW top_titles").await;
    } else {
        exec(&app, "DROP TABLE favourites").await;
    }

    exec(&app, "CREATE TABLE users (id INTEGER PRIMARY KEY)").await;
    exec(&app, "INSERT INTO users VALUES (7)").await;
    for mode in ["swap", "in_place"] {
        let mut sets = quick(2);
        sets.push(format!("stages.reset.mode={mode}"));
        let out = output(env.quick(&url, &sets, &[])).await;
        assert_exit(&out, 0);
        assert!(
            stderr(&out).contains("the reset keeps 1 table popctl did not create: users"),
            "{mode}: {}",
            stderr(&out)
        );
        let db = connect(&url).await;
        assert_eq!(count(&db, "users").await, 1, "{mode}");
        assert_eq!(count(&db, "movies").await, 40, "{mode}");
        db.close().await.ok();
    }
    for mode in ["swap", "in_place"] {
        exec(
            &app,
            "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY)",
        )
        .await;
        let mut sets = quick(1);
        sets.push(format!("stages.reset.mode={mode}"));
        sets.push("stages.reset.scope=database".into());
        assert_exit(&output(env.quick(&url, &sets, &[])).await, 0);
        let db = connect(&url).await;
        let users = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                if pg {
                    "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'users' AND schemaname = current_schema()"
                } else {
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = 'users'"
                },
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(
            users, 0,
            "{mode}: scope = \"database\" drops the app's table"
        );
        assert_eq!(count(&db, "movies").await, 20);
        db.close().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_owns_only_what_popctl_created_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    reset_owns_only_what_popctl_created(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("owned.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_owns_only_what_popctl_created_on_postgres() {
    let Some(url) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    reset_owns_only_what_popctl_created(url).await;
}

/// The guard reads a URL as sqlx does: `?host=` and `?hostaddr=` win over the authority, so a
/// URL that says `localhost` but connects elsewhere is refused before any connection, by
/// `run` and by `db reset` alike, and `validate` says so too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_guard_reads_the_url_as_the_driver_does() {
    for (url, place) in [
        (
            "postgres://u:pw@localhost:5432/db?host=192.0.2.2",
            "192.0.2.2:5432",
        ),
        (
            "postgres://u@localhost:5432/db?hostaddr=192.0.2.2",
            "192.0.2.2:5432",
        ),
        (
            "postgres://u@[::1]:5432/db?hostaddr=2001:db8::7",
            "[2001:db8::7]:5432",
        ),
    ] {
        let mut run = popctl();
        run.args(["run", "plans/dev-200.toml", "--sandbox"])
            .env("DATABASE_URL", url);
        let out = output(run).await;
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(place) && !err.contains(":pw@"), "{url}: {err}");
        assert!(!err.contains("Started"), "{err}");

        let mut validate = popctl();
        validate
            .args(["validate", "plans/dev-200.toml"])
            .env("DATABASE_URL", url);
        let out = output(validate).await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(place), "{}", stderr(&out));

        let mut reset = popctl();
        reset.args(["db", "reset", "--url", url]);
        let out = output(reset).await;
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains("refusing to reset"),
            "{}",
            stderr(&out)
        );
    }
}

/// After connecting, the server's own address confirms the guard's reading: over TCP to a
/// loopback address, and over a unix socket (where PostgreSQL names no address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_confirms_it_is_local_over_tcp_and_a_socket() {
    let Some(url) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    let db = connect(&url).await;
    popctl::store::confirm_local(&db, &url).await.unwrap();
    db.close().await.ok();
    let mut reset = popctl();
    reset.args(["db", "reset", "--url", &url]);
    assert_exit(&output(reset).await, 0);

    let socket = match std::env::var("POPCTL_TEST_PG_SOCKET") {
        Ok(dir) if !dir.is_empty() => dir,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "POPCTL_TEST_PG_SOCKET is unset under CI=true (scripts/with-pg sets it)"
            );
            eprintln!(
                "\n!!! SKIPPED: POPCTL_TEST_PG_SOCKET is unset; the socket case did not run !!!\n"
            );
            return;
        }
    };
    let parsed = url::Url::parse(&url).unwrap();
    let over_socket = format!(
        "postgres://{}@localhost:{}{}?host={socket}",
        parsed.username(),
        parsed.port().unwrap_or(5432),
        parsed.path()
    );
    let db = connect(&over_socket).await;
    let addr = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT inet_server_addr()::text",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<Option<String>>(0)
        .unwrap();
    assert_eq!(addr, None, "a socket has no address");
    popctl::store::confirm_local(&db, &over_socket)
        .await
        .unwrap();
    db.close().await.ok();
    let mut reset = popctl();
    reset.args(["db", "reset", "--url", &over_socket]);
    assert_exit(&output(reset).await, 0);
}

/// A server that is not there, or that accepts connections and never answers, is named with
/// its address well within `database.connect_timeout`, by `run`, `db` and `status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_named_within_the_connect_timeout() {
    // Nothing listens on port 1.
    for args in [
        vec!["db", "status", "--url", "postgres://u:pw@127.0.0.1:1/x"],
        vec!["status", "--url", "postgres://u:pw@127.0.0.1:1/x"],
    ] {
        let mut cmd = popctl();
        cmd.args(&args);
        let out = output(cmd).await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("cannot reach the database server at 127.0.0.1:1")
                && !err.contains(":pw@"),
            "{args:?}: {err}"
        );
    }

    // A listener that accepts and then says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let env = Env::new(small_sim()).await;
    let url = format!("postgres://u@127.0.0.1:{port}/x");
    let mut cmd = env.quick(&url, &quick(1), &[]);
    cmd.arg("--set").arg("database.connect_timeout=1s");
    let out = output(cmd).await;
    assert_exit(&out, 1);
    let err = flat(&stderr(&out));
    assert!(
        err.contains(&format!(
            "cannot reach the database server at 127.0.0.1:{port}"
        )) && err.contains("no answer within 1s"),
        "{err}"
    );
    assert!(!err.contains("Started"), "{err}");
    drop(held);
}

/// A run needs only the keys of the sources its selected stages ask: none for `--only post`,
/// none for a plan whose enrich stage is off (OMDb), none at all for `--dry-run`, which names
/// the database it would reset with the password masked and connects to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_needs_only_the_keys_its_stages_use() {
    let env = Env::new(small_sim()).await;
    let url = env.sqlite("keys.db");
    assert_exit(&output(env.quick(&url, &quick(1), &[])).await, 0);

    let mut post = env.quick(&url, &quick(1), &["--only", "post"]);
    post.env_remove("TMDB_API_KEY").env_remove("OMDB_API_KEY");
    let out = output(post).await;
    assert_exit(&out, 0);

    let mut sets = quick(1);
    sets.push("stages.omdb.enabled=false".into());
    sets.push("stages.post.needs=[\"popular\"]".into());
    let mut no_omdb = env.quick(&url, &sets, &[]);
    no_omdb.env_remove("OMDB_API_KEY");
    let out = output(no_omdb).await;
    assert_exit(&out, 0);

    // Without the TMDB key, the stages that ask TMDB cannot run: named, nothing written.
    let before = digest(&url).await;
    let mut no_tmdb = env.quick(&url, &quick(1), &[]);
    no_tmdb.env_remove("TMDB_API_KEY");
    let out = output(no_tmdb).await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("TMDB_API_KEY"), "{}", stderr(&out));
    assert_eq!(digest(&url).await, before);

    let mut dry = popctl();
    dry.args(["run", "plans/dev-200.toml", "--dry-run"])
        .env("DATABASE_URL", "postgres://me:s3cret@127.0.0.1:1/films");
    let out = output(dry).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("database postgres://me:***@127.0.0.1:1/films: a new database is built"),
        "{text}"
    );
    assert!(!text.contains("s3cret") && !stderr(&out).contains("s3cret"));
}

/// One run per database at a time: a second run while one works is refused at once, naming
/// the database, and touches nothing; after the first ends, the next goes through.
async fn a_second_run_on_the_same_database_is_refused(url: String) {
    let env = Env::new(popctl::sim::SandboxConfig {
        latency: popctl::sim::Latency {
            min_ms: 40,
            max_ms: 80,
        },
        ..small_sim()
    })
    .await;
    let first = {
        let mut cmd = env.quick(&url, &quick(3), &[]);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    // Until the first run's new database holds a movie, it is surely still running.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never saved a movie"
        );
        if next_exists(&url).await {
            let next = connect_next(&url).await;
            let saved = match next
                .query_one_raw(sea_orm::Statement::from_string(
                    next.get_database_backend(),
                    "SELECT COUNT(*) FROM movies",
                ))
                .await
            {
                Ok(Some(row)) => row.try_get_by_index::<i64>(0).unwrap_or(0),
                _ => 0,
            };
            next.close().await.ok();
            if saved > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = output(env.quick(&url, &quick(1), &[])).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("another popctl run is working on"), "{err}");
    assert!(!err.contains("Started"), "{err}");
    let status = tokio::task::spawn_blocking(move || {
        let mut first = first;
        first.wait().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "the first run was not disturbed");
    assert_eq!(count(&connect(&url).await, "movies").await, 60);
    assert_exit(&output(env.quick(&url, &quick(1), &[])).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_database_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_second_run_on_the_same_database_is_refused(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("busy.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_database_is_refused_on_postgres() {
    let Some(url) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    a_second_run_on_the_same_database_is_refused(url).await;
}

/// `mode = "in_place"` works on the live database: a run that stops part way (a spent OMDb
/// quota) leaves its data and ledger there, and `--resume` continues it there, with no new
/// database beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_run_is_resumed_where_it_is() {
    let env = Env::new(popctl::sim::SandboxConfig {
        omdb_daily_quota: Some(10),
        ..small_sim()
    })
    .await;
    let url = env.sqlite("inplace.db");
    let mut sets = quick(1);
    sets.push("stages.reset.mode=in_place".into());
    let out = output(env.quick(&url, &sets, &[])).await;
    assert_exit(&out, 3);
    assert!(!next_exists(&url).await);
    let db = connect(&url).await;
    assert_eq!(last_run_status(&db).await, "partial");
    assert_eq!(
        count(&db, "movies").await,
        20,
        "in place: the data is in the live file"
    );

    env.sim.set_omdb_quota(None);
    env.sim.reset_quota();
    let out = output(env.quick(&url, &sets, &["--resume"])).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("Resuming plan `quick-20` (run 1)"),
        "{}",
        stderr(&out)
    );
    assert!(!next_exists(&url).await);
    assert_eq!(last_run_status(&db).await, "ok");
}

/// The run history survives resets, in both modes: run numbers go on, the header and the
/// last line name the same run, and `status` lists every earlier run with its stages.
async fn the_run_history_outlives_each_reset(url: String) {
    let env = Env::new(small_sim()).await;
    let modes = ["swap", "swap", "in_place", "swap"];
    for (i, mode) in modes.iter().enumerate() {
        let n = i + 1;
        let mut sets = quick(1);
        sets.push(format!("stages.reset.mode={mode}"));
        let out = output(env.quick(&url, &sets, &[])).await;
        assert_exit(&out, 0);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("Running plan `quick-20` (run {n})")),
            "{mode}: {err}"
        );
        assert!(
            err.contains(&format!("run {n} of plan `quick-20`: ok")),
            "{mode}: {err}"
        );
    }
    let db = connect(&url).await;
    assert_eq!(count(&db, "import_runs").await, 4);
    let mut status = popctl();
    status.args(["status", "--url", &url]);
    let out = output(status).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    for n in 1..=4 {
        assert!(
            text.contains(&format!("run {n}: reset done, seed done")),
            "{text}"
        );
    }
    // No table of the kept history is left behind.
    let kept = count(&db, "import_items").await;
    assert!(kept >= 4 * 20, "{kept} items");
    for table in ["popctl_held_import_runs", "popctl_held_import_items"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert!(
            db.execute_unprepared(&sql).await.is_err(),
            "{table} remains"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_history_outlives_each_reset_on_sqlite() {
    let env = Env::new(small_sim()).await;
    the_run_history_outlives_each_reset(env.sqlite("history.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_history_outlives_each_reset_on_postgres() {
    let Some(url) = crate::store_db::fresh_pg_url().await else {
        return;
    };
    the_run_history_outlives_each_reset(url).await;
}

/// A server that cannot take the connections a run needs is named with its limit before the
/// run starts, instead of "pool timed out" after a minute of silent retries; one with less
/// room than the pool's 16 gets a smaller pool, said in a warning, and the run ends well; a
/// server that refuses any connection says so with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_room_for_the_run_is_named_with_its_limit() {
    let Some(server) = crate::support::pg_url() else {
        return;
    };
    let (admin, role, url) = limited_role(&server, 4).await;
    let env = Env::new(small_sim()).await;

    // A swap run holds the live database's pool, the run lock and the new database's pool:
    // 4 connections cannot hold them.
    let out = output(env.quick(&url, &quick(1), &[])).await;
    assert_exit(&out, 1);
    let err = flat(&stderr(&out));
    assert!(
        err.contains(&format!(
            "takes 4 more connection(s) (role {role} has CONNECTION LIMIT 4, 0 in use); \
             popctl needs 5"
        )) && !err.contains("timed out")
            && !err.contains("Started"),
        "{err}"
    );

    no_sessions_of(&admin, &role).await;
    exec(&admin, &format!("ALTER ROLE {role} CONNECTION LIMIT 5")).await;
    let out = output(env.quick(&url, &quick(1), &[])).await;
    assert_exit(&out, 0);
    let err = flat(&stderr(&out));
    // The new database's pool gets what the live one's (1 or 2 connections, as it happened)
    // and the lock's leave; the live pool's own note is not shown.
    let notes: Vec<&str> = err.matches("popctl's pool takes").collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        err.contains("warning: the database server has room for")
            && (err.contains("popctl's pool takes 2 instead of 16")
                || err.contains("popctl's pool takes 3 instead of 16")),
        "{err}"
    );
    assert!(count(&connect(&url).await, "movies").await > 0);

    // Every connection the role may have is taken.
    no_sessions_of(&admin, &role).await;
    exec(&admin, &format!("ALTER ROLE {role} CONNECTION LIMIT 1")).await;
    let held = {
        use sea_orm::sqlx::Connection as _;
        sea_orm::sqlx::PgConnection::connect(&url).await.unwrap()
    };
    let mut status = popctl();
    status.args(["db", "status", "--url", &url]);
    let out = output(status).await;
    assert_exit(&out, 1);
    let err = flat(&stderr(&out));
    assert!(
        err.contains("refuses another connection: too many connections for role"),
        "{err}"
    );
    {
        use sea_orm::sqlx::Connection as _;
        held.close().await.unwrap();
    }

    drop_role(&admin, &role).await;
}

/// Processes that open their pools together on a tight server (a run and its workers) each
/// claim the connections they sized their pool for when they open it: the one that gets
/// fewer sizes its pool again, so together they hold no more than the server takes and each
/// runs as many queries at once as its pool has connections, instead of one waiting a minute
/// mid-run for a connection the server will not give. One more finds no room, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_opened_together_claim_their_connections_at_once() {
    let Some(server) = crate::support::pg_url() else {
        return;
    };
    let (admin, role, url) = limited_role(&server, 20).await;
    let claim = popctl::store::OpenOptions {
        claim: true,
        ..popctl::store::OpenOptions::default()
    };
    let (a, b) = tokio::join!(
        popctl::store::open(&url, &claim),
        popctl::store::open(&url, &claim)
    );
    let pools = [a.unwrap(), b.unwrap()];
    let size = |db: &DatabaseConnection| {
        db.get_postgres_connection_pool()
            .options()
            .get_max_connections()
    };
    let sizes: Vec<u32> = pools.iter().map(size).collect();
    assert!(sizes.iter().sum::<u32>() <= 20, "{sizes:?}");
    assert!(
        sizes.iter().all(|s| *s >= popctl::store::PG_POOL_MIN),
        "{sizes:?}"
    );
    let sessions = count(
        &admin,
        &format!("pg_stat_activity WHERE usename = '{role}'"),
    )
    .await;
    assert_eq!(sessions, i64::from(sizes.iter().sum::<u32>()), "{sizes:?}");
    let busy = pools
        .iter()
        .flat_map(|db| (0..size(db)).map(move |_| db.execute_unprepared("SELECT pg_sleep(0.2)")));
    let all = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(busy))
        .await
        .expect("every pool runs a query on each of its connections at once");
    assert!(all.iter().all(Result::is_ok), "{all:?}");

    // Full: the probe itself is refused.
    let third = popctl::store::open(&url, &claim)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        third
            .to_string()
            .contains("refuses another connection: too many connections for role"),
        "{third}"
    );
    for db in pools {
        db.close().await.unwrap();
    }
    drop_role(&admin, &role).await;
}
