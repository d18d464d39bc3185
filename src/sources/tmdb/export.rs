//! TMDB's daily movie ID export: `movie_ids_MM_DD_YYYY.json.gz` on the files host, gzip of one
//! JSON object a line (`id`, `original_title`, `popularity`, `adult`, `video`) for every movie
//! TMDB has that day (`../shared/api-facts.md`).
//!
//! [`read_lines`] is the pure part: lines in, the ids a [`CatalogFilter`] admits out, most
//! popular first, with every id the file lists (what tells a movie TMDB removed). It holds
//! eight bytes per admitted movie while it sorts them (some 9 MB for the whole catalog) and
//! the listed ids as a compressed bitmap (TMDB's ids are dense: a few bits an id), never the
//! file or its lines. Any line it cannot read is an error naming the line:
//! a file popctl misreads must not pass for a smaller catalog, since movies missing from it
//! are taken for removed.
//!
//! [`TmdbClient::export`] finds the newest file (today's is out from about 08:00 UTC; it falls
//! back a day at a time), downloads it through the source's client and decompresses it as it
//! comes, on a blocking thread fed chunk by chunk.

use std::io::{BufRead, BufReader, Read};

use bytes::Bytes;
use chrono::{Days, NaiveDate, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::client::{TmdbClient, TmdbError};
use crate::ids::IdSet;
use crate::plan::CatalogFilter;
use crate::sources::http::DownloadError;
use crate::sources::retry::{Decision, Retrier, Transient};

/// The longest line read: TMDB's are about 100 bytes; a longer one is not an export line.
pub const MAX_LINE: usize = 64 * 1024;

/// Days tried before giving up: today's file (when out), yesterday's, the day before.
pub const DAYS_BACK: u64 = 3;

/// `movie_ids_MM_DD_YYYY.json.gz`, the export of `day`.
pub fn file_name(day: NaiveDate) -> String {
    day.format("movie_ids_%m_%d_%Y.json.gz").to_string()
}

/// The URL of the export of `day` on files host `files_url`.
pub fn url(files_url: &str, day: NaiveDate) -> String {
    format!(
        "{}/p/exports/{}",
        files_url.trim_end_matches('/'),
        file_name(day)
    )
}

/// What a stage takes from an export.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportIds {
    /// The admitted movies, most popular first (ties by id), cut to the limit.
    pub wanted: Vec<u32>,
    /// Every id the file lists, admitted or not.
    pub listed: IdSet,
    /// Lines read.
    pub lines: u64,
}

impl ExportIds {
    /// Does the export list movie `id`?
    pub fn lists(&self, id: i64) -> bool {
        self.listed.contains(id)
    }
}

/// Why an export could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error("after line {lines}: {message}")]
    Read { lines: u64, message: String },
}

#[derive(Deserialize)]
struct Line {
    id: u64,
    #[serde(default)]
    popularity: Option<f64>,
    #[serde(default)]
    adult: Option<bool>,
    #[serde(default)]
    video: Option<bool>,
}

/// Reads an export's lines (decompressed) and keeps what `filter` admits, the `limit` most
/// popular. An empty last line is allowed; any other line must be an export object with a
/// positive `id` that fits 32 bits. An id listed twice counts once.
pub fn read_lines<R: BufRead>(
    mut r: R,
    filter: &CatalogFilter,
    limit: Option<u32>,
) -> Result<ExportIds, ExportError> {
    let mut wanted: Vec<(f32, u32)> = Vec::new();
    let mut listed = IdSet::default();
    let mut buf = Vec::with_capacity(256);
    let mut lines = 0u64;
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| ExportError::Read {
                lines,
                message: e.to_string(),
            })?;
        if n == 0 {
            break;
        }
        lines += 1;
        let line_no = lines;
        let bad = |message: String| ExportError::Line {
            line: line_no,
            message,
        };
        if buf.last() != Some(&b'\n') && n > MAX_LINE {
            return Err(bad(format!("longer than {MAX_LINE} bytes")));
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            // Only the file's end may be blank: a blank line inside it is a broken file.
            let mut rest = [0u8; 1];
            let more = r.read(&mut rest).map_err(|e| ExportError::Read {
                lines,
                message: e.to_string(),
            })?;
            if more == 0 {
                break;
            }
            return Err(bad("blank line inside the file".to_owned()));
        }
        let shown = || String::from_utf8_lossy(&text[..text.len().min(80)]).into_owned();
        // serde would read a struct from an array too (`[1, 2]`); a line is an object.
        if text.trim_ascii_start().first() != Some(&b'{') {
            return Err(bad(format!(
                "not an export line (not a JSON object): {}",
                shown()
            )));
        }
        let line: Line = serde_json::from_slice(text)
            .map_err(|e| bad(format!("not an export line ({e}): {}", shown())))?;
        let id = u32::try_from(line.id)
            .ok()
            .filter(|&id| id > 0)
            .ok_or_else(|| bad(format!("id {} is not a TMDB movie id", line.id)))?;
        let popularity = line.popularity.unwrap_or(0.0);
        if !popularity.is_finite() || popularity < 0.0 {
            return Err(bad(format!("popularity {popularity} is not a popularity")));
        }
        listed.insert(i64::from(id));
        if filter.admits(
            line.adult.unwrap_or(false),
            line.video.unwrap_or(false),
            popularity,
        ) {
            wanted.push((popularity as f32, id));
        }
    }
    // Most popular first, ties by id; an id listed twice keeps its first place.
    wanted.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut seen = IdSet::default();
    let mut ids: Vec<u32> = wanted
        .into_iter()
        .map(|(_, id)| id)
        .filter(|&id| seen.insert(i64::from(id)))
        .collect();
    if let Some(limit) = limit {
        ids.truncate(limit as usize);
    }
    ids.shrink_to_fit();
    Ok(ExportIds {
        wanted: ids,
        listed,
        lines,
    })
}

/// A [`Read`] over the chunks of a download, for the blocking reader.
struct Chunks {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(why)) => return Err(std::io::Error::other(why)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// How reading one day's file ended.
enum DayRead {
    Read(ExportIds),
    /// The host has no file for that day (404, or 403 as object stores say it).
    Missing {
        server_day: Option<NaiveDate>,
    },
    /// Worth starting over: the connection broke or stalled.
    Transient(String),
}

impl TmdbClient {
    /// The newest movie ID export on `files_url` (or the one of `day` when given: a resumed
    /// run reads the file its first attempt read), read with `filter` and `limit`. Returns
    /// the file's day and what it lists.
    pub async fn export(
        &self,
        files_url: &str,
        day: Option<NaiveDate>,
        filter: &CatalogFilter,
        limit: Option<u32>,
        retrier: &Retrier,
    ) -> Result<(NaiveDate, ExportIds), TmdbError> {
        let pinned = day.is_some();
        let mut today = day.unwrap_or_else(|| Utc::now().date_naive());
        let mut back = 0;
        let mut tried: Vec<NaiveDate> = Vec::new();
        let mut clock_checked = pinned;
        while back < if pinned { 1 } else { DAYS_BACK } {
            let Some(day) = today.checked_sub_days(Days::new(back)) else {
                break;
            };
            tried.push(day);
            match self
                .export_day(files_url, day, filter, limit, retrier)
                .await?
            {
                DayRead::Read(ids) => return Ok((day, ids)),
                DayRead::Missing { server_day } => {
                    // The files host's clock says which day it is there (the sandbox's is its
                    // own); start again from that day, once.
                    if let Some(server_day) = server_day
                        && !clock_checked
                        && server_day != today
                    {
                        clock_checked = true;
                        today = server_day;
                        back = 0;
                        tried.clear();
                        continue;
                    }
                    clock_checked = true;
                    back += 1;
                }
                DayRead::Transient(why) => {
                    return Err(self.export_error(&url(files_url, day), why));
                }
            }
        }
        let days: Vec<String> = tried.iter().map(NaiveDate::to_string).collect();
        Err(self.export_error(
            &format!("{}/p/exports/", files_url.trim_end_matches('/')),
            format!(
                "no movie ID export for {} (HTTP 404); TMDB publishes each day's file by \
                 about 08:00 UTC and keeps it 3 months",
                days.join(", ")
            ),
        ))
    }

    /// One day's file, started over while the download breaks and the retry policy allows.
    async fn export_day(
        &self,
        files_url: &str,
        day: NaiveDate,
        filter: &CatalogFilter,
        limit: Option<u32>,
        retrier: &Retrier,
    ) -> Result<DayRead, TmdbError> {
        let url = url(files_url, day);
        let mut tries = 0;
        loop {
            tries += 1;
            let (transient, why) = match self.export_once(&url, filter, limit).await? {
                Ok(read) => return Ok(read),
                Err(failure) => failure,
            };
            match retrier.next(&transient, tries, self.http().jitter()) {
                Decision::GiveUp => {
                    return Ok(DayRead::Transient(format!("{why} (after {tries} tries)")));
                }
                Decision::RetryAfter(wait) => {
                    tracing::warn!(url = %url, attempt = tries, "{why}; starting the download over");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One download of `url`; `Err` with why when it is worth trying again.
    async fn export_once(
        &self,
        url: &str,
        filter: &CatalogFilter,
        limit: Option<u32>,
    ) -> Result<Result<DayRead, (Transient, String)>, TmdbError> {
        let mut download = match self.http().download(url).await {
            Ok(d) => d,
            Err(DownloadError::Transient(t, why)) => return Ok(Err((t, why))),
        };
        let server_day = download.date.map(|d| d.date_naive());
        match download.status {
            200 => {}
            403 | 404 => return Ok(Ok(DayRead::Missing { server_day })),
            status if status >= 500 => {
                return Ok(Err((
                    Transient::Server { status },
                    format!("HTTP {status}"),
                )));
            }
            status => {
                return Err(
                    self.export_error(url, format!("the files host answered HTTP {status}"))
                );
            }
        }
        let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(4);
        let filter = *filter;
        let reader = tokio::task::spawn_blocking(move || {
            let gz = flate2::read::MultiGzDecoder::new(Chunks {
                rx,
                current: Bytes::new(),
            });
            read_lines(BufReader::with_capacity(64 * 1024, gz), &filter, limit)
        });
        let mut broke: Option<String> = None;
        loop {
            match download.chunk().await {
                Ok(Some(chunk)) => {
                    if tx.send(Ok(chunk)).await.is_err() {
                        // The reader stopped: its error says why.
                        break;
                    }
                }
                Ok(None) => break,
                Err(why) => {
                    broke = Some(why.clone());
                    let _ = tx.send(Err(why)).await;
                    break;
                }
            }
        }
        drop(tx);
        let read = reader
            .await
            .map_err(|e| self.export_error(url, format!("the reader stopped: {e}")))?;
        match (read, broke) {
            (_, Some(why)) => Ok(Err((Transient::Connection, why))),
            (Ok(ids), None) => Ok(Ok(DayRead::Read(ids))),
            (Err(e), None) => Err(self.export_error(url, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: CatalogFilter = CatalogFilter {
        min_popularity: None,
        adult: true,
        video: true,
    };

    fn line(id: u32, popularity: f64, adult: bool, video: bool) -> String {
        format!(
            "{{\"adult\":{adult},\"id\":{id},\"original_title\":\"T {id}\",\"popularity\":{popularity},\"video\":{video}}}\n"
        )
    }

    #[test]
    fn most_popular_first_filtered_and_limited_with_every_id_listed() {
        let text = [
            line(5, 1.5, false, false),
            line(3, 9.0, false, false),
            line(9, 9.0, false, false),
            line(7, 30.0, true, false),
            line(8, 0.6, false, true),
            line(2, 0.2, false, false),
        ]
        .concat();
        let default = CatalogFilter::default();
        let read = read_lines(text.as_bytes(), &default, None).unwrap();
        assert_eq!(read.wanted, [3, 9, 5, 2]);
        assert_eq!(read.listed.iter().collect::<Vec<_>>(), [2, 3, 5, 7, 8, 9]);
        assert_eq!(read.lines, 6);
        let limited = read_lines(text.as_bytes(), &default, Some(2)).unwrap();
        assert_eq!(limited.wanted, [3, 9]);
        assert_eq!(
            limited.listed.len(),
            6,
            "limit cuts what is fetched, not what is listed"
        );
        let popular = CatalogFilter {
            min_popularity: Some(1.5),
            ..ALL
        };
        let read = read_lines(text.as_bytes(), &popular, None).unwrap();
        assert_eq!(read.wanted, [7, 3, 9, 5]);
        assert!(read.lists(8) && !read.lists(4) && !read.lists(-1));
    }

    #[test]
    fn a_repeated_id_counts_once_and_a_last_empty_line_is_fine() {
        let text = [line(4, 2.0, false, false), line(4, 2.0, false, false)].concat() + "\n";
        let read = read_lines(text.as_bytes(), &ALL, None).unwrap();
        assert_eq!(read.wanted, [4]);
        assert_eq!(read.listed.iter().collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let good = line(1, 1.0, false, false);
        let cases = [
            ("{\"id\":", 2, "not an export line"),
            ("{\"adult\":false}\n", 2, "missing field `id`"),
            ("{\"id\":0,\"popularity\":1}\n", 2, "not a TMDB movie id"),
            (
                "{\"id\":99999999999,\"popularity\":1}\n",
                2,
                "not a TMDB movie id",
            ),
            ("{\"id\":5,\"popularity\":-1}\n", 2, "not a popularity"),
            ("[1,2]\n", 2, "not an export line"),
            ("\n", 2, "blank line inside"),
        ];
        for (bad, line_no, says) in cases {
            let text = format!("{good}{bad}{good}");
            let err = read_lines(text.as_bytes(), &ALL, None)
                .map(|ok| format!("{bad:?} read as {ok:?}"))
                .unwrap_err();
            match &err {
                ExportError::Line { line, message } => {
                    assert_eq!(*line, line_no, "{bad:?}: {err}");
                    assert!(message.contains(says), "{bad:?}: {err}");
                }
                other => panic!("{bad:?}: {other}"),
            }
        }
        let long = format!("{good}{}\n", "x".repeat(MAX_LINE + 10));
        let err = read_lines(long.as_bytes(), &ALL, None).unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn a_truncated_gzip_is_a_read_error_not_a_shorter_catalog() {
        use std::io::Write;
        let text: String = (1..=2000).map(|id| line(id, 1.0, false, false)).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let whole = read_lines(
            BufReader::new(flate2::read::MultiGzDecoder::new(&gz[..])),
            &ALL,
            None,
        )
        .unwrap();
        assert_eq!(whole.listed.len(), 2000);
        for cut in [gz.len() / 2, gz.len() - 4, 10] {
            let err = read_lines(
                BufReader::new(flate2::read::MultiGzDecoder::new(&gz[..cut])),
                &ALL,
                None,
            )
            .unwrap_err();
            assert!(
                matches!(err, ExportError::Read { .. } | ExportError::Line { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes, cut anywhere: an answer or an error, never a panic; and what is
            /// admitted is always listed.
            #[test]
            fn any_bytes_read_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                if let Ok(read) = read_lines(&bytes[..], &ALL, None) {
                    for id in &read.wanted {
                        prop_assert!(read.listed.contains(i64::from(*id)));
                    }
                }
            }

            /// Real-shaped lines, some mangled and the text cut at any point: every error names
            /// a line that exists, and a clean prefix of whole lines reads whole.
            #[test]
            fn mangled_and_cut_lines_fail_at_their_line(
                ids in proptest::collection::vec(1u32..5_000_000, 1..40),
                mangle in proptest::option::of((0usize..40, 0usize..120, any::<u8>())),
                cut in 0usize..4000,
            ) {
                let lines: Vec<String> = ids.iter().map(|&id| line(id, f64::from(id % 97) / 7.0, id % 11 == 0, id % 13 == 0)).collect();
                let mut text = lines.concat().into_bytes();
                if let Some((l, at, byte)) = mangle {
                    let start: usize = lines.iter().take(l.min(lines.len() - 1)).map(String::len).sum();
                    let at = (start + at).min(text.len() - 1);
                    text[at] = byte;
                }
                let cut = cut.min(text.len());
                match read_lines(&text[..cut], &ALL, None) {
                    Ok(read) => prop_assert!(read.lines as usize <= ids.len()),
                    Err(ExportError::Line { line, .. }) => prop_assert!(line >= 1 && line as usize <= ids.len() + 1),
                    Err(e) => prop_assert!(false, "unexpected error {e}"),
                }
                if mangle.is_none() {
                    let whole: usize = lines.iter().take_while(|_| true).map(String::len).sum();
                    let read = read_lines(&text[..whole], &ALL, None).unwrap();
                    prop_assert_eq!(read.lines as usize, ids.len());
                }
            }
        }
    }
}
