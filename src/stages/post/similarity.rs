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
//! The index is not held in memory, so the computation's memory does not grow with the
//! catalog: each family's sets go to a temporary file as they arrive (a record per movie), the
//! features' movie counts are taken from that file a share of the features per pass, and a
//! search reads the movies back: the movies searched a range at a time, the candidates as the
//! blocks of the whole catalog one after another, each block with inverted indexes of its own,
//! each searched movie's best kept across the blocks. Memory is then a range and a block
//! whatever the number of movies, for reading every block once per range searched (pages the
//! system's cache holds, not the process). Written here because no kept crate searches
//! weighted Jaccard top lists over inverted indexes kept on disk; the temporary files come
//! from `tempfile`, unnamed, so nothing is left behind whatever ends the process.
//!
//! Results are deterministic: ties are broken by the lower movie id, and neither the blocks
//! nor the work split over threads change what is found. [`similar_movies`] blocks while it
//! uses every core (scoped threads); async callers run it under `tokio::task::spawn_blocking`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::plan::RecommendationSettings;

/// Features on at most this many movies always propose candidates, however small the
/// collection: below it the index is cheap whatever the share.
pub const COMMON_FLOOR: usize = 100;

const FAMILIES: usize = 4;
const FAMILY_NAMES: [&str; FAMILIES] = ["genres", "keywords", "cast", "crew"];
/// Movies a worker takes at a time; small enough to balance uneven movies over threads.
const BLOCK: usize = 32;
/// Movies in a block of candidates read back from the index: with its inverted indexes some
/// 700 bytes a movie while it is built, so this bounds most of the search's memory.
const BLOCK_MOVIES: usize = 4096;
/// Blocks searched at a time ([`SimilarityIndex::ranges`]): every block of candidates is read
/// and indexed again for each range searched, so the reading grows as `n² / range`, and the
/// memory with the range (its movies' features and top lists, about 300 bytes a movie).
/// One: at 100,000 movies two took 3.4 MB more at the post stage's peak (which then set the
/// run's), for reading some 6 % less; the time measured the same (docs/benchmarks.md).
const SEARCHED_BLOCKS: usize = 1;
/// Distinct features counted at once when the features' movie counts are taken: a pass over
/// a family's file counts the features of one share of a hash, so memory stays near this many
/// entries (some 2 MB) whatever the number of features.
const COUNTED_AT_ONCE: usize = 1 << 16;

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

/// One computed recommendation by the two movies' positions in a [`SimilarityIndex`] (the
/// order its builder was given them in): what [`SimilarityIndex::similar`] gives, in half the
/// memory of a [`Similar`], since a caller holds a range's while it writes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub position: u32,
    pub similar_position: u32,
    /// 1 for the most similar.
    pub rank: u32,
    /// `0..=1`.
    pub score: f64,
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
    #[error(
        "the similarity index was given {family} of the movie at position {position} after \
         those of position {after}, or of a position it does not hold ({movies} movies)"
    )]
    #[diagnostic(
        code(popctl::post::feature_order),
        help("this is a bug in how the stage reads features, please report it")
    )]
    FeatureOrder {
        family: &'static str,
        position: usize,
        after: usize,
        movies: usize,
    },
    #[error("could not {doing} the similarity index's temporary file: {source}")]
    #[diagnostic(
        code(popctl::post::similarity_spill),
        help(
            "the index is kept in the system's temporary directory (TMPDIR); at 100,000 movies \
             it takes some 25 MB there"
        )
    )]
    Spill {
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the similarity index's temporary file for {family} is damaged: {what}")]
    #[diagnostic(
        code(popctl::post::similarity_spill_damaged),
        help("something else wrote to it or the disk failed; run the step again")
    )]
    Damaged { family: &'static str, what: String },
}

fn spill(doing: &'static str) -> impl FnOnce(std::io::Error) -> SimilarityError {
    move |source| SimilarityError::Spill { doing, source }
}

/// Computes the top `top_n` similar movies of every movie.
pub fn similar_movies(
    movies: &[MovieFeatures],
    params: &SimilarityParams,
) -> Result<SimilarityOutcome, SimilarityError> {
    compute(movies, params, COMMON_FLOOR, BLOCK_MOVIES)
}

/// [`similar_movies`] with the floor and the block size as parameters, so tests can cut small
/// collections and search them in many blocks.
fn compute(
    movies: &[MovieFeatures],
    params: &SimilarityParams,
    floor: usize,
    block: usize,
) -> Result<SimilarityOutcome, SimilarityError> {
    let index = SimilarityIndex::with_floor(movies, params, floor, block)?;
    let (pairs, candidate_pairs) = index.similar(0..index.len())?;
    let id = |position: u32| index.ids[position as usize];
    Ok(SimilarityOutcome {
        pairs: pairs
            .into_iter()
            .map(|p| Similar {
                movie_id: id(p.position),
                similar_id: id(p.similar_position),
                score: p.score,
                rank: p.rank,
            })
            .collect(),
        stats: SimilarityStats {
            candidate_pairs,
            ..index.stats()
        },
    })
}

/// Bytes of a record's head: the movie's position and its number of features, `u32`s.
const HEAD: usize = 8;
/// Bytes of a feature in a record.
const FEATURE: usize = 8;

/// One family's sets, on disk: a record per movie that has any, by position, each the
/// position, the number of features and the features (ascending, distinct), little-endian.
struct FamilyFile {
    name: &'static str,
    file: Mutex<File>,
    /// Per block of movies: where its first record starts; then the file's length.
    starts: Vec<u64>,
    memberships: u64,
}

/// A [`FamilyFile`] being written: the features of the movie at `at` are gathered until the
/// next movie's come, then sorted and written as its record.
struct FamilyWriter {
    name: &'static str,
    out: BufWriter<File>,
    block: usize,
    at: Option<usize>,
    current: Vec<i64>,
    written: u64,
    starts: Vec<u64>,
    memberships: u64,
}

impl FamilyWriter {
    fn new(name: &'static str, block: usize) -> Result<Self, SimilarityError> {
        let file = tempfile::tempfile().map_err(spill("create"))?;
        Ok(FamilyWriter {
            name,
            out: BufWriter::new(file),
            block,
            at: None,
            current: Vec::new(),
            written: 0,
            starts: Vec::new(),
            memberships: 0,
        })
    }

    fn add(&mut self, position: usize, feature: i64, n: usize) -> Result<(), SimilarityError> {
        match self.at {
            Some(at) if at == position => {}
            Some(at) if at > position || position >= n => {
                return Err(self.out_of_order(position, at, n));
            }
            None if position >= n => return Err(self.out_of_order(position, 0, n)),
            _ => {
                self.flush()?;
                self.at = Some(position);
            }
        }
        self.current.push(feature);
        Ok(())
    }

    fn out_of_order(&self, position: usize, after: usize, movies: usize) -> SimilarityError {
        SimilarityError::FeatureOrder {
            family: self.name,
            position,
            after,
            movies,
        }
    }

    /// Writes the current movie's record.
    fn flush(&mut self) -> Result<(), SimilarityError> {
        let Some(at) = self.at else {
            return Ok(());
        };
        self.current.sort_unstable();
        self.current.dedup();
        while self.starts.len() <= at / self.block {
            self.starts.push(self.written);
        }
        // Positions fit in a `u32` (checked when the builder is made); a movie's distinct
        // features too, as they sit in memory.
        let head = [at as u32, self.current.len() as u32];
        let write =
            |out: &mut BufWriter<File>, bytes: &[u8]| out.write_all(bytes).map_err(spill("write"));
        for h in head {
            write(&mut self.out, &h.to_le_bytes())?;
        }
        for x in &self.current {
            write(&mut self.out, &x.to_le_bytes())?;
        }
        self.written += (HEAD + FEATURE * self.current.len()) as u64;
        self.memberships += self.current.len() as u64;
        self.current.clear();
        Ok(())
    }

    fn finish(mut self, blocks: usize) -> Result<FamilyFile, SimilarityError> {
        self.flush()?;
        while self.starts.len() <= blocks {
            self.starts.push(self.written);
        }
        let file = self.out.into_inner().map_err(|e| SimilarityError::Spill {
            doing: "write",
            source: e.into_error(),
        })?;
        Ok(FamilyFile {
            name: self.name,
            file: Mutex::new(file),
            starts: self.starts,
            memberships: self.memberships,
        })
    }
}

impl FamilyFile {
    /// Calls `each(position, features)` for every record of the blocks `blocks`, in order;
    /// `buf` holds their bytes.
    fn read(
        &self,
        blocks: Range<usize>,
        buf: &mut Vec<u8>,
        mut each: impl FnMut(usize, &[u8]) -> Result<(), SimilarityError>,
    ) -> Result<(), SimilarityError> {
        let (from, to) = (self.starts[blocks.start], self.starts[blocks.end]);
        let len = usize::try_from(to - from).map_err(|_| self.damaged("a block too large"))?;
        buf.clear();
        buf.resize(len, 0);
        {
            // A poisoned lock only says another search panicked; the file is as it was.
            let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            file.seek(SeekFrom::Start(from)).map_err(spill("read"))?;
            file.read_exact(buf).map_err(spill("read"))?;
        }
        let mut rest = &buf[..];
        while !rest.is_empty() {
            if rest.len() < HEAD {
                return Err(self.damaged("a record cut short"));
            }
            let word =
                |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
            let (position, count) = (word(0) as usize, word(4) as usize);
            let end = count
                .checked_mul(FEATURE)
                .and_then(|b| b.checked_add(HEAD))
                .filter(|&end| end <= rest.len())
                .ok_or_else(|| self.damaged("a record cut short"))?;
            each(position, &rest[HEAD..end])?;
            rest = &rest[end..];
        }
        Ok(())
    }

    fn damaged(&self, what: &str) -> SimilarityError {
        SimilarityError::Damaged {
            family: self.name,
            what: what.to_string(),
        }
    }
}

/// The features of a record's bytes.
fn features(bytes: &[u8]) -> impl Iterator<Item = i64> + '_ {
    bytes
        .chunks_exact(FEATURE)
        .map(|b| i64::from_le_bytes(b.try_into().expect("chunks of FEATURE bytes")))
}

/// Builds a [`SimilarityIndex`] from features given family by family, each family's by movie
/// in position order (as a database read ordered by movie gives them), straight to the index's
/// files: nothing is held per membership.
pub struct IndexBuilder {
    /// The movies' ids by position.
    ids: Vec<i64>,
    writers: Vec<FamilyWriter>,
    weights: [f64; FAMILIES],
    params: SimilarityParams,
    floor: usize,
    block: usize,
    /// [`COUNTED_AT_ONCE`]; a test lowers it to count in many passes.
    counted_at_once: usize,
}

impl IndexBuilder {
    /// Checks the settings and takes the movies' ids, by position: the order their features
    /// will come in. Each id once.
    pub fn new(ids: Vec<i64>, params: &SimilarityParams) -> Result<IndexBuilder, SimilarityError> {
        IndexBuilder::with_floor(ids, params, COMMON_FLOOR, BLOCK_MOVIES)
    }

    fn with_floor(
        ids: Vec<i64>,
        params: &SimilarityParams,
        floor: usize,
        block: usize,
    ) -> Result<IndexBuilder, SimilarityError> {
        let weights = check(params)?;
        if u32::try_from(ids.len()).is_err() {
            return Err(SimilarityError::TooMany { count: ids.len() });
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(SimilarityError::DuplicateMovie { movie_id: w[0] });
        }
        drop(sorted);
        let block = block.max(1);
        let writers = FAMILY_NAMES
            .into_iter()
            .map(|name| FamilyWriter::new(name, block))
            .collect::<Result<_, _>>()?;
        Ok(IndexBuilder {
            ids,
            writers,
            weights,
            params: *params,
            floor,
            block,
            counted_at_once: COUNTED_AT_ONCE,
        })
    }

    /// The movies' ids by position.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Gives the movie at `position` a feature; a feature given twice counts once. Each
    /// family's features must come by movie, positions never going back (families may
    /// interleave).
    pub fn add(
        &mut self,
        family: FeatureFamily,
        position: usize,
        feature: i64,
    ) -> Result<(), SimilarityError> {
        let n = self.ids.len();
        self.writers[family.index()].add(position, feature, n)
    }

    /// Indexes what was given: finishes the files and finds the common features.
    pub fn build(self) -> Result<SimilarityIndex, SimilarityError> {
        let n = self.ids.len();
        let share_limit = (self.params.common_share * n as f64).ceil();
        let threshold = self.floor.max(share_limit as usize);
        let blocks = n.div_ceil(self.block);
        let mut files = Vec::with_capacity(FAMILIES);
        let mut common = Vec::with_capacity(FAMILIES);
        let mut common_features = 0;
        for writer in self.writers {
            let file = writer.finish(blocks)?;
            let bits = common_bits(&file, threshold, self.counted_at_once)?;
            common_features += bits.len();
            common.push(bits);
            files.push(file);
        }
        let mut layout = [(0, 0); FAMILIES];
        let mut stride = FAMILIES / 2;
        for (f, bits) in common.iter().enumerate() {
            let words = bits.len().div_ceil(64);
            layout[f] = (stride, words);
            stride += words;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, n.div_ceil(BLOCK).max(1));
        Ok(SimilarityIndex {
            files,
            common,
            layout,
            stride,
            ids: self.ids,
            weights: self.weights,
            params: self.params,
            block: self.block,
            common_features,
            threshold,
            threads,
        })
    }
}

/// The features of `file` on more than `threshold` movies, each with its bit number (in
/// feature order). Counted a share of the features per pass over the file (by a hash), so no
/// more than about `at_once` features are counted at a time.
fn common_bits(
    file: &FamilyFile,
    threshold: usize,
    at_once: usize,
) -> Result<HashMap<i64, usize>, SimilarityError> {
    // Fewer distinct features than memberships, so this many passes keep each near `at_once`.
    let passes = usize::try_from(file.memberships)
        .unwrap_or(usize::MAX)
        .div_ceil(at_once.max(1))
        .max(1) as u64;
    let share = |x: i64| (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % passes;
    let mut common = Vec::new();
    let mut buf = Vec::new();
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for pass in 0..passes {
        counts.clear();
        for b in 0..file.starts.len() - 1 {
            file.read(b..b + 1, &mut buf, |_, bytes| {
                for x in features(bytes).filter(|&x| share(x) == pass) {
                    *counts.entry(x).or_default() += 1;
                }
                Ok(())
            })?;
        }
        common.extend(
            counts
                .iter()
                .filter(|(_, df)| **df > threshold)
                .map(|(x, _)| *x),
        );
    }
    common.sort_unstable();
    Ok(common.into_iter().zip(0..).collect())
}

/// The movies' features, indexed on disk, built once; [`SimilarityIndex::similar`] then
/// computes the top lists of any range of them, so a caller can write the results a range at
/// a time instead of holding every movie's at once (a million rows at 100,000 movies).
pub struct SimilarityIndex {
    files: Vec<FamilyFile>,
    /// Per family: its common features and their bit numbers.
    common: Vec<HashMap<i64, usize>>,
    /// Per family: where its common words start in a profile row, and how many there are.
    layout: [(usize, usize); FAMILIES],
    /// `u64`s in a profile row: the four sizes as `u32`s in two, then the families' words.
    stride: usize,
    /// The movies' ids by position.
    ids: Vec<i64>,
    weights: [f64; FAMILIES],
    params: SimilarityParams,
    block: usize,
    common_features: usize,
    threshold: usize,
    threads: usize,
}

impl SimilarityIndex {
    /// Checks the settings and indexes `movies` (in any order; each once), by movie id.
    pub fn new(
        movies: &[MovieFeatures],
        params: &SimilarityParams,
    ) -> Result<SimilarityIndex, SimilarityError> {
        SimilarityIndex::with_floor(movies, params, COMMON_FLOOR, BLOCK_MOVIES)
    }

    fn with_floor(
        movies: &[MovieFeatures],
        params: &SimilarityParams,
        floor: usize,
        block: usize,
    ) -> Result<SimilarityIndex, SimilarityError> {
        let mut order: Vec<&MovieFeatures> = movies.iter().collect();
        order.sort_by_key(|m| m.movie_id);
        let ids = order.iter().map(|m| m.movie_id).collect();
        let mut builder = IndexBuilder::with_floor(ids, params, floor, block)?;
        for (at, m) in order.iter().enumerate() {
            for (family, features) in FeatureFamily::ALL.into_iter().zip(m.families()) {
                for &feature in features {
                    builder.add(family, at, feature)?;
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

    /// The ids of the movies at positions `range` (cut to the movies there are).
    pub fn ids(&self, range: Range<usize>) -> &[i64] {
        &self.ids[range.start.min(self.len())..range.end.min(self.len())]
    }

    /// The id of the movie at `position`.
    pub fn id(&self, position: u32) -> Option<i64> {
        self.ids.get(position as usize).copied()
    }

    /// Ranges of positions that cover the movies, in order: the ranges to search at a time,
    /// for the least reading in bounded memory.
    pub fn ranges(&self) -> impl Iterator<Item = Range<usize>> + use<> {
        spans(0..self.len(), self.block * SEARCHED_BLOCKS)
    }

    /// The blocks of candidates, in order.
    fn blocks(&self) -> impl Iterator<Item = Range<usize>> + use<> {
        spans(0..self.len(), self.block)
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

    /// The top lists of the movies at positions `range`, sorted by position then rank, and
    /// the number of pairs scored for them. Blocks while it uses every core.
    pub fn similar(&self, range: Range<usize>) -> Result<(Vec<Pair>, u64), SimilarityError> {
        let range = range.start.min(self.len())..range.end.min(self.len());
        if range.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let searched = self.load(range.clone(), false)?;
        let mut tops: Vec<Vec<(u32, f64)>> = vec![Vec::new(); range.len()];
        let mut candidate_pairs = 0;
        for candidates in self.blocks() {
            let candidates = self.load(candidates, true)?;
            candidate_pairs += self.search(&searched, &candidates, &mut tops);
        }
        let mut pairs = Vec::with_capacity(tops.iter().map(Vec::len).sum());
        for (a, top) in range.zip(tops) {
            for (rank, (b, score)) in (1..).zip(top) {
                pairs.push(Pair {
                    // Positions fit in a `u32` (checked when the builder is made).
                    position: a as u32,
                    similar_position: b,
                    rank,
                    score,
                });
            }
        }
        Ok((pairs, candidate_pairs))
    }

    /// The movies at `range` read back: their profiles, and either their features that propose
    /// candidates (to search them) or the inverted indexes of those (to find them).
    fn load(&self, range: Range<usize>, inverted: bool) -> Result<Loaded, SimilarityError> {
        let len = range.len();
        let blocks = range.start / self.block..(range.end - 1) / self.block + 1;
        let mut profiles = vec![0u64; len * self.stride];
        let mut loaded = Loaded {
            start: range.start,
            len,
            profiles: Vec::new(),
            sets: Vec::new(),
            inverted: Vec::new(),
        };
        let mut buf = Vec::new();
        for (f, file) in self.files.iter().enumerate() {
            let (at, _) = self.layout[f];
            let common = &self.common[f];
            let mut sets = Rows::with_rows(len);
            let mut last = 0;
            file.read(blocks.clone(), &mut buf, |position, bytes| {
                if !range.contains(&position) {
                    return Ok(());
                }
                let a = position - range.start;
                if a < last {
                    return Err(file.damaged("records out of order"));
                }
                for _ in last..a {
                    sets.end_row();
                }
                let row = &mut profiles[a * self.stride..(a + 1) * self.stride];
                let size = (bytes.len() / FEATURE) as u64;
                row[f / 2] |= size << (32 * (f % 2));
                for x in features(bytes) {
                    match common.get(&x) {
                        Some(&bit) => row[at + bit / 64] |= 1 << (bit % 64),
                        None => sets.items.push(x),
                    }
                }
                sets.end_row();
                last = a + 1;
                Ok(())
            })?;
            for _ in last..len {
                sets.end_row();
            }
            if inverted {
                loaded.inverted.push(Inverted::of(&sets));
            } else {
                loaded.sets.push(sets);
            }
        }
        loaded.profiles = profiles;
        Ok(loaded)
    }

    /// Searches every movie of `searched` among `candidates`, merging what it finds into
    /// `tops` (one per searched movie, best first, at most `top_n`); returns the pairs scored.
    fn search(&self, searched: &Loaded, candidates: &Loaded, tops: &mut [Vec<(u32, f64)>]) -> u64 {
        let next = AtomicUsize::new(0);
        let search = Search {
            index: self,
            searched,
            candidates,
        };
        let threads = self.threads.clamp(1, searched.len.div_ceil(BLOCK).max(1));
        let mut pairs = 0;
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| search.run(&next)))
                .collect();
            for w in workers {
                // A panic in a worker is a bug; re-raise it rather than return partial results.
                let (part, scored) = w.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                pairs += scored;
                for (a, found) in part {
                    let top = &mut tops[a];
                    top.extend(found);
                    self.top(top);
                }
            }
        });
        pairs
    }

    /// Keeps the best `top_n` of `scored` by score, then by the lower movie id, best first.
    fn top(&self, scored: &mut Vec<(u32, f64)>) {
        let n = self.params.top_n;
        let order = |x: &(u32, f64), y: &(u32, f64)| {
            y.1.total_cmp(&x.1)
                .then(self.ids[x.0 as usize].cmp(&self.ids[y.0 as usize]))
        };
        if n == 0 {
            scored.clear();
            return;
        }
        if scored.len() > n {
            scored.select_nth_unstable_by(n - 1, order);
            scored.truncate(n);
        }
        scored.sort_unstable_by(order);
    }

    fn common_shared(&self, a: &[u64], b: &[u64], f: usize) -> usize {
        let (at, words) = self.layout[f];
        a[at..at + words]
            .iter()
            .zip(&b[at..at + words])
            .map(|(p, q)| (p & q).count_ones() as usize)
            .sum()
    }
}

/// `within` cut into consecutive ranges of `size` (the last may be shorter).
pub fn spans(within: Range<usize>, size: usize) -> impl Iterator<Item = Range<usize>> {
    let size = size.max(1);
    within
        .clone()
        .step_by(size)
        .map(move |from| from..(from + size).min(within.end))
}

/// Rows of features in one allocation.
#[derive(Debug, Default)]
struct Rows {
    offsets: Vec<usize>,
    items: Vec<i64>,
}

impl Rows {
    fn with_rows(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Rows {
            offsets,
            items: Vec::new(),
        }
    }

    fn end_row(&mut self) {
        self.offsets.push(self.items.len());
    }

    fn row(&self, i: usize) -> &[i64] {
        &self.items[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// Feature → the movies of a block carrying it (their places in the block, ascending).
struct Inverted {
    slots: Slots,
    offsets: Vec<u32>,
    movies: Vec<u32>,
}

impl Inverted {
    fn of(sets: &Rows) -> Inverted {
        let mut memberships: Vec<(i64, u32)> = Vec::with_capacity(sets.items.len());
        for a in 0..sets.offsets.len() - 1 {
            // A block is read into memory, so its places fit in a `u32`.
            memberships.extend(sets.row(a).iter().map(|&x| (x, a as u32)));
        }
        memberships.sort_unstable();
        let distinct = 1 + memberships.windows(2).filter(|w| w[0].0 != w[1].0).count();
        let mut inverted = Inverted {
            slots: Slots::with_room(distinct),
            offsets: Vec::with_capacity(distinct + 1),
            movies: Vec::with_capacity(memberships.len()),
        };
        let mut last = None;
        for (x, a) in memberships {
            if last != Some(x) {
                last = Some(x);
                inverted.slots.insert(x, inverted.offsets.len() as u32);
                inverted.offsets.push(inverted.movies.len() as u32);
            }
            inverted.movies.push(a);
        }
        inverted.offsets.push(inverted.movies.len() as u32);
        inverted
    }

    /// The movies carrying `x`.
    fn movies(&self, x: i64) -> &[u32] {
        match self.slots.get(x) {
            Some(i) => &self.movies[self.offsets[i] as usize..self.offsets[i + 1] as usize],
            None => &[],
        }
    }
}

/// Feature → its number in a block, by open addressing with linear probing. Every feature of
/// every searched movie is looked up in every block of candidates (60 million lookups at
/// 100,000 movies), where a binary search over a block's features takes some 16 dependent
/// reads and this one or two; std's `HashMap` hashes with SipHash, several times the cost.
struct Slots {
    mask: usize,
    keys: Vec<i64>,
    /// [`Slots::EMPTY`] where no key is.
    values: Vec<u32>,
}

impl Slots {
    const EMPTY: u32 = u32::MAX;

    /// Room for `n` keys at most half full.
    fn with_room(n: usize) -> Slots {
        let size = (2 * n).next_power_of_two().max(2);
        Slots {
            mask: size - 1,
            keys: vec![0; size],
            values: vec![Self::EMPTY; size],
        }
    }

    fn slot(&self, x: i64) -> usize {
        // Fibonacci hashing: the high half of the product mixes every bit of the key.
        ((x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    /// Adds `x`, which is not there yet, with `value` (below [`Slots::EMPTY`]).
    fn insert(&mut self, x: i64, value: u32) {
        let mut at = self.slot(x);
        while self.values[at] != Self::EMPTY {
            at = (at + 1) & self.mask;
        }
        self.keys[at] = x;
        self.values[at] = value;
    }

    fn get(&self, x: i64) -> Option<usize> {
        let mut at = self.slot(x);
        loop {
            match self.values[at] {
                Self::EMPTY => return None,
                v if self.keys[at] == x => return Some(v as usize),
                _ => at = (at + 1) & self.mask,
            }
        }
    }
}

/// A block of movies read back from the index.
struct Loaded {
    start: usize,
    len: usize,
    /// Per movie, a row of [`SimilarityIndex::stride`] `u64`s: its set size per family, then
    /// each family's common-feature bits. The scoring loop runs for every candidate pair, so
    /// one row read where the families' own arrays would take eight.
    profiles: Vec<u64>,
    /// Per family, per movie: its features that propose candidates; for a searched block.
    sets: Vec<Rows>,
    /// Per family: the inverted index of those; for a block of candidates.
    inverted: Vec<Inverted>,
}

impl Loaded {
    fn profile(&self, a: usize, stride: usize) -> &[u64] {
        &self.profiles[a * stride..(a + 1) * stride]
    }

    fn size(row: &[u64], f: usize) -> usize {
        ((row[f / 2] >> (32 * (f % 2))) & u64::from(u32::MAX)) as usize
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

/// A movie's place in a searched block and its best matches (position, score), best first.
type Found = (usize, Vec<(u32, f64)>);

struct Search<'a> {
    index: &'a SimilarityIndex,
    searched: &'a Loaded,
    candidates: &'a Loaded,
}

impl Search<'_> {
    /// Takes runs of searched movies until none are left; returns each movie's best among the
    /// candidates and the number of pairs scored.
    fn run(&self, next: &AtomicUsize) -> (Vec<Found>, u64) {
        let n = self.candidates.len;
        let mut out = Vec::new();
        let mut shared = vec![[0u32; FAMILIES]; n];
        // `seen[b] == a + 1` marks b as a candidate of a, so nothing is cleared between movies.
        let mut seen = vec![0u32; n];
        let mut touched = Vec::new();
        let mut scored = Vec::new();
        let mut pairs = 0u64;
        loop {
            let start = next.fetch_add(BLOCK, Ordering::Relaxed);
            if start >= self.searched.len {
                break;
            }
            for a in start..(start + BLOCK).min(self.searched.len) {
                self.candidates(a, &mut shared, &mut seen, &mut touched);
                pairs += touched.len() as u64;
                scored.clear();
                for &b in &touched {
                    let score = self.score(a, b as usize, &shared[b as usize]);
                    if score > 0.0 && score >= self.index.params.min_score {
                        scored.push(((self.candidates.start + b as usize) as u32, score));
                    }
                }
                self.index.top(&mut scored);
                out.push((a, scored.clone()));
            }
        }
        (out, pairs)
    }

    /// Fills `touched` with the candidates sharing a proposing feature with searched movie `a`
    /// (both by place in their block), and `shared[b]` with how many such features they share
    /// per family.
    fn candidates(
        &self,
        a: usize,
        shared: &mut [[u32; FAMILIES]],
        seen: &mut [u32],
        touched: &mut Vec<u32>,
    ) {
        touched.clear();
        // Places in a block fit in a `u32`: a block is read into memory.
        let mark = a as u32 + 1;
        let itself = (self.searched.start + a).checked_sub(self.candidates.start);
        for (f, (sets, inverted)) in self
            .searched
            .sets
            .iter()
            .zip(&self.candidates.inverted)
            .enumerate()
        {
            for &x in sets.row(a) {
                for &b in inverted.movies(x) {
                    let bi = b as usize;
                    if Some(bi) == itself {
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
        let stride = self.index.stride;
        let (pa, pb) = (
            self.searched.profile(a, stride),
            self.candidates.profile(b, stride),
        );
        let mut score = 0.0;
        for (f, weight) in self.index.weights.iter().enumerate() {
            let inter = shared[f] as usize + self.index.common_shared(pa, pb, f);
            // Most candidates share nothing in most families: skip the division there.
            if inter > 0 {
                let union = Loaded::size(pa, f) + Loaded::size(pb, f) - inter;
                score += weight * inter as f64 / union as f64;
            }
        }
        score.clamp(0.0, 1.0)
    }
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

    /// `pairs` by movie id.
    fn resolved(index: &SimilarityIndex, pairs: &[Pair]) -> Vec<Similar> {
        pairs
            .iter()
            .map(|p| Similar {
                movie_id: index.id(p.position).unwrap(),
                similar_id: index.id(p.similar_position).unwrap(),
                score: p.score,
                rank: p.rank,
            })
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
        let out = compute(&movies, &p, 2, BLOCK_MOVIES).unwrap();
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
        let out = compute(&movies, &p, 2, BLOCK_MOVIES).unwrap();
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
        /// what all of them at once give, and the pairs scored add up to the same count,
        /// whatever the blocks the index reads back.
        #[test]
        fn ranges_one_after_another_give_what_the_whole_gives(
            movies in movies_strategy(), step in 1..70usize, block in 1..9usize,
        ) {
            let p = SimilarityParams { top_n: 5, ..exact() };
            let index = SimilarityIndex::with_floor(&movies, &p, COMMON_FLOOR, block).unwrap();
            let (whole, whole_scored) = index.similar(0..index.len()).unwrap();
            let (mut parts, mut scored) = (Vec::new(), 0);
            for start in (0..index.len()).step_by(step) {
                let (part, n) = index.similar(start..start + step).unwrap();
                prop_assert!(part.iter().all(|s| (start..start + step).contains(&(s.position as usize))));
                parts.extend(part);
                scored += n;
            }
            prop_assert_eq!(parts, whole);
            prop_assert_eq!(scored, whole_scored);
            prop_assert_eq!(index.ids(0..usize::MAX).len(), movies.len());
            let blocks: Vec<_> = index.blocks().collect();
            prop_assert!(blocks.windows(2).all(|w| w[0].end == w[1].start && w[0].len() == block));
            prop_assert_eq!(blocks.first().map_or(0, |b| b.start), 0);
            prop_assert_eq!(blocks.last().map_or(0, |b| b.end), movies.len());
        }

        /// Blocks of any size, and the common features counted in any number of passes, find
        /// what one block counted at once finds.
        #[test]
        fn blocks_and_passes_change_nothing(
            movies in movies_strategy(), floor in 2..6usize, block in 1..9usize, at_once in 1..20usize,
        ) {
            let p = SimilarityParams { top_n: 4, common_share: 0.2, ..exact() };
            let want = compute(&movies, &p, floor, BLOCK_MOVIES).unwrap();
            let mut order: Vec<&MovieFeatures> = movies.iter().collect();
            order.sort_by_key(|m| m.movie_id);
            let mut builder =
                IndexBuilder::with_floor(order.iter().map(|m| m.movie_id).collect(), &p, floor, block)
                    .unwrap();
            builder.counted_at_once = at_once;
            for (at, m) in order.iter().enumerate() {
                for (family, features) in FeatureFamily::ALL.into_iter().zip(m.families()) {
                    for &x in features {
                        builder.add(family, at, x).unwrap();
                    }
                }
            }
            let index = builder.build().unwrap();
            let (pairs, scored) = index.similar(0..index.len()).unwrap();
            prop_assert_eq!(index.stats().common_features, want.stats.common_features);
            prop_assert_eq!(scored, want.stats.candidate_pairs);
            prop_assert_eq!(resolved(&index, &pairs), want.pairs);
        }

        /// Features given as a database read by movie gives them (families interleaved, a
        /// movie's features in any order, some twice, movies in any order of positions) build
        /// the index the movies give one by one.
        #[test]
        fn features_as_a_database_gives_them_build_the_same_index(
            movies in movies_strategy(), floor in 2..6usize, repeat in 1..4usize,
        ) {
            let p = SimilarityParams { top_n: 5, common_share: 0.3, ..exact() };
            let want = compute(&movies, &p, floor, BLOCK_MOVIES).unwrap();
            // Positions in the input's order, not by id: ties still go to the lower id.
            let mut builder =
                IndexBuilder::with_floor(movies.iter().map(|m| m.movie_id).collect(), &p, floor, 3)
                    .unwrap();
            for (at, m) in movies.iter().enumerate() {
                let mut given: Vec<(FeatureFamily, i64)> = FeatureFamily::ALL
                    .into_iter()
                    .zip(m.families())
                    .flat_map(|(family, xs)| xs.iter().map(move |&x| (family, x)))
                    .collect();
                given.reverse();
                for (i, (family, x)) in given.into_iter().enumerate() {
                    for _ in 0..if i % repeat == 0 { 2 } else { 1 } {
                        builder.add(family, at, x).unwrap();
                    }
                }
            }
            let index = builder.build().unwrap();
            let (pairs, scored) = index.similar(0..index.len()).unwrap();
            prop_assert!(pairs.windows(2).all(|w| w[0].position <= w[1].position));
            let mut pairs = resolved(&index, &pairs);
            pairs.sort_by_key(|s| (s.movie_id, s.rank));
            let strip = |v: &[Similar]| -> Vec<(i64, i64, u32, u64)> {
                v.iter().map(|s| (s.movie_id, s.similar_id, s.rank, s.score.to_bits())).collect()
            };
            prop_assert_eq!(index.stats().common_features, want.stats.common_features);
            prop_assert_eq!(scored, want.stats.candidate_pairs);
            prop_assert_eq!(strip(&pairs), strip(&want.pairs));
        }

        /// Feature ids anywhere in `i64` (negative, beyond `u32`, mixed with small ones) give
        /// what the same features under small ids give.
        #[test]
        fn feature_ids_of_any_size_give_the_same_index(movies in movies_strategy()) {
            let p = SimilarityParams { top_n: 5, ..exact() };
            let want = compute(&movies, &p, 2, BLOCK_MOVIES).unwrap();
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
            prop_assert_eq!(compute(&moved, &p, 2, BLOCK_MOVIES).unwrap(), want);
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
            let out = compute(&movies, &p, floor, BLOCK_MOVIES).unwrap();
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
    }

    #[test]
    fn features_out_of_movie_order_are_an_error_naming_the_family() {
        let p = SimilarityParams::default();
        let mut builder = IndexBuilder::new(vec![10, 20, 30], &p).unwrap();
        builder.add(FeatureFamily::Cast, 1, 5).unwrap();
        builder.add(FeatureFamily::Crew, 0, 5).unwrap();
        builder.add(FeatureFamily::Cast, 2, 5).unwrap();
        let e = builder.add(FeatureFamily::Cast, 1, 6).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the similarity index was given cast of the movie at position 1 after those of \
             position 2, or of a position it does not hold (3 movies)"
        );
        let e = builder.add(FeatureFamily::Genre, 3, 6).unwrap_err();
        assert!(
            matches!(
                e,
                SimilarityError::FeatureOrder {
                    family: "genres",
                    position: 3,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_damaged_index_file_is_an_error_not_a_panic() {
        use std::io::{Seek, SeekFrom, Write};
        let movies: Vec<_> = (0..20)
            .map(|i| movie(i, &[1], &[i % 4, 9], &[], &[]))
            .collect();
        let index = SimilarityIndex::with_floor(&movies, &exact(), 2, 8).unwrap();
        assert!(index.similar(0..20).is_ok());
        // A record's count made huge: the record runs past its block.
        {
            let mut file = index.files[1].file.lock().unwrap();
            file.seek(SeekFrom::Start(4)).unwrap();
            file.write_all(&u32::MAX.to_le_bytes()).unwrap();
        }
        let e = index.similar(0..20).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the similarity index's temporary file for keywords is damaged: a record cut short"
        );
        // The file cut short: reading a block fails.
        let index = SimilarityIndex::with_floor(&movies, &exact(), 2, 8).unwrap();
        index.files[0].file.lock().unwrap().set_len(5).unwrap();
        match index.similar(0..20) {
            Err(SimilarityError::Spill { doing: "read", .. }) => {}
            other => panic!("not a read error: {other:?}"),
        }
    }
}
