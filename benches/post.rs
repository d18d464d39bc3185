//! Post-processing at 10,000 movies. Run with `cargo bench --bench post`; it prints figures,
//! it asserts nothing.
//!
//! 1. The pure parts: the CRI of every movie and the computed recommendations, over synthetic
//!    seeded data (the same every run). Feature counts follow what TMDB returns for popular
//!    movies: 2–3 genres, about 10 keywords, 15 cast and 10 crew, drawn from shared pools with
//!    a power-law (Zipf–Mandelbrot) head, so a few genres, keywords and people are on many
//!    movies and most are on few. `POST_BENCH_MOVIES` changes the count.
//! 2. The steps against a database: every movie of a simulator catalog (details with
//!    credits, keywords, reviews, recommendations and similar, plus OMDb's record) saved into
//!    a SQLite file through the store, then `post_process` with `cri_scores` and
//!    `recommendations` timed, a first run (everything written) and a rerun (nothing
//!    changes). `POST_BENCH_DB_MOVIES` changes the count (default 10,000; 0 skips this
//!    part). Raw bodies are not stored: the steps never read them, and leaving them out keeps
//!    the fill short.
//!    `RUST_LOG=popctl=debug` adds the phases of the recommendations step.

#![expect(
    clippy::disallowed_methods,
    reason = "the bench prepares and reads back its database by SQL"
)]
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a benchmark reports on stdout

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use popctl::plan::{PostProcessStage, PostStep};
use popctl::sim::model::OmdbAnswer as SimOmdb;
use popctl::sim::{Catalog, Part};
use popctl::sources::omdb::mapping::{OmdbAnswer, omdb_answer};
use popctl::sources::tmdb::mapping::movie_bundle;
use popctl::stages::post::{PostEvent, PostReport, execute};
use popctl::store::{self, enrichment::save_omdb};

use popctl::stages::post::cri::{
    AuthorityKind, AwardCounts, AwardResult, Cri, CriInputs, CriParams, ListMembership, Placement,
};
use popctl::stages::post::similarity::{MovieFeatures, SimilarityParams, similar_movies};

/// SplitMix64: small, seeded, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Draws ids `1..=size` with probability ∝ `1 / (rank + q)^s`.
struct Pool {
    cumulative: Vec<f64>,
}

impl Pool {
    fn new(size: usize, q: f64, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=size)
            .map(|k| {
                total += 1.0 / (k as f64 + q).powf(s);
                total
            })
            .collect();
        Pool { cumulative }
    }

    fn draw(&self, rng: &mut Rng) -> i64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.unit() * total;
        self.cumulative.partition_point(|c| *c < x) as i64 + 1
    }

    /// Between `lo` and `hi` draws; repeats are kept, as the stage dedups them.
    fn draw_n(&self, rng: &mut Rng, lo: u64, hi: u64) -> Vec<i64> {
        let n = rng.range(lo, hi);
        (0..n).map(|_| self.draw(rng)).collect()
    }
}

fn features(n: usize, rng: &mut Rng) -> Vec<MovieFeatures> {
    let genres = Pool::new(19, 1.0, 1.0);
    let keywords = Pool::new(20_000, 10.0, 1.0);
    let cast = Pool::new(60_000, 50.0, 1.0);
    let crew = Pool::new(40_000, 20.0, 1.0);
    (0..n)
        .map(|i| MovieFeatures {
            movie_id: i as i64 + 1,
            genres: genres.draw_n(rng, 2, 3),
            keywords: keywords.draw_n(rng, 6, 14),
            cast: cast.draw_n(rng, 10, 20),
            crew: crew.draw_n(rng, 6, 14),
        })
        .collect()
}

fn cri_inputs(n: usize, rng: &mut Rng) -> Vec<CriInputs> {
    let kinds = [
        AuthorityKind::Award,
        AuthorityKind::Collection,
        AuthorityKind::Critic,
        AuthorityKind::Platform,
    ];
    (0..n)
        .map(|_| {
            let mut lists = Vec::new();
            for _ in 0..3 {
                if !rng.chance(0.1) {
                    continue;
                }
                let placement = match rng.range(0, 3) {
                    0 => Placement::Ranked {
                        position: rng.range(1, 250) as u32,
                    },
                    1 => Placement::Unranked,
                    2 => Placement::Award(AwardResult::Won),
                    _ => Placement::Award(AwardResult::Nominated),
                };
                lists.push(ListMembership {
                    trust: rng.unit(),
                    kind: kinds[rng.range(0, 3) as usize],
                    placement,
                });
            }
            let votes = |rng: &mut Rng, max: f64| (10f64.powf(rng.unit() * max.log10())) as u64;
            CriInputs {
                lists: Some(lists),
                awards: rng.chance(0.7).then(|| AwardCounts {
                    oscar_wins: if rng.chance(0.05) {
                        rng.range(1, 11) as u32
                    } else {
                        0
                    },
                    oscar_nominations: if rng.chance(0.1) {
                        rng.range(1, 8) as u32
                    } else {
                        0
                    },
                    wins: rng.range(0, 120) as u32,
                    nominations: rng.range(0, 200) as u32,
                }),
                rotten_tomatoes: rng.chance(0.8).then(|| rng.range(0, 100) as f64),
                metacritic: rng.chance(0.7).then(|| rng.range(10, 100) as f64),
                imdb_rating: rng.chance(0.9).then(|| 1.0 + rng.unit() * 9.0),
                imdb_votes: rng.chance(0.9).then(|| votes(rng, 3e6)),
                tmdb_vote_average: Some(rng.unit() * 10.0),
                tmdb_vote_count: Some(votes(rng, 4e4)),
                tmdb_popularity: Some(10f64.powf(rng.unit() * 3.0)),
                release_year: Some(rng.range(1920, 2025) as i32),
            }
        })
        .collect()
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Saves every movie of `catalog` into `db` as a fetch and an OMDb enrich stage would.
async fn fill(db: &sea_orm::DatabaseConnection, catalog: &Catalog) {
    let parts = [
        Part::Credits,
        Part::Keywords,
        Part::Reviews,
        Part::Recommendations,
        Part::Similar,
    ];
    for e in catalog.entries() {
        let mut bundle = movie_bundle(&catalog.details_body(e.id, &parts).unwrap()).unwrap();
        bundle.raw_body = None;
        store::save_movie(db, &bundle, 0).await.unwrap();
        let Some(imdb) = &e.imdb_id else { continue };
        if let Some(SimOmdb::Movie(m)) = catalog.omdb(imdb, false) {
            let body = serde_json::to_vec(&m).unwrap();
            if let OmdbAnswer::Found(mut record) = omdb_answer(200, &body).unwrap() {
                record.raw_body = None;
                save_omdb(db, i64::from(e.id), &record).await.unwrap();
            }
        }
    }
}

/// Runs the steps, timing each through the progress events.
async fn timed(
    db: &sea_orm::DatabaseConnection,
    stage: &PostProcessStage,
    as_of: NaiveDate,
) -> (Duration, Vec<(PostStep, Duration)>, PostReport) {
    let started = Mutex::new(Instant::now());
    let steps = Mutex::new(Vec::new());
    let start = Instant::now();
    let report = execute(db, stage, std::path::Path::new("."), as_of, &|e| match e {
        PostEvent::Started { .. } => *started.lock().unwrap() = Instant::now(),
        PostEvent::Working { .. } => {}
        PostEvent::Finished { report } => steps
            .lock()
            .unwrap()
            .push((report.step, started.lock().unwrap().elapsed())),
    })
    .await
    .unwrap();
    (start.elapsed(), steps.into_inner().unwrap(), report)
}

async fn database(n: u32) {
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 15).unwrap();
    let catalog = Catalog::generate(42, n, as_of);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("post-bench.db").display());
    let db = store::connect(&url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let start = Instant::now();
    fill(&db, &catalog).await;
    let count = |sql: &str| {
        let db = db.clone();
        let sql = sql.to_owned();
        async move {
            use sea_orm::ConnectionTrait;
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    println!(
        "database: {n} catalog movies saved into a SQLite file in {} ({} credits, {} keywords \
         linked, {} TMDB recommendation/similar rows, {} external ratings)",
        secs(start.elapsed()),
        count("SELECT COUNT(*) FROM movie_credits").await,
        count("SELECT COUNT(*) FROM movie_keywords").await,
        count("SELECT COUNT(*) FROM movie_recommendations").await,
        count("SELECT COUNT(*) FROM external_ratings").await,
    );

    let stage = PostProcessStage {
        steps: vec![PostStep::CriScores, PostStep::Recommendations],
        cultural_lists: Default::default(),
        cri: Default::default(),
        recommendations: Default::default(),
        reviews: Default::default(),
    };
    for label in ["first run", "rerun"] {
        let (total, steps, report) = timed(&db, &stage, as_of).await;
        let each: Vec<String> = steps
            .iter()
            .map(|(s, d)| format!("{} {}", s.as_str(), secs(*d)))
            .collect();
        println!(
            "database, cri_scores + recommendations, {label}: {} ({}); {} rows written, {} removed",
            secs(total),
            each.join(", "),
            report.rows_written(),
            report.rows_deleted()
        );
        for step in &report.steps {
            println!("  {step}");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::var("POST_BENCH_MOVIES") {
        Ok(v) => v.parse()?,
        Err(_) => 10_000,
    };
    let mut rng = Rng(0x5EED_0FC0_FFEE);
    let movies = features(n, &mut rng);
    let inputs = cri_inputs(n, &mut rng);
    println!("post bench: {n} movies (synthetic, seeded)");

    let cri = Cri::new(CriParams::default(), 2025)?;
    let start = Instant::now();
    let scores: Vec<_> = inputs.iter().map(|i| cri.score(i)).collect();
    let cri_time = start.elapsed();
    let mean = scores.iter().map(|s| s.overall).sum::<f64>() / n.max(1) as f64;
    let conf = scores.iter().map(|s| s.confidence).sum::<f64>() / n.max(1) as f64;
    println!(
        "cri: {} for {n} movies (mean overall {mean:.1}, mean confidence {conf:.2})",
        secs(cri_time)
    );

    for (label, params) in [
        ("similarity (defaults)", SimilarityParams::default()),
        (
            "similarity (no common-feature cut)",
            SimilarityParams {
                common_share: 1.0,
                ..SimilarityParams::default()
            },
        ),
    ] {
        let start = Instant::now();
        let out = similar_movies(&movies, &params)?;
        let time = start.elapsed();
        let s = out.stats;
        let with_any = {
            let mut ids: Vec<_> = out.pairs.iter().map(|p| p.movie_id).collect();
            ids.dedup();
            ids.len()
        };
        let top1: Vec<f64> = out
            .pairs
            .iter()
            .filter(|p| p.rank == 1)
            .map(|p| p.score)
            .collect();
        println!(
            "{label}: {} for {n} movies on {} threads; {} pairs scored, {} common features \
             (on > {} movies), {} recommendations, {with_any} movies with at least one, \
             mean best score {:.3}",
            secs(time),
            s.threads,
            s.candidate_pairs,
            s.common_features,
            s.common_threshold,
            out.pairs.len(),
            top1.iter().sum::<f64>() / top1.len().max(1) as f64,
        );
    }

    // `RUST_LOG=popctl=debug` shows the phases of each step.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let db_movies: u32 = match std::env::var("POST_BENCH_DB_MOVIES") {
        Ok(v) => v.parse()?,
        Err(_) => 10_000,
    };
    if db_movies == 0 {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(database(db_movies));
    Ok(())
}
