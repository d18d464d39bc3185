//! Which requests count as "the same question": method, URL without credentials, and the
//! query in one canonical order.
//!
//! The canonical text is stored in each entry (so a read can check that the entry answers the
//! request it was found for) and its SHA-256 is the entry's file name. Credentials are dropped
//! before either exists: `api_key`/`apikey` parameters, user info in the origin, and headers,
//! which never take part at all (a TMDB `Authorization: Bearer` token included).

use sha2::{Digest, Sha256};

/// Query parameters that carry credentials (TMDB `api_key`, OMDb `apikey`), in any case.
pub const CREDENTIAL_PARAMS: &[&str] = &["api_key", "apikey"];

/// True for a query parameter that carries a credential.
pub fn is_credential(name: &str) -> bool {
    CREDENTIAL_PARAMS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

/// One request, as the cache knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    canonical: String,
    hash: String,
}

impl RequestKey {
    /// The key of `method` on `origin`/`path` with `query`. `origin` is where answers come
    /// from: the source's base URL, or a name for a simulator whose address changes per run.
    pub fn new(origin: &str, method: &str, path: &str, query: &[(&str, String)]) -> Self {
        let mut params: Vec<(&str, &str)> = query
            .iter()
            .filter(|(k, _)| !is_credential(k))
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        // Stable: repeated names keep their relative order, the only order that can matter.
        params.sort_by(|a, b| a.0.cmp(b.0));
        let mut canonical = format!(
            "{} {}/{}",
            method.to_ascii_uppercase(),
            clean_origin(origin),
            path.trim_start_matches('/')
        );
        if !params.is_empty() {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            canonical.push('?');
            canonical.push_str(&encoded);
        }
        let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        RequestKey { canonical, hash }
    }

    /// `GET https://api.themoviedb.org/3/movie/550?append_to_response=credits`: no
    /// credentials, safe to show and to store.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// 64 hex digits.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// The origin without user info (`https://user:pw@host` would put a password in every entry)
/// and without a trailing `/`.
fn clean_origin(origin: &str) -> String {
    let trimmed = origin.trim().trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(mut url) if url.has_authority() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.as_str().trim_end_matches('/').to_string()
        }
        _ => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TMDB: &str = "https://api.themoviedb.org/3";

    fn q(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn credentials_and_parameter_order_do_not_change_the_key() {
        let a = RequestKey::new(
            TMDB,
            "GET",
            "movie/5",
            &q(&[("api_key", "s3cret"), ("append_to_response", "credits")]),
        );
        let b = RequestKey::new(
            TMDB,
            "get",
            "/movie/5",
            &q(&[("append_to_response", "credits"), ("API_KEY", "other")]),
        );
        assert_eq!(a, b);
        assert_eq!(
            a.canonical(),
            "GET https://api.themoviedb.org/3/movie/5?append_to_response=credits"
        );
        assert!(!a.canonical().contains("s3cret"));
        let omdb = RequestKey::new(
            "https://www.omdbapi.com/",
            "GET",
            "",
            &q(&[("plot", "full"), ("apikey", "k"), ("i", "tt1")]),
        );
        assert_eq!(
            omdb.canonical(),
            "GET https://www.omdbapi.com/?i=tt1&plot=full"
        );
    }

    #[test]
    fn different_questions_get_different_keys() {
        let base = RequestKey::new(TMDB, "GET", "movie/5", &q(&[("language", "en")]));
        for other in [
            RequestKey::new(TMDB, "GET", "movie/5", &q(&[("language", "de")])),
            RequestKey::new(TMDB, "GET", "movie/6", &q(&[("language", "en")])),
            RequestKey::new(TMDB, "HEAD", "movie/5", &q(&[("language", "en")])),
            RequestKey::new(
                "sandbox:seed=1",
                "GET",
                "movie/5",
                &q(&[("language", "en")]),
            ),
            RequestKey::new(TMDB, "GET", "movie/5", &q(&[])),
        ] {
            assert_ne!(base.hash(), other.hash(), "{}", other.canonical());
        }
        assert_eq!(base.hash().len(), 64);
    }

    #[test]
    fn values_are_encoded_so_separators_in_them_cannot_collide() {
        let a = RequestKey::new(TMDB, "GET", "search", &q(&[("query", "a&b=c")]));
        let b = RequestKey::new(TMDB, "GET", "search", &q(&[("query", "a"), ("b", "c")]));
        assert_ne!(a.hash(), b.hash());
        assert!(a.canonical().ends_with("?query=a%26b%3Dc"));
    }

    #[test]
    fn user_info_never_reaches_the_key() {
        let k = RequestKey::new("https://me:pa55@example.test/3/", "GET", "movie/1", &[]);
        assert_eq!(k.canonical(), "GET https://example.test/3/movie/1");
    }
}
