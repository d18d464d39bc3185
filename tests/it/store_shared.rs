//! Issue 12 in the store, on SQLite (memory and file) and PostgreSQL: shared rows keep the
//! copy the documented rule picks whatever the order of the saves (sequential in several
//! orders, and concurrent), a later run brings its copies, and credits without a distinct
//! `credit_id` are all kept, counted, and saved again without duplicates.

#![allow(clippy::unwrap_used)] // helpers shared by tests are not #[test] fns

use std::cmp::Reverse;
use std::collections::BTreeMap;

use popctl::sources::tmdb::mapping::movie_bundle;
use popctl::store::bundle::{MovieBundle, Person};
use popctl::store::digest::table_digests;
use popctl::store::entities::{collections, keywords, people, production_companies};
use popctl::store::{self, SaveStats};
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::Value;

use crate::store_db::{TestDb, details_fixtures, on_every_backend, richest_bundles};

/// `base` as movie `n` (see `MovieBundle::renumbered`) whose copies of the shared rows differ
/// from `base`'s and from every other `n`: people's popularity always, and by `n` their
/// photos and names, companies' logos, keyword, genre and country names, languages' English
/// names and the collection's images. Some copies have fewer columns filled than others.
fn disagreeing(base: &MovieBundle, n: i64) -> MovieBundle {
    let mut b = base.renumbered(n);
    let person = |p: &mut Person| {
        p.popularity = Some(p.popularity.unwrap_or(1.0) + 0.25 * n as f64);
        match n % 3 {
            1 => p.profile_path = None,
            2 => p.profile_path = Some(format!("/copy{n}-{}.jpg", p.tmdb_id)),
            _ => {}
        }
        if n == 2 && p.tmdb_id % 2 == 0 {
            p.name = format!("{} ({n})", p.name);
        }
    };
    for c in b.credits.iter_mut().flatten() {
        person(&mut c.person);
    }
    for c in b.production_companies.iter_mut().flatten() {
        c.logo_path = (n % 2 == 1).then(|| format!("/logo{n}-{}.png", c.tmdb_id));
    }
    for k in b.keywords.iter_mut().flatten().filter(|_| n == 3) {
        k.name = format!("{} v{n}", k.name);
    }
    for g in b.genres.iter_mut().flatten().filter(|_| n == 1) {
        g.name = g.name.to_uppercase();
    }
    for c in b
        .production_countries
        .iter_mut()
        .flatten()
        .filter(|_| n == 2)
    {
        c.name = format!("{} ({n})", c.name);
    }
    for l in b.spoken_languages.iter_mut().flatten() {
        l.english_name = match n {
            1 => None,
            3 => Some(format!("Lang {n}")),
            _ => l.english_name.clone(),
        };
    }
    if let Some(c) = &mut b.movie.collection {
        c.poster_path = Some(format!("/poster{n}.jpg"));
        if n == 2 {
            c.backdrop_path = None;
        }
    }
    b
}

/// Every real movie, and three disagreeing copies of each one with credits.
fn disagreeing_set() -> Vec<MovieBundle> {
    let bases = richest_bundles();
    let mut all = bases.clone();
    for b in bases
        .iter()
        .filter(|b| b.credits.as_ref().is_some_and(|c| !c.is_empty()))
    {
        all.extend((1..=3).map(|n| disagreeing(b, n)));
    }
    all
}

/// The orders the set is saved in: as built, reversed, interleaved (evens then odds) and
/// shuffled by a fixed permutation.
fn orders(n: usize) -> Vec<(&'static str, Vec<usize>)> {
    let forward: Vec<usize> = (0..n).collect();
    let reversed = forward.iter().rev().copied().collect();
    let interleaved = forward
        .iter()
        .copied()
        .filter(|i| i % 2 == 0)
        .chain(forward.iter().copied().filter(|i| i % 2 == 1))
        .collect();
    let mut shuffled = forward.clone();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        shuffled.swap(i, (x % (i as u64 + 1)) as usize);
    }
    vec![
        ("forward", forward),
        ("reversed", reversed),
        ("interleaved", interleaved),
        ("shuffled", shuffled),
    ]
}

/// What the database says, and whose copy each person, company, keyword and collection is.
async fn snapshot(db: &DatabaseConnection) -> (String, Vec<(&'static str, i64, i64, i64)>) {
    let mut provenance = Vec::new();
    for p in people::Entity::find().all(db).await.unwrap() {
        provenance.push(("people", p.tmdb_id, p.src_run, p.src_movie_tmdb_id));
    }
    for c in production_companies::Entity::find().all(db).await.unwrap() {
        provenance.push(("companies", c.tmdb_id, c.src_run, c.src_movie_tmdb_id));
    }
    for k in keywords::Entity::find().all(db).await.unwrap() {
        provenance.push(("keywords", k.tmdb_id, k.src_run, k.src_movie_tmdb_id));
    }
    for c in collections::Entity::find().all(db).await.unwrap() {
        provenance.push(("collections", c.tmdb_id, c.src_run, c.src_movie_tmdb_id));
    }
    provenance.sort_unstable();
    (store::digest(db).await.unwrap(), provenance)
}

/// By natural key, every copy saved: (carrying movie, nullable columns filled, copy).
type Copies<T> = BTreeMap<i64, Vec<(i64, usize, T)>>;

/// The copy the rule keeps among `copies` (carrying movie, number of nullable columns filled,
/// copy) saved in one run: most filled, then the lowest movie id.
fn winner<T: Clone>(copies: &[(i64, usize, T)]) -> (i64, T) {
    let (movie, _, copy) = copies
        .iter()
        .max_by_key(|(movie, filled, _)| (*filled, Reverse(*movie)))
        .unwrap();
    (*movie, copy.clone())
}

/// The rule, applied by hand to every person, company and collection of `bundles`, agrees
/// with the database.
async fn rows_follow_the_rule(db: &DatabaseConnection, bundles: &[MovieBundle]) {
    let mut persons: Copies<Person> = BTreeMap::new();
    let mut companies: Copies<Option<String>> = BTreeMap::new();
    let mut colls: Copies<(Option<String>, Option<String>)> = BTreeMap::new();
    for b in bundles {
        let movie = b.tmdb_id();
        let mut seen = std::collections::HashSet::new();
        for c in b.credits.iter().flatten() {
            let p = &c.person;
            if !seen.insert(p.tmdb_id) {
                continue;
            }
            let filled = [
                p.original_name.is_some(),
                p.gender.is_some(),
                p.known_for_department.is_some(),
                p.profile_path.is_some(),
                p.popularity.is_some(),
                p.adult.is_some(),
            ]
            .iter()
            .filter(|f| **f)
            .count();
            persons
                .entry(p.tmdb_id)
                .or_default()
                .push((movie, filled, p.clone()));
        }
        for c in b.production_companies.iter().flatten() {
            let filled =
                usize::from(c.logo_path.is_some()) + usize::from(c.origin_country.is_some());
            companies
                .entry(c.tmdb_id)
                .or_default()
                .push((movie, filled, c.logo_path.clone()));
        }
        if let Some(c) = &b.movie.collection {
            let filled =
                usize::from(c.poster_path.is_some()) + usize::from(c.backdrop_path.is_some());
            colls.entry(c.tmdb_id).or_default().push((
                movie,
                filled,
                (c.poster_path.clone(), c.backdrop_path.clone()),
            ));
        }
    }
    let stored: BTreeMap<i64, people::Model> = people::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.tmdb_id, p))
        .collect();
    assert_eq!(stored.len(), persons.len());
    let mut disagreeing = 0;
    for (id, copies) in &persons {
        let (movie, want) = winner(copies);
        let got = &stored[id];
        assert_eq!(got.src_movie_tmdb_id, movie, "person {id}");
        let got_copy = (
            got.name.clone(),
            got.profile_path.clone(),
            got.popularity,
            got.gender,
        );
        let want_copy = (want.name, want.profile_path, want.popularity, want.gender);
        assert_eq!(got_copy, want_copy, "person {id}");
        if copies
            .iter()
            .any(|(_, _, p)| p.popularity != got.popularity)
        {
            disagreeing += 1;
        }
    }
    assert!(
        disagreeing > 100,
        "only {disagreeing} people had disagreeing copies"
    );
    for c in production_companies::Entity::find().all(db).await.unwrap() {
        let (movie, logo) = winner(&companies[&c.tmdb_id]);
        assert_eq!(
            (c.src_movie_tmdb_id, c.logo_path),
            (movie, logo),
            "company {}",
            c.tmdb_id
        );
    }
    for c in collections::Entity::find().all(db).await.unwrap() {
        let (movie, images) = winner(&colls[&c.tmdb_id]);
        assert_eq!(
            (c.src_movie_tmdb_id, (c.poster_path, c.backdrop_path)),
            (movie, images),
            "collection {}",
            c.tmdb_id
        );
    }
}

/// Movies whose copies of people, companies, keywords, genres, countries, languages and
/// collections disagree, saved one by one in four orders and all at once, end with the same
/// database, and each shared row is the copy the documented rule picks.
async fn shared_rows_merge_independently_of_save_order(t: TestDb) {
    let bundles = disagreeing_set();
    if bundles.is_empty() {
        return;
    }
    let mut results = Vec::new();
    for (name, order) in orders(bundles.len()) {
        let db = TestDb::migrated(t.backend).await.unwrap();
        for &i in &order {
            db.save(&bundles[i]).await;
        }
        results.push((name, snapshot(&db.db).await));
        if name == "forward" {
            rows_follow_the_rule(&db.db, &bundles).await;
        }
    }
    // All at once: on PostgreSQL the pool's connections race for the same shared rows.
    let tasks: Vec<_> = bundles
        .iter()
        .cloned()
        .map(|b| {
            let db = t.db.clone();
            tokio::spawn(async move { store::save_movie(&db, &b, 0).await })
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.unwrap()
            .unwrap_or_else(|e| panic!("concurrent save failed on {:?}: {e}", t.backend));
    }
    results.push(("concurrent", snapshot(&t.db).await));
    let (_, (digest, provenance)) = &results[0];
    for (name, (other_digest, other_provenance)) in &results[1..] {
        assert_eq!(
            other_provenance, provenance,
            "{name} vs forward: whose copy ({:?})",
            t.backend
        );
        assert_eq!(
            other_digest, digest,
            "{name} vs forward: digest ({:?})",
            t.backend
        );
    }
}
on_every_backend!(shared_rows_merge_independently_of_save_order);

/// The stored copy of person `id`: (run, movie, popularity).
async fn person_copy(t: &TestDb, id: i64) -> (i64, i64, Option<f64>) {
    let p = people::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.tmdb_id == id)
        .unwrap();
    (p.src_run, p.src_movie_tmdb_id, p.popularity)
}

/// A later run's copy wins whichever movie carries it; within a run the lower movie id does;
/// a movie saved again replaces its own copy, unless the new one has fewer columns filled.
async fn a_later_run_brings_its_copies(t: TestDb) {
    let base = richest_bundles()
        .into_iter()
        .find(|b| b.tmdb_id() == 607)
        .expect("the fixture of Men in Black (607)");
    // A person with a photo and a popularity, whom variant 3 credits with another popularity
    // and the same columns filled.
    let person = base.credits.as_ref().unwrap()[0].person.clone();
    assert!(person.profile_path.is_some() && person.popularity.is_some());
    let (m, n) = (base.clone(), disagreeing(&base, 3));
    let popularity = |b: &MovieBundle| {
        b.credits
            .iter()
            .flatten()
            .find(|c| c.person.tmdb_id == person.tmdb_id)
            .unwrap()
            .person
            .popularity
    };
    assert_ne!(popularity(&m), popularity(&n));
    let (mid, nid) = (m.tmdb_id(), n.tmdb_id());
    assert!(mid < nid);

    t.save_in_run(&n, 1).await;
    t.save_in_run(&m, 1).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (1, mid, popularity(&m)),
        "same run: the lower movie id"
    );
    t.save_in_run(&n, 2).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (2, nid, popularity(&n)),
        "a later run wins"
    );
    t.save_in_run(&m, 1).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (2, nid, popularity(&n)),
        "an earlier run does not"
    );
    t.save_in_run(&m, 2).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (2, mid, popularity(&m)),
        "the later run, the lower movie id"
    );
    let mut newer = m.clone();
    for c in newer.credits.iter_mut().flatten() {
        if c.person.tmdb_id == person.tmdb_id {
            c.person.popularity = Some(99.5);
        }
    }
    t.save_in_run(&newer, 2).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (2, mid, Some(99.5)),
        "the movie's own newer copy"
    );
    let mut sparser = newer.clone();
    for c in sparser.credits.iter_mut().flatten() {
        if c.person.tmdb_id == person.tmdb_id {
            c.person.profile_path = None;
            c.person.popularity = Some(1.5);
        }
    }
    t.save_in_run(&sparser, 2).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (2, mid, Some(99.5)),
        "a sparser copy in the same run does not replace a fuller one"
    );
    t.save_in_run(&sparser, 3).await;
    assert_eq!(
        person_copy(&t, person.tmdb_id).await,
        (3, mid, Some(1.5)),
        "but in a later run it does"
    );
}
on_every_backend!(a_later_run_brings_its_copies);

/// The body of a real fixture whose name starts with `prefix`, as JSON.
fn fixture_json(prefix: &str) -> Value {
    let (_, body) = details_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .unwrap_or_else(|| panic!("no tmdb/movie_details fixture named {prefix}*"));
    serde_json::from_slice(&body).unwrap()
}

fn bundle_of(json: &Value) -> MovieBundle {
    movie_bundle(&serde_json::to_vec(json).unwrap()).unwrap()
}

/// Credits of movie `tmdb_id` in the database: (cast, crew).
async fn credit_counts(t: &TestDb, tmdb_id: i64) -> (i64, i64) {
    let of = |kind: &str| {
        format!(
            "SELECT COUNT(*) FROM movie_credits WHERE credit_type = '{kind}' AND movie_id = \
             (SELECT id FROM movies WHERE tmdb_id = {tmdb_id})"
        )
    };
    (t.count(&of("cast")).await, t.count(&of("crew")).await)
}

/// A movie whose credits lack distinct ids (missing, null, empty, repeated) keeps every credit
/// and says how many got a fallback key; saving it again changes nothing; a credit id another
/// movie repeats takes nothing from that movie.
async fn credits_without_distinct_ids_are_kept_and_counted(t: TestDb) {
    let mut json = fixture_json("607-");
    let cast = json["credits"]["cast"].as_array_mut().unwrap();
    let (cast_len, kept_id) = (cast.len() as i64, cast[10]["credit_id"].clone());
    for c in &mut cast[0..3] {
        c.as_object_mut().unwrap().remove("credit_id");
    }
    cast[3]["credit_id"] = Value::Null;
    cast[4]["credit_id"] = "".into();
    let repeated = cast[5]["credit_id"].clone();
    for c in &mut cast[6..8] {
        c["credit_id"] = repeated.clone();
    }
    let crew = json["credits"]["crew"].as_array_mut().unwrap();
    let crew_len = crew.len() as i64;
    // An exact repeat of a credit is the same credit.
    let first = crew[0].clone();
    crew.push(first);
    crew[1]["credit_id"] = crew[2]["credit_id"].clone();
    let bundle = bundle_of(&json);
    let id = bundle.tmdb_id();

    let first_save = t.save(&bundle).await;
    assert_eq!(first_save.fallback_credits, 3 + 1 + 1 + 3 + 2);
    assert_eq!(credit_counts(&t, id).await, (cast_len, crew_len));
    let with_id = |credit_id: &Value| {
        format!(
            "SELECT COUNT(*) FROM movie_credits WHERE credit_id = '{}'",
            credit_id.as_str().unwrap()
        )
    };
    assert_eq!(t.count(&with_id(&kept_id)).await, 1, "distinct ids stay");
    assert_eq!(
        t.count(&with_id(&repeated)).await,
        0,
        "a repeated id keys nothing"
    );

    let before = table_digests(&t.db).await.unwrap();
    let again = t.save(&bundle).await;
    assert_eq!(table_digests(&t.db).await.unwrap(), before);
    assert_eq!(
        again,
        SaveStats {
            written: again.written,
            deleted: 0,
            fallback_credits: first_save.fallback_credits,
        }
    );
    assert!(
        again.written <= 2 + bundle.movie.tmdb_ratings().len() as u64,
        "{again:?}"
    );
    assert_eq!(credit_counts(&t, id).await, (cast_len, crew_len));

    // A newer body without one of the id-less credits: that one goes, the others stay.
    json["credits"]["cast"].as_array_mut().unwrap().remove(0);
    let newer = t.save(&bundle_of(&json)).await;
    assert_eq!((newer.deleted, newer.fallback_credits), (1, 9));
    assert_eq!(credit_counts(&t, id).await, (cast_len - 1, crew_len));

    // Another movie listing the same credit ids keeps its own credits, and takes none.
    let mut other = bundle.renumbered(1);
    other.credits.clone_from(&bundle.credits);
    t.save(&other).await;
    assert_eq!(
        credit_counts(&t, other.tmdb_id()).await,
        (cast_len, crew_len)
    );
    assert_eq!(credit_counts(&t, id).await, (cast_len - 1, crew_len));

    // A legacy body: no credit has an id.
    let json = fixture_json("87421-");
    let legacy = bundle_of(&json);
    let stats = t.save(&legacy).await;
    let listed = |part: &str| json["credits"][part].as_array().unwrap().len() as i64;
    assert_eq!(
        credit_counts(&t, legacy.tmdb_id()).await,
        (listed("cast"), listed("crew"))
    );
    assert_eq!(
        stats.fallback_credits as i64,
        listed("cast") + listed("crew")
    );
    assert_eq!(t.save(&legacy).await.deleted, 0);
}
on_every_backend!(credits_without_distinct_ids_are_kept_and_counted);
