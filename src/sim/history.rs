//! The catalog's days. The index is the catalog on `today`; on each day after it some movies
//! change and a few disappear, each drawn from `hash(seed, id, day)`, so "the catalog as of
//! day D" is a pure function of the seed, the size, `today` and D, whatever was asked before.
//! The sandbox's clock (`SandboxConfig::now`) picks the day it serves.
//!
//! - A movie changes on any day with probability [`DAILY_CHANGE_RATE`]; `movie/changes` lists
//!   it for that day. Changes up to `today` are already in the index (it is their result);
//!   each change after `today` is a new revision of the movie: another popularity, more votes,
//!   and now and then another title, which its details and the export show from that day on.
//! - On the days after `today` a movie disappears with probability [`DAILY_REMOVAL_RATE`] a
//!   day. From its removal day on, TMDB answers 404 for it, the export omits it, and it no
//!   longer changes; the changes of its removal day list it (TMDB lists a deleted movie as
//!   changed).
//!
//! Lists, discover, `find`, collections and OMDb keep serving the index (the catalog on
//! `today`) whatever the day: the export and the changes are the way to follow the days.

use std::sync::{Arc, Mutex};

use chrono::{Datelike, Days, NaiveDate};

use super::catalog::{Catalog, IndexEntry, round3};
use super::config::MAX_DAYS_AHEAD;
use super::model::{ChangedId, ExportedId, Movie};
use super::rng::{Rng, hash, tag, unit};
use super::words;

/// The share of the catalog that changes on a day.
pub const DAILY_CHANGE_RATE: f64 = 0.03;
/// The share of the catalog that disappears on a day after `today`.
pub const DAILY_REMOVAL_RATE: f64 = 0.002;
/// The chance that a revision retitles the movie.
const RETITLE: f64 = 0.2;

/// The last `movie/changes` window computed and its ids.
#[derive(Default)]
pub(crate) struct ChangesMemo(Mutex<Option<(Window, Arc<Vec<ChangedId>>)>>);

type Window = (NaiveDate, NaiveDate);

/// What the revisions after `today` made of a movie's index entry.
struct Revised {
    popularity: f64,
    vote_count: u32,
    title: Option<String>,
}

impl Catalog {
    /// Did movie `id` change on `day` (whether or not it was still there)?
    pub(crate) fn changed_on(&self, id: u32, day: NaiveDate) -> bool {
        let h = hash(&[
            self.seed,
            tag::CHANGES,
            u64::from(id),
            day.num_days_from_ce() as u64,
        ]);
        unit(h) < DAILY_CHANGE_RATE
    }

    /// The day movie `id` disappears, if it does within the simulated span (`today` + 1 ..=
    /// `today` + [`MAX_DAYS_AHEAD`]).
    pub fn removal_day(&self, id: u32) -> Option<NaiveDate> {
        let u = unit(hash(&[self.seed, tag::REMOVAL, u64::from(id)]));
        // The first day after `today` whose daily draw hits: geometric in the day number.
        let k = ((1.0 - u).ln() / (1.0 - DAILY_REMOVAL_RATE).ln()).floor() + 1.0;
        (k <= MAX_DAYS_AHEAD as f64).then(|| self.today + Days::new(k as u64))
    }

    /// Does `movie/{id}` answer on `day`: a catalog movie before its removal day, or a stray.
    pub fn alive_on(&self, id: u32, day: NaiveDate) -> bool {
        self.is_stray(id)
            || (self.index_of(id).is_some() && self.removal_day(id).is_none_or(|r| day < r))
    }

    /// The details of movie `id` as TMDB shows them on `day` (`movie/{id}` without appended
    /// parts); `None` when it is not in the catalog that day.
    pub fn movie_on(&self, id: u32, day: NaiveDate) -> Option<Movie> {
        let Some(index) = self.index_of(id) else {
            return self.movie(id);
        };
        if !self.alive_on(id, day) {
            return None;
        }
        let mut movie = self.movie_at(index);
        let revised = self.revised(&self.entries[index], day);
        movie.popularity = revised.popularity;
        movie.vote_count = revised.vote_count;
        if let Some(title) = revised.title {
            movie.title = title;
        }
        Some(movie)
    }

    /// The lines of the movie ID export of `day`: every movie there that day, in id order,
    /// with its popularity of that day.
    pub fn export(&self, day: NaiveDate) -> impl Iterator<Item = ExportedId> + '_ {
        self.entries
            .iter()
            .filter(move |e| self.alive_on(e.id, day))
            .map(move |e| ExportedId {
                // As every details body: the simulator has no adult movies and no videos.
                adult: false,
                id: e.id,
                original_title: e.original_title.clone(),
                popularity: self.revised(e, day).popularity,
                video: false,
            })
    }

    /// `movie/changes` for `start ..= end`: the movies that changed or disappeared on those
    /// days, in id order.
    pub fn changed_ids(&self, start: NaiveDate, end: NaiveDate) -> Arc<Vec<ChangedId>> {
        let mut memo = self
            .changes_memo
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((window, ids)) = memo.as_ref()
            && *window == (start, end)
        {
            return ids.clone();
        }
        let ids: Arc<Vec<ChangedId>> = Arc::new(
            self.entries
                .iter()
                .filter(|e| self.changed_in(e.id, start, end))
                .map(|e| ChangedId {
                    id: e.id,
                    adult: false,
                    softcore: false,
                })
                .collect(),
        );
        *memo = Some(((start, end), ids.clone()));
        ids
    }

    fn changed_in(&self, id: u32, start: NaiveDate, end: NaiveDate) -> bool {
        let removed = self.removal_day(id);
        if removed.is_some_and(|r| r < start) {
            return false;
        }
        start.iter_days().take_while(|d| *d <= end).any(|d| {
            Some(d) == removed || (self.changed_on(id, d) && removed.is_none_or(|r| d < r))
        })
    }

    /// The days after `today` up to `day` on which the movie changed while still there.
    fn revision(&self, id: u32, day: NaiveDate) -> u64 {
        let last = match self.removal_day(id) {
            Some(r) => day.min(r - Days::new(1)),
            None => day,
        };
        self.today
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= last)
            .filter(|d| self.changed_on(id, *d))
            .count() as u64
    }

    fn revised(&self, e: &IndexEntry, day: NaiveDate) -> Revised {
        let k = self.revision(e.id, day);
        if k == 0 {
            return Revised {
                popularity: e.popularity,
                vote_count: e.vote_count,
                title: None,
            };
        }
        let draw = |j: u64| Rng::new(self.seed, tag::REVISION, u64::from(e.id) << 20 | j);
        // Votes only grow, by the same step at each revision; a movie nobody rated stays so.
        let step = 1 + draw(0).below(40) as u32;
        let vote_count = if e.vote_count == 0 {
            0
        } else {
            e.vote_count.saturating_add(step.saturating_mul(k as u32))
        };
        let popularity = round3(e.popularity * (0.6 + 0.8 * draw(k).f64()));
        // The latest revision that retitled the movie names it.
        let title = (1..=k).rev().find_map(|j| {
            let mut r = draw(j);
            let _popularity = r.f64();
            r.chance(RETITLE)
                .then(|| format!("{}: {}", e.title, r.pick(words::TITLE_NOUNS)))
        });
        Revised {
            popularity,
            vote_count,
            title,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::generate(11, 3_000, NaiveDate::from_ymd_opt(2025, 6, 15).unwrap())
    }

    #[test]
    fn on_today_the_catalog_is_its_index() {
        let cat = catalog();
        let today = cat.today();
        let export: Vec<ExportedId> = cat.export(today).collect();
        assert_eq!(export.len(), cat.len());
        for (line, e) in export.iter().zip(cat.entries()) {
            assert_eq!((line.id, line.popularity), (e.id, e.popularity));
            assert_eq!(cat.movie_on(e.id, today), cat.movie(e.id));
        }
    }

    #[test]
    fn removals_are_after_today_and_last() {
        let cat = catalog();
        let today = cat.today();
        let day = today + Days::new(30);
        let gone: Vec<u32> = cat
            .entries()
            .iter()
            .map(|e| e.id)
            .filter(|&id| !cat.alive_on(id, day))
            .collect();
        // 30 days at 0.2% a day: about 6% of 3,000.
        assert!((100..260).contains(&gone.len()), "{}", gone.len());
        for id in gone {
            let r = cat.removal_day(id).unwrap();
            assert!(r > today && r <= day);
            assert!(cat.alive_on(id, r - Days::new(1)));
            assert!(cat.movie_on(id, r).is_none());
            assert!(!cat.alive_on(id, today + Days::new(MAX_DAYS_AHEAD)));
            assert!(cat.changed_ids(r, r).iter().any(|c| c.id == id));
            assert!(
                !cat.changed_ids(r + Days::new(1), day)
                    .iter()
                    .any(|c| c.id == id)
            );
        }
    }

    #[test]
    fn a_revision_shows_from_its_day_and_votes_only_grow() {
        let cat = catalog();
        let today = cat.today();
        let mut retitled = 0;
        let mut revised = 0;
        for e in cat.entries() {
            let mut before = cat.movie_on(e.id, today).unwrap();
            for day in today.iter_days().skip(1).take(20) {
                let Some(now) = cat.movie_on(e.id, day) else {
                    break;
                };
                let changed = cat.changed_on(e.id, day);
                if !changed {
                    assert_eq!(now, before, "{} on {day}", e.id);
                }
                assert!(now.vote_count >= before.vote_count);
                if changed && now != before {
                    revised += 1;
                    retitled += usize::from(now.title != before.title);
                    assert!(cat.changed_ids(day, day).iter().any(|c| c.id == e.id));
                }
                before = now;
            }
        }
        assert!(revised > 1_000, "{revised}");
        assert!(
            retitled > revised / 10 && retitled < revised / 3,
            "{retitled}"
        );
    }
}
