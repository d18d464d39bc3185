//! A local simulator of TMDB v3 and OMDb: same URLs, JSON shapes, status codes and rate-limit
//! answers, over a deterministic seeded catalog. Used by `--sandbox`, tests and benchmarks.
