//! Deterministic randomness for the simulator: every value is a pure function of the seed, a
//! tag naming what is being generated and an id, so any movie, person or fault decision can be
//! regenerated on its own, in any order, on any thread, and comes out the same.

/// Tags keep the streams of different generators apart (a movie id and a person id that happen
/// to be equal must not produce correlated values).
pub(crate) mod tag {
    pub const IDS: u64 = 0x1d5;
    pub const INDEX: u64 = 0x1de;
    pub const TITLE: u64 = 0x717;
    pub const COLLECTION: u64 = 0xc011;
    pub const DETAILS: u64 = 0xde7a;
    pub const CREDITS: u64 = 0xc4ed;
    pub const PERSON: u64 = 0x9e45;
    pub const KEYWORD: u64 = 0x4e7;
    pub const COMPANY: u64 = 0xc0;
    pub const PERSON_COPY: u64 = 0x9e45_c0b1;
    pub const PERSON_DETAILS: u64 = 0x9e45_de7a;
    pub const COMPANY_COPY: u64 = 0xc0c0_c0b1;
    pub const COLLECTION_COPY: u64 = 0xc011_c0b1;
    pub const MEDIA: u64 = 0x3ed;
    pub const RELEASES: u64 = 0x4e1;
    pub const REVIEWS: u64 = 0x4e5;
    pub const RELATED: u64 = 0x4e1a;
    pub const CHANGES: u64 = 0xc4a;
    pub const REMOVAL: u64 = 0xde1e7e;
    pub const REVISION: u64 = 0x4e71;
    pub const OMDB: u64 = 0x03db;
    pub const FAULT: u64 = 0xfa17;
    pub const LATENCY: u64 = 0x1a7;
    pub const USER_LIST: u64 = 0x1157;
}

/// The splitmix64 finaliser: a bijective mix with good avalanche.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One 64-bit value from several.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5EED_0FC0_FFEE, |acc, &p| mix(acc ^ mix(p)))
}

/// A value in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A small, fast, seedable generator (splitmix64). Not for cryptography.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, tag: u64, id: u64) -> Self {
        Rng(hash(&[seed, tag, id]))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index in `0..n` where low indices are far more likely (`power` > 1 skews harder):
    /// how a few actors, keywords and studios end up in many movies.
    pub fn skewed(&mut self, n: u64, power: f64) -> u64 {
        let u = self.f64().powf(power);
        ((u * n as f64) as u64).min(n.saturating_sub(1))
    }

    /// An item of `items` chosen by `weights` (same length, not all zero).
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            if x < u64::from(*w) {
                return item;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }

    /// Roughly normal (sum of uniforms), mean `mean`, standard deviation `sd`.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let s: f64 = (0..6).map(|_| self.f64()).sum::<f64>() - 3.0;
        mean + s * sd * std::f64::consts::SQRT_2
    }

    /// Lower-case hex, like TMDB's 24-character credit and review ids.
    pub fn hex(&mut self, len: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| HEX[self.below(16) as usize] as char)
            .collect()
    }

    /// Letters and digits, like TMDB image file names and YouTube keys.
    pub fn token(&mut self, len: usize) -> String {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALNUM[self.below(ALNUM.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_stream_different_tags_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7, tag::DETAILS, 550);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7, tag::DETAILS, 550);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new(7, tag::PERSON, 550);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ranges_stay_in_bounds_and_skew_prefers_low_indices() {
        let mut r = Rng::new(1, 2, 3);
        let mut low = 0;
        for _ in 0..10_000 {
            let v = r.range(-3, 3);
            assert!((-3..=3).contains(&v));
            let f = r.f64();
            assert!((0.0..1.0).contains(&f));
            let s = r.skewed(1000, 3.0);
            assert!(s < 1000);
            if s < 100 {
                low += 1;
            }
        }
        // u^3 < 0.1 when u < 0.464: about 46% land in the lowest tenth.
        assert!(low > 4000, "skew too weak: {low}");
        assert_eq!(r.below(0), 0);
    }
}
