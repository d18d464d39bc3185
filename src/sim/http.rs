//! A small HTTP/1.1 layer over a `TcpStream`: read one request (keep-alive and pipelining
//! included), write one response — or deliberately break the exchange.
//!
//! The simulator owns the socket instead of sitting behind a framework because its faults live
//! below HTTP: a connection closed before any answer, headers that promise more body than is
//! sent, an answer that never comes while the client gives up. A framework hides exactly those
//! moments. Requests are small GETs (plus a few JSON POSTs to `/__sandbox/*`), so a strict
//! parser (`httparse`) and `Content-Length` bodies are all that is needed.

use bytes::{Buf, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Request heads larger than this are refused (431).
const MAX_HEAD: usize = 32 * 1024;
/// Request bodies larger than this are refused (413); the control API needs a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// Decoded `?a=b&c=d`, in order.
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub keep_alive: bool,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The client closed the connection (possibly mid-request).
    Closed,
    /// A malformed or oversized request: answer `status` and close.
    Bad(u16, &'static str),
}

/// Reads the next request from `stream`, using and refilling `buf` (which keeps bytes of
/// pipelined requests between calls).
pub(crate) async fn read_request(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Result<Request, ReadError> {
    loop {
        if let Some((head_len, body_len)) = parse_lengths(buf)? {
            if body_len > MAX_BODY {
                return Err(ReadError::Bad(413, "request body too large"));
            }
            while buf.len() < head_len + body_len {
                fill(stream, buf).await?;
            }
            let request = parse_request(&buf[..head_len + body_len], head_len)?;
            buf.advance(head_len + body_len);
            return Ok(request);
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad(431, "request head too large"));
        }
        fill(stream, buf).await?;
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), ReadError> {
    buf.reserve(8 * 1024);
    match stream.read_buf(buf).await {
        Ok(0) | Err(_) => Err(ReadError::Closed),
        Ok(_) => Ok(()),
    }
}

/// `Some((head length, body length))` once the head is complete.
fn parse_lengths(buf: &[u8]) -> Result<Option<(usize, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(head_len)) => {
            let mut body_len = 0;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    body_len = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .ok_or(ReadError::Bad(400, "invalid Content-Length"))?;
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(ReadError::Bad(411, "send a Content-Length, not chunks"));
                }
            }
            Ok(Some((head_len, body_len)))
        }
        Err(httparse::Error::TooManyHeaders) => Err(ReadError::Bad(431, "too many headers")),
        Err(_) => Err(ReadError::Bad(400, "malformed request")),
    }
}

fn parse_request(bytes: &[u8], head_len: usize) -> Result<Request, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(bytes)
        .map_err(|_| ReadError::Bad(400, "malformed request"))?;
    let method = req.method.unwrap_or("GET").to_string();
    let target = req.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let query = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut authorization = None;
    let mut connection = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(String::from_utf8_lossy(h.value).into_owned());
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection = Some(String::from_utf8_lossy(h.value).to_ascii_lowercase());
        }
    }
    let keep_alive = match req.version {
        Some(0) => connection.as_deref() == Some("keep-alive"),
        _ => connection.as_deref() != Some("close"),
    };
    Ok(Request {
        method,
        path: path.to_string(),
        query,
        authorization,
        keep_alive,
        body: bytes[head_len..].to_vec(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Sent with `Transfer-Encoding: chunked` instead of a `Content-Length`.
    pub chunked: bool,
}

/// The most body bytes in one chunk of a chunked answer.
const CHUNK: usize = 64 * 1024;

pub(crate) const JSON: &str = "application/json;charset=utf-8";

/// `now` as an HTTP `Date` header value (RFC 9110's IMF-fixdate): the simulated clock, so a
/// client that reads the server's time (popctl does, for the day of exports and changes)
/// sees the sandbox's day.
pub(crate) fn date(now: chrono::NaiveDateTime) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

impl Response {
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type: JSON,
            headers: Vec::new(),
            body,
            chunked: false,
        }
    }

    /// `value` as JSON; a value that cannot be serialised is a bug, answered as a 500.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::json_bytes(status, body),
            Err(e) => {
                tracing::error!("sandbox bug: cannot serialise a response: {e}");
                Response::text(500, "sandbox bug: cannot serialise the response")
            }
        }
    }

    pub fn text(status: u16, text: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: text.as_bytes().to_vec(),
            chunked: false,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// The status line and headers, announcing `content_length` bytes of body (or chunks).
    pub fn head(&self, content_length: usize, close: bool) -> Vec<u8> {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        head.extend_from_slice(format!("Content-Type: {}\r\n", self.content_type).as_bytes());
        if self.chunked {
            head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        } else {
            head.extend_from_slice(format!("Content-Length: {content_length}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if close {
            head.extend_from_slice(b"Connection: close\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head
    }

    /// Writes the head announcing `announced` bytes, then the first `sent` bytes of the body.
    /// A chunked answer announces no length; it ends with its last chunk when `sent` is all it
    /// meant to send (`announced`), and breaks off without one otherwise.
    pub async fn write(
        &self,
        stream: &mut TcpStream,
        announced: usize,
        sent: usize,
        close: bool,
    ) -> std::io::Result<()> {
        let body = &self.body[..sent.min(self.body.len())];
        let mut out = self.head(announced, close);
        if !self.chunked {
            out.extend_from_slice(body);
            stream.write_all(&out).await?;
            return stream.flush().await;
        }
        stream.write_all(&out).await?;
        for chunk in body.chunks(CHUNK) {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await?;
        }
        if sent == announced {
            stream.write_all(b"0\r\n\r\n").await?;
        }
        stream.flush().await
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_query_auth_and_keep_alive() {
        let raw = b"GET /3/movie/550?api_key=k&append_to_response=credits%2Cvideos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n";
        let (head, body) = parse_lengths(raw).unwrap().unwrap();
        assert_eq!((head, body), (raw.len(), 0));
        let r = parse_request(raw, head).unwrap();
        assert_eq!(r.path, "/3/movie/550");
        assert_eq!(r.param("api_key"), Some("k"));
        assert_eq!(r.param("append_to_response"), Some("credits,videos"));
        assert_eq!(r.authorization.as_deref(), Some("Bearer t"));
        assert!(r.keep_alive);

        let raw = b"GET / HTTP/1.0\r\n\r\n";
        let r = parse_request(raw, raw.len()).unwrap();
        assert!(!r.keep_alive);
        let raw = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert!(!parse_request(raw, raw.len()).unwrap().keep_alive);
    }

    #[test]
    fn incomplete_malformed_and_chunked_requests() {
        assert_eq!(parse_lengths(b"GET / HTTP/1.1\r\nHost"), Ok(None));
        assert_eq!(
            parse_lengths(b"GE T / HTTP/1.1\r\n\r\n"),
            Err(ReadError::Bad(400, "malformed request"))
        );
        assert!(matches!(
            parse_lengths(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(ReadError::Bad(411, _))
        ));
        let raw = b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let (head, body) = parse_lengths(raw).unwrap().unwrap();
        assert_eq!(body, 2);
        assert_eq!(parse_request(raw, head).unwrap().body, b"{}");
    }

    #[test]
    fn heads_announce_lengths_and_headers() {
        let r = Response::json_bytes(429, b"{}".to_vec()).with_header("Retry-After", "3");
        let head = String::from_utf8(r.head(2, true)).unwrap();
        assert!(head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(head.contains("Content-Length: 2\r\n"));
        assert!(head.contains("Retry-After: 3\r\n"));
        assert!(head.ends_with("Connection: close\r\n\r\n"));

        let chunked = Response {
            chunked: true,
            ..Response::json_bytes(200, b"{}".to_vec())
        };
        let head = String::from_utf8(chunked.head(2, false)).unwrap();
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        assert!(!head.contains("Content-Length"), "{head}");
    }
}
