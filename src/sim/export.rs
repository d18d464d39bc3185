//! TMDB's daily movie ID export, as its files host serves it: `/p/exports/
//! movie_ids_MM_DD_YYYY.json.gz`, gzip of one JSON object a line (`adult`, `id`,
//! `original_title`, `popularity`, `video`) for every movie in the catalog that day (see
//! `../shared/api-facts.md`). The simulator serves it on its own listener under `/p/` (the
//! files host's path), beside TMDB under `/3` and OMDb at `/`.
//!
//! A file is made when asked for and streamed as it is compressed: a catalog of 5 million
//! movies is some 500 MB of lines, so neither the lines nor the gzip are ever held whole. A
//! blocking task writes the lines through the encoder and hands each ~64 KiB of gzip to the
//! connection over a channel of [`CHUNKS_IN_FLIGHT`]; a slow client slows the encoder, one
//! that leaves stops it. The answer is chunked, since its length is known only at the end.
//!
//! A day's file is out from [`READY_HOUR`]:00 UTC of that day (by the sandbox clock) and for
//! [`RETENTION_MONTHS`] months; other days, other export kinds (`person_ids_…`) and other
//! paths answer 404. The files host asks for no key and is not rate-limited, faulted or
//! delayed (TMDB documents none of that for it).

use std::io::Write;
use std::sync::Arc;

use chrono::{Months, NaiveDate, NaiveDateTime, Timelike};
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::State;
use super::catalog::Catalog;
use super::http::{Request, Response, date};

/// The path prefix of the export files, as on `files.tmdb.org`.
pub const PREFIX: &str = "/p/exports/";
/// The hour (UTC) a day's file is out; TMDB's job runs from about 07:00 and is done by 08:00.
pub const READY_HOUR: u32 = 8;
/// How long a file stays: TMDB deletes them after 3 months.
pub const RETENTION_MONTHS: u32 = 3;
/// Gzip bytes handed to the connection at once.
const CHUNK: usize = 64 * 1024;
/// Chunks made but not yet written: with the encoder's own window, what a download holds.
pub const CHUNKS_IN_FLIGHT: usize = 2;

/// The route label in stats.
pub(crate) const LABEL: &str = "GET /p/exports/movie_ids_{MM_DD_YYYY}.json.gz";

/// `movie_ids_MM_DD_YYYY.json.gz`, the file of `day`.
pub fn file_name(day: NaiveDate) -> String {
    day.format("movie_ids_%m_%d_%Y.json.gz").to_string()
}

/// The day of a movie export path; `None` for any other path.
pub(crate) fn day_of(path: &str) -> Option<NaiveDate> {
    let date = path
        .strip_prefix(PREFIX)?
        .strip_prefix("movie_ids_")?
        .strip_suffix(".json.gz")?;
    // chrono accepts unpadded numbers; TMDB's names always have 2, 2 and 4 digits.
    let shape_ok = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 2 || i == 5 {
                c == '_'
            } else {
                c.is_ascii_digit()
            }
        });
    shape_ok
        .then(|| NaiveDate::parse_from_str(date, "%m_%d_%Y").ok())
        .flatten()
}

/// Is the file of `day` on the files host at `now`?
pub fn available(day: NaiveDate, now: NaiveDateTime) -> bool {
    let today = now.date();
    let ready = day < today || (day == today && now.hour() >= READY_HOUR);
    let kept = today
        .checked_sub_months(Months::new(RETENTION_MONTHS))
        .is_none_or(|oldest| day >= oldest);
    ready && kept
}

/// Answers one request under `/p/`. False when the connection must close.
pub(super) async fn serve(state: Arc<State>, req: &Request, stream: &mut TcpStream) -> bool {
    let close = !req.keep_alive;
    // The clock is the files host's own: a client learns from `Date` which day it is there.
    let not_found = Response::text(404, "Not Found").with_header("Date", date(state.clock()));
    let len = not_found.body.len();
    // Like any other unknown path, paths that name no movie export are not counted.
    let Some(day) = day_of(&req.path).filter(|_| req.method == "GET") else {
        return not_found.write(stream, len, len, close).await.is_ok();
    };
    if !available(day, state.clock()) {
        state.stats.counted(LABEL, 404);
        return not_found.write(stream, len, len, close).await.is_ok();
    }
    state.stats.counted(LABEL, 200);
    let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let catalog = state.clone();
    tokio::task::spawn_blocking(move || compress(&catalog.catalog, day, &tx));

    let head = Response {
        chunked: true,
        ..Response::text(200, "")
    }
    .with_content_type("application/octet-stream")
    .with_header("Date", date(state.clock()));
    if stream.write_all(&head.head(0, close)).await.is_err() {
        return false;
    }
    while let Some(chunk) = rx.recv().await {
        let Ok(chunk) = chunk else {
            // Leave the body without its last chunk: the client sees a broken download.
            return false;
        };
        let framed = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\r\n").await
        };
        if framed.await.is_err() {
            return false;
        }
    }
    stream.write_all(b"0\r\n\r\n").await.is_ok() && stream.flush().await.is_ok()
}

/// Writes the export of `day` through gzip into `tx`, a chunk at a time; stops early when the
/// receiver is gone. An `Err` item means the file could not be made (a bug).
fn compress(catalog: &Catalog, day: NaiveDate, tx: &mpsc::Sender<Result<Vec<u8>, ()>>) {
    let mut gz = GzEncoder::new(Vec::with_capacity(2 * CHUNK), Compression::default());
    let mut line = Vec::with_capacity(256);
    for item in catalog.export(day) {
        line.clear();
        let written = serde_json::to_writer(&mut line, &item)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                line.push(b'\n');
                gz.write_all(&line).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::error!("sandbox bug: cannot write the export of {day}: {e}");
            let _ = tx.blocking_send(Err(()));
            return;
        }
        if gz.get_ref().len() >= CHUNK {
            let full = std::mem::replace(gz.get_mut(), Vec::with_capacity(2 * CHUNK));
            if tx.blocking_send(Ok(full)).is_err() {
                return;
            }
        }
    }
    let last = gz.finish().map_err(|e| {
        tracing::error!("sandbox bug: cannot finish the export of {day}: {e}");
    });
    let _ = tx.blocking_send(last);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn names_parse_only_in_tmdbs_shape() {
        let day = d(2025, 6, 5);
        assert_eq!(file_name(day), "movie_ids_06_05_2025.json.gz");
        assert_eq!(day_of(&format!("{PREFIX}{}", file_name(day))), Some(day));
        for bad in [
            "/p/exports/movie_ids_6_5_2025.json.gz",
            "/p/exports/movie_ids_13_01_2025.json.gz",
            "/p/exports/movie_ids_06_05_2025.json",
            "/p/exports/person_ids_06_05_2025.json.gz",
            "/p/exports/movie_ids_06_05_2025.json.gz/x",
            "/p/movie_ids_06_05_2025.json.gz",
            "/p/exports/movie_ids_0a_05_2025.json.gz",
        ] {
            assert_eq!(day_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_file_is_out_from_eight_utc_for_three_months() {
        let at = |day: NaiveDate, h: u32| day.and_hms_opt(h, 0, 0).unwrap();
        let today = d(2025, 6, 15);
        assert!(!available(today, at(today, 7)));
        assert!(available(today, at(today, 8)));
        assert!(!available(d(2025, 6, 16), at(today, 23)));
        assert!(available(d(2025, 6, 14), at(today, 0)));
        assert!(available(d(2025, 3, 15), at(today, 0)));
        assert!(!available(d(2025, 3, 14), at(today, 23)));
    }
}
