//! Computed recommendations among the imported movies: for every movie, the `top_n` most
//! similar others by shared genres, keywords, cast and crew.
//!
//! The score of a pair is a weighted sum of one Jaccard index per feature family,
//! `Σ w_f · |A_f ∩ B_f| / |A_f ∪ B_f|` with the weights scaled to sum to 1, so it lies in
//! `0..=1`. A family that one of the two movies lacks contributes 0: similarity needs evidence,
//! and a movie whose keywords were never fetched must not look like a perfect match.
//!
//! Comparing all pairs is 50 million pairs at 10,000 movies, so candidates come from inverted
//! indexes (feature → movies): a movie is compared only with movies it shares a feature with.
//! The cost of that is `Σ df²` over the features, which the few most common features dominate
//! ("Drama" is on about a third of all movies; a prolific composer on hundreds). So features
//! carried by more than `common_share` of the movies (and by more than [`COMMON_FLOOR`]
//! movies) do not *propose* candidates. They still *count* in the score of every pair found
//! through a rarer shared feature, so every score reported is exact. What is lost are pairs
//! whose only links are very common features, such as two movies that are both dramas and
//! nothing else: such a pair says little about taste, and ranking thousands of them would
//! come down to tie-breaking. A movie with no rarer link gets fewer than `top_n` results,
//! which is more honest than padding. Set `common_share` to 1 to compare every pair that
//! shares anything.
//!
//! Results are deterministic: ties are broken by the lower movie id, and the work split over
//! threads does not change what is found. [`similar_movies`] blocks while it uses every core
//! (scoped threads); async callers run it under `tokio::task::spawn_blocking`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::plan::RecommendationSettings;

/// Features on at most this many movies always propose candidates, however small the
/// collection: below it the index is cheap whatever the share.
pub const COMMON_FLOOR: usize = 100;

const FAMILIES: usize = 4;
const FAMILY_NAMES: [&str; FAMILIES] = ["genres", "keywords", "cast", "crew"];
/// Feature ids below this are kept as they are while the index is built; larger ones (and
/// negative ones) get stand-ins from `SMALL` up.
const SMALL: u32 = 1 << 31;
/// Movies a worker takes at a time; small enough to balance uneven movies over threads.
const BLOCK: usize = 32;

/// What one movie is made of. Ids are whatever the caller uses consistently (TMDB ids);
/// repeats inside a family count once (crew lists repeat a person who has two jobs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovieFeatures {
    pub movie_id: i64,
    pub genres: Vec<i64>,
    pub keywords: Vec<i64>,
    pub cast: Vec<i64>,
    pub crew: Vec<i64>,
}

impl MovieFeatures {
    /// Its families in [`FeatureFamily::ALL`]'s order.
    fn families(&self) -> [&[i64]; FAMILIES] {
        [&self.genres, &self.keywords, &self.cast, &self.crew]
    }
}

/// A kind of feature two movies can share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureFamily {
    Genre,
    Keyword,
    Cast,
    Crew,
}

impl FeatureFamily {
    /// Every family, in the order of their weights.
    pub const ALL: [FeatureFamily; FAMILIES] = [
        FeatureFamily::Genre,
        FeatureFamily::Keyword,
        FeatureFamily::Cast,
        FeatureFamily::Crew,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// The plan's settings for computed recommendations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarityParams {
    pub genres: f64,
    pub keywords: f64,
    pub cast: f64,
    pub crew: f64,
    /// Recommendations kept per movie.
    pub top_n: usize,
    /// Pairs scoring below this (`0..=1`) are not recommendations.
    pub min_score: f64,
    /// Share of movies (`0 < x <= 1`) above which a feature stops proposing candidates.
    pub common_share: f64,
}

/// Share of movies above which a feature stops proposing candidates when nothing says
/// otherwise; not a plan setting.
pub const DEFAULT_COMMON_SHARE: f64 = 0.05;

impl From<&RecommendationSettings> for SimilarityParams {
    fn from(s: &RecommendationSettings) -> Self {
        SimilarityParams {
            genres: s.weights.genres,
            keywords: s.weights.keywords,
            cast: s.weights.cast,
            crew: s.weights.crew,
            top_n: s.top_n as usize,
            min_score: s.min_score,
            common_share: DEFAULT_COMMON_SHARE,
        }
    }
}

/// The plan's defaults (`RecommendationSettings::default`), declared once in the plan model.
impl Default for SimilarityParams {
    fn default() -> Self {
        SimilarityParams::from(&RecommendationSettings::default())
    }
}

impl SimilarityParams {
    /// Checks the settings as [`similar_movies`] does, without computing anything, so a
    /// caller can refuse bad settings before it writes.
    pub fn check(&self) -> Result<(), SimilarityError> {
        check(self).map(|_| ())
    }
}

/// One computed recommendation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similar {
    pub movie_id: i64,
    pub similar_id: i64,
    /// `0..=1`.
    pub score: f64,
    /// 1 for the most similar.
    pub rank: u32,
}

/// What the computation did, for the run report and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimilarityStats {
    pub movies: usize,
    /// Pairs scored (each unordered pair counts twice, once from each side).
    pub candidate_pairs: u64,
    /// Distinct features that were too common to propose candidates.
    pub common_features: usize,
    /// Movies a feature could be on and still propose candidates.
    pub common_threshold: usize,
    pub threads: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimilarityOutcome {
    /// Sorted by `movie_id`, then `rank`.
    pub pairs: Vec<Similar>,
    pub stats: SimilarityStats,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimilarityError {
    #[error("movie {movie_id} appears twice in the similarity input")]
    #[diagnostic(
        code(popctl::post::duplicate_movie),
        help("this is a bug in how the stage reads movies, please report it")
    )]
    DuplicateMovie { movie_id: i64 },
    #[error(
        "recommendation weight `{name}` is {value}; a weight must be a finite number, 0 or more"
    )]
    #[diagnostic(code(popctl::post::similarity_weight))]
    Weight { name: &'static str, value: f64 },
    #[error("every recommendation weight is 0, so no pair could score")]
    #[diagnostic(
        code(popctl::post::similarity_no_weight),
        help("give genres, keywords, cast or crew a positive weight")
    )]
    NoWeight,
    #[error("recommendation `min_score` is {value}; it must be between 0 and 1")]
    #[diagnostic(code(popctl::post::min_score))]
    MinScore { value: f64 },
    #[error("recommendation `common_share` is {value}; it must be above 0 and at most 1")]
    #[diagnostic(
        code(popctl::post::common_share),
        help("1 lets every feature propose candidates; the default is 0.05")
    )]
    CommonShare { value: f64 },
    #[error("{count} movies are more than the similarity index can hold")]
    #[diagnostic(code(popctl::post::too_many_movies))]
    TooMany { count: usize },
    #[error("{count} memberships of {family} are more than the similarity index can hold")]
    #[diagnostic(code(popctl::post::too_many_features))]
    TooManyFeatures { family: &'static str, count: usize },
}

/// Memberships of one family the index takes: the rows' offsets are `u32`s, and a row of
/// packed features takes at most 5 bytes each.
const MAX_MEMBERSHIPS: usize = (u32::MAX / 5) as usize;

/// The offsets of `rows` rows to come, holding the first one's start: each row pushed adds
/// its end.
fn row_offsets(rows: usize) -> Vec<u32> {
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0);
    offsets
}

/// Rows of `u32`s in one allocation.
#[derive(Debug, Default)]
struct Rows {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Rows {
    fn with_rows(rows: usize) -> Self {
        Rows {
            offsets: row_offsets(rows),
            items: Vec::new(),
        }
    }

    fn row(&self, i: usize) -> &[u32] {
        &self.items[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// Rows of ascending `u32`s, each stored as the LEB128 varint of its difference from the one
/// before (the first from 0): one to three bytes for a movie's dense feature ids instead of
/// four. A movie's features are read once per search of it, so decoding them costs nothing
/// that shows; the postings, read for every candidate, stay plain. With the offsets as `u32`s,
/// the recommendations step at 100,000 movies peaked 12 MB lower (docs/benchmarks.md).
#[derive(Debug, Default)]
struct Packed {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

impl Packed {
    fn with_rows(rows: usize) -> Self {
        Packed {
            offsets: row_offsets(rows),
            bytes: Vec::new(),
        }
    }

    /// Appends a row of `values`, ascending. The caller keeps the bytes within `u32` (at most
    /// [`MAX_MEMBERSHIPS`] values in all).
    fn push_row(&mut self, values: impl IntoIterator<Item = u32>) {
        let mut last = 0;
        for v in values {
            let mut delta = v - last;
            last = v;
            while delta >= 0x80 {
                self.bytes.push((delta as u8 & 0x7f) | 0x80);
                delta >>= 7;
            }
            self.bytes.push(delta as u8);
        }
        self.offsets.push(self.bytes.len() as u32);
    }

    fn row(&self, i: usize) -> Unpack<'_> {
        Unpack {
            bytes: &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize],
            last: 0,
        }
    }
}

/// The values of a [`Packed`] row.
struct Unpack<'a> {
    bytes: &'a [u8],
    last: u32,
}

impl Iterator for Unpack<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let mut delta = 0u32;
        let mut shift = 0;
        loop {
            let (&b, rest) = self.bytes.split_first()?;
            self.bytes = rest;
            delta |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        self.last += delta;
        Some(self.last)
    }
}

/// One feature family, interned to dense ids.
struct Family {
    /// Per movie: its features, sorted and deduplicated.
    sets: Packed,
    /// Per movie: its common features as a bitset of `words` words. Common features are few
    /// (at most one per `threshold` memberships), and a popcount beats merging lists in the
    /// scoring loop, which runs for every candidate pair. Moved into [`Profiles`] once the
    /// index is built.
    common_bits: Vec<u64>,
    words: usize,
    /// Per feature: the movies carrying it, ascending; empty for features that propose no
    /// candidates (common ones, and those on a single movie).
    postings: Rows,
}

/// Computes the top `top_n` similar movies of every movie.
pub fn similar_movies(
    movies: &[MovieFeatures],
    params: &SimilarityParams,
) -> Result<SimilarityOutcome, SimilarityError> {
    compute(movies, params, COMMON_FLOOR)
}

/// [`similar_movies`] with the floor as a parameter, so tests can cut small collections.
fn compute(
    movies: &[MovieFeatures],
    params: &SimilarityParams,
    floor: usize,
) -> Result<SimilarityOutcome, SimilarityError> {
    let index = SimilarityIndex::with_floor(movies, params, floor)?;
    let (pairs, candidate_pairs) = index.similar(0..index.len());
    Ok(SimilarityOutcome {
        pairs,
        stats: SimilarityStats {
            candidate_pairs,
            ..index.stats()
        },
    })
}

/// The movies' features interned and indexed, built once; [`SimilarityIndex::similar`] then
/// computes the top lists of any range of them, so a caller can write the results a range at
/// a time instead of holding every movie's at once (a million rows at 100,000 movies).
pub struct SimilarityIndex {
    families: Vec<Family>,
    profiles: Profiles,
    /// The movies' ids, ascending: position `i` is movie `ids[i]`.
    ids: Vec<i64>,
    weights: [f64; FAMILIES],
    params: SimilarityParams,
    common_features: usize,
    threshold: usize,
    threads: usize,
}

impl SimilarityIndex {
    /// Checks the settings and indexes `movies` (in any order; each once).
    pub fn new(
        movies: &[MovieFeatures],
        params: &SimilarityParams,
    ) -> Result<SimilarityIndex, SimilarityError> {
        SimilarityIndex::with_floor(movies, params, COMMON_FLOOR)
    }

    fn with_floor(
        movies: &[MovieFeatures],
        params: &SimilarityParams,
        floor: usize,
    ) -> Result<SimilarityIndex, SimilarityError> {
        let mut builder =
            IndexBuilder::with_floor(movies.iter().map(|m| m.movie_id).collect(), params, floor)?;
        for m in movies {
            let at = builder
                .position(m.movie_id)
                .expect("the builder holds every movie it was given");
            for (family, features) in FeatureFamily::ALL.into_iter().zip(m.families()) {
                for &feature in features {
                    builder.add(family, at, feature);
                }
            }
        }
        builder.build()
    }

    /// How many movies the index holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The position of movie `movie_id`, if the index holds it.
    pub fn position(&self, movie_id: i64) -> Option<usize> {
        self.ids.binary_search(&movie_id).ok()
    }

    /// The ids of the movies at positions `range` (cut to the movies there are).
    pub fn ids(&self, range: std::ops::Range<usize>) -> &[i64] {
        &self.ids[range.start.min(self.len())..range.end.min(self.len())]
    }

    /// What the index is, without the pairs scored (which [`SimilarityIndex::similar`] counts).
    pub fn stats(&self) -> SimilarityStats {
        SimilarityStats {
            movies: self.len(),
            candidate_pairs: 0,
            common_features: self.common_features,
            common_threshold: self.threshold,
            threads: self.threads,
        }
    }

    /// The top lists of the movies at positions `range` (movies in id order), sorted by
    /// movie id then rank, and the number of pairs scored for them. Blocks while it uses every
    /// core.
    pub fn similar(&self, range: std::ops::Range<usize>) -> (Vec<Similar>, u64) {
        let range = range.start.min(self.len())..range.end.min(self.len());
        self.similar_at(&range.collect::<Vec<_>>())
    }

    /// [`SimilarityIndex::similar`] for the movies at `positions`, distinct and in any order
    /// (a caller writing by row id takes them in that order); the results come sorted by
    /// position, then rank.
    pub fn similar_at(&self, positions: &[usize]) -> (Vec<Similar>, u64) {
        let next = AtomicUsize::new(0);
        let search = Search {
            families: &self.families,
            profiles: &self.profiles,
            weights: self.weights,
            params: &self.params,
            n: self.len(),
            positions,
        };
        let threads = self
            .threads
            .clamp(1, positions.len().div_ceil(BLOCK).max(1));
        let mut found: Vec<TopList> = Vec::with_capacity(positions.len());
        let mut candidate_pairs = 0;
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| search.run(&next)))
                .collect();
            for w in workers {
                // A panic in a worker is a bug; re-raise it rather than return partial results.
                let (part, pairs) = w.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                found.extend(part);
                candidate_pairs += pairs;
            }
        });
        found.sort_unstable_by_key(|(a, _)| *a);

        let mut pairs = Vec::with_capacity(found.iter().map(|(_, v)| v.len()).sum());
        for (a, top) in found {
            for (rank, (b, score)) in (1..).zip(top) {
                pairs.push(Similar {
                    movie_id: self.ids[a],
                    similar_id: self.ids[b as usize],
                    score,
                    rank,
                });
            }
        }
        (pairs, candidate_pairs)
    }
}

/// Builds a [`SimilarityIndex`] from features given one at a time, in any order, so a caller
/// reading them from a database holds each membership once, as two `u32`s, instead of every
/// movie's features as [`MovieFeatures`] (at 100,000 movies: 2.5 million memberships, 20 MB
/// against 55). Feature ids are made dense by sorting when the index is built, not through a
/// map while they arrive (another 9 MB for the 240,000 people of 100,000 movies).
pub struct IndexBuilder {
    /// The movies' ids, ascending: position `i` is movie `ids[i]`.
    ids: Vec<i64>,
    /// Per family: ids outside `0..SMALL` (none, for the rows' own ids) → `SMALL + n`.
    large: [HashMap<i64, u32>; FAMILIES],
    /// Per family: (position, feature id or its stand-in from `large`), repeats and all.
    memberships: [Vec<(u32, u32)>; FAMILIES],
    weights: [f64; FAMILIES],
    params: SimilarityParams,
    floor: usize,
    /// [`MAX_MEMBERSHIPS`]; a test lowers it to see the error.
    max_memberships: usize,
}

impl IndexBuilder {
    /// Checks the settings and takes the movies' ids (in any order; each once).
    pub fn new(
        movie_ids: Vec<i64>,
        params: &SimilarityParams,
    ) -> Result<IndexBuilder, SimilarityError> {
        IndexBuilder::with_floor(movie_ids, params, COMMON_FLOOR)
    }

    fn with_floor(
        mut ids: Vec<i64>,
        params: &SimilarityParams,
        floor: usize,
    ) -> Result<IndexBuilder, SimilarityError> {
        let weights = check(params)?;
        if u32::try_from(ids.len()).is_err() {
            return Err(SimilarityError::TooMany { count: ids.len() });
        }
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(SimilarityError::DuplicateMovie { movie_id: w[0] });
        }
        Ok(IndexBuilder {
            ids,
            large: Default::default(),
            memberships: Default::default(),
            weights,
            params: *params,
            floor,
            max_memberships: MAX_MEMBERSHIPS,
        })
    }

    /// The position of movie `movie_id`, which [`IndexBuilder::add`] takes; `None` when it is
    /// not one of the movies.
    pub fn position(&self, movie_id: i64) -> Option<usize> {
        self.ids.binary_search(&movie_id).ok()
    }

    /// The movies' ids by position.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Gives the movie at `position` (from [`IndexBuilder::position`]) a feature; a feature
    /// given twice counts once.
    ///
    /// # Panics
    /// When `position` is not one of the movies' positions.
    pub fn add(&mut self, family: FeatureFamily, position: usize, feature: i64) {
        assert!(position < self.ids.len(), "no movie at position {position}");
        let f = family.index();
        let key = match u32::try_from(feature) {
            Ok(small) if small < SMALL => small,
            _ => {
                let large = &mut self.large[f];
                let next = SMALL.saturating_add(u32::try_from(large.len()).unwrap_or(u32::MAX));
                *large.entry(feature).or_insert(next)
            }
        };
        // Fewer than 2^32 movies (checked in `new`), so a position fits.
        self.memberships[f].push((position as u32, key));
    }

    /// Indexes what was given.
    pub fn build(self) -> Result<SimilarityIndex, SimilarityError> {
        let n = self.ids.len();
        let share_limit = (self.params.common_share * n as f64).ceil();
        let threshold = self.floor.max(share_limit as usize);
        if let Some((family, m)) = FAMILY_NAMES
            .into_iter()
            .zip(&self.memberships)
            .find(|(_, m)| m.len() > self.max_memberships)
        {
            return Err(SimilarityError::TooManyFeatures {
                family,
                count: m.len(),
            });
        }
        let mut common_features = 0;
        let mut families = Vec::with_capacity(FAMILIES);
        for memberships in self.memberships {
            let (family, common) = build_family(n, memberships, threshold);
            common_features += common;
            families.push(family);
        }
        let profiles = Profiles::build(n, &mut families);
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, n.div_ceil(BLOCK).max(1));
        Ok(SimilarityIndex {
            families,
            profiles,
            ids: self.ids,
            weights: self.weights,
            params: self.params,
            common_features,
            threshold,
            threads,
        })
    }
}

/// The family weights scaled to sum to 1.
fn check(p: &SimilarityParams) -> Result<[f64; FAMILIES], SimilarityError> {
    let weights = [p.genres, p.keywords, p.cast, p.crew];
    for (name, value) in FAMILY_NAMES.into_iter().zip(weights) {
        if !value.is_finite() || value < 0.0 {
            return Err(SimilarityError::Weight { name, value });
        }
    }
    // Scaled by the largest first so the sum stays finite for any finite weights.
    let max = weights.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return Err(SimilarityError::NoWeight);
    }
    let weights = weights.map(|w| w / max);
    let total: f64 = weights.iter().sum();
    if !(0.0..=1.0).contains(&p.min_score) {
        return Err(SimilarityError::MinScore { value: p.min_score });
    }
    if !(p.common_share > 0.0 && p.common_share <= 1.0) {
        return Err(SimilarityError::CommonShare {
            value: p.common_share,
        });
    }
    Ok(weights.map(|w| w / total))
}

/// Indexes one family of `n` movies from its memberships (position, feature). Returns the
/// family and how many of its features are common.
fn build_family(n: usize, mut memberships: Vec<(u32, u32)>, threshold: usize) -> (Family, usize) {
    // Dense feature ids, in feature order.
    memberships.sort_unstable_by_key(|&(a, x)| (x, a));
    let mut features = 0;
    let mut last = None;
    for (_, x) in &mut memberships {
        if last != Some(*x) {
            last = Some(*x);
            features += 1;
        }
        *x = features - 1;
    }
    memberships.sort_unstable();
    memberships.dedup();
    let mut sets = Packed::with_rows(n);
    let mut at = 0;
    for a in 0..n as u32 {
        let len = memberships[at..].partition_point(|&(p, _)| p == a);
        sets.push_row(memberships[at..at + len].iter().map(|&(_, x)| x));
        at += len;
    }
    let mut df = vec![0u32; features as usize];
    for &(_, x) in &memberships {
        df[x as usize] += 1;
    }
    // The packed sets say all the memberships do, in a fifth of the memory; the postings and
    // common bits below are filled from them, so the family's largest vector goes first.
    drop(memberships);
    let proposes = |x: u32| proposes_df(df[x as usize] as usize, threshold);
    // Common features get bit numbers in id order.
    let mut bit = vec![None; df.len()];
    let mut common_count = 0usize;
    for (x, &d) in df.iter().enumerate() {
        if d as usize > threshold {
            bit[x] = Some(common_count);
            common_count += 1;
        }
    }
    let words = common_count.div_ceil(64);
    let mut common_bits = vec![0u64; words * n];

    // Fewer memberships than `MAX_MEMBERSHIPS` (checked by the caller), so offsets fit.
    let mut postings = Rows::with_rows(df.len());
    let mut start = 0;
    for &d in &df {
        if proposes_df(d as usize, threshold) {
            start += d;
        }
        postings.offsets.push(start);
    }
    postings.items = vec![0; start as usize];
    let mut fill: Vec<u32> = postings.offsets[..df.len()].to_vec();
    // By movie, so each feature's movies come ascending.
    for a in 0..n as u32 {
        for x in sets.row(a as usize) {
            if proposes(x) {
                postings.items[fill[x as usize] as usize] = a;
                fill[x as usize] += 1;
            } else if let Some(b) = bit[x as usize] {
                common_bits[a as usize * words + b / 64] |= 1 << (b % 64);
            }
        }
    }
    (
        Family {
            sets,
            common_bits,
            words,
            postings,
        },
        common_count,
    )
}

/// What scoring a pair needs of each movie, in one row per movie: its set size per family,
/// then each family's common-feature bits. The scoring loop runs for every candidate pair
/// (hundreds of millions at 100,000 movies) and its candidates are all over the catalog, so
/// one row read where the families' own arrays would take eight.
struct Profiles {
    /// `u64`s per movie: the four sizes as `u32`s in two, then the families' words.
    stride: usize,
    /// Per family: where its common words start in a row, and how many there are.
    common: [(usize, usize); FAMILIES],
    rows: Vec<u64>,
}

impl Profiles {
    /// Takes the families' common bits over (they are only read through the profiles).
    fn build(n: usize, families: &mut [Family]) -> Profiles {
        let mut common = [(0, 0); FAMILIES];
        let mut stride = FAMILIES / 2;
        for (f, family) in families.iter().enumerate() {
            common[f] = (stride, family.words);
            stride += family.words;
        }
        let mut rows = Vec::with_capacity(n * stride);
        for a in 0..n {
            // A movie's features fit in memory as `u32`s, so their number fits in a `u32`.
            let size = |f: usize| families[f].sets.row(a).count() as u64;
            rows.push(size(0) | size(1) << 32);
            rows.push(size(2) | size(3) << 32);
            for family in families.iter() {
                let w = family.words;
                rows.extend_from_slice(&family.common_bits[a * w..(a + 1) * w]);
            }
        }
        for family in families.iter_mut() {
            family.common_bits = Vec::new();
        }
        Profiles {
            stride,
            common,
            rows,
        }
    }

    fn row(&self, a: usize) -> &[u64] {
        &self.rows[a * self.stride..(a + 1) * self.stride]
    }

    fn size(row: &[u64], f: usize) -> usize {
        ((row[f / 2] >> (32 * (f % 2))) & u64::from(u32::MAX)) as usize
    }

    fn common_shared(&self, a: &[u64], b: &[u64], f: usize) -> usize {
        let (at, words) = self.common[f];
        a[at..at + words]
            .iter()
            .zip(&b[at..at + words])
            .map(|(p, q)| (p & q).count_ones() as usize)
            .sum()
    }
}

fn proposes_df(df: usize, threshold: usize) -> bool {
    (2..=threshold).contains(&df)
}

/// A movie (by index) and its best matches (index, score), best first.
type TopList = (usize, Vec<(u32, f64)>);

struct Search<'a> {
    families: &'a [Family],
    profiles: &'a Profiles,
    weights: [f64; FAMILIES],
    params: &'a SimilarityParams,
    n: usize,
    /// The movies to search; `next` says how many of them are taken.
    positions: &'a [usize],
}

impl Search<'_> {
    /// Takes blocks of movies until none are left; returns each movie's top list and the
    /// number of pairs scored.
    fn run(&self, next: &AtomicUsize) -> (Vec<TopList>, u64) {
        let mut out = Vec::new();
        let mut shared = vec![[0u32; FAMILIES]; self.n];
        // `seen[b] == a + 1` marks b as a candidate of a, so nothing is cleared between movies.
        let mut seen = vec![0u32; self.n];
        let mut touched = Vec::new();
        let mut scored = Vec::new();
        let mut pairs = 0u64;
        loop {
            let start = next.fetch_add(BLOCK, Ordering::Relaxed);
            if start >= self.positions.len() {
                break;
            }
            let end = (start + BLOCK).min(self.positions.len());
            for &a in &self.positions[start..end] {
                self.candidates(a, &mut shared, &mut seen, &mut touched);
                pairs += touched.len() as u64;
                scored.clear();
                for &b in &touched {
                    let score = self.score(a, b as usize, &shared[b as usize]);
                    if score > 0.0 && score >= self.params.min_score {
                        scored.push((b, score));
                    }
                }
                out.push((a, top(&mut scored, self.params.top_n)));
            }
        }
        (out, pairs)
    }

    /// Fills `touched` with the movies sharing a proposing feature with `a`, and `shared[b]`
    /// with how many such features they share per family.
    fn candidates(
        &self,
        a: usize,
        shared: &mut [[u32; FAMILIES]],
        seen: &mut [u32],
        touched: &mut Vec<u32>,
    ) {
        touched.clear();
        let mark = a as u32 + 1;
        for (f, family) in self.families.iter().enumerate() {
            for x in family.sets.row(a) {
                for &b in family.postings.row(x as usize) {
                    let bi = b as usize;
                    if bi == a {
                        continue;
                    }
                    if seen[bi] != mark {
                        seen[bi] = mark;
                        shared[bi] = [0; FAMILIES];
                        touched.push(b);
                    }
                    shared[bi][f] += 1;
                }
            }
        }
    }

    /// The exact score of a candidate pair: the shared proposing features counted while
    /// gathering candidates, plus the shared common ones.
    fn score(&self, a: usize, b: usize, shared: &[u32; FAMILIES]) -> f64 {
        let (pa, pb) = (self.profiles.row(a), self.profiles.row(b));
        let mut score = 0.0;
        for (f, weight) in self.weights.iter().enumerate() {
            let inter = shared[f] as usize + self.profiles.common_shared(pa, pb, f);
            // Most candidates share nothing in most families: skip the division there.
            if inter > 0 {
                let union = Profiles::size(pa, f) + Profiles::size(pb, f) - inter;
                score += weight * inter as f64 / union as f64;
            }
        }
        score.clamp(0.0, 1.0)
    }
}

/// The best `n` by score, then by the lower index (= lower movie id), best first.
fn top(scored: &mut Vec<(u32, f64)>, n: usize) -> Vec<(u32, f64)> {
    let order = |x: &(u32, f64), y: &(u32, f64)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
    if n == 0 {
        return Vec::new();
    }
    if scored.len() > n {
        scored.select_nth_unstable_by(n - 1, order);
        scored.truncate(n);
    }
    scored.sort_unstable_by(order);
    scored.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn movie(
        id: i64,
        genres: &[i64],
        keywords: &[i64],
        cast: &[i64],
        crew: &[i64],
    ) -> MovieFeatures {
        MovieFeatures {
            movie_id: id,
            genres: genres.to_vec(),
            keywords: keywords.to_vec(),
            cast: cast.to_vec(),
            crew: crew.to_vec(),
        }
    }

    fn exact() -> SimilarityParams {
        SimilarityParams {
            min_score: 0.0,
            common_share: 1.0,
            ..SimilarityParams::default()
        }
    }

    fn run(movies: &[MovieFeatures], p: &SimilarityParams) -> Vec<(i64, i64, f64, u32)> {
        similar_movies(movies, p)
            .unwrap()
            .pairs
            .into_iter()
            .map(|s| (s.movie_id, s.similar_id, s.score, s.rank))
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_checked_scores() {
        // 1 and 2: genres {1,2} vs {1,3} → 1/3; keywords {10,11} vs {10,11} → 1;
        // cast {100} vs {101} → 0; crew {200} vs {200, 200} (a repeat) → 1.
        // 0.3/3 + 0.3 + 0 + 0.15 = 0.55.
        // 1 and 3: genres {1,2} vs {1,2} → 1, nothing else shared: 0.3.
        // 2 and 3: genres {1,3} vs {1,2} → 1/3: 0.1.
        let movies = [
            movie(1, &[1, 2], &[10, 11], &[100], &[200]),
            movie(2, &[1, 3], &[10, 11], &[101], &[200, 200]),
            movie(3, &[2, 1], &[], &[], &[]),
        ];
        let got = run(&movies, &exact());
        let want = [
            (1, 2, 0.55, 1),
            (1, 3, 0.3, 2),
            (2, 1, 0.55, 1),
            (2, 3, 0.1, 2),
            (3, 1, 0.3, 1),
            (3, 2, 0.1, 2),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0, g.1, g.3), (w.0, w.1, w.3), "{got:?}");
            assert!(close(g.2, w.2), "{g:?} != {w:?}");
        }
    }

    #[test]
    fn min_score_and_top_n_cut() {
        let movies = [
            movie(1, &[1, 2], &[10, 11], &[100], &[200]),
            movie(2, &[1, 3], &[10, 11], &[101], &[200]),
            movie(3, &[2, 1], &[], &[], &[]),
        ];
        let p = SimilarityParams {
            min_score: 0.2,
            top_n: 1,
            ..exact()
        };
        let got: Vec<_> = run(&movies, &p).iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(got, [(1, 2), (2, 1), (3, 1)]);
        let none = SimilarityParams {
            top_n: 0,
            ..exact()
        };
        assert!(run(&movies, &none).is_empty());
    }

    #[test]
    fn ties_go_to_the_lower_movie_id_whatever_the_input_order() {
        let mut movies = vec![
            movie(50, &[], &[7], &[], &[]),
            movie(9, &[], &[7], &[], &[]),
            movie(30, &[], &[7], &[], &[]),
            movie(12, &[], &[7], &[], &[]),
        ];
        let p = SimilarityParams {
            top_n: 2,
            ..exact()
        };
        let a = run(&movies, &p);
        movies.reverse();
        assert_eq!(a, run(&movies, &p));
        let of_50: Vec<_> = a.iter().filter(|s| s.0 == 50).map(|s| s.1).collect();
        assert_eq!(of_50, [9, 12]);
    }

    #[test]
    fn a_missing_family_scores_zero_not_a_perfect_match() {
        let movies = [
            movie(1, &[1], &[10, 11], &[100], &[200]),
            movie(2, &[1], &[], &[], &[]),
        ];
        let got = run(&movies, &exact());
        assert!(close(got[0].2, 0.3), "{got:?}");
    }

    #[test]
    fn common_features_count_in_scores_but_propose_nothing() {
        // Genre 1 is on all 150 movies (> COMMON_FLOOR); keyword 5 links only 0 and 1.
        let mut movies: Vec<_> = (0..150).map(|i| movie(i, &[1], &[], &[], &[])).collect();
        movies[0].keywords = vec![5];
        movies[1].keywords = vec![5];
        let p = SimilarityParams {
            common_share: 0.5,
            ..exact()
        };
        let out = similar_movies(&movies, &p).unwrap();
        assert_eq!(out.stats.common_features, 1);
        assert_eq!(out.stats.common_threshold, 100);
        let got: Vec<_> = out
            .pairs
            .iter()
            .map(|s| (s.movie_id, s.similar_id))
            .collect();
        assert_eq!(got, [(0, 1), (1, 0)]);
        // Both genre (common) and keyword count: 0.3 + 0.3.
        assert!(close(out.pairs[0].score, 0.6), "{:?}", out.pairs[0]);
        // Without the cut every movie gets genre-only matches.
        assert_eq!(
            run(
                &movies,
                &SimilarityParams {
                    top_n: 200,
                    ..exact()
                }
            )
            .len(),
            150 * 149
        );
    }

    #[test]
    fn common_features_beyond_one_word_of_bits_count_in_scores() {
        // 150 genres, each on up to 6 movies (above the floor of 2): three words of common
        // bits a movie. Keyword i / 2 pairs movie 2k with 2k + 1; the genres make every score differ.
        let movies: Vec<_> = (0..300)
            .map(|i| {
                movie(
                    i,
                    &[i % 150, (i * 7 + 3) % 150, (i * 13 + 5) % 150],
                    &[i / 2],
                    &[],
                    &[],
                )
            })
            .collect();
        let p = SimilarityParams {
            top_n: usize::MAX,
            min_score: 0.0,
            common_share: 0.001,
            ..exact()
        };
        let out = compute(&movies, &p, 2).unwrap();
        assert_eq!(out.stats.common_features, 150);
        let truth: HashMap<(i64, i64), f64> = brute_force(&movies, &p)
            .into_iter()
            .map(|(a, b, s)| ((a, b), s))
            .collect();
        assert_eq!(out.pairs.len(), 300);
        for s in &out.pairs {
            assert!(close(s.score, truth[&(s.movie_id, s.similar_id)]), "{s:?}");
        }
        assert!(
            out.pairs.iter().any(|s| s.score > 0.3 + 1e-9),
            "genres shared somewhere"
        );
    }

    #[test]
    fn a_common_feature_can_put_a_movie_first() {
        // Movie 1's keywords are 10, 11, 12; genre 1 is common (on 22 of 24 movies). Movies 2
        // and 3 share keywords 10 and 11 (0.3 · 2/3 = 0.2 each) and are found first; movie 4
        // shares keyword 12 and the common genre: 0.3 · 1/3 + 0.3 · 1/1 = 0.4, the best. (A
        // search that skips candidates by a bound of their score must count the genre in it.)
        let mut movies = vec![
            movie(1, &[1], &[10, 11, 12], &[], &[]),
            movie(2, &[], &[10, 11], &[], &[]),
            movie(3, &[], &[10, 11], &[], &[]),
            movie(4, &[1], &[12], &[], &[]),
        ];
        movies.extend((5..25).map(|i| movie(i, &[1], &[100 + i], &[], &[])));
        let p = SimilarityParams {
            top_n: 1,
            common_share: 0.5,
            ..exact()
        };
        let out = compute(&movies, &p, 2).unwrap();
        assert_eq!(out.stats.common_features, 1);
        let first = out.pairs.iter().find(|s| s.movie_id == 1).unwrap();
        assert_eq!(first.similar_id, 4, "{:?}", out.pairs);
        assert!(close(first.score, 0.4), "{first:?}");
    }

    #[test]
    fn bad_settings_and_input_are_errors() {
        let one = [movie(1, &[1], &[], &[], &[])];
        let twice = [movie(1, &[1], &[], &[], &[]), movie(1, &[2], &[], &[], &[])];
        let message = |m: &[MovieFeatures], p| similar_movies(m, &p).unwrap_err().to_string();
        assert!(message(&twice, exact()).contains("movie 1 appears twice"));
        let zero = SimilarityParams {
            genres: 0.0,
            keywords: 0.0,
            cast: 0.0,
            crew: 0.0,
            ..exact()
        };
        let e = exact();
        let cases = [
            (SimilarityParams { cast: -0.1, ..e }, "`cast`"),
            (
                SimilarityParams {
                    crew: f64::NAN,
                    ..e
                },
                "`crew`",
            ),
            (zero, "every recommendation weight is 0"),
            (
                SimilarityParams {
                    genres: f64::INFINITY,
                    ..e
                },
                "`genres`",
            ),
            (
                SimilarityParams {
                    min_score: 1.5,
                    ..e
                },
                "min_score",
            ),
            (
                SimilarityParams {
                    min_score: f64::NAN,
                    ..e
                },
                "min_score",
            ),
            (
                SimilarityParams {
                    common_share: 0.0,
                    ..e
                },
                "common_share",
            ),
        ];
        for (params, want) in cases {
            let got = message(&one, params);
            assert!(got.contains(want), "{params:?}: {got}");
        }
        assert!(similar_movies(&[], &exact()).unwrap().pairs.is_empty());
    }

    /// Every pair, the slow way, with the same formula.
    fn brute_force(movies: &[MovieFeatures], p: &SimilarityParams) -> Vec<(i64, i64, f64)> {
        let w = check(p).unwrap();
        let set = |m: &MovieFeatures, f: usize| {
            let mut v = m.families()[f].to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut out = Vec::new();
        for a in movies {
            for b in movies {
                if a.movie_id == b.movie_id {
                    continue;
                }
                let mut score = 0.0;
                for (f, wf) in w.iter().enumerate() {
                    let (sa, sb) = (set(a, f), set(b, f));
                    let inter = sa.iter().filter(|x| sb.contains(x)).count();
                    let union = sa.len() + sb.len() - inter;
                    if union > 0 {
                        score += wf * inter as f64 / union as f64;
                    }
                }
                out.push((a.movie_id, b.movie_id, score));
            }
        }
        out
    }

    fn movies_strategy() -> impl Strategy<Value = Vec<MovieFeatures>> {
        let ids = |pool: i64, max: usize| prop::collection::vec(0..pool, 0..max);
        prop::collection::vec((ids(6, 3), ids(30, 6), ids(40, 5), ids(20, 4)), 0..60).prop_map(
            |rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, (g, k, c, w))| MovieFeatures {
                        movie_id: (i as i64 * 7919) % 1000,
                        genres: g,
                        keywords: k,
                        cast: c,
                        crew: w,
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The movies a range at a time, ranges of any size one after another, give exactly
        /// what all of them at once give, and the pairs scored add up to the same count; so do
        /// the positions in another order.
        #[test]
        fn ranges_one_after_another_give_what_the_whole_gives(
            movies in movies_strategy(), step in 1..70usize,
        ) {
            let p = SimilarityParams { top_n: 5, ..exact() };
            let index = SimilarityIndex::new(&movies, &p).unwrap();
            let (whole, whole_scored) = index.similar(0..index.len());
            let (mut parts, mut scored) = (Vec::new(), 0);
            for start in (0..index.len()).step_by(step) {
                let (part, n) = index.similar(start..start + step);
                prop_assert!(part.iter().all(|s| index.ids(start..start + step).contains(&s.movie_id)));
                parts.extend(part);
                scored += n;
            }
            let reversed: Vec<usize> = (0..index.len()).rev().collect();
            prop_assert_eq!(&index.similar_at(&reversed).0, &whole);
            prop_assert_eq!(parts, whole);
            prop_assert_eq!(scored, whole_scored);
            prop_assert_eq!(index.ids(0..usize::MAX).len(), movies.len());
        }

        /// Features given as a database gives them, family by family over all movies, last
        /// movie first, some twice, build the index the movies give one by one.
        #[test]
        fn features_in_any_order_build_the_same_index(
            movies in movies_strategy(), floor in 2..6usize, repeat in 1..4usize,
        ) {
            let p = SimilarityParams { top_n: 5, common_share: 0.3, ..exact() };
            let want = compute(&movies, &p, floor).unwrap();
            let mut builder =
                IndexBuilder::with_floor(movies.iter().map(|m| m.movie_id).collect(), &p, floor)
                    .unwrap();
            for (f, family) in FeatureFamily::ALL.into_iter().enumerate() {
                for m in movies.iter().rev() {
                    let at = builder.position(m.movie_id).unwrap();
                    for (i, &x) in m.families()[f].iter().enumerate() {
                        for _ in 0..if i % repeat == 0 { 2 } else { 1 } {
                            builder.add(family, at, x);
                        }
                    }
                }
            }
            let index = builder.build().unwrap();
            let (pairs, scored) = index.similar(0..index.len());
            prop_assert_eq!(index.stats().common_features, want.stats.common_features);
            prop_assert_eq!(scored, want.stats.candidate_pairs);
            prop_assert_eq!(pairs, want.pairs);
        }

        /// Feature ids anywhere in `i64` (negative, beyond `u32`, mixed with small ones) give
        /// what the same features under small ids give.
        #[test]
        fn feature_ids_of_any_size_give_the_same_index(movies in movies_strategy()) {
            let p = SimilarityParams { top_n: 5, ..exact() };
            let want = compute(&movies, &p, 2).unwrap();
            let far = |x: i64| match x % 3 {
                0 => x,
                1 => -x - 1,
                _ => x + i64::from(u32::MAX),
            };
            let moved: Vec<MovieFeatures> = movies
                .iter()
                .map(|m| MovieFeatures {
                    movie_id: m.movie_id,
                    genres: m.genres.iter().copied().map(far).collect(),
                    keywords: m.keywords.iter().copied().map(far).collect(),
                    cast: m.cast.iter().copied().map(far).collect(),
                    crew: m.crew.iter().copied().map(far).collect(),
                })
                .collect();
            prop_assert_eq!(compute(&moved, &p, 2).unwrap(), want);
        }

        /// Without the common-feature cut the index finds exactly the brute-force top lists.
        #[test]
        fn index_matches_brute_force(movies in movies_strategy(), top_n in 1..8usize, min in 0.0..0.5f64) {
            let p = SimilarityParams { top_n, min_score: min, ..exact() };
            let mut want = brute_force(&movies, &p);
            want.retain(|(_, _, s)| *s > 0.0 && *s >= min);
            want.sort_by(|x, y| x.0.cmp(&y.0).then(y.2.total_cmp(&x.2)).then(x.1.cmp(&y.1)));
            let mut kept = Vec::new();
            let mut rank = 0;
            for (i, w) in want.iter().enumerate() {
                rank = if i > 0 && want[i - 1].0 == w.0 { rank + 1 } else { 1 };
                if rank <= top_n { kept.push(*w); }
            }
            let got: Vec<_> = run(&movies, &p).into_iter().map(|(a, b, s, _)| (a, b, s)).collect();
            prop_assert_eq!(got.len(), kept.len());
            for (g, w) in got.iter().zip(&kept) {
                prop_assert_eq!((g.0, g.1), (w.0, w.1));
                prop_assert!(close(g.2, w.2));
            }
        }

        /// With a cut, every reported score is still exact, and every pair left out shares no
        /// feature below the cut.
        #[test]
        fn the_cut_only_drops_pairs_linked_by_common_features(
            movies in movies_strategy(), floor in 2..12usize,
        ) {
            let p = SimilarityParams { top_n: usize::MAX, min_score: 0.0, common_share: 0.01, ..exact() };
            let out = compute(&movies, &p, floor).unwrap();
            let truth: HashMap<(i64, i64), f64> =
                brute_force(&movies, &p).into_iter().map(|(a, b, s)| ((a, b), s)).collect();
            for s in &out.pairs {
                prop_assert!(close(s.score, truth[&(s.movie_id, s.similar_id)]));
            }
            let found: std::collections::HashSet<_> =
                out.pairs.iter().map(|s| (s.movie_id, s.similar_id)).collect();
            let mut df: HashMap<(usize, i64), usize> = HashMap::new();
            for m in &movies {
                for f in 0..FAMILIES {
                    let mut set = m.families()[f].to_vec();
                    set.sort_unstable();
                    set.dedup();
                    for x in set {
                        *df.entry((f, x)).or_default() += 1;
                    }
                }
            }
            for ((a, b), score) in truth {
                if score > 0.0 && !found.contains(&(a, b)) {
                    let (ma, mb) = (
                        movies.iter().find(|m| m.movie_id == a).unwrap(),
                        movies.iter().find(|m| m.movie_id == b).unwrap(),
                    );
                    for f in 0..FAMILIES {
                        for x in ma.families()[f].iter().filter(|x| mb.families()[f].contains(x)) {
                            prop_assert!(df[&(f, *x)] > out.stats.common_threshold,
                                "pair {a}-{b} shares rare feature {x} of {} yet was dropped", FAMILY_NAMES[f]);
                        }
                    }
                }
            }
        }

        /// Packed rows give back what went in, small and large values, empty rows and all.
        #[test]
        fn packed_rows_give_back_their_values(
            rows in prop::collection::vec(
                prop::collection::btree_set(prop_oneof![0u32..300, any::<u32>()], 0..20),
                0..30,
            ),
        ) {
            let mut packed = Packed::with_rows(rows.len());
            for row in &rows {
                packed.push_row(row.iter().copied());
            }
            for (i, row) in rows.iter().enumerate() {
                prop_assert_eq!(packed.row(i).collect::<Vec<_>>(), row.iter().copied().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn packed_rows_hold_the_ends_of_u32() {
        let mut packed = Packed::with_rows(2);
        packed.push_row([0, 1, 127, 128, 16_383, 16_384, u32::MAX - 1, u32::MAX]);
        packed.push_row([u32::MAX]);
        assert_eq!(
            packed.row(0).collect::<Vec<_>>(),
            [0, 1, 127, 128, 16_383, 16_384, u32::MAX - 1, u32::MAX]
        );
        assert_eq!(packed.row(1).collect::<Vec<_>>(), [u32::MAX]);
        // Differences 0, 1, 126, 1 (a byte each), 16,255 (two), 1, then u32::MAX - 16,385 (five)
        // and 1; the second row's one value takes five.
        assert_eq!(packed.bytes.len(), 13 + 5);
    }

    #[test]
    fn more_memberships_than_the_index_holds_is_an_error_naming_the_family() {
        let p = SimilarityParams::default();
        let mut builder = IndexBuilder::with_floor(vec![1, 2], &p, COMMON_FLOOR).unwrap();
        builder.max_memberships = 3;
        for x in 0..3 {
            builder.add(FeatureFamily::Cast, 0, x);
        }
        builder.add(FeatureFamily::Keyword, 1, 7);
        assert!(IndexBuilder::build(builder).is_ok());

        let mut builder = IndexBuilder::with_floor(vec![1, 2], &p, COMMON_FLOOR).unwrap();
        builder.max_memberships = 3;
        for x in 0..4 {
            builder.add(FeatureFamily::Cast, 1, x);
        }
        match builder.build() {
            Err(
                e @ SimilarityError::TooManyFeatures {
                    family: "cast",
                    count: 4,
                },
            ) => {
                assert_eq!(
                    e.to_string(),
                    "4 memberships of cast are more than the similarity index can hold"
                );
            }
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("4 cast memberships built with room for 3"),
        }
    }
}
