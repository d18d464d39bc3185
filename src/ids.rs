//! [`IdSet`]: a set of TMDB ids in a few bits an id. A leaf module that `stages` and `store`
//! both use, so neither depends on the other for it.

/// A set of ids, iterated in ascending order. A stage can see the whole catalog (1.16 million
/// ids): a hash set would take some 18 MB there and a `Vec<i64>` 9.3 MB, growing with every
/// run's size, where a compressed bitmap of TMDB's dense ids takes a few bits an id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdSet(roaring::RoaringTreemap);

/// `id`'s place in the bitmap: its sign bit flipped, a bijection that keeps the order of every
/// i64 (negative ids first), so the set iterates in ascending id order.
fn place(id: i64) -> u64 {
    (id as u64) ^ (1 << 63)
}

fn id_at(place: u64) -> i64 {
    (place ^ (1 << 63)) as i64
}

impl IdSet {
    /// True when `id` was not in the set.
    pub fn insert(&mut self, id: i64) -> bool {
        self.0.insert(place(id))
    }

    pub fn contains(&self, id: i64) -> bool {
        self.0.contains(place(id))
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.iter().map(id_at)
    }
}

impl IntoIterator for IdSet {
    type Item = i64;
    type IntoIter = std::iter::Map<roaring::treemap::IntoIter, fn(u64) -> i64>;

    /// The ids, ascending.
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().map(id_at as fn(u64) -> i64)
    }
}

impl FromIterator<i64> for IdSet {
    fn from_iter<I: IntoIterator<Item = i64>>(ids: I) -> Self {
        let mut set = IdSet::default();
        for id in ids {
            set.insert(id);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::IdSet;

    proptest::proptest! {
        /// An id set answers as an ordered set would, for any ids (negative, 0, past 32 bits),
        /// and gives them back ascending.
        #[test]
        fn an_id_set_is_an_ordered_set(ids in proptest::collection::vec(
            proptest::prop_oneof![0i64..64, proptest::num::i64::ANY], 0..200,
        )) {
            let (mut set, mut ordered) = (IdSet::default(), BTreeSet::new());
            for &id in &ids {
                proptest::prop_assert_eq!(set.insert(id), ordered.insert(id), "id {}", id);
            }
            for probe in ids.iter().flat_map(|&id| [id, id.wrapping_add(1)]) {
                let (got, want) = (set.contains(probe), ordered.contains(&probe));
                proptest::prop_assert_eq!(got, want, "id {}", probe);
            }
            proptest::prop_assert_eq!(set.len(), ordered.len() as u64);
            proptest::prop_assert_eq!(set.is_empty(), ordered.is_empty());
            let want: Vec<i64> = ordered.into_iter().collect();
            proptest::prop_assert_eq!(set.iter().collect::<Vec<_>>(), want.clone());
            proptest::prop_assert_eq!(set.clone().into_iter().collect::<Vec<_>>(), want.clone());
            proptest::prop_assert_eq!(want.iter().copied().collect::<IdSet>(), set);
        }
    }
}
