//! The Cultural Relevance Index (CRI): a pure, deterministic score of how culturally relevant a
//! movie is, from what a run stored about it. `docs/cri.md` is the reference for users; this
//! file is the only implementation.
//!
//! Shape of the formula:
//! - Every input is normalised to `0..=1` (out-of-range values are clamped, NaN counts as
//!   missing) and feeds one *component* of one of five *dimensions*.
//! - A dimension is the weighted mean of its available components; its *coverage* is the share
//!   of its component weight that had data.
//! - The overall score is the mean of the dimensions weighted by the plan's weights times their
//!   coverage, so a missing input neither counts as zero nor produces NaN: it lowers
//!   `confidence` (the covered share of the plan's total weight) instead.
//!
//! Why the curves:
//! - Vote counts and popularity are logarithmic (`ln(1 + x) / ln(1 + full)`): the step from
//!   1,000 to 10,000 votes says as much as the step from 100,000 to 1,000,000.
//! - Award counts saturate (`1 - exp(-points / scale)`): the eleventh Oscar adds little.
//! - Audience ratings are shrunk toward a neutral 5/10 by their vote count, so a 9.0 from 27
//!   votes does not beat an 8.5 from a million.
//!
//! Component weights and curve constants are fixed here and documented; the plan tunes the
//! five dimension weights and the four normalisation points. Bump [`FORMULA_VERSION`] whenever
//! anything here changes the numbers, because it is stored with every score.

/// The kinds and results of curated lists: one definition, shared with the list files.
pub use crate::lists::{AuthorityKind, AwardResult};

use crate::plan::CriSettings;
use crate::store::bundle::Awards;

/// Stored with every score; changes whenever the same inputs would give different numbers.
pub const FORMULA_VERSION: i32 = 1;

/// How a movie appears on one curated list, from the list's file and its authority.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListMembership {
    /// The authority's trust, `0..=1` (clamped).
    pub trust: f64,
    pub kind: AuthorityKind,
    pub placement: Placement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// 1-based position on a ranked list.
    Ranked {
        position: u32,
    },
    Unranked,
    Award(AwardResult),
}

/// Award counts from OMDb's `Awards` text, wins and nominations apart: a nomination here is
/// one that did not win. Build it from the parser's counts with [`AwardCounts::from_parsed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwardCounts {
    pub oscar_wins: u32,
    /// Oscar nominations that did not win ("Nominated for 2 Oscars").
    pub oscar_nominations: u32,
    /// Wins across all awards ("… 109 wins & 143 nominations total").
    pub wins: u32,
    /// Nominations that did not win, across all awards.
    pub nominations: u32,
}

impl AwardCounts {
    /// From what `sources::omdb::awards::parse` gives (and `movies` stores). The parser counts
    /// an Oscar win as a nomination too ("Won 2 Oscars." states 2 nominations), so the losing
    /// Oscar nominations are the difference; its totals already keep wins and nominations
    /// apart, as IMDb does.
    pub fn from_parsed(parsed: &Awards) -> Self {
        AwardCounts {
            oscar_wins: parsed.oscar_wins,
            oscar_nominations: parsed.oscar_nominations.saturating_sub(parsed.oscar_wins),
            wins: parsed.total_wins,
            nominations: parsed.total_nominations,
        }
    }
}

/// Everything the CRI reads about one movie. `None` means "not known", which lowers confidence;
/// a known zero (no awards, on no list) is `Some`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CriInputs {
    /// `None` when no curated lists were loaded in this database; `Some(vec![])` when lists were
    /// loaded and the movie is on none of them.
    pub lists: Option<Vec<ListMembership>>,
    /// `None` when OMDb had no `Awards` (or said `N/A`).
    pub awards: Option<AwardCounts>,
    /// Rotten Tomatoes critics' score, percent `0..=100`.
    pub rotten_tomatoes: Option<f64>,
    /// Metacritic, `0..=100`.
    pub metacritic: Option<f64>,
    /// IMDb user rating, `0..=10`.
    pub imdb_rating: Option<f64>,
    pub imdb_votes: Option<u64>,
    /// TMDB `vote_average`, `0..=10`.
    pub tmdb_vote_average: Option<f64>,
    pub tmdb_vote_count: Option<u64>,
    /// TMDB `popularity` (current attention, unbounded above).
    pub tmdb_popularity: Option<f64>,
    pub release_year: Option<i32>,
}

/// The plan's `[stages.<name>.cri]` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriParams {
    /// Weight of the timelessness dimension in the overall score.
    pub timelessness: f64,
    pub cultural_penetration: f64,
    pub artistic_impact: f64,
    pub institutional_recognition: f64,
    pub public_reception: f64,
    /// IMDb votes that count as full cultural reach.
    pub imdb_votes_full: u64,
    /// TMDB votes that count as full cultural reach.
    pub tmdb_votes_full: u64,
    /// TMDB popularity that counts as full current attention.
    pub popularity_full: f64,
    /// Age at which a movie that is still watched counts as fully timeless.
    pub classic_age_years: u32,
}

impl From<&CriSettings> for CriParams {
    fn from(s: &CriSettings) -> Self {
        CriParams {
            timelessness: s.weights.timelessness,
            cultural_penetration: s.weights.cultural_penetration,
            artistic_impact: s.weights.artistic_impact,
            institutional_recognition: s.weights.institutional_recognition,
            public_reception: s.weights.public_reception,
            imdb_votes_full: s.imdb_votes_full,
            tmdb_votes_full: s.tmdb_votes_full,
            popularity_full: s.popularity_full,
            classic_age_years: s.classic_age_years,
        }
    }
}

/// The plan's defaults (`CriSettings::default`), which are declared once, in the plan model.
impl Default for CriParams {
    fn default() -> Self {
        CriParams::from(&CriSettings::default())
    }
}

/// One value per dimension. In [`CriScore::dimensions`] each is `0..=100`; in
/// [`CriScore::coverage`] each is `0..=1`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dimensions {
    pub timelessness: f64,
    pub cultural_penetration: f64,
    pub artistic_impact: f64,
    pub institutional_recognition: f64,
    pub public_reception: f64,
}

impl Dimensions {
    /// In the order the docs list them.
    pub fn to_array(self) -> [f64; 5] {
        [
            self.timelessness,
            self.cultural_penetration,
            self.artistic_impact,
            self.institutional_recognition,
            self.public_reception,
        ]
    }

    fn from_array(a: [f64; 5]) -> Self {
        Dimensions {
            timelessness: a[0],
            cultural_penetration: a[1],
            artistic_impact: a[2],
            institutional_recognition: a[3],
            public_reception: a[4],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriScore {
    /// `0..=100`.
    pub overall: f64,
    /// Each `0..=100`; a dimension without any data is 0 and has coverage 0.
    pub dimensions: Dimensions,
    /// Share of each dimension's component weight that had data, `0..=1`.
    pub coverage: Dimensions,
    /// Share of the plan's total weight backed by data, `0..=1`.
    pub confidence: f64,
    pub formula_version: i32,
}

/// Settings the formula cannot work with.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CriError {
    #[error("cri weight `{name}` is {value}; a weight must be a finite number, 0 or more")]
    #[diagnostic(
        code(popctl::post::cri_weight),
        help("set it to 0 to leave the dimension out, or to a positive number")
    )]
    Weight { name: &'static str, value: f64 },
    #[error("every cri weight is 0, so no dimension would count")]
    #[diagnostic(
        code(popctl::post::cri_no_weight),
        help("give at least one of the five dimensions a positive weight")
    )]
    NoWeight,
    #[error("cri `{name}` is {value}; it must be above 0")]
    #[diagnostic(
        code(popctl::post::cri_scale),
        help("it is the value that scores as full marks; the default is {default}")
    )]
    Scale {
        name: &'static str,
        value: String,
        default: String,
    },
}

// Component weights inside each dimension; each group sums to 1.
const W_ENDURANCE: f64 = 0.6;
const W_CANON: f64 = 0.4;
const W_PEN_IMDB_VOTES: f64 = 0.35;
const W_PEN_TMDB_VOTES: f64 = 0.25;
const W_PEN_POPULARITY: f64 = 0.15;
const W_PEN_PLATFORM: f64 = 0.25;
const W_ART_METACRITIC: f64 = 0.35;
const W_ART_ROTTEN: f64 = 0.25;
const W_ART_CRITIC_LISTS: f64 = 0.4;
const W_INST_OSCARS: f64 = 0.45;
const W_INST_AWARDS: f64 = 0.25;
const W_INST_AWARD_LISTS: f64 = 0.3;
const W_REC_IMDB: f64 = 0.55;
const W_REC_TMDB: f64 = 0.45;

/// A nomination counts a quarter of a win.
const NOMINATION_VALUE: f64 = 0.25;
/// Oscar points at which the Oscar component reaches `1 - 1/e` (about 0.63).
const OSCAR_SCALE: f64 = 2.0;
/// Award points (all bodies) at which the awards component reaches about 0.63.
const AWARDS_SCALE: f64 = 30.0;
/// A rating with no votes is taken as 5/10.
const RATING_PRIOR: f64 = 0.5;
/// Votes that weigh as much as the prior: `votes_full / 1000` (1,000 on IMDb, 20 on TMDB).
const PRIOR_VOTES_DIVISOR: f64 = 1000.0;
/// Membership of an unranked list counts like a mid-table ranked position.
const UNRANKED_PLACEMENT: f64 = 0.75;
const NOMINATED_PLACEMENT: f64 = 0.5;

/// The CRI with checked settings and the year ages are measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cri {
    params: CriParams,
    weights: [f64; 5],
    as_of_year: i32,
}

impl Cri {
    /// `as_of_year` is the run's year, passed in so a score never depends on the clock.
    pub fn new(params: CriParams, as_of_year: i32) -> Result<Self, CriError> {
        let weights = [
            ("timelessness", params.timelessness),
            ("cultural_penetration", params.cultural_penetration),
            ("artistic_impact", params.artistic_impact),
            (
                "institutional_recognition",
                params.institutional_recognition,
            ),
            ("public_reception", params.public_reception),
        ];
        for (name, value) in weights {
            if !value.is_finite() || value < 0.0 {
                return Err(CriError::Weight { name, value });
            }
        }
        if weights.iter().all(|(_, w)| *w == 0.0) {
            return Err(CriError::NoWeight);
        }
        let d = CriParams::default();
        if params.imdb_votes_full == 0 {
            return Err(scale_error("imdb_votes_full", 0, d.imdb_votes_full));
        }
        if params.tmdb_votes_full == 0 {
            return Err(scale_error("tmdb_votes_full", 0, d.tmdb_votes_full));
        }
        if !(params.popularity_full.is_finite() && params.popularity_full > 0.0) {
            return Err(scale_error(
                "popularity_full",
                params.popularity_full,
                d.popularity_full,
            ));
        }
        if params.classic_age_years == 0 {
            return Err(scale_error("classic_age_years", 0, d.classic_age_years));
        }
        // Only ratios matter; scaling by the largest keeps sums finite for any finite weights.
        let max = weights.iter().map(|(_, w)| *w).fold(0.0, f64::max);
        Ok(Cri {
            params,
            weights: weights.map(|(_, w)| w / max),
            as_of_year,
        })
    }

    pub fn params(&self) -> &CriParams {
        &self.params
    }

    pub fn as_of_year(&self) -> i32 {
        self.as_of_year
    }

    pub fn score(&self, inputs: &CriInputs) -> CriScore {
        let p = &self.params;
        let lists = inputs.lists.as_deref();
        let strength = |kind| lists.map(|l| list_strength(l, kind));
        let popularity = inputs
            .tmdb_popularity
            .and_then(finite)
            .map(|x| log_share(x, p.popularity_full));
        let imdb_reach = inputs
            .imdb_votes
            .map(|v| log_share(v as f64, p.imdb_votes_full as f64));
        let tmdb_reach = inputs
            .tmdb_vote_count
            .map(|v| log_share(v as f64, p.tmdb_votes_full as f64));
        let age = inputs.release_year.map(|y| self.age_share(y));
        let endurance = age.zip(popularity).map(|(a, pop)| a * pop);
        let awards = inputs.awards;

        let parts: [&[(f64, Option<f64>)]; 5] = [
            &[
                (W_ENDURANCE, endurance),
                (W_CANON, strength(AuthorityKind::Collection)),
            ],
            &[
                (W_PEN_IMDB_VOTES, imdb_reach),
                (W_PEN_TMDB_VOTES, tmdb_reach),
                (W_PEN_POPULARITY, popularity),
                (W_PEN_PLATFORM, strength(AuthorityKind::Platform)),
            ],
            &[
                (W_ART_METACRITIC, percent(inputs.metacritic)),
                (W_ART_ROTTEN, percent(inputs.rotten_tomatoes)),
                (W_ART_CRITIC_LISTS, strength(AuthorityKind::Critic)),
            ],
            &[
                (
                    W_INST_OSCARS,
                    awards
                        .map(|a| saturate(points(a.oscar_wins, a.oscar_nominations), OSCAR_SCALE)),
                ),
                (
                    W_INST_AWARDS,
                    awards.map(|a| saturate(points(a.wins, a.nominations), AWARDS_SCALE)),
                ),
                (W_INST_AWARD_LISTS, strength(AuthorityKind::Award)),
            ],
            &[
                (
                    W_REC_IMDB,
                    audience(inputs.imdb_rating, inputs.imdb_votes, p.imdb_votes_full),
                ),
                (
                    W_REC_TMDB,
                    audience(
                        inputs.tmdb_vote_average,
                        inputs.tmdb_vote_count,
                        p.tmdb_votes_full,
                    ),
                ),
            ],
        ];

        let mut dims = [0.0; 5];
        let mut coverage = [0.0; 5];
        let (mut covered, mut weighted) = (0.0, 0.0);
        for (d, components) in parts.iter().enumerate() {
            let (value, cov) = blend(components);
            dims[d] = value;
            coverage[d] = cov;
            covered += self.weights[d] * cov;
            weighted += self.weights[d] * cov * value;
        }
        let total: f64 = self.weights.iter().sum();
        let overall = if covered > 0.0 {
            (weighted / covered).clamp(0.0, 1.0)
        } else {
            0.0
        };
        CriScore {
            overall: overall * 100.0,
            dimensions: Dimensions::from_array(dims.map(|x| x * 100.0)),
            coverage: Dimensions::from_array(coverage),
            confidence: (covered / total).clamp(0.0, 1.0),
            formula_version: FORMULA_VERSION,
        }
    }

    /// `0` for this year's (or a future) movie, `1` from `classic_age_years` on.
    fn age_share(&self, release_year: i32) -> f64 {
        let age = (i64::from(self.as_of_year) - i64::from(release_year)).max(0) as f64;
        (age / f64::from(self.params.classic_age_years)).min(1.0)
    }
}

fn scale_error(name: &'static str, value: impl ToString, default: impl ToString) -> CriError {
    CriError::Scale {
        name,
        value: value.to_string(),
        default: default.to_string(),
    }
}

/// The weighted mean of the available components and the weight share they cover.
fn blend(components: &[(f64, Option<f64>)]) -> (f64, f64) {
    let (mut sum, mut cov) = (0.0, 0.0);
    for (w, value) in components {
        if let Some(v) = value {
            sum += w * v;
            cov += w;
        }
    }
    if cov > 0.0 {
        ((sum / cov).clamp(0.0, 1.0), cov.min(1.0))
    } else {
        (0.0, 0.0)
    }
}

fn finite(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// `0..=100` (clamped) to `0..=1`; NaN is missing.
fn percent(x: Option<f64>) -> Option<f64> {
    x.and_then(finite).map(|x| (x / 100.0).clamp(0.0, 1.0))
}

/// `ln(1 + x) / ln(1 + full)`, clamped to `0..=1`.
fn log_share(x: f64, full: f64) -> f64 {
    let x = x.clamp(0.0, f64::MAX);
    ((1.0 + x).ln() / (1.0 + full).ln()).clamp(0.0, 1.0)
}

fn points(wins: u32, nominations: u32) -> f64 {
    f64::from(wins) + NOMINATION_VALUE * f64::from(nominations)
}

fn saturate(points: f64, scale: f64) -> f64 {
    (1.0 - (-points / scale).exp()).clamp(0.0, 1.0)
}

/// A `0..=10` rating shrunk toward 5/10 by its vote count. No rating, or a rating from zero
/// votes (TMDB sends `vote_average: 0` with `vote_count: 0`), is missing; a rating whose count
/// is unknown is taken at face value.
fn audience(rating: Option<f64>, votes: Option<u64>, votes_full: u64) -> Option<f64> {
    let r = (rating.and_then(finite)? / 10.0).clamp(0.0, 1.0);
    match votes {
        Some(0) => None,
        None => Some(r),
        Some(v) => {
            let v = v as f64;
            let m = (votes_full as f64 / PRIOR_VOTES_DIVISOR).max(1.0);
            Some(((v * r + m * RATING_PRIOR) / (v + m)).clamp(0.0, 1.0))
        }
    }
}

fn placement_factor(placement: Placement) -> f64 {
    match placement {
        // 1.0 at the top, 0.55 at #100: being listed counts half, the rank the rest.
        Placement::Ranked { position } => 0.5 + 0.5 / f64::from(position.max(1)).sqrt(),
        Placement::Unranked => UNRANKED_PLACEMENT,
        Placement::Award(AwardResult::Won) => 1.0,
        Placement::Award(AwardResult::Nominated) => NOMINATED_PLACEMENT,
    }
}

/// `1 - Π(1 - trust × placement)` over the memberships of one kind: each list adds evidence,
/// none can push past 1. The factors are sorted first so the result does not depend on the
/// order the lists were loaded in.
fn list_strength(lists: &[ListMembership], kind: AuthorityKind) -> f64 {
    let mut shares: Vec<f64> = lists
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| {
            let trust = finite(m.trust).unwrap_or(0.0).clamp(0.0, 1.0);
            trust * placement_factor(m.placement)
        })
        .collect();
    shares.sort_by(f64::total_cmp);
    let missed: f64 = shares.iter().map(|s| 1.0 - s).product();
    (1.0 - missed).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cri() -> Cri {
        Cri::new(CriParams::default(), 2025).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn no_inputs_scores_zero_with_zero_confidence() {
        let s = cri().score(&CriInputs::default());
        assert_eq!(s.overall, 0.0);
        assert_eq!(s.confidence, 0.0);
        assert_eq!(s.dimensions, Dimensions::default());
        assert_eq!(s.formula_version, FORMULA_VERSION);
    }

    #[test]
    fn one_critic_score_sets_overall_but_little_confidence() {
        let s = cri().score(&CriInputs {
            metacritic: Some(80.0),
            ..CriInputs::default()
        });
        assert!(close(s.overall, 80.0), "{s:?}");
        assert!(close(s.dimensions.artistic_impact, 80.0));
        assert!(close(s.coverage.artistic_impact, W_ART_METACRITIC));
        assert!(close(s.confidence, 0.2 * W_ART_METACRITIC));
    }

    #[test]
    fn out_of_range_inputs_are_clamped_and_nan_is_missing() {
        let s = cri().score(&CriInputs {
            metacritic: Some(250.0),
            rotten_tomatoes: Some(f64::NAN),
            imdb_rating: Some(-3.0),
            imdb_votes: Some(5),
            ..CriInputs::default()
        });
        assert!(close(s.dimensions.artistic_impact, 100.0));
        assert!(close(s.coverage.artistic_impact, W_ART_METACRITIC));
        assert!(s.dimensions.public_reception >= 0.0);
    }

    #[test]
    fn tmdb_average_from_zero_votes_is_missing() {
        let s = cri().score(&CriInputs {
            tmdb_vote_average: Some(0.0),
            tmdb_vote_count: Some(0),
            ..CriInputs::default()
        });
        assert_eq!(s.coverage.public_reception, 0.0);
        // The count itself is known: zero reach.
        assert!(close(s.coverage.cultural_penetration, W_PEN_TMDB_VOTES));
    }

    #[test]
    fn few_votes_pull_a_rating_toward_the_middle() {
        let few = audience(Some(9.0), Some(27), 1_000_000).unwrap();
        let many = audience(Some(8.5), Some(1_000_000), 1_000_000).unwrap();
        assert!(few < 0.52 && few > 0.5, "{few}");
        assert!(many > 0.84, "{many}");
        assert_eq!(audience(Some(7.0), None, 1_000_000), Some(0.7));
    }

    #[test]
    fn a_new_movie_is_not_yet_timeless() {
        let inputs = |year| CriInputs {
            tmdb_popularity: Some(100.0),
            release_year: Some(year),
            ..CriInputs::default()
        };
        assert_eq!(cri().score(&inputs(2025)).dimensions.timelessness, 0.0);
        assert_eq!(cri().score(&inputs(2030)).dimensions.timelessness, 0.0);
        assert!(close(
            cri().score(&inputs(1990)).dimensions.timelessness,
            100.0
        ));
        let half = cri().score(&inputs(2025 - 12)).dimensions.timelessness;
        assert!(close(half, 100.0 * 12.0 / 25.0), "{half}");
    }

    #[test]
    fn list_kinds_feed_their_dimensions() {
        let m = |kind, placement| ListMembership {
            trust: 1.0,
            kind,
            placement,
        };
        let s = cri().score(&CriInputs {
            lists: Some(vec![
                m(AuthorityKind::Collection, Placement::Ranked { position: 1 }),
                m(AuthorityKind::Critic, Placement::Ranked { position: 4 }),
                m(
                    AuthorityKind::Award,
                    Placement::Award(AwardResult::Nominated),
                ),
                m(AuthorityKind::Platform, Placement::Unranked),
            ]),
            ..CriInputs::default()
        });
        assert!(close(s.dimensions.timelessness, 100.0));
        assert!(close(s.dimensions.artistic_impact, 75.0));
        assert!(close(s.dimensions.institutional_recognition, 50.0));
        assert!(close(s.dimensions.cultural_penetration, 75.0));
        assert_eq!(s.coverage.public_reception, 0.0);
    }

    #[test]
    fn loaded_lists_without_the_movie_count_as_known_zero() {
        let none = cri().score(&CriInputs::default());
        let empty = cri().score(&CriInputs {
            lists: Some(vec![]),
            ..CriInputs::default()
        });
        assert!(empty.confidence > none.confidence);
        assert_eq!(empty.overall, 0.0);
    }

    #[test]
    fn bad_settings_are_rejected_with_their_name() {
        let with = |f: fn(&mut CriParams)| {
            let mut p = CriParams::default();
            f(&mut p);
            Cri::new(p, 2025).unwrap_err().to_string()
        };
        assert!(with(|p| p.artistic_impact = -1.0).contains("artistic_impact"));
        assert!(with(|p| p.timelessness = f64::NAN).contains("timelessness"));
        assert!(
            with(|p| {
                p.timelessness = 0.0;
                p.cultural_penetration = 0.0;
                p.artistic_impact = 0.0;
                p.institutional_recognition = 0.0;
                p.public_reception = 0.0;
            })
            .contains("every cri weight is 0")
        );
        assert!(with(|p| p.imdb_votes_full = 0).contains("imdb_votes_full"));
        assert!(with(|p| p.tmdb_votes_full = 0).contains("tmdb_votes_full"));
        assert!(with(|p| p.popularity_full = 0.0).contains("popularity_full"));
        assert!(with(|p| p.popularity_full = f64::INFINITY).contains("popularity_full"));
        assert!(with(|p| p.classic_age_years = 0).contains("classic_age_years"));
    }

    #[test]
    fn weights_need_not_sum_to_one() {
        let inputs = CriInputs {
            metacritic: Some(60.0),
            imdb_votes: Some(10_000),
            ..CriInputs::default()
        };
        let doubled = CriParams {
            timelessness: 0.4,
            cultural_penetration: 0.4,
            artistic_impact: 0.4,
            institutional_recognition: 0.4,
            public_reception: 0.4,
            ..CriParams::default()
        };
        let a = cri().score(&inputs);
        let b = Cri::new(doubled, 2025).unwrap().score(&inputs);
        assert!(close(a.overall, b.overall));
        assert!(close(a.confidence, b.confidence));
    }

    /// The worked example of `docs/cri.md`; if this fails, update the doc with the new numbers.
    #[test]
    fn worked_example_in_the_docs() {
        let s = cri().score(&docs_example());
        let round = |x: f64| (x * 100.0).round() / 100.0;
        let d = s.dimensions;
        assert_eq!(round(d.timelessness), 80.55, "{s:#?}");
        assert_eq!(round(d.cultural_penetration), 62.17);
        assert_eq!(round(d.artistic_impact), 71.7);
        assert_eq!(round(d.institutional_recognition), 33.28);
        assert_eq!(round(d.public_reception), 84.33);
        assert_eq!(round(s.overall), 66.4);
        assert_eq!(s.confidence, 1.0);
        let partial = cri().score(&CriInputs {
            rotten_tomatoes: None,
            metacritic: None,
            awards: None,
            ..docs_example()
        });
        let d = partial.dimensions;
        assert_eq!(round(partial.overall), 66.23, "{partial:#?}");
        assert_eq!(round(d.artistic_impact), 45.0);
        assert_eq!(d.institutional_recognition, 0.0);
        assert_eq!(round(partial.coverage.artistic_impact), 0.4);
        assert_eq!(round(partial.coverage.institutional_recognition), 0.3);
        assert_eq!(round(partial.confidence), 0.74);
    }

    /// Back to the Future as two real fixtures describe it: OMDb
    /// `tt0088763-back-to-the-future__by-title__ivxsm.json` and an old TMDB body
    /// `105-back-to-the-future__pjones.json` (2015: few votes, popularity on TMDB's old scale).
    /// The two list memberships are hypothetical.
    pub(super) fn docs_example() -> CriInputs {
        CriInputs {
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
            awards: Some(AwardCounts {
                oscar_wins: 1,
                oscar_nominations: 0,
                wins: 23,
                nominations: 25,
            }),
            rotten_tomatoes: Some(93.0),
            metacritic: Some(87.0),
            imdb_rating: Some(8.5),
            imdb_votes: Some(1_266_466),
            tmdb_vote_average: Some(8.9),
            tmdb_vote_count: Some(123),
            tmdb_popularity: Some(80_329.688),
            release_year: Some(1985),
        }
    }

    fn opt<T: std::fmt::Debug + Clone>(
        s: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<T>> {
        prop_oneof![1 => Just(None), 3 => s.prop_map(Some)]
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            3 => -50.0..1_000.0f64,
            1 => any::<f64>(),
        ]
    }

    fn membership() -> impl Strategy<Value = ListMembership> {
        let kind = prop_oneof![
            Just(AuthorityKind::Award),
            Just(AuthorityKind::Collection),
            Just(AuthorityKind::Critic),
            Just(AuthorityKind::Platform),
        ];
        let placement = prop_oneof![
            any::<u32>().prop_map(|position| Placement::Ranked { position }),
            Just(Placement::Unranked),
            Just(Placement::Award(AwardResult::Won)),
            Just(Placement::Award(AwardResult::Nominated)),
        ];
        (any_f64(), kind, placement).prop_map(|(trust, kind, placement)| ListMembership {
            trust,
            kind,
            placement,
        })
    }

    fn awards() -> impl Strategy<Value = AwardCounts> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c, d)| {
            AwardCounts {
                oscar_wins: a % 30,
                oscar_nominations: b % 30,
                wins: if c % 4 == 0 { c } else { c % 500 },
                nominations: d % 800,
            }
        })
    }

    prop_compose! {
        fn inputs()(
            lists in opt(prop::collection::vec(membership(), 0..6)),
            awards in opt(awards()),
            rotten_tomatoes in opt(any_f64()),
            metacritic in opt(any_f64()),
            imdb_rating in opt(any_f64()),
            imdb_votes in opt(prop_oneof![0..5_000_000u64, any::<u64>()]),
            tmdb_vote_average in opt(any_f64()),
            tmdb_vote_count in opt(prop_oneof![0..50_000u64, any::<u64>()]),
            tmdb_popularity in opt(any_f64()),
            release_year in opt(prop_oneof![1880..2040i32, any::<i32>()]),
        ) -> CriInputs {
            CriInputs {
                lists, awards, rotten_tomatoes, metacritic, imdb_rating, imdb_votes,
                tmdb_vote_average, tmdb_vote_count, tmdb_popularity, release_year,
            }
        }
    }

    prop_compose! {
        fn params()(
            w in prop::array::uniform5(prop_oneof![0.0..10.0f64, 0.0..f64::MAX]),
            imdb_votes_full in 1..u64::MAX,
            tmdb_votes_full in 1..u64::MAX,
            popularity_full in prop_oneof![1e-9..1e9f64, Just(f64::MAX)],
            classic_age_years in 1..u32::MAX,
        ) -> CriParams {
            let w = if w.iter().all(|x| *x == 0.0) { [1.0; 5] } else { w };
            CriParams {
                timelessness: w[0], cultural_penetration: w[1], artistic_impact: w[2],
                institutional_recognition: w[3], public_reception: w[4],
                imdb_votes_full, tmdb_votes_full, popularity_full, classic_age_years,
            }
        }
    }

    fn in_range(s: &CriScore) -> Result<(), TestCaseError> {
        prop_assert!((0.0..=100.0).contains(&s.overall), "overall {s:?}");
        prop_assert!((0.0..=1.0).contains(&s.confidence), "confidence {s:?}");
        for x in s.dimensions.to_array() {
            prop_assert!((0.0..=100.0).contains(&x), "dimension {s:?}");
        }
        for x in s.coverage.to_array() {
            prop_assert!((0.0..=1.0).contains(&x), "coverage {s:?}");
        }
        Ok(())
    }

    /// `b` is at least `a`, allowing for the last bit of float rounding.
    fn not_lower(a: f64, b: f64) -> bool {
        b >= a - 1e-9
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn outputs_are_finite_and_in_range(
            i in inputs(), p in params(), year in prop_oneof![1900..2100i32, any::<i32>()],
        ) {
            let s = Cri::new(p, year).unwrap().score(&i);
            in_range(&s)?;
            prop_assert_eq!(s, Cri::new(p, year).unwrap().score(&i), "not deterministic");
        }

        #[test]
        fn list_order_does_not_matter(mut i in inputs()) {
            let a = cri().score(&i);
            if let Some(l) = i.lists.as_mut() { l.reverse(); }
            prop_assert_eq!(a, cri().score(&i));
        }

        #[test]
        fn more_oscars_never_lower_institutional_recognition(
            i in inputs(), extra_wins in 0..20u32, extra_noms in 0..20u32,
        ) {
            let base = i.awards.unwrap_or_default();
            let more = AwardCounts {
                oscar_wins: base.oscar_wins + extra_wins,
                oscar_nominations: base.oscar_nominations + extra_noms,
                ..base
            };
            let a = cri().score(&CriInputs { awards: Some(base), ..i.clone() });
            let b = cri().score(&CriInputs { awards: Some(more), ..i });
            prop_assert!(not_lower(a.dimensions.institutional_recognition,
                                   b.dimensions.institutional_recognition));
            prop_assert!(not_lower(a.overall, b.overall));
        }

        #[test]
        fn better_critic_scores_never_lower_artistic_impact(
            i in inputs(), mc in 0.0..100.0f64, rt in 0.0..100.0f64, up in 0.0..50.0f64,
        ) {
            let a = cri().score(&CriInputs { metacritic: Some(mc), rotten_tomatoes: Some(rt), ..i.clone() });
            let b = cri().score(&CriInputs { metacritic: Some(mc + up), rotten_tomatoes: Some(rt + up), ..i });
            prop_assert!(not_lower(a.dimensions.artistic_impact, b.dimensions.artistic_impact));
            prop_assert!(not_lower(a.overall, b.overall));
        }

        #[test]
        fn more_votes_and_attention_never_lower_cultural_penetration(
            i in inputs(), imdb in 0..10_000_000u64, tmdb in 0..100_000u64,
            pop in 0.0..1_000.0f64, more in 0..1_000_000u64, more_pop in 0.0..500.0f64,
        ) {
            let a = cri().score(&CriInputs {
                imdb_votes: Some(imdb), tmdb_vote_count: Some(tmdb), tmdb_popularity: Some(pop),
                ..i.clone()
            });
            let b = cri().score(&CriInputs {
                imdb_votes: Some(imdb + more), tmdb_vote_count: Some(tmdb + more),
                tmdb_popularity: Some(pop + more_pop), ..i
            });
            prop_assert!(not_lower(a.dimensions.cultural_penetration, b.dimensions.cultural_penetration));
            prop_assert!(not_lower(a.dimensions.timelessness, b.dimensions.timelessness));
        }

        #[test]
        fn older_movies_still_watched_never_lose_timelessness(
            i in inputs(), year in 1880..2040i32, older in 0..100i32, pop in 0.0..500.0f64,
        ) {
            let a = cri().score(&CriInputs { release_year: Some(year), tmdb_popularity: Some(pop), ..i.clone() });
            let b = cri().score(&CriInputs { release_year: Some(year - older), tmdb_popularity: Some(pop), ..i });
            prop_assert!(not_lower(a.dimensions.timelessness, b.dimensions.timelessness));
        }

        #[test]
        fn joining_a_list_never_lowers_anything(i in inputs(), m in membership()) {
            let lists = i.lists.clone().unwrap_or_default();
            let mut more = lists.clone();
            more.push(m);
            let a = cri().score(&CriInputs { lists: Some(lists), ..i.clone() });
            let b = cri().score(&CriInputs { lists: Some(more), ..i });
            for (x, y) in a.dimensions.to_array().into_iter().zip(b.dimensions.to_array()) {
                prop_assert!(not_lower(x, y), "{a:?} -> {b:?}");
            }
            prop_assert!(not_lower(a.overall, b.overall));
            prop_assert_eq!(a.confidence, b.confidence);
        }

        #[test]
        fn higher_trust_never_lowers_its_dimension(i in inputs(), m in membership(), t in 0.0..1.0f64, up in 0.0..1.0f64) {
            let with = |trust| {
                let mut l = i.lists.clone().unwrap_or_default();
                l.push(ListMembership { trust, ..m });
                cri().score(&CriInputs { lists: Some(l), ..i.clone() })
            };
            let (a, b) = (with(t), with(t + up));
            for (x, y) in a.dimensions.to_array().into_iter().zip(b.dimensions.to_array()) {
                prop_assert!(not_lower(x, y), "{a:?} -> {b:?}");
            }
        }

        #[test]
        fn knowing_more_never_lowers_confidence(i in inputs(), full in inputs()) {
            // Fill every missing field of `i` from `full` (where `full` has it). A vote count
            // of 0 is left out on purpose: it reveals that a rating already known means nothing.
            let more = CriInputs {
                lists: i.lists.clone().or(full.lists),
                awards: i.awards.or(full.awards),
                rotten_tomatoes: i.rotten_tomatoes.or(full.rotten_tomatoes),
                metacritic: i.metacritic.or(full.metacritic),
                imdb_rating: i.imdb_rating.or(full.imdb_rating),
                imdb_votes: i.imdb_votes.or(full.imdb_votes.map(|v| v.max(1))),
                tmdb_vote_average: i.tmdb_vote_average.or(full.tmdb_vote_average),
                tmdb_vote_count: i.tmdb_vote_count.or(full.tmdb_vote_count.map(|v| v.max(1))),
                tmdb_popularity: i.tmdb_popularity.or(full.tmdb_popularity),
                release_year: i.release_year.or(full.release_year),
            };
            let (a, b) = (cri().score(&i), cri().score(&more));
            prop_assert!(not_lower(a.confidence, b.confidence), "{a:?} -> {b:?}");
        }
    }
}
