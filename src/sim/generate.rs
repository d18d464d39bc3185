//! Lazy generation of everything the index does not hold: details, credits, keywords, videos,
//! images, release dates, reviews, related movies, titles, translations, changes and OMDb
//! records. Each part draws from its own `hash(seed, tag, id)` stream, so a part is the same
//! whether it is asked for alone, appended, or after any other request.
//!
//! People, keywords and studios come from shared pools drawn with a power law: a few appear in
//! hundreds of movies, which is what makes an importer upsert rather than insert. As on TMDB,
//! which serves each movie from a cache filled at its own time, the copy of a person, company
//! or collection a movie embeds may be older than the row (see [`Catalog::person_in`]), so
//! copies of one row disagree between movies.

use chrono::{Datelike, Days, NaiveDate};

use super::catalog::{Catalog, IndexEntry, KEYWORD_POOL, fmt_date, image_path, round3};
use super::model::*;
use super::rng::{Rng, tag};
use super::words;

/// A person of the shared pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: u32,
    pub name: String,
    pub gender: u8,
    pub known_for_department: String,
    pub profile_path: Option<String>,
    pub popularity: f64,
}

/// Recommendations stop at two pages on TMDB.
const MAX_RECOMMENDATIONS: u64 = 40;

/// The share of a movie's copies of shared rows that are older than the row.
const STALE_COPY: f64 = 0.35;

/// The stream that decides how movie `movie`'s copy of shared row `id` differs.
fn copy_id(movie: u32, id: u32) -> u64 {
    u64::from(movie) << 32 | u64::from(id)
}

impl Catalog {
    fn rng(&self, tag: u64, id: u32) -> Rng {
        Rng::new(self.seed, tag, u64::from(id))
    }

    pub(crate) fn movie_at(&self, index: usize) -> Movie {
        self.movie_of(&self.entries[index])
    }

    /// The details body of the movie `e` describes, in the catalog or a stray.
    pub(crate) fn movie_of(&self, e: &IndexEntry) -> Movie {
        let mut r = self.rng(tag::DETAILS, e.id);
        let lang = words::LANGUAGES
            .iter()
            .find(|l| l.iso == e.original_language)
            .unwrap_or(&words::LANGUAGES[0]);
        let released = e.date <= self.today;

        let overview = if r.chance(0.01) {
            String::new()
        } else if r.chance(0.03) {
            paragraph(&mut r, 10, 16)
        } else {
            paragraph(&mut r, 1, 3)
        };
        let tagline = if r.chance(0.35) {
            String::new()
        } else {
            (*r.pick(words::TAGLINES)).to_string()
        };
        let runtime = if r.chance(0.02) || (!released && r.chance(0.5)) {
            0
        } else if e.genre_ids.contains(&99) {
            r.range(50, 120) as u32
        } else if e.genre_ids.contains(&16) {
            r.range(75, 105) as u32
        } else {
            r.normal(105.0, 18.0).clamp(62.0, 210.0) as u32
        };
        let budget = if r.chance(0.45) {
            0
        } else {
            let x = r.f64() * (2.5e8f64.ln() - 2e5f64.ln()) + 2e5f64.ln();
            (x.exp() / 1000.0).round() as u64 * 1000
        };
        let revenue = if !released {
            0
        } else if budget == 0 {
            if r.chance(0.2) {
                r.range(10_000, 50_000_000) as u64
            } else {
                0
            }
        } else {
            (budget as f64 * r.normal(0.6, 1.0).exp()).round() as u64
        };
        let homepage = if r.chance(0.5) {
            String::new()
        } else {
            format!("https://www.{}.com/", slug(&e.title))
        };
        let poster_path = image_path(&mut r, 0.03, "jpg");
        let backdrop_path = image_path(&mut r, 0.08, "jpg");

        let company_count = *r.weighted(&[(0u32, 10), (1, 30), (2, 30), (3, 20), (4, 10)]);
        let mut production_companies: Vec<Company> = Vec::new();
        for _ in 0..company_count {
            let k = r.skewed(u64::from(self.companies), 2.5) as u32;
            let c = self.company_in(e.id, k);
            if !production_companies.iter().any(|x| x.id == c.id) {
                production_companies.push(c);
            }
        }
        let origin = match lang.iso {
            "en" => *r.weighted(&[("US", 70u32), ("GB", 20), ("CA", 5), ("AU", 5)]),
            _ => lang.country,
        };
        let mut countries = vec![origin];
        for _ in 0..r.below(3) {
            let (c, _) = *r.pick(words::COUNTRIES);
            if !countries.contains(&c) {
                countries.push(c);
            }
        }
        let mut languages = vec![lang];
        for _ in 0..r.below(3) {
            let l = r.pick(words::LANGUAGES);
            if !languages.iter().any(|x| x.iso == l.iso) {
                languages.push(l);
            }
        }
        let status = if released {
            "Released"
        } else if (e.date - self.today).num_days() < 60 {
            "Post Production"
        } else if r.chance(0.5) {
            "In Production"
        } else {
            "Planned"
        };
        let belongs_to_collection = e.collection.map(|c| {
            let c = self.collection_entry(c);
            let (poster_path, backdrop_path) = self.collection_images_in(e.id, c.id);
            CollectionRef {
                backdrop_path,
                id: c.id,
                name: c.name.clone(),
                poster_path,
            }
        });

        Movie {
            adult: false,
            backdrop_path,
            belongs_to_collection,
            budget,
            genres: e
                .genre_ids
                .iter()
                .map(|&id| Genre {
                    id,
                    name: words::genre_name(id).to_string(),
                })
                .collect(),
            homepage,
            id: e.id,
            imdb_id: e.imdb_id.clone(),
            origin_country: vec![origin.to_string()],
            original_language: e.original_language.to_string(),
            original_title: e.original_title.clone(),
            overview,
            popularity: e.popularity,
            poster_path,
            production_companies,
            production_countries: countries
                .iter()
                .map(|c| Country {
                    iso_3166_1: (*c).to_string(),
                    name: words::country_name(c).to_string(),
                })
                .collect(),
            release_date: e.release_date.map(fmt_date).unwrap_or_default(),
            revenue,
            runtime,
            softcore: false,
            spoken_languages: languages
                .iter()
                .map(|l| SpokenLanguage {
                    english_name: l.english.to_string(),
                    iso_639_1: l.iso.to_string(),
                    name: l.name.to_string(),
                })
                .collect(),
            status: status.to_string(),
            tagline,
            title: e.title.clone(),
            video: false,
            vote_average: e.vote_average,
            vote_count: e.vote_count,
        }
    }

    /// The person with pool index `k` (ids are spread out, as on TMDB).
    pub fn person(&self, k: u32) -> Person {
        let mut r = self.rng(tag::PERSON, k);
        let first = words::FIRST_NAMES[k as usize % words::FIRST_NAMES.len()];
        let last_ix = (k as usize / words::FIRST_NAMES.len()) % words::LAST_NAMES.len();
        let last = words::LAST_NAMES[last_ix];
        let layer = k as usize / (words::FIRST_NAMES.len() * words::LAST_NAMES.len());
        // Beyond 2,500 people a middle initial, then a suffix, keeps names distinct.
        let name = match layer {
            0 => format!("{first} {last}"),
            l => {
                let initial = (b'A' + ((l - 1) % 26) as u8) as char;
                let suffix = ["", " Jr.", " II", " III"][((l - 1) / 26) % 4];
                format!("{first} {initial}. {last}{suffix}")
            }
        };
        let gender = *r.weighted(&[(0u8, 15), (1, 40), (2, 43), (3, 2)]);
        let known_for_department = if r.chance(0.7) {
            "Acting".to_string()
        } else {
            r.pick(words::DEPARTMENTS).0.to_string()
        };
        Person {
            id: 100 + k * 13,
            name,
            gender,
            known_for_department,
            profile_path: image_path(&mut r, 0.25, "jpg"),
            popularity: round3(60.0 / (1.0 + f64::from(k) / 40.0).powf(0.8) + r.f64()),
        }
    }

    /// The pool index of the person with TMDB id `id`, if one has it.
    pub fn person_index(&self, id: u32) -> Option<u32> {
        let k = id.checked_sub(100)?;
        (k % 13 == 0 && k / 13 < self.people).then_some(k / 13)
    }

    /// `person/{id}`: the details of the pool's person with this id, consistent with every
    /// credit that names them (name, gender, department; the photo and popularity of the row,
    /// which movies' copies may lag behind). About one in ten has no biography, place or
    /// birthday, as sparse TMDB pages have none.
    pub fn person_details(&self, id: u32) -> Option<PersonDetails> {
        let k = self.person_index(id)?;
        let p = self.person(k);
        let mut r = self.rng(tag::PERSON_DETAILS, k);
        let sparse = r.chance(0.1);
        let year = 1925 + r.below(80) as i32;
        let born = NaiveDate::from_ymd_opt(year, 1 + r.below(12) as u32, 1 + r.below(28) as u32)
            .filter(|_| !sparse);
        let died = born
            .filter(|_| year < 1965 && r.chance(0.3))
            .map(|b| b + Days::new(365 * (35 + r.below(55))))
            .filter(|d| *d < self.today);
        let (first, last) = p.name.split_once(' ').unwrap_or((p.name.as_str(), ""));
        let mut also_known_as = Vec::new();
        for _ in 0..r.below(3) {
            let other = format!("{first} {} {last}", r.pick(words::FIRST_NAMES));
            if !also_known_as.contains(&other) {
                also_known_as.push(other);
            }
        }
        let biography = if sparse {
            String::new()
        } else {
            let place = r.pick(&["an actor", "a filmmaker", "a writer", "a performer"]);
            format!("{} is {place}. {}", p.name, paragraph(&mut r, 1, 4))
        };
        let homepage = r
            .chance(0.05)
            .then(|| format!("https://www.{}.com/", slug(&p.name)));
        Some(PersonDetails {
            adult: false,
            also_known_as,
            biography,
            birthday: born.map(fmt_date),
            deathday: died.map(fmt_date),
            gender: p.gender,
            homepage,
            id: p.id,
            imdb_id: (!sparse).then(|| format!("nm{:07}", 1_000 + u64::from(k) * 7)),
            known_for_department: p.known_for_department,
            name: p.name,
            place_of_birth: (!sparse).then(|| (*r.pick(words::BIRTHPLACES)).to_owned()),
            popularity: p.popularity,
            profile_path: p.profile_path,
        })
    }

    /// A person's `images` (appended to `person/{id}`): their profile photo first, then a few
    /// more.
    pub fn person_images(&self, id: u32) -> Option<PersonImages> {
        let k = self.person_index(id)?;
        let p = self.person(k);
        let mut r = self.rng(tag::PERSON_DETAILS ^ 0x1a, k);
        let image = |r: &mut Rng, path: Option<String>| Image {
            aspect_ratio: 0.667,
            height: 3000,
            iso_3166_1: None,
            iso_639_1: None,
            file_path: path.unwrap_or_else(|| format!("/{}.jpg", r.token(27))),
            vote_average: if r.chance(0.3) {
                0.0
            } else {
                round3(4.0 + 2.0 * r.f64())
            },
            vote_count: r.below(40) as u32,
            width: 2000,
        };
        let mut profiles = Vec::new();
        if p.profile_path.is_some() {
            profiles.push(image(&mut r, p.profile_path.clone()));
            for _ in 0..r.below(6) {
                profiles.push(image(&mut r, None));
            }
        }
        Some(PersonImages { profiles })
    }

    /// A person's `translations` (appended to `person/{id}`): the English biography, and for
    /// some people a few other languages.
    pub fn person_translations(&self, id: u32) -> Option<PersonTranslations> {
        let details = self.person_details(id)?;
        let k = self.person_index(id)?;
        let mut r = self.rng(tag::PERSON_DETAILS ^ 0x7a, k);
        let mut translations = vec![PersonTranslation {
            iso_3166_1: "US".to_string(),
            iso_639_1: "en".to_string(),
            name: "English".to_string(),
            english_name: "English".to_string(),
            data: PersonTranslationData {
                biography: details.biography.clone(),
            },
        }];
        if details.biography.is_empty() {
            return Some(PersonTranslations { translations });
        }
        for lang in words::LANGUAGES.iter().skip(1) {
            if !r.chance(0.2) {
                continue;
            }
            let native = words::native_words(lang.iso);
            let biography = format!("{} {} {}.", details.name, r.pick(native), r.pick(native));
            translations.push(PersonTranslation {
                iso_3166_1: lang.country.to_string(),
                iso_639_1: lang.iso.to_string(),
                name: lang.name.to_string(),
                english_name: lang.english.to_string(),
                data: PersonTranslationData { biography },
            });
        }
        Some(PersonTranslations { translations })
    }

    /// Person `k` as movie `movie`'s body embeds them. About a third of the copies are older
    /// than the row: another popularity, and for some an older photo or none yet. One movie
    /// carries one copy of a person, in its cast and its crew alike.
    pub(crate) fn person_in(&self, movie: u32, k: u32) -> Person {
        let mut p = self.person(k);
        let mut r = Rng::new(self.seed, tag::PERSON_COPY, copy_id(movie, p.id));
        if r.chance(STALE_COPY) {
            p.popularity = round3(p.popularity * (0.6 + 0.7 * r.f64()));
            if p.profile_path.is_some() && r.chance(0.3) {
                p.profile_path = if r.chance(0.5) {
                    None
                } else {
                    image_path(&mut r, 0.0, "jpg")
                };
            }
        }
        p
    }

    /// Company `k` as movie `movie`'s body embeds it: an older copy may lack its logo or show
    /// an older one.
    pub(crate) fn company_in(&self, movie: u32, k: u32) -> Company {
        let mut c = self.company(k);
        let mut r = Rng::new(self.seed, tag::COMPANY_COPY, copy_id(movie, c.id));
        if c.logo_path.is_some() && r.chance(STALE_COPY) && r.chance(0.4) {
            c.logo_path = if r.chance(0.5) {
                None
            } else {
                image_path(&mut r, 0.0, "png")
            };
        }
        c
    }

    /// A collection's poster and backdrop as movie `movie`'s body embeds them: an older copy
    /// may show an older poster.
    fn collection_images_in(&self, movie: u32, id: u32) -> (Option<String>, Option<String>) {
        let (mut poster, backdrop) = self.collection_images(id);
        let mut r = Rng::new(self.seed, tag::COLLECTION_COPY, copy_id(movie, id));
        if poster.is_some() && r.chance(STALE_COPY) && r.chance(0.4) {
            poster = image_path(&mut r, 0.0, "jpg");
        }
        (poster, backdrop)
    }

    pub(crate) fn keyword(&self, k: u32) -> Keyword {
        let base = words::KEYWORD_BASE.len() as u32;
        let name = if k < base {
            words::KEYWORD_BASE[k as usize].to_string()
        } else {
            let j = (k - base) as usize;
            let a = words::KEYWORD_ADJECTIVES.len();
            format!(
                "{} {}",
                words::KEYWORD_ADJECTIVES[j % a],
                words::KEYWORD_NOUNS[(j / a) % words::KEYWORD_NOUNS.len()]
            )
        };
        Keyword {
            id: 818 + k * 7,
            name,
        }
    }

    pub(crate) fn company(&self, k: u32) -> Company {
        let mut r = self.rng(tag::COMPANY, k);
        let a = words::COMPANY_FIRST.len() as u32;
        let first = words::COMPANY_FIRST[(k % a) as usize];
        let second = words::COMPANY_SECOND[((k / a) as usize) % words::COMPANY_SECOND.len()];
        let layer = k / (a * words::COMPANY_SECOND.len() as u32);
        let name = if layer == 0 {
            format!("{first} {second}")
        } else {
            format!("{first} {second} {}", layer + 1)
        };
        Company {
            id: 1 + k * 3,
            logo_path: image_path(&mut r, 0.35, "png"),
            name,
            origin_country: r.pick(words::COUNTRIES).0.to_string(),
        }
    }

    /// `movie/{id}/credits` (without the `id`).
    pub fn credits(&self, id: u32) -> Option<Credits> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::CREDITS, id);
        let cast_len = if r.chance(0.015) {
            0
        } else {
            (4 + r.below(10) + (e.popularity.sqrt() as u64).min(30)) as usize
        };
        let mut used = Vec::with_capacity(cast_len);
        let mut cast = Vec::with_capacity(cast_len);
        let mut cast_id = 1 + r.below(3) as u32;
        while cast.len() < cast_len {
            let k = r.skewed(u64::from(self.people), 2.2) as u32;
            if used.contains(&k) {
                continue;
            }
            used.push(k);
            let p = self.person_in(id, k);
            let character = if r.chance(0.6) {
                format!(
                    "{} {}",
                    r.pick(words::FIRST_NAMES),
                    r.pick(words::LAST_NAMES)
                )
            } else {
                (*r.pick(words::CHARACTER_ROLES)).to_string()
            };
            cast.push(CastMember {
                adult: false,
                gender: p.gender,
                id: p.id,
                known_for_department: p.known_for_department,
                name: p.name.clone(),
                original_name: p.name,
                popularity: p.popularity,
                profile_path: p.profile_path,
                cast_id,
                character,
                credit_id: r.hex(24),
                order: cast.len() as u32,
            });
            cast_id += 1 + r.below(4) as u32;
        }

        let mut jobs: Vec<(&str, &str)> = vec![("Directing", "Director")];
        if r.chance(0.08) {
            jobs.push(("Directing", "Director"));
        }
        for _ in 0..1 + r.below(3) {
            jobs.push(*r.pick(&words::DEPARTMENTS[1..4]));
        }
        for _ in 0..r.below(4) {
            jobs.push(*r.pick(&words::DEPARTMENTS[4..7]));
        }
        for &job in &words::DEPARTMENTS[7..] {
            if r.chance(0.6) {
                jobs.push(job);
            }
        }
        let mut crew = Vec::with_capacity(jobs.len());
        for (department, job) in jobs {
            let k = r.skewed(u64::from(self.people), 1.8) as u32;
            let p = self.person_in(id, k);
            if crew
                .iter()
                .any(|c: &CrewMember| c.id == p.id && c.job == job)
            {
                continue;
            }
            crew.push(CrewMember {
                adult: false,
                gender: p.gender,
                id: p.id,
                known_for_department: p.known_for_department,
                name: p.name.clone(),
                original_name: p.name,
                popularity: p.popularity,
                profile_path: p.profile_path,
                credit_id: r.hex(24),
                department: department.to_string(),
                job: job.to_string(),
            });
        }
        Some(Credits { cast, crew })
    }

    pub fn keywords(&self, id: u32) -> Option<Keywords> {
        self.served(id)?;
        let mut r = self.rng(tag::KEYWORD, id);
        let count = r.skewed(16, 1.6) as usize;
        let mut keywords: Vec<Keyword> = Vec::with_capacity(count);
        for _ in 0..count {
            let k = r.skewed(u64::from(self.keywords.min(KEYWORD_POOL)), 2.0) as u32;
            let kw = self.keyword(k);
            if !keywords.iter().any(|x| x.id == kw.id) {
                keywords.push(kw);
            }
        }
        Some(Keywords { keywords })
    }

    pub fn videos(&self, id: u32) -> Option<Videos> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::MEDIA, id);
        let count = if e.vote_count < 5 && r.chance(0.6) {
            0
        } else {
            r.below(9) as usize
        };
        let results = (0..count)
            .map(|i| {
                let kind = if i == 0 {
                    "Trailer"
                } else {
                    *r.pick(words::VIDEO_TYPES)
                };
                let published = e.date - Days::new(r.below(200));
                Video {
                    iso_639_1: "en".to_string(),
                    iso_3166_1: "US".to_string(),
                    name: format!("{} - Official {kind}", e.title),
                    key: r.token(11),
                    site: if r.chance(0.95) { "YouTube" } else { "Vimeo" }.to_string(),
                    size: *r.pick(&[480, 720, 1080, 1080, 2160]),
                    kind: kind.to_string(),
                    official: r.chance(0.8),
                    published_at: format!(
                        "{}T{:02}:{:02}:{:02}.000Z",
                        fmt_date(published),
                        r.below(24),
                        r.below(60),
                        r.below(60)
                    ),
                    id: r.hex(24),
                }
            })
            .collect();
        Some(Videos { results })
    }

    pub fn images(&self, id: u32) -> Option<Images> {
        let movie = self.movie_of(&*self.served(id)?);
        let mut r = self.rng(tag::MEDIA, id ^ 0x5a5a_5a5a);
        let image = |r: &mut Rng, w: u32, h: u32, ext: &str, lang: Option<&str>| Image {
            aspect_ratio: round3(f64::from(w) / f64::from(h)),
            height: h,
            iso_3166_1: lang.map(|l| if l == "en" { "US" } else { "FR" }.to_string()),
            iso_639_1: lang.map(str::to_string),
            file_path: format!("/{}.{ext}", r.token(27)),
            vote_average: if r.chance(0.5) {
                0.0
            } else {
                round3(4.0 + 2.0 * r.f64())
            },
            vote_count: r.below(30) as u32,
            width: w,
        };
        let mut posters = Vec::new();
        if let Some(p) = &movie.poster_path {
            let mut first = image(&mut r, 1000, 1500, "jpg", Some("en"));
            first.file_path.clone_from(p);
            posters.push(first);
        }
        for _ in 0..r.below(10) {
            let lang = if r.chance(0.7) { Some("en") } else { None };
            posters.push(image(&mut r, 2000, 3000, "jpg", lang));
        }
        let backdrops = (0..r.below(10))
            .map(|_| {
                let lang = if r.chance(0.2) { Some("en") } else { None };
                image(&mut r, 3840, 2160, "jpg", lang)
            })
            .collect();
        let logos = (0..r.below(4))
            .map(|_| {
                let w = 300 + r.below(900) as u32;
                let h = 80 + r.below(300) as u32;
                image(&mut r, w, h, "png", Some("en"))
            })
            .collect();
        Some(Images {
            backdrops,
            logos,
            posters,
        })
    }

    /// Release dates by country; the movie's origin country has its theatrical date (type 3)
    /// on `release_date`, and some countries list several releases.
    pub fn release_dates(&self, id: u32) -> Option<ReleaseDates> {
        let e = self.served(id)?;
        let movie = self.movie_of(&e);
        let mut r = self.rng(tag::RELEASES, id);
        if e.release_date.is_none() {
            return Some(ReleaseDates { results: vec![] });
        }
        let stamp = |d: NaiveDate| format!("{}T00:00:00.000Z", fmt_date(d));
        let origin = movie.origin_country[0].clone();
        let mut countries = vec![origin.clone()];
        if e.original_language == "en" && origin != "US" {
            countries.push("US".to_string());
        }
        for _ in 0..r.below(7) {
            let c = r.pick(words::COUNTRIES).0.to_string();
            if !countries.contains(&c) {
                countries.push(c);
            }
        }
        let released = e.date <= self.today;
        let mut results = Vec::with_capacity(countries.len());
        for (i, country) in countries.iter().enumerate() {
            let system = words::certifications(country);
            let cert = if r.chance(0.15) {
                String::new()
            } else {
                (*r.pick(system)).to_string()
            };
            let theatrical = if i == 0 {
                e.date
            } else {
                e.date + Days::new(r.below(60))
            };
            let mut dates = Vec::new();
            if released && r.chance(0.25) {
                dates.push(ReleaseDate {
                    certification: String::new(),
                    descriptors: vec![],
                    iso_639_1: String::new(),
                    note: (*r.pick(&words::RELEASE_NOTES[7..])).to_string(),
                    release_date: stamp(e.date - Days::new(10 + r.below(120))),
                    kind: 1,
                });
            }
            dates.push(ReleaseDate {
                certification: cert.clone(),
                descriptors: vec![],
                iso_639_1: String::new(),
                note: String::new(),
                release_date: stamp(theatrical),
                kind: if i > 0 && r.chance(0.1) { 2 } else { 3 },
            });
            if released {
                for kind in [4u8, 5, 6] {
                    // Sometimes twice, as real data has (a DVD and a Blu-ray, two TV premieres).
                    let times = if r.chance(0.3) { 1 + r.below(2) } else { 0 };
                    for _ in 0..times {
                        dates.push(ReleaseDate {
                            certification: cert.clone(),
                            descriptors: vec![],
                            iso_639_1: String::new(),
                            note: (*r.pick(&words::RELEASE_NOTES[..7])).to_string(),
                            release_date: stamp(theatrical + Days::new(60 + r.below(300))),
                            kind,
                        });
                    }
                }
            }
            results.push(CountryReleases {
                iso_3166_1: country.clone(),
                release_dates: dates,
            });
        }
        Some(ReleaseDates { results })
    }

    pub fn external_ids(&self, id: u32) -> Option<ExternalIds> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::MEDIA, id ^ 0x0e1d);
        let handle = slug(&e.title).replace('-', "");
        Some(ExternalIds {
            imdb_id: e.imdb_id.clone(),
            wikidata_id: r
                .chance(0.7)
                .then(|| format!("Q{}", r.range(10_000, 130_000_000))),
            facebook_id: r.chance(0.4).then(|| format!("{handle}movie")),
            instagram_id: r.chance(0.3).then(|| format!("{handle}film")),
            twitter_id: r.chance(0.3).then(|| handle.clone()),
        })
    }

    /// All reviews of a movie; pages of 20 are cut from this.
    pub fn reviews(&self, id: u32) -> Option<Vec<Review>> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::REVIEWS, id);
        let count = if e.vote_count < 50 {
            r.below(2)
        } else {
            r.below(9)
        };
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let first = r.pick(words::FIRST_NAMES);
            let last = r.pick(words::LAST_NAMES);
            let username = format!("{}{}", ascii_lower(first), r.range(1, 99));
            let phrases = if r.chance(0.1) {
                30 + r.below(20)
            } else {
                1 + r.below(10)
            };
            let content = (0..phrases)
                .map(|_| *r.pick(words::REVIEW_PHRASES))
                .collect::<Vec<_>>()
                .join(" ");
            let created = e.date.max(self.today - Days::new(4000)) + Days::new(r.below(900));
            let created = created.min(self.today);
            let updated = (created + Days::new(r.below(30))).min(self.today);
            let time = |r: &mut Rng, d: NaiveDate| {
                format!(
                    "{}T{:02}:{:02}:{:02}.{:03}Z",
                    fmt_date(d),
                    r.below(24),
                    r.below(60),
                    r.below(60),
                    r.below(1000)
                )
            };
            let review_id = r.hex(24);
            out.push(Review {
                author: username.clone(),
                author_details: AuthorDetails {
                    name: if r.chance(0.6) {
                        String::new()
                    } else {
                        format!("{first} {last}")
                    },
                    username,
                    avatar_path: image_path(&mut r, 0.3, "jpg"),
                    rating: r.chance(0.85).then(|| r.range(1, 10) as u8),
                },
                content,
                created_at: time(&mut r, created),
                url: format!("https://www.themoviedb.org/review/{review_id}"),
                id: review_id,
                updated_at: time(&mut r, updated),
            });
        }
        Some(out)
    }

    /// Ids TMDB recommends for `id` (at most 40), pointing anywhere in the catalog.
    pub fn recommendation_ids(&self, id: u32) -> Option<Vec<u32>> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::RELATED, id);
        let count = if e.vote_count < 10 {
            0
        } else {
            10 + r.below(MAX_RECOMMENDATIONS - 9)
        };
        Some(self.related(&mut r, id, count, None))
    }

    /// Ids TMDB calls similar to `id`: movies sharing its first genre.
    pub fn similar_ids(&self, id: u32) -> Option<Vec<u32>> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::RELATED, id ^ 0x5151);
        let count = r.below(120);
        Some(self.related(&mut r, id, count, e.genre_ids.first().copied()))
    }

    /// Half the picks favour popular movies, half are anywhere in the catalog, so related ids
    /// often point at movies no list page an importer fetched contains.
    fn related(&self, r: &mut Rng, id: u32, count: u64, genre: Option<u16>) -> Vec<u32> {
        let n = self.entries.len() as u64;
        let mut out: Vec<u32> = Vec::with_capacity(count as usize);
        let mut tries = 0;
        while (out.len() as u64) < count && tries < count * 20 {
            tries += 1;
            let cand = if r.chance(0.5) {
                self.entries[self.popular[r.skewed(n, 2.0) as usize] as usize].id
            } else {
                self.entries[r.below(n) as usize].id
            };
            let e = &self.entries[self.index_of(cand).unwrap_or(0)];
            if cand == id || out.contains(&cand) || genre.is_some_and(|g| !e.genre_ids.contains(&g))
            {
                continue;
            }
            out.push(cand);
        }
        out
    }

    pub fn alternative_titles(&self, id: u32) -> Option<AlternativeTitles> {
        let e = self.served(id)?;
        let mut r = self.rng(tag::TITLE, id ^ 0xa17);
        let titles = (0..r.skewed(7, 1.5))
            .map(|_| {
                let lang = r.pick(words::LANGUAGES);
                let native = words::native_words(lang.iso);
                let title = if lang.iso == "en" {
                    format!("{} ({})", e.title, e.year())
                } else {
                    format!("{} {}", r.pick(native), r.pick(native))
                };
                AlternativeTitle {
                    iso_3166_1: lang.country.to_string(),
                    title,
                    kind: (*r.pick(words::ALT_TITLE_TYPES)).to_string(),
                }
            })
            .collect();
        Some(AlternativeTitles { titles })
    }

    pub fn translations(&self, id: u32) -> Option<Translations> {
        let movie = self.movie_of(&*self.served(id)?);
        let mut r = self.rng(tag::TITLE, id ^ 0x7a);
        let mut translations = vec![Translation {
            iso_3166_1: "US".to_string(),
            iso_639_1: "en".to_string(),
            name: "English".to_string(),
            english_name: "English".to_string(),
            data: TranslationData {
                homepage: movie.homepage.clone(),
                overview: movie.overview.clone(),
                runtime: movie.runtime,
                tagline: movie.tagline.clone(),
                title: movie.title.clone(),
            },
        }];
        for lang in words::LANGUAGES.iter().skip(1) {
            if !r.chance(0.35) {
                continue;
            }
            let native = words::native_words(lang.iso);
            translations.push(Translation {
                iso_3166_1: lang.country.to_string(),
                iso_639_1: lang.iso.to_string(),
                name: lang.name.to_string(),
                english_name: lang.english.to_string(),
                data: TranslationData {
                    homepage: String::new(),
                    overview: if r.chance(0.4) {
                        String::new()
                    } else {
                        (0..6)
                            .map(|_| *r.pick(native))
                            .collect::<Vec<_>>()
                            .join(" ")
                            + "."
                    },
                    runtime: if r.chance(0.5) { movie.runtime } else { 0 },
                    tagline: String::new(),
                    title: if lang.iso == movie.original_language {
                        movie.original_title.clone()
                    } else {
                        format!("{} {}", r.pick(native), r.pick(native))
                    },
                },
            });
        }
        Some(Translations { translations })
    }

    /// `movie/{id}/changes` for the days `start..=end`.
    pub fn changes(&self, id: u32, start: NaiveDate, end: NaiveDate) -> Option<Changes> {
        let Some(index) = self.index_of(id) else {
            // A stray never changes.
            return self.served(id).map(|_| Changes { changes: vec![] });
        };
        let e = &self.entries[index];
        let mut changes: Vec<Change> = Vec::new();
        for day in start.iter_days().take_while(|d| *d <= end) {
            if !self.changed_on(id, day) {
                continue;
            }
            let mut r = Rng::new(
                self.seed,
                tag::CHANGES,
                u64::from(id) << 20 | day.num_days_from_ce() as u64,
            );
            let (key, value) = if r.chance(0.5) {
                let g = e.genre_ids[0];
                (
                    "genres",
                    ChangeValue {
                        id: u32::from(g),
                        name: words::genre_name(g).to_string(),
                    },
                )
            } else {
                let c = self.company(r.skewed(u64::from(self.companies), 2.0) as u32);
                (
                    "production_companies",
                    ChangeValue {
                        id: c.id,
                        name: c.name,
                    },
                )
            };
            let item = ChangeItem {
                id: r.hex(24),
                action: (*r.pick(&["added", "updated", "deleted"])).to_string(),
                time: format!(
                    "{} {:02}:{:02}:{:02} UTC",
                    fmt_date(day),
                    r.below(24),
                    r.below(60),
                    r.below(60)
                ),
                iso_639_1: String::new(),
                iso_3166_1: String::new(),
                value,
            };
            match changes.iter_mut().find(|c| c.key == key) {
                Some(c) => c.items.push(item),
                None => changes.push(Change {
                    key: key.to_string(),
                    items: vec![item],
                }),
            }
        }
        Some(Changes { changes })
    }

    /// What OMDb answers for `imdb_id`, or `None` when the id is not in the catalog.
    /// `full_plot` is OMDb's `plot=full`.
    pub fn omdb(&self, imdb_id: &str, full_plot: bool) -> Option<OmdbAnswer> {
        let id = self.id_for_imdb(imdb_id)?;
        let e = self.served(id)?;
        if !e.omdb_has_data {
            return Some(OmdbAnswer::NoData);
        }
        Some(OmdbAnswer::Movie(Box::new(self.omdb_record(&e, full_plot))))
    }

    fn omdb_record(&self, e: &IndexEntry, full_plot: bool) -> OmdbMovie {
        let movie = self.movie_of(e);
        let credits = self.credits(e.id).unwrap_or(Credits {
            cast: vec![],
            crew: vec![],
        });
        let releases = self
            .release_dates(e.id)
            .map(|r| r.results)
            .unwrap_or_default();
        let mut r = self.rng(tag::OMDB, e.id);
        let na = || "N/A".to_string();
        let or_na = |s: String| if s.is_empty() { na() } else { s };

        let us_theatrical = releases
            .iter()
            .find(|c| c.iso_3166_1 == "US")
            .and_then(|c| c.release_dates.iter().find(|d| d.kind == 3));
        let rated = match us_theatrical {
            Some(d) if !d.certification.is_empty() => d.certification.clone(),
            Some(_) => "Not Rated".to_string(),
            None => na(),
        };
        let released_on = us_theatrical
            .and_then(|d| NaiveDate::parse_from_str(&d.release_date[..10], "%Y-%m-%d").ok())
            .or(e.release_date);
        let released = released_on.map_or_else(na, omdb_date);

        let director = unique_names(
            credits
                .crew
                .iter()
                .filter(|c| c.job == "Director")
                .map(|c| c.name.as_str()),
        );
        let writer = unique_names(
            credits
                .crew
                .iter()
                .filter(|c| c.department == "Writing")
                .map(|c| c.name.as_str()),
        );
        let actors = unique_names(
            credits
                .cast
                .iter()
                .take(3 + r.below(2) as usize)
                .map(|c| c.name.as_str()),
        );
        let genre = or_na(
            e.genre_ids
                .iter()
                .filter_map(|&g| words::imdb_genre(g))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let plot = if movie.overview.is_empty() {
            na()
        } else if full_plot {
            movie.overview.clone()
        } else {
            first_sentence(&movie.overview)
        };
        let language = or_na(
            movie
                .spoken_languages
                .iter()
                .map(|l| l.english_name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        let country = or_na(
            movie
                .production_countries
                .iter()
                .map(|c| words::omdb_country(&c.iso_3166_1))
                .collect::<Vec<_>>()
                .join(", "),
        );

        let rated_by_people = e.vote_count > 0 && e.date <= self.today;
        let imdb_rating =
            rated_by_people.then(|| (e.vote_average + r.normal(0.0, 0.4)).clamp(1.0, 9.8));
        let mut ratings = Vec::new();
        let mut metascore = na();
        if let Some(x) = imdb_rating {
            ratings.push(OmdbRating {
                source: "Internet Movie Database".to_string(),
                value: format!("{x:.1}/10"),
            });
            if r.chance(0.75) {
                let rt = ((x - 4.0) * 18.0 + r.normal(0.0, 10.0)).clamp(0.0, 100.0);
                ratings.push(OmdbRating {
                    source: "Rotten Tomatoes".to_string(),
                    value: format!("{}%", rt.round()),
                });
            }
            if r.chance(0.7) {
                let m = ((x - 3.0) * 14.0 + r.normal(0.0, 8.0))
                    .clamp(1.0, 100.0)
                    .round();
                metascore = format!("{m}");
                ratings.push(OmdbRating {
                    source: "Metacritic".to_string(),
                    value: format!("{m}/100"),
                });
            }
        }
        let imdb_votes = if rated_by_people {
            commas(u64::from(e.vote_count) * (3 + r.below(40)))
        } else {
            na()
        };
        let box_office = if movie.revenue > 0 && r.chance(0.7) {
            let domestic = (movie.revenue as f64 * (0.3 + 0.3 * r.f64())) as u64;
            format!("${}", commas(domestic))
        } else {
            na()
        };
        let dvd = match released_on {
            Some(d) if d <= self.today && r.chance(0.15) => {
                omdb_date((d + Days::new(90 + r.below(200))).min(self.today))
            }
            _ => na(),
        };
        let poster = match movie.poster_path {
            Some(_) => format!(
                "https://m.media-amazon.com/images/M/MV5B{}._V1_SX300.jpg",
                r.token(40)
            ),
            None => na(),
        };
        OmdbMovie {
            title: e.title.clone(),
            year: e.year().to_string(),
            rated,
            released,
            runtime: if movie.runtime > 0 {
                format!("{} min", movie.runtime)
            } else {
                na()
            },
            genre,
            director,
            writer,
            actors,
            plot,
            language,
            country,
            awards: awards(&mut r, e.popularity, imdb_rating),
            poster,
            ratings,
            metascore,
            imdb_rating: imdb_rating.map_or_else(na, |x| format!("{x:.1}")),
            imdb_votes,
            imdb_id: e.imdb_id.clone().unwrap_or_default(),
            kind: "movie".to_string(),
            dvd,
            box_office,
            production: na(),
            website: na(),
            response: "True".to_string(),
        }
    }
}

/// An awards line in one of the formats OMDb really uses, including its glued
/// "Award7 wins" quirk.
fn awards(r: &mut Rng, popularity: f64, rating: Option<f64>) -> String {
    let Some(rating) = rating else {
        return "N/A".to_string();
    };
    if r.chance(0.35) {
        return "N/A".to_string();
    }
    let noms = (r.f64() * (popularity.sqrt() * 4.0 + rating * 3.0)) as u32 + 1;
    let wins = (f64::from(noms) * r.f64() * 0.8) as u32;
    let plural = |n: u32, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let tally = match wins {
        0 => plural(noms, "nomination", "nominations"),
        w => format!(
            "{} & {}",
            plural(w, "win", "wins"),
            plural(noms, "nomination", "nominations")
        ),
    };
    let big = rating > 7.0 && popularity > 20.0;
    match r.below(if big { 6 } else { 3 }) {
        0 => format!("{tally}."),
        1 => tally,
        2 => format!("Nominated for 1 BAFTA Award. {tally}."),
        3 => {
            let k = 1 + r.below(4) as u32;
            format!("Won {}. {tally} total", plural(k, "Oscar", "Oscars"))
        }
        4 => {
            let k = 1 + r.below(6) as u32;
            format!(
                "Nominated for {}. Another {tally}.",
                plural(k, "Oscar", "Oscars")
            )
        }
        _ => format!("Nominated for 1 BAFTA Award{tally} total"),
    }
}

/// OMDb's `"A, B, C"` (each name once), or `"N/A"`.
fn unique_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = Vec::new();
    for n in names {
        if !v.contains(&n) {
            v.push(n);
        }
    }
    if v.is_empty() {
        "N/A".to_string()
    } else {
        v.join(", ")
    }
}

/// `14 Jun 2013`, OMDb's date format.
pub(crate) fn omdb_date(d: NaiveDate) -> String {
    format!(
        "{:02} {} {}",
        d.day(),
        words::MONTHS[d.month0() as usize],
        d.year()
    )
}

/// `1234567` → `1,234,567`.
pub(crate) fn commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn first_sentence(text: &str) -> String {
    match text.find(". ") {
        Some(i) => text[..=i].to_string(),
        None => text.to_string(),
    }
}

fn paragraph(r: &mut Rng, min: u64, max: u64) -> String {
    let count = min + r.below(max - min + 1);
    (0..count)
        .map(|_| {
            if r.chance(0.3) {
                (*r.pick(words::SENTENCE_TAILS)).to_string()
            } else {
                format!(
                    "{}, a {} {}.",
                    r.pick(words::SENTENCE_OPENERS),
                    r.pick(words::SENTENCE_SUBJECTS),
                    r.pick(words::SENTENCE_EVENTS)
                )
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A lower-case ASCII slug for URLs and handles.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "movie".to_string()
    } else {
        trimmed.to_string()
    }
}

fn ascii_lower(text: &str) -> String {
    let s: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if s.is_empty() { "user".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn catalog() -> Catalog {
        Catalog::generate(11, 3_000, NaiveDate::from_ymd_opt(2025, 6, 15).unwrap())
    }

    #[test]
    fn formats() {
        assert_eq!(commas(0), "0");
        assert_eq!(commas(999), "999");
        assert_eq!(commas(1_000), "1,000");
        assert_eq!(commas(1_234_567), "1,234,567");
        assert_eq!(
            omdb_date(NaiveDate::from_ymd_opt(2018, 10, 5).unwrap()),
            "05 Oct 2018"
        );
        assert_eq!(slug("Kraków: Part II"), "krak-w-part-ii");
        assert_eq!(first_sentence("One. Two. Three."), "One.");
    }

    #[test]
    fn people_are_shared_across_movies() {
        let cat = catalog();
        let mut seen: HashMap<u32, usize> = HashMap::new();
        for e in cat.entries().iter().take(500) {
            for c in cat.credits(e.id).unwrap().cast {
                *seen.entry(c.id).or_default() += 1;
            }
        }
        let max = seen.values().copied().max().unwrap();
        assert!(
            max >= 20,
            "the busiest actor is in only {max} of 500 movies"
        );
        let shared = seen.values().filter(|&&n| n >= 2).count();
        assert!(shared > 100, "only {shared} actors appear twice");
    }

    #[test]
    fn copies_of_shared_rows_disagree_between_movies_but_not_within_one() {
        /// A person's popularity and photo as one movie carries them.
        type Copy = (f64, Option<String>);
        let cat = catalog();
        let mut people: HashMap<u32, Vec<Copy>> = HashMap::new();
        for e in cat.entries().iter().take(500) {
            let credits = cat.credits(e.id).unwrap();
            let mut in_movie: HashMap<u32, Copy> = HashMap::new();
            let copies = credits
                .cast
                .iter()
                .map(|c| (c.id, c.popularity, c.profile_path.clone()))
                .chain(
                    credits
                        .crew
                        .iter()
                        .map(|c| (c.id, c.popularity, c.profile_path.clone())),
                );
            for (id, popularity, profile) in copies {
                let copy = (popularity, profile);
                assert_eq!(in_movie.entry(id).or_insert_with(|| copy.clone()), &copy);
            }
            for (id, copy) in in_movie {
                people.entry(id).or_default().push(copy);
            }
        }
        let differ = |copies: &Vec<Copy>, f: &dyn Fn(&Copy, &Copy) -> bool| {
            copies.iter().any(|a| copies.iter().any(|b| f(a, b)))
        };
        let popularity = people
            .values()
            .filter(|c| differ(c, &|a, b| a.0 != b.0))
            .count();
        let photo = people
            .values()
            .filter(|c| differ(c, &|a, b| a.1 != b.1))
            .count();
        assert!(
            popularity > 100,
            "{popularity} people with differing popularity"
        );
        assert!(photo > 20, "{photo} people with differing photos");
        // The row itself is what most copies say.
        let k = 0;
        let p = cat.person(k);
        let same = (0..200)
            .filter(|&m| cat.person_in(cat.entries()[m].id, k) == p)
            .count();
        assert!(
            (100..180).contains(&same),
            "{same} of 200 copies are current"
        );
        let logos = (0..60u32)
            .filter(|&k| {
                let c = cat.company(k);
                cat.entries()[..100]
                    .iter()
                    .any(|e| cat.company_in(e.id, k).logo_path != c.logo_path)
            })
            .count();
        assert!(logos > 5, "{logos} companies with differing logos");
    }

    #[test]
    fn quirks_of_real_data_are_present() {
        let cat = catalog();
        let movies: Vec<Movie> = cat
            .entries()
            .iter()
            .map(|e| cat.movie(e.id).unwrap())
            .collect();
        let count = |f: &dyn Fn(&Movie) -> bool| movies.iter().filter(|m| f(m)).count();
        assert!(count(&|m| m.release_date.is_empty()) > 5);
        assert!(count(&|m| m.runtime == 0) > 20);
        assert!(count(&|m| m.imdb_id.is_none()) > 50);
        assert!(count(&|m| m.homepage.is_empty()) > 1000);
        assert!(count(&|m| m.overview.len() > 1000) > 20);
        assert!(count(&|m| m.poster_path.is_none()) > 20);
        assert!(count(&|m| !m.original_title.is_ascii()) > 200);
        assert!(count(&|m| m.belongs_to_collection.is_some()) > 50);
    }

    #[test]
    fn omdb_agrees_with_tmdb_and_uses_real_formats() {
        let cat = catalog();
        let mut no_data = 0;
        let mut missing_rt = 0;
        let mut box_office = 0;
        for e in cat.entries() {
            let Some(imdb) = &e.imdb_id else { continue };
            match cat.omdb(imdb, false).unwrap() {
                OmdbAnswer::NoData => no_data += 1,
                OmdbAnswer::Movie(o) => {
                    let m = cat.movie(e.id).unwrap();
                    assert_eq!(o.title, m.title);
                    assert_eq!(&o.imdb_id, imdb);
                    if !m.release_date.is_empty() {
                        assert_eq!(o.year, m.release_date[..4]);
                    }
                    if m.runtime > 0 {
                        assert_eq!(o.runtime, format!("{} min", m.runtime));
                    } else {
                        assert_eq!(o.runtime, "N/A");
                    }
                    let sources: Vec<&str> = o.ratings.iter().map(|r| r.source.as_str()).collect();
                    if sources.contains(&"Internet Movie Database")
                        && !sources.contains(&"Rotten Tomatoes")
                    {
                        missing_rt += 1;
                    }
                    if o.box_office != "N/A" {
                        box_office += 1;
                        assert!(o.box_office.starts_with('$'));
                    }
                    assert!(
                        o.imdb_votes == "N/A"
                            || o.imdb_votes.chars().all(|c| c.is_ascii_digit() || c == ',')
                    );
                }
            }
        }
        assert!(no_data > 30, "no_data {no_data}");
        assert!(missing_rt > 100, "missing RT {missing_rt}");
        assert!(box_office > 300, "box office {box_office}");
    }

    #[test]
    fn release_dates_span_countries_and_sometimes_repeat_a_type() {
        let cat = catalog();
        let mut multi_country = 0;
        let mut repeated_type = 0;
        let mut blank_cert = 0;
        for e in cat.entries().iter().take(500) {
            let rd = cat.release_dates(e.id).unwrap().results;
            if rd.len() >= 3 {
                multi_country += 1;
            }
            for c in &rd {
                let mut kinds: Vec<u8> = c.release_dates.iter().map(|d| d.kind).collect();
                let n = kinds.len();
                kinds.sort_unstable();
                kinds.dedup();
                if kinds.len() < n {
                    repeated_type += 1;
                }
                blank_cert += c
                    .release_dates
                    .iter()
                    .filter(|d| d.certification.is_empty())
                    .count();
                assert!(c.release_dates.iter().all(|d| (1..=6).contains(&d.kind)));
            }
            if let Some(date) = e.release_date {
                let first = &rd[0].release_dates;
                let theatrical = first.iter().find(|d| d.kind == 3 || d.kind == 2).unwrap();
                assert_eq!(theatrical.release_date[..10], fmt_date(date));
            }
        }
        assert!(multi_country > 200, "{multi_country}");
        assert!(repeated_type > 50, "{repeated_type}");
        assert!(blank_cert > 50, "{blank_cert}");
    }

    #[test]
    fn parts_are_stable_between_calls() {
        let cat = catalog();
        let id = cat.entries()[17].id;
        assert_eq!(cat.credits(id), cat.credits(id));
        assert_eq!(cat.release_dates(id), cat.release_dates(id));
        assert_eq!(cat.reviews(id), cat.reviews(id));
        assert_eq!(cat.similar_ids(id), cat.similar_ids(id));
        let recs = cat.recommendation_ids(id).unwrap();
        assert!(recs.len() <= 40);
        assert!(recs.iter().all(|r| cat.entry(*r).is_some() && *r != id));
    }
}
