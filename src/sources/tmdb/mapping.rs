//! TMDB bodies → store bundles. The one place TMDB shapes turn into what the store writes.
//!
//! Rules: `""` release dates and zero runtime, budget and revenue become `None`; empty strings
//! become `None`; a part missing from the body is `None` (the store leaves its rows alone);
//! the legacy `similar_movies` part stands in for `similar`; the legacy `releases` and
//! `trailers` parts are not mapped, because they lack what the schema keys on (release type,
//! video id) and every body that has them also has their modern replacement or the user asked
//! for the modern part explicitly.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::models::{self, MovieDetails};
use crate::sources::lenient::{MappingError, from_body, non_empty};
use crate::store::bundle::{
    AlternativeTitle, Collection, Company, Country, Credit, Genre, Image, Keyword, Language,
    MovieBundle, MovieData, Person, PersonDetails, PersonTranslation, RelatedMovie, ReleaseDate,
    Review, Role, Translation, Video, WatchProvider, image_kinds,
};

/// Maps a `/movie/{id}` body, with whatever appended parts it has, into a bundle.
pub fn movie_bundle(body: &[u8]) -> Result<MovieBundle, MappingError> {
    let details: MovieDetails = from_body("TMDB movie details", body)?;
    let raw = String::from_utf8_lossy(body).into_owned();
    let mut bundle = bundle_from_details(details)?;
    // A body that echoes the key is not stored, as the cache does not store it.
    bundle.raw_body = Some(raw).filter(|r| !crate::secret::leaks(r.as_bytes()));
    Ok(bundle)
}

/// Maps a `/person/{id}` body into the details a people stage stores. Empty texts and dates
/// become `None` (old bodies say `"deathday": ""` for the living); `place_of_birth` and the
/// other names are trimmed, as TMDB's editors leave stray spaces that would keep a film app
/// from grouping people by place or matching a name; the biography is kept as written.
pub fn person_details(body: &[u8]) -> Result<PersonDetails, MappingError> {
    let p: models::PersonDetails = from_body("TMDB person details", body)?;
    let tmdb_id = p.id;
    let date = |field: &str, value: Option<String>| match non_empty(value) {
        None => Ok(None),
        Some(s) => parse_date(&s).map(Some).ok_or_else(|| MappingError::Value {
            what: format!("TMDB person {tmdb_id}"),
            field: field.into(),
            value: s.clone(),
            reason: "expected YYYY-MM-DD".into(),
        }),
    };
    let trimmed = |s: Option<String>| non_empty(s.map(|s| s.trim().to_owned()));
    let mut also_known_as: Vec<String> = Vec::new();
    for name in p.also_known_as.unwrap_or_default() {
        let name = name.trim();
        if !name.is_empty() && !also_known_as.iter().any(|n| n == name) {
            also_known_as.push(name.to_owned());
        }
    }
    Ok(PersonDetails {
        tmdb_id,
        name: p.name.unwrap_or_default(),
        known_for_department: non_empty(p.known_for_department),
        profile_path: non_empty(p.profile_path),
        biography: non_empty(p.biography),
        birthday: date("birthday", p.birthday)?,
        deathday: date("deathday", p.deathday)?,
        place_of_birth: trimmed(p.place_of_birth),
        imdb_id: non_empty(p.imdb_id),
        homepage: non_empty(p.homepage),
        also_known_as,
        images: p.images.map(|i| {
            let all = i
                .profiles
                .into_iter()
                .map(|m| image(image_kinds::PROFILE, m));
            dedup_by_key(all.collect(), |m| m.file_path.clone())
        }),
        translations: p.translations.map(|t| {
            let all = t.translations.into_iter().map(|t| PersonTranslation {
                iso_639_1: t.iso_639_1,
                iso_3166_1: t.iso_3166_1,
                name: non_empty(t.name),
                english_name: non_empty(t.english_name),
                biography: non_empty(t.data.unwrap_or_default().biography),
            });
            dedup_by_key(all.collect(), |t| {
                (t.iso_639_1.clone(), t.iso_3166_1.clone())
            })
        }),
    })
}

/// Maps `/genre/movie/list` into (TMDB id, name) pairs for `store::seed`.
pub fn genre_list(body: &[u8]) -> Result<Vec<(i64, String)>, MappingError> {
    let list: models::GenreList = from_body("TMDB genre list", body)?;
    Ok(list
        .genres
        .into_iter()
        .map(|g| (g.id, g.name.unwrap_or_default()))
        .collect())
}

fn bundle_from_details(d: MovieDetails) -> Result<MovieBundle, MappingError> {
    let tmdb_id = d.id;
    let what = || format!("TMDB movie {tmdb_id}");
    let title = non_empty(d.title.clone())
        .or_else(|| non_empty(d.original_title.clone()))
        .ok_or_else(|| MappingError::Value {
            what: what(),
            field: "title".into(),
            value: String::new(),
            reason: "a movie needs a title (or an original_title)".into(),
        })?;
    let release_date = match non_empty(d.release_date.clone()) {
        None => None,
        Some(s) => Some(parse_date(&s).ok_or_else(|| MappingError::Value {
            what: what(),
            field: "release_date".into(),
            value: s.clone(),
            reason: "expected YYYY-MM-DD".into(),
        })?),
    };
    let runtime = match d.runtime.filter(|r| *r != 0) {
        None => None,
        Some(r) => Some(i32::try_from(r).map_err(|_| MappingError::Value {
            what: what(),
            field: "runtime".into(),
            value: r.to_string(),
            reason: "out of range".into(),
        })?),
    };
    let imdb_id = non_empty(d.imdb_id.clone()).or_else(|| {
        d.external_ids
            .as_ref()
            .and_then(|e| non_empty(e.imdb_id.clone()))
    });

    let movie = MovieData {
        tmdb_id,
        imdb_id,
        title,
        original_title: non_empty(d.original_title),
        original_language: non_empty(d.original_language),
        overview: non_empty(d.overview),
        tagline: non_empty(d.tagline),
        status: non_empty(d.status),
        release_date,
        runtime,
        budget: d.budget.filter(|b| *b != 0),
        revenue: d.revenue.filter(|r| *r != 0),
        popularity: d.popularity,
        vote_average: d.vote_average,
        vote_count: d.vote_count,
        adult: d.adult.unwrap_or(false),
        homepage: non_empty(d.homepage),
        poster_path: non_empty(d.poster_path),
        backdrop_path: non_empty(d.backdrop_path),
        collection: d.belongs_to_collection.map(|c| Collection {
            tmdb_id: c.id,
            name: c.name.unwrap_or_default(),
            poster_path: non_empty(c.poster_path),
            backdrop_path: non_empty(c.backdrop_path),
        }),
        origin_country: d.origin_country,
    };

    let mut bundle = MovieBundle::new(movie);
    bundle.genres = d.genres.map(|gs| {
        dedup_by_key(gs, |g| g.id)
            .into_iter()
            .map(|g| Genre {
                tmdb_id: g.id,
                name: g.name.unwrap_or_default(),
            })
            .collect()
    });
    bundle.production_companies = d.production_companies.map(|cs| {
        dedup_by_key(cs, |c| c.id)
            .into_iter()
            .map(|c| Company {
                tmdb_id: c.id,
                name: c.name.unwrap_or_default(),
                logo_path: non_empty(c.logo_path),
                origin_country: non_empty(c.origin_country),
            })
            .collect()
    });
    bundle.production_countries = d.production_countries.map(|cs| {
        dedup_by_key(cs, |c| c.iso_3166_1.clone())
            .into_iter()
            .map(|c| Country {
                name: c.name.unwrap_or_else(|| c.iso_3166_1.clone()),
                iso_3166_1: c.iso_3166_1,
            })
            .collect()
    });
    bundle.spoken_languages = d.spoken_languages.map(|ls| {
        dedup_by_key(ls, |l| l.iso_639_1.clone())
            .into_iter()
            .map(|l| Language {
                name: non_empty(l.name).unwrap_or_else(|| l.iso_639_1.clone()),
                iso_639_1: l.iso_639_1,
                english_name: non_empty(l.english_name),
            })
            .collect()
    });
    bundle.credits = d.credits.map(credits);
    bundle.keywords = d.keywords.map(|k| {
        dedup_by_key(k.keywords, |k| k.id)
            .into_iter()
            .map(|k| Keyword {
                tmdb_id: k.id,
                name: k.name.unwrap_or_default(),
            })
            .collect()
    });
    bundle.videos = d.videos.map(|v| videos(tmdb_id, v.results)).transpose()?;
    bundle.release_dates = d
        .release_dates
        .map(|r| release_dates(tmdb_id, r.results))
        .transpose()?;
    bundle.recommendations = d.recommendations.map(|r| related(r.results));
    bundle.similar = d.similar.or(d.similar_movies).map(|r| related(r.results));
    bundle.reviews = d.reviews.map(|r| reviews(tmdb_id, r.results)).transpose()?;
    bundle.images = d.images.map(images);
    bundle.alternative_titles = d.alternative_titles.map(|a| {
        let titles = a.titles.into_iter().map(|t| AlternativeTitle {
            iso_3166_1: t.iso_3166_1,
            title: t.title,
            title_type: t.title_type.unwrap_or_default(),
        });
        dedup_by_key(titles.collect(), |t| {
            (t.iso_3166_1.clone(), t.title.clone(), t.title_type.clone())
        })
    });
    bundle.translations = d.translations.map(|t| translations(t.translations));
    bundle.watch_providers = d.watch_providers.map(watch_providers);
    Ok(bundle)
}

/// Posters, backdrops and logos as one list; a file listed twice is one image.
fn images(i: models::Images) -> Vec<Image> {
    let kinds = [
        (image_kinds::POSTER, i.posters),
        (image_kinds::BACKDROP, i.backdrops),
        (image_kinds::LOGO, i.logos),
    ];
    let all = kinds
        .into_iter()
        .flat_map(|(kind, images)| images.into_iter().map(move |m| image(kind, m)));
    dedup_by_key(all.collect(), |m| m.file_path.clone())
}

/// One image as the store keeps it.
fn image(kind: &'static str, m: models::Image) -> Image {
    Image {
        file_path: m.file_path,
        kind,
        iso_639_1: non_empty(m.iso_639_1),
        width: m.width.and_then(|w| i32::try_from(w).ok()),
        height: m.height.and_then(|h| i32::try_from(h).ok()),
        aspect_ratio: m.aspect_ratio,
        vote_average: m.vote_average,
        vote_count: m.vote_count.and_then(|c| i32::try_from(c).ok()),
    }
}

/// Every (country, monetization type, provider) once, with its country's link.
fn watch_providers(w: models::WatchProviders) -> Vec<WatchProvider> {
    let mut all = Vec::new();
    for (country, c) in w.results {
        let link = non_empty(c.link);
        let kinds = [
            ("flatrate", c.flatrate),
            ("free", c.free),
            ("ads", c.ads),
            ("rent", c.rent),
            ("buy", c.buy),
        ];
        for (kind, providers) in kinds {
            for p in providers {
                all.push(WatchProvider {
                    iso_3166_1: country.clone(),
                    monetization_type: kind,
                    provider_id: p.provider_id,
                    provider_name: p.provider_name.unwrap_or_default(),
                    logo_path: non_empty(p.logo_path),
                    display_priority: p.display_priority.and_then(|d| i32::try_from(d).ok()),
                    link: link.clone(),
                });
            }
        }
    }
    dedup_by_key(all, |w| {
        (w.iso_3166_1.clone(), w.monetization_type, w.provider_id)
    })
}

fn translations(ts: Vec<models::Translation>) -> Vec<Translation> {
    let all = ts.into_iter().map(|t| {
        let data = t.data.unwrap_or_default();
        Translation {
            iso_639_1: t.iso_639_1,
            iso_3166_1: t.iso_3166_1,
            name: non_empty(t.name),
            english_name: non_empty(t.english_name),
            title: non_empty(data.title),
            overview: non_empty(data.overview),
            tagline: non_empty(data.tagline),
            homepage: non_empty(data.homepage),
            runtime: data
                .runtime
                .filter(|&r| r > 0)
                .and_then(|r| i32::try_from(r).ok()),
        }
    });
    dedup_by_key(all.collect(), |t| {
        (t.iso_639_1.clone(), t.iso_3166_1.clone())
    })
}

fn person(p: models::PersonFields) -> Person {
    Person {
        tmdb_id: p.id,
        name: p.name.unwrap_or_default(),
        original_name: non_empty(p.original_name),
        gender: p.gender.and_then(|g| i16::try_from(g).ok()),
        known_for_department: non_empty(p.known_for_department),
        profile_path: non_empty(p.profile_path),
        popularity: p.popularity,
        adult: p.adult,
    }
}

/// Every credit as listed, duplicates included: the store decides what identifies a credit
/// whose `credit_id` is missing or repeated, and counts them.
fn credits(c: models::Credits) -> Vec<Credit> {
    let mut out = Vec::with_capacity(c.cast.len() + c.crew.len());
    for m in c.cast {
        out.push(Credit {
            credit_id: non_empty(m.credit_id),
            role: Role::Cast {
                character: non_empty(m.character),
                order: m.order.and_then(|o| i32::try_from(o).ok()),
            },
            person: person(m.person),
        });
    }
    for m in c.crew {
        out.push(Credit {
            credit_id: non_empty(m.credit_id),
            role: Role::Crew {
                department: non_empty(m.department),
                job: non_empty(m.job),
            },
            person: person(m.person),
        });
    }
    out
}

fn videos(movie: i64, vs: Vec<models::Video>) -> Result<Vec<Video>, MappingError> {
    let mut out = Vec::with_capacity(vs.len());
    for (i, v) in dedup_by_key(vs, |v| v.id.clone()).into_iter().enumerate() {
        let published_at = match non_empty(v.published_at) {
            None => None,
            Some(s) => Some(parse_timestamp(&s).ok_or_else(|| MappingError::Value {
                what: format!("TMDB movie {movie}"),
                field: format!("videos.results[{i}].published_at"),
                value: s.clone(),
                reason: "expected an RFC 3339 time".into(),
            })?),
        };
        out.push(Video {
            tmdb_video_id: v.id,
            name: v.name.unwrap_or_default(),
            site: v.site.unwrap_or_default(),
            key: v.key.unwrap_or_default(),
            video_type: non_empty(v.video_type),
            size: v.size.and_then(|s| i32::try_from(s).ok()),
            official: v.official,
            iso_639_1: non_empty(v.iso_639_1),
            iso_3166_1: non_empty(v.iso_3166_1),
            published_at,
        });
    }
    Ok(out)
}

fn release_dates(
    movie: i64,
    countries: Vec<models::CountryReleases>,
) -> Result<Vec<ReleaseDate>, MappingError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (ci, country) in countries.into_iter().enumerate() {
        for (ri, r) in country.release_dates.into_iter().enumerate() {
            let field = || format!("release_dates.results[{ci}].release_dates[{ri}]");
            let date = parse_date(&r.release_date).ok_or_else(|| MappingError::Value {
                what: format!("TMDB movie {movie}"),
                field: format!("{}.release_date", field()),
                value: r.release_date.clone(),
                reason: "expected a date".into(),
            })?;
            let release_type = i16::try_from(r.release_type).map_err(|_| MappingError::Value {
                what: format!("TMDB movie {movie}"),
                field: format!("{}.type", field()),
                value: r.release_type.to_string(),
                reason: "out of range".into(),
            })?;
            let row = ReleaseDate {
                iso_3166_1: country.iso_3166_1.clone(),
                release_type,
                date,
                iso_639_1: r.iso_639_1.unwrap_or_default(),
                note: r.note.unwrap_or_default(),
                certification: non_empty(r.certification),
            };
            let key = (
                row.iso_3166_1.clone(),
                row.release_type,
                row.date,
                row.iso_639_1.clone(),
                row.note.clone(),
            );
            if seen.insert(key) {
                out.push(row);
            }
        }
    }
    Ok(out)
}

fn related(results: Vec<models::MovieSummary>) -> Vec<RelatedMovie> {
    dedup_by_key(results, |m| m.id)
        .into_iter()
        .enumerate()
        .map(|(i, m)| RelatedMovie {
            tmdb_id: m.id,
            rank: i32::try_from(i + 1).unwrap_or(i32::MAX),
        })
        .collect()
}

fn reviews(movie: i64, rs: Vec<models::Review>) -> Result<Vec<Review>, MappingError> {
    let mut out = Vec::with_capacity(rs.len());
    for (i, r) in dedup_by_key(rs, |r| r.id.clone()).into_iter().enumerate() {
        let time = |field: &str, value: Option<String>| -> Result<_, MappingError> {
            match non_empty(value) {
                None => Ok(None),
                Some(s) => parse_timestamp(&s)
                    .map(Some)
                    .ok_or_else(|| MappingError::Value {
                        what: format!("TMDB movie {movie}"),
                        field: format!("reviews.results[{i}].{field}"),
                        value: s.clone(),
                        reason: "expected an RFC 3339 time".into(),
                    }),
            }
        };
        let created_at = time("created_at", r.created_at)?;
        let updated_at = time("updated_at", r.updated_at)?;
        let details = r.author_details;
        out.push(Review {
            tmdb_review_id: r.id,
            author: r.author.unwrap_or_default(),
            author_username: details.as_ref().and_then(|d| non_empty(d.username.clone())),
            rating: details.and_then(|d| d.rating),
            content: r.content.unwrap_or_default(),
            created_at,
            updated_at,
            url: non_empty(r.url),
        });
    }
    Ok(out)
}

/// `YYYY-MM-DD`, also when followed by a time (`2010-12-02T00:00:00.000Z`).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let day = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS UTC` as some older bodies write it.
fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s.trim_end_matches(" UTC"), "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// Keeps the first of each key, in order: upstream lists occasionally repeat an entry, and one
/// statement may not touch the same row twice.
pub(crate) fn dedup_by_key<T, K: std::hash::Hash + Eq>(
    items: Vec<T>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut seen = HashSet::with_capacity(items.len());
    items.into_iter().filter(|i| seen.insert(key(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_zero_fields_become_none() {
        let body = br#"{"id":1,"title":"T","release_date":"","runtime":0,"budget":0,
            "revenue":0,"imdb_id":null,"homepage":"","tagline":"","popularity":"93.5"}"#;
        let b = movie_bundle(body).unwrap();
        assert_eq!(b.movie.release_date, None);
        assert_eq!(b.movie.runtime, None);
        assert_eq!(b.movie.budget, None);
        assert_eq!(b.movie.revenue, None);
        assert_eq!(b.movie.imdb_id, None);
        assert_eq!(b.movie.homepage, None);
        assert_eq!(b.movie.tagline, None);
        assert_eq!(b.movie.popularity, Some(93.5));
        assert!(b.credits.is_none() && b.genres.is_none() && b.videos.is_none());
    }

    #[test]
    fn bad_input_names_what_and_where() {
        let err = movie_bundle(br#"{"id":1,"title":"T","credits":{"cast":[{"id":"x"}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("credits.cast"), "{err}");
        let err = movie_bundle(br#"{"id":1,"title":"T","release_date":"soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("release_date") && err.contains("soon"),
            "{err}"
        );
        let err = movie_bundle(b"{not json").unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        let err = movie_bundle(br#"{"id":1}"#).unwrap_err().to_string();
        assert!(err.contains("title"), "{err}");
    }

    #[test]
    fn credits_keep_missing_and_repeated_ids_and_similar_movies_stands_in() {
        let body = br#"{"id":7,"title":"T",
            "credits":{"cast":[{"id":3,"name":"A","cast_id":1,"character":"C","order":0},
                               {"id":5,"name":"E","credit_id":"","character":"D","order":1}],
                       "crew":[{"id":4,"name":"B","department":"Writing","job":"Writer"},
                               {"id":4,"name":"B","credit_id":"x","job":"Writer"},
                               {"id":6,"name":"F","credit_id":"x","job":"Editor"}]},
            "similar_movies":{"page":1,"results":[{"id":9},{"id":8},{"id":9}]}}"#;
        let b = movie_bundle(body).unwrap();
        let ids: Vec<_> = b
            .credits
            .unwrap()
            .into_iter()
            .map(|c| c.credit_id)
            .collect();
        let x = Some("x".to_owned());
        assert_eq!(ids, [None, None, None, x.clone(), x]);
        let similar = b.similar.unwrap();
        assert_eq!(
            similar,
            [
                RelatedMovie {
                    tmdb_id: 9,
                    rank: 1
                },
                RelatedMovie {
                    tmdb_id: 8,
                    rank: 2
                }
            ]
        );
    }
}
