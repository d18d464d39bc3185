//! The file format of one cache entry, and why a file is not one.
//!
//! ```text
//! popctl-cache 1\n                     magic and version
//! {"request":…,"status":200,…}\n        header: JSON on one line
//! <raw deflate of the body>
//! <SHA-256 of everything above>         32 bytes
//! ```
//!
//! The checksum covers the header as well as the body, so a flipped status digit is caught
//! as surely as a torn write; being last, it also catches a file cut short anywhere. Files are
//! therefore not fsynced: whatever a crash leaves behind reads as damaged and is fetched again.

use std::fmt;
use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"popctl-cache 1\n";
const DIGEST_LEN: usize = 32;

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    request: String,
    status: u16,
    negative: bool,
    stored_at_ms: u64,
    body_len: u64,
}

/// What an entry says about itself, without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The canonical request it answers (no credentials).
    pub request: String,
    pub status: u16,
    /// Kept under `negative_ttl`.
    pub negative: bool,
    pub stored_at: SystemTime,
    pub body_len: u64,
}

/// A whole entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub meta: Meta,
    pub body: Vec<u8>,
}

/// Why a file is not a usable entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    TooShort(usize),
    Checksum,
    Format,
    Header(String),
    Body(String),
    Length { header: u64, actual: u64 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::TooShort(n) => write!(f, "{n} bytes is too short to be an entry"),
            Damage::Checksum => f.write_str("checksum mismatch (torn or corrupted)"),
            Damage::Format => f.write_str("not a popctl cache entry of this version"),
            Damage::Header(e) => write!(f, "unreadable header: {e}"),
            Damage::Body(e) => write!(f, "body does not decompress: {e}"),
            Damage::Length { header, actual } => {
                write!(f, "body is {actual} bytes, its header says {header}")
            }
        }
    }
}

/// The bytes of an entry for `request`'s answer.
pub fn encode(
    request: &str,
    status: u16,
    negative: bool,
    stored_at: SystemTime,
    body: &[u8],
) -> Vec<u8> {
    let header = Header {
        request: request.to_string(),
        status,
        negative,
        stored_at_ms: unix_ms(stored_at),
        body_len: body.len() as u64,
    };
    let mut out = Vec::with_capacity(body.len() / 4 + 256);
    out.extend_from_slice(MAGIC);
    // A struct of strings and numbers always serialises; compact JSON has no raw newline.
    out.extend_from_slice(&serde_json::to_vec(&header).unwrap_or_default());
    out.push(b'\n');
    let mut deflate = flate2::write::DeflateEncoder::new(out, flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = deflate.write_all(body);
    let mut out = deflate.finish().unwrap_or_default();
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Checks the checksum and reads the header; returns it with the compressed body.
pub fn decode_meta(bytes: &[u8]) -> Result<(Meta, &[u8]), Damage> {
    if bytes.len() < MAGIC.len() + DIGEST_LEN + 2 {
        return Err(Damage::TooShort(bytes.len()));
    }
    let (payload, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
    if Sha256::digest(payload)[..] != *digest {
        return Err(Damage::Checksum);
    }
    let rest = payload.strip_prefix(MAGIC).ok_or(Damage::Format)?;
    let nl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Damage::Header("no end of line".to_string()))?;
    let header: Header =
        serde_json::from_slice(&rest[..nl]).map_err(|e| Damage::Header(e.to_string()))?;
    let meta = Meta {
        request: header.request,
        status: header.status,
        negative: header.negative,
        stored_at: UNIX_EPOCH + Duration::from_millis(header.stored_at_ms),
        body_len: header.body_len,
    };
    Ok((meta, &rest[nl + 1..]))
}

/// A whole entry, checked.
pub fn decode(bytes: &[u8]) -> Result<Entry, Damage> {
    let (meta, compressed) = decode_meta(bytes)?;
    // The header is authentic (checksummed), but a bound keeps a bad length from allocating.
    let mut body = Vec::with_capacity(meta.body_len.min(64 << 20) as usize);
    flate2::read::DeflateDecoder::new(compressed)
        .take(meta.body_len.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| Damage::Body(e.to_string()))?;
    if body.len() as u64 != meta.body_len {
        return Err(Damage::Length {
            header: meta.body_len,
            actual: body.len() as u64,
        });
    }
    Ok(Entry { meta, body })
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let body = br#"{"id":550,"title":"Fight Club","overview":"A ticking-time-bomb insomniac"}"#;
        encode(
            "GET https://api.themoviedb.org/3/movie/550",
            200,
            false,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            body,
        )
    }

    #[test]
    fn round_trip() {
        let e = decode(&sample()).unwrap();
        assert_eq!(e.meta.status, 200);
        assert!(!e.meta.negative);
        assert_eq!(
            e.meta.stored_at,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert!(e.body.starts_with(br#"{"id":550"#));
        assert_eq!(e.meta.body_len, e.body.len() as u64);
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_detected() {
        let good = sample();
        for len in 0..good.len() {
            assert!(decode(&good[..len]).is_err(), "cut at {len} went unnoticed");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn damage_is_named() {
        let good = sample();
        assert_eq!(decode(&good[..10]), Err(Damage::TooShort(10)));
        let mut bad = good.clone();
        bad[20] ^= 0x40;
        assert_eq!(decode(&bad), Err(Damage::Checksum));
        let mut other = b"popctl-cache 9\n{}\n".to_vec();
        let digest = Sha256::digest(&other);
        other.extend_from_slice(&digest);
        assert_eq!(decode(&other), Err(Damage::Format));
    }
}
