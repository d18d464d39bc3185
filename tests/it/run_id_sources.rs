//! More ways to say which movies: `trending_day` / `trending_week` lists, a TMDB collection,
//! IMDb ids through `/find`; several stages naming the same movie fetch it once.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use popctl::plan::ListKind;

use crate::run_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trending_a_collection_and_imdb_ids_store_their_movies_each_fetched_once() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    let trending: Vec<u32> = catalog.list_ids(ListKind::TrendingWeek);
    assert!(
        trending.len() >= 5,
        "the sandbox trends {} movies",
        trending.len()
    );
    let trending: Vec<u32> = trending.into_iter().take(5).collect();
    let collection = catalog.collection_ids()[0];
    let members: Vec<u32> = catalog
        .collection(collection)
        .unwrap()
        .parts
        .iter()
        .map(|p| p.id)
        .collect();
    // Two IMDb ids of trending movies (so two stages name them), one of the collection's,
    // and one no movie has.
    let imdb_of = |id: u32| catalog.entry(id).unwrap().imdb_id.clone().unwrap();
    let by_imdb = [trending[0], trending[1], members[0]];
    let unknown = "tt9999999";
    let imdb_list: Vec<String> = by_imdb
        .iter()
        .map(|&id| format!("\"{}\"", imdb_of(id)))
        .chain([format!("\"{unknown}\"")])
        .collect();

    let plan = env.path("sources.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[plan]
name = "sources"
extends = "{base}"

[stages.seed]
kind = "seed"

[stages.trending]
kind = "fetch"
needs = ["seed"]
list = "trending_week"
limit = 5
append = ["external_ids"]

[stages.franchise]
kind = "fetch"
needs = ["seed"]
collection = {collection}
append = ["external_ids"]

[stages.picked]
kind = "fetch"
needs = ["seed"]
imdb_ids = [{imdb}]
append = ["external_ids"]
"#,
            base = root().join("plans/base.toml").display(),
            imdb = imdb_list.join(", "),
        ),
    )
    .unwrap();
    let db_url = env.sqlite("sources.db");
    let out = output(env.quick_plan(plan.to_str().unwrap(), &db_url)).await;
    assert_exit(&out, 0);

    let expected: BTreeSet<i64> = trending
        .iter()
        .chain(&members)
        .chain(&by_imdb)
        .map(|&id| i64::from(id))
        .collect();
    let db = connect(&db_url).await;
    assert_eq!(stored_tmdb_ids(&db).await, expected);
    // One details request per movie, though trending[0] and trending[1] were named twice.
    let stats = env.sim.stats();
    let details: u64 = stats.routes["GET /3/movie/{id}"].values().sum();
    assert_eq!(details, expected.len() as u64);
    assert_eq!(stats.routes["GET /3/trending/movie/week"][&200], 1);
    assert_eq!(stats.routes["GET /3/collection/{id}"][&200], 1);
    assert_eq!(
        stats.routes["GET /3/find/{external_id}"]
            .values()
            .sum::<u64>(),
        4
    );
    // The collection's own overview is stored beside the copy its movies carry.
    let overview = catalog.collection(collection).unwrap().overview;
    let with_overview = count(
        &db,
        &format!(
            "collections WHERE tmdb_id = {collection} AND overview = '{}' \
             AND details_fetched_at IS NOT NULL",
            overview.replace('\'', "''")
        ),
    )
    .await;
    assert_eq!(with_overview, 1);
    // The unknown IMDb id is a skipped item that says why.
    let said = count(
        &db,
        &format!(
            "import_items WHERE stage = 'picked' AND item_key = 'imdb:{unknown}' \
             AND status = 'skipped' AND last_error LIKE '%no movie with IMDb id%'"
        ),
    )
    .await;
    assert_eq!(said, 1);
}

/// A collection TMDB does not have fails its stage, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_collection_fails_its_stage_with_the_reason() {
    let env = Env::new(small_sim()).await;
    let plan = env.path("collection.toml");
    std::fs::write(
        &plan,
        format!(
            "[plan]\nname = \"c\"\nextends = \"{}\"\n\n[stages.popular]\nkind = \"fetch\"\ncollection = 999999999\n",
            root().join("plans/base.toml").display()
        ),
    )
    .unwrap();
    let db_url = env.sqlite("c.db");
    let out = output(env.quick_plan(plan.to_str().unwrap(), &db_url)).await;
    assert_exit(&out, 1);
    let said = stdout(&out) + &stderr(&out);
    assert!(said.contains("TMDB has no collection 999999999"), "{said}");
}

// --- tmdb_list, person, search, ids_file ---------------------------------------------------

/// The `tmdb_id`s of the movies table.
async fn stored(db_url: &str) -> BTreeSet<i64> {
    stored_tmdb_ids(&connect(db_url).await).await
}

/// A plan on the shared base with the seed stage and `stages` (TOML), `data` (a data folder)
/// when given.
fn plan_with(env: &Env, name: &str, stages: &str, data: Option<&std::path::Path>) -> String {
    let plan = env.path(&format!("{name}.toml"));
    let data = data
        .map(|d| format!("\n[data]\ndir = \"{}\"\n", d.display()))
        .unwrap_or_default();
    std::fs::write(
        &plan,
        format!(
            "[plan]\nname = \"{name}\"\nextends = \"{base}\"\n{data}\n[stages.seed]\nkind = \"seed\"\n\n{stages}",
            base = root().join("plans/base.toml").display(),
        ),
    )
    .unwrap();
    plan.to_str().unwrap().to_owned()
}

fn ids(v: impl IntoIterator<Item = u32>) -> BTreeSet<i64> {
    v.into_iter().map(i64::from).collect()
}

/// A person of the sandbox credited in a few movies (2 to 12, some of them as crew), with
/// their movies: all of them, and those they directed.
fn a_credited_person(catalog: &popctl::sim::Catalog) -> (u32, BTreeSet<i64>, BTreeSet<i64>) {
    for e in catalog.entries() {
        let credits = catalog.credits(e.id).unwrap();
        for director in credits.crew.iter().filter(|c| c.job == "Director") {
            let film = catalog.filmography(director.id).unwrap();
            let all = ids(film
                .cast
                .iter()
                .map(|c| c.0)
                .chain(film.crew.iter().map(|c| c.0)));
            let directed = ids(film.crew.iter().filter(|c| c.2 == "Director").map(|c| c.0));
            if (2..=12).contains(&all.len()) && directed.len() < all.len() {
                return (director.id, all, directed);
            }
        }
    }
    panic!("the sandbox has no director with a few films");
}

/// A catalog movie that a search by its title and year finds first.
fn a_searchable(catalog: &popctl::sim::Catalog, among: &[u32]) -> (u32, String, i32) {
    among
        .iter()
        .map(|&id| catalog.entry(id).unwrap())
        .find(|e| catalog.search_ids(&e.title, Some(e.year())).first() == Some(&e.id))
        .map(|e| (e.id, e.title.clone(), e.year()))
        .expect("a movie its own title finds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tmdb_list_stores_its_movies_and_leaves_out_the_rest() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    // A list id of the sandbox that holds TV shows too, so the note has something to count.
    let (list, entries) = (1..200)
        .map(|n| (n.to_string(), catalog.user_list(&n.to_string()).unwrap()))
        .find(|(_, e)| e.len() > 20 && e.iter().any(|x| matches!(x, popctl::sim::ListEntry::Tv(_))))
        .unwrap();
    let tv = entries
        .iter()
        .filter(|x| matches!(x, popctl::sim::ListEntry::Tv(_)))
        .count();
    let expected = ids(catalog.user_list_ids(&list));
    let plan = plan_with(
        &env,
        "list",
        &format!("[stages.marvel]\nkind = \"fetch\"\nneeds = [\"seed\"]\ntmdb_list = {list}\n"),
        None,
    );
    let db_url = env.sqlite("list.db");
    let out = output(env.quick_plan(&plan, &db_url)).await;
    assert_exit(&out, 0);
    assert_eq!(stored(&db_url).await, expected);
    let stats = env.sim.stats();
    // Every page, once: more than 20 entries is more than one page.
    assert_eq!(
        stats.routes["GET /3/list/{list_id}"][&200],
        entries.len().div_ceil(20) as u64
    );
    let said = stdout(&out) + &stderr(&out);
    assert!(
        said.contains(&format!("{tv} entries that are not movies")),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_stores_their_filmography_or_the_jobs_asked_for() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    let (person, all, directed) = a_credited_person(catalog);
    let plan = plan_with(
        &env,
        "person",
        &format!(
            "[stages.all]\nkind = \"fetch\"\nneeds = [\"seed\"]\nperson = {{ id = {person} }}\n"
        ),
        None,
    );
    let db_url = env.sqlite("person.db");
    let out = output(env.quick_plan(&plan, &db_url)).await;
    assert_exit(&out, 0);
    assert_eq!(stored(&db_url).await, all);

    let plan = plan_with(
        &env,
        "directed",
        &format!(
            "[stages.directed]\nkind = \"fetch\"\nneeds = [\"seed\"]\n\
             person = {{ id = {person}, role = \"crew\", jobs = [\"Director\"] }}\n"
        ),
        None,
    );
    let db_url = env.sqlite("directed.db");
    let out = output(env.quick_plan(&plan, &db_url)).await;
    assert_exit(&out, 0);
    assert_eq!(stored(&db_url).await, directed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_stores_the_first_result_and_a_miss_is_a_skipped_item_saying_why() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    let popular: Vec<u32> = catalog.list_ids(popctl::plan::ListKind::Popular);
    let (id, title, year) = a_searchable(catalog, &popular);
    let plan = plan_with(
        &env,
        "search",
        &format!(
            "[stages.searched]\nkind = \"fetch\"\nneeds = [\"seed\"]\n\
             search = [{{ title = {title:?}, year = {year} }}, {{ title = \"Zzyzx Qwertyuiop\", year = 1999 }}]\n"
        ),
        None,
    );
    let db_url = env.sqlite("search.db");
    let out = output(env.quick_plan(&plan, &db_url)).await;
    assert_exit(&out, 0);
    assert_eq!(stored(&db_url).await, ids([id]));
    let stats = env.sim.stats();
    assert_eq!(stats.routes["GET /3/search/movie"][&200], 2);
    let db = connect(&db_url).await;
    let said = count(
        &db,
        "import_items WHERE stage = 'searched' AND status = 'skipped' \
         AND last_error LIKE '%no movie titled \"Zzyzx Qwertyuiop\" (1999)%'",
    )
    .await;
    assert_eq!(said, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ids_file_stores_its_tmdb_and_imdb_ids() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    let with_imdb: Vec<&popctl::sim::IndexEntry> = catalog
        .entries()
        .iter()
        .filter(|e| e.imdb_id.is_some())
        .take(4)
        .collect();
    let data = env.path("data");
    std::fs::create_dir_all(data.join("lists")).unwrap();
    std::fs::create_dir_all(data.join("seed")).unwrap();
    for f in std::fs::read_dir(root().join("data/seed")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, data.join("seed").join(f.file_name().unwrap())).unwrap();
    }
    let text = format!(
        "# two by TMDB id, two by IMDb id, one twice\n{}\n{}  # by id\n\n{}\n{}\n{}\n",
        with_imdb[0].id,
        with_imdb[1].id,
        with_imdb[2].imdb_id.as_ref().unwrap(),
        with_imdb[3].imdb_id.as_ref().unwrap(),
        with_imdb[0].imdb_id.as_ref().unwrap(),
    );
    std::fs::write(data.join("lists/picked.txt"), text).unwrap();
    let plan = plan_with(
        &env,
        "file",
        "[stages.picked]\nkind = \"fetch\"\nneeds = [\"seed\"]\nids_file = \"picked.txt\"\n",
        Some(&data),
    );
    let db_url = env.sqlite("file.db");
    let out = output(env.quick_plan(&plan, &db_url)).await;
    assert_exit(&out, 0);
    assert_eq!(stored(&db_url).await, ids(with_imdb.iter().map(|e| e.id)));
    let stats = env.sim.stats();
    let details: u64 = stats.routes["GET /3/movie/{id}"].values().sum();
    assert_eq!(
        details, 4,
        "each movie once, though the file names one twice"
    );
    assert_eq!(
        stats.routes["GET /3/find/{external_id}"]
            .values()
            .sum::<u64>(),
        3
    );
}

/// A line of an ids file that is not an id is an error of `popctl validate`, naming the file
/// and the line; nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ids_file_with_a_bad_line_fails_validate_naming_file_and_line() {
    let env = Env::new(small_sim()).await;
    let data = env.path("data");
    std::fs::create_dir_all(data.join("lists")).unwrap();
    std::fs::write(
        data.join("lists/picked.txt"),
        "# picks\n603\ntt0133093\n60 3\n",
    )
    .unwrap();
    let plan = plan_with(
        &env,
        "bad",
        "[stages.picked]\nkind = \"fetch\"\nneeds = [\"seed\"]\nids_file = \"picked.txt\"\n",
        Some(&data),
    );
    let mut cmd = popctl();
    cmd.arg("validate")
        .arg(&plan)
        .env("TMDB_API_KEY", "k")
        .env("OMDB_API_KEY", "k");
    let out = output(cmd).await;
    assert_exit(&out, 2);
    let said = flat(&(stdout(&out) + &stderr(&out)));
    assert!(said.contains("picked.txt:4"), "{said}");
    assert!(
        said.contains("`60 3` is neither a TMDB id nor an IMDb id"),
        "{said}"
    );
    let asked: u64 = env
        .sim
        .stats()
        .routes
        .values()
        .flat_map(|m| m.values())
        .sum();
    assert_eq!(asked, 0, "validate asks nothing");
}

/// A list, a person and a search naming the same movies: each movie is fetched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_a_person_and_a_search_naming_the_same_movies_fetch_each_once() {
    let env = Env::new(small_sim()).await;
    let catalog = env.sim.catalog();
    let (person, filmography, _) = a_credited_person(catalog);
    // A list holding one of the person's movies, and a movie of it a search finds.
    let list = (1..5000)
        .map(|n| n.to_string())
        .find(|n| {
            catalog
                .user_list_ids(n)
                .iter()
                .any(|m| filmography.contains(&i64::from(*m)))
        })
        .expect("a list with one of the person's movies");
    let listed: Vec<u32> = catalog.user_list_ids(&list);
    let (searched, title, year) = a_searchable(catalog, &listed);
    let by_person: Vec<u32> = filmography.iter().map(|&m| m as u32).collect();
    let (also, also_title, also_year) = a_searchable(catalog, &by_person);
    let plan = plan_with(
        &env,
        "overlap",
        &format!(
            "[stages.listed]\nkind = \"fetch\"\nneeds = [\"seed\"]\ntmdb_list = {list}\n\n\
             [stages.credited]\nkind = \"fetch\"\nneeds = [\"seed\"]\nperson = {{ id = {person} }}\n\n\
             [stages.searched]\nkind = \"fetch\"\nneeds = [\"seed\"]\n\
             search = [{{ title = {title:?}, year = {year} }}, {{ title = {also_title:?}, year = {also_year} }}]\n"
        ),
        None,
    );
    let db_url = env.sqlite("overlap.db");
    let out = output(env.quick_plan(&plan, &db_url)).await;
    assert_exit(&out, 0);
    let expected: BTreeSet<i64> = ids(listed.iter().copied())
        .union(&filmography)
        .copied()
        .collect();
    assert!(expected.contains(&i64::from(searched)) && expected.contains(&i64::from(also)));
    assert!(
        ids(listed.iter().copied())
            .intersection(&filmography)
            .count()
            >= 1,
        "the stages overlap"
    );
    assert_eq!(stored(&db_url).await, expected);
    let stats = env.sim.stats();
    let details: u64 = stats.routes["GET /3/movie/{id}"].values().sum();
    assert_eq!(details, expected.len() as u64, "each movie fetched once");
    assert_eq!(stats.routes["GET /3/person/{id}/movie_credits"][&200], 1);
    assert_eq!(stats.routes["GET /3/search/movie"][&200], 2);
}

/// Real TMDB ids a plan names answer in the sandbox with a movie drawn from the id, the same in
/// every sandbox of the seed, and OMDb knows them by their IMDb ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tmdb_ids_answer_in_the_sandbox_with_the_same_movies_each_time() {
    let real = [550u32, 603, 680, 13];
    let mut digests = Vec::new();
    for round in 0..2 {
        let env = Env::new(small_sim()).await;
        let strays = real.iter().filter(|&&id| env.sim.catalog().is_stray(id));
        assert!(
            strays.count() >= 2,
            "{real:?}: fewer than 2 outside the catalog"
        );
        let plan = plan_with(
            &env,
            "real",
            "[stages.picked]\nkind = \"fetch\"\nneeds = [\"seed\"]\nids = [550, 603, 680, 13]\n\
             append = [\"external_ids\"]\n\n[stages.omdb]\nkind = \"enrich\"\nneeds = [\"picked\"]\n",
            None,
        );
        let db_url = env.sqlite(&format!("real-{round}.db"));
        let out = output(env.quick_plan(&plan, &db_url)).await;
        assert_exit(&out, 0);
        assert_eq!(stored(&db_url).await, ids(real));
        // Each one with an IMDb id was asked of OMDb by it, and OMDb answered.
        let with_imdb = real
            .iter()
            .filter(|&&id| env.sim.catalog().movie(id).unwrap().imdb_id.is_some())
            .count();
        assert!(with_imdb >= 3, "{with_imdb} of {real:?} have an IMDb id");
        assert_eq!(env.sim.stats().routes["GET /?i="][&200], with_imdb as u64);
        digests.push(digest(&db_url).await);
    }
    assert_eq!(digests[0], digests[1]);
}
