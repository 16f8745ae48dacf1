//! The embedded store's vector index: every embedding in one contiguous matrix, with an int8 copy
//! for a coarse first pass. A search scans the int8 codes for a generous shortlist (`scan`), then
//! ranks the shortlist by exact `f32` dot product (the vectors are unit length, so this is cosine
//! similarity): the scan streams a quarter of the bytes, and the scores returned are exact.

use super::quantized;
use super::scan::{self, ScanHelper, Slots};
use crate::memory::StoreError;
use parking_lot::RwLock;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

/// The int8 scan keeps this many candidates per wanted result for the exact ranking...
const SHORTLIST_PER_RESULT: usize = 8;
/// ...and at least this many: a wide margin for the codes' rounding error at a negligible cost
/// (ranking 64 vectors exactly takes microseconds).
const SHORTLIST_MIN: usize = 64;

/// All stored vectors, addressed by the SQLite rowid of their memory.
pub(super) struct VectorIndex {
    dimensions: usize,
    /// Row-major: the vector in slot `s` is `data[s * dimensions..(s + 1) * dimensions]`.
    data: Vec<f32>,
    /// `data` quantized, laid out the same way.
    codes: Vec<i8>,
    /// The rowid of each slot.
    rowids: Vec<i64>,
    slots: HashMap<i64, usize>,
    /// Shares large scans; absent until `share` starts it.
    helper: Option<ScanHelper>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dimensions", &self.dimensions)
            .field("vectors", &self.rowids.len())
            .finish()
    }
}

impl VectorIndex {
    pub(super) fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            data: Vec::new(),
            codes: Vec::new(),
            rowids: Vec::new(),
            slots: HashMap::new(),
            helper: None,
        }
    }

    /// The index behind a lock for a store's threads, with a helper thread for large scans.
    pub(super) fn share(self) -> Result<Arc<RwLock<Self>>, StoreError> {
        let shared = Arc::new(RwLock::new(self));
        let helper = ScanHelper::start(Arc::downgrade(&shared))
            .map_err(|e| StoreError::Io(format!("cannot start the vector scan thread: {e}")))?;
        shared.write().helper = Some(helper);
        Ok(shared)
    }

    pub(super) fn len(&self) -> usize {
        self.rowids.len()
    }

    pub(super) fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The codes of the vectors in `slots`, one after the other.
    pub(super) fn codes(&self, slots: Range<usize>) -> &[i8] {
        &self.codes[slots.start * self.dimensions..slots.end * self.dimensions]
    }

    /// Adds the vector of `rowid`, or replaces it.
    pub(super) fn upsert(&mut self, rowid: i64, vector: &[f32]) -> Result<(), StoreError> {
        if vector.len() != self.dimensions {
            return Err(StoreError::Dimension {
                expected: self.dimensions,
                got: vector.len(),
            });
        }
        let slot = match self.slots.get(&rowid) {
            Some(&slot) => slot,
            None => {
                let slot = self.rowids.len();
                self.slots.insert(rowid, slot);
                self.rowids.push(rowid);
                self.data.resize(self.data.len() + self.dimensions, 0.0);
                self.codes.resize(self.codes.len() + self.dimensions, 0);
                slot
            }
        };
        let span = self.span(slot);
        self.data[span.clone()].copy_from_slice(vector);
        quantized::encode(vector, &mut self.codes[span]);
        Ok(())
    }

    /// Removes the vector of `rowid`, moving the last vector into its slot; false if absent.
    pub(super) fn remove(&mut self, rowid: i64) -> bool {
        let Some(slot) = self.slots.remove(&rowid) else {
            return false;
        };
        let last = self.rowids.len() - 1;
        if slot != last {
            let from = self.span(last);
            self.data.copy_within(from.clone(), slot * self.dimensions);
            self.codes.copy_within(from, slot * self.dimensions);
            let moved = self.rowids[last];
            self.slots.insert(moved, slot);
        }
        self.rowids.swap_remove(slot);
        self.data.truncate(last * self.dimensions);
        self.codes.truncate(last * self.dimensions);
        true
    }

    /// The similarity of `query` to the vector of `rowid`, if it is indexed.
    pub(super) fn similarity(&self, rowid: i64, query: &[f32]) -> Option<f32> {
        let slot = *self.slots.get(&rowid)?;
        Some(dot(&self.data[self.span(slot)], query))
    }

    /// The `k` vectors most similar to `query`, best first (ties: lower rowid first), with exact
    /// scores. With `within`, only those rowids are considered.
    ///
    /// The int8 pass may, rarely, leave out a vector whose exact score would just make the top
    /// `k` (its rounding error exceeding the shortlist's margin); every score returned is exact.
    pub(super) fn nearest(
        &self,
        query: &[f32],
        k: usize,
        within: Option<&HashSet<i64>>,
    ) -> Vec<(i64, f32)> {
        if k == 0 || query.len() != self.dimensions {
            return Vec::new();
        }
        let slots = match within {
            Some(allowed) => {
                let mut slots: Vec<usize> = allowed
                    .iter()
                    .filter_map(|rowid| self.slots.get(rowid).copied())
                    .collect();
                // In memory order: the scan then reads the matrix front to back.
                slots.sort_unstable();
                Slots::Listed(slots.into())
            }
            None => Slots::All(0..self.len()),
        };
        let shortlist_len = k.saturating_mul(SHORTLIST_PER_RESULT).max(SHORTLIST_MIN);
        let shortlist = scan::shortlist(self, slots, query, shortlist_len, self.helper.as_ref());
        let mut best = TopK::new(k);
        for slot in shortlist {
            best.offer(Hit {
                score: dot(&self.data[self.span(slot)], query),
                rowid: self.rowids[slot],
            });
        }
        best.into_sorted()
    }

    fn span(&self, slot: usize) -> Range<usize> {
        slot * self.dimensions..(slot + 1) * self.dimensions
    }
}

/// The dot product, written so the compiler vectorizes it: 16 independent accumulators over
/// fixed-size blocks break the dependency chain of a plain running sum.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_blocks, a_rest) = a.as_chunks::<16>();
    let (b_blocks, b_rest) = b.as_chunks::<16>();
    let mut lanes = [0.0f32; 16];
    for (x, y) in a_blocks.iter().zip(b_blocks) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// A vector as SQLite stores it: little-endian `f32`s.
pub(super) fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The vector in `blob`, or `None` when it does not hold exactly `dimensions` values.
pub(super) fn from_blob(blob: &[u8], dimensions: usize) -> Option<Vec<f32>> {
    let (values, rest) = blob.as_chunks::<4>();
    (rest.is_empty() && values.len() == dimensions)
        .then(|| values.iter().map(|v| f32::from_le_bytes(*v)).collect())
}

/// A scored rowid, ordered so that the better hit is the greater.
#[derive(Debug, Clone, Copy)]
struct Hit {
    score: f32,
    rowid: i64,
}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.rowid.cmp(&self.rowid))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Hit {}

/// The best `k` hits seen so far: a min-heap whose root is the hit to evict next.
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Hit>>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(4_096)),
        }
    }

    fn offer(&mut self, hit: Hit) {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(hit));
        } else if self.heap.peek().is_some_and(|worst| hit > worst.0) {
            self.heap.pop();
            self.heap.push(Reverse(hit));
        }
    }

    fn into_sorted(self) -> Vec<(i64, f32)> {
        // Ascending `Reverse<Hit>` is descending `Hit`: best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(hit)| (hit.rowid, hit.score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random unit vectors.
    fn vectors(count: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..count)
            .map(|_| {
                let mut v: Vec<f32> = (0..dimensions).map(|_| next()).collect();
                crate::embedding::normalize(&mut v).unwrap();
                v
            })
            .collect()
    }

    fn brute_force(index_vectors: &[(i64, Vec<f32>)], query: &[f32], k: usize) -> Vec<(i64, f32)> {
        let mut all: Vec<(i64, f32)> = index_vectors
            .iter()
            .map(|(r, v)| (*r, dot(v, query)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        for len in [0, 1, 7, 16, 17, 33, 384] {
            let a: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!(
                (dot(&a, &b) - plain).abs() <= 1e-3 * plain.abs().max(1.0),
                "len {len}"
            );
        }
    }

    #[test]
    fn blobs_round_trip_and_reject_wrong_sizes() {
        let v = vec![1.5, -0.25, f32::MIN_POSITIVE];
        assert_eq!(from_blob(&to_blob(&v), 3), Some(v.clone()));
        assert_eq!(from_blob(&to_blob(&v), 4), None);
        assert_eq!(from_blob(&to_blob(&v)[..11], 3), None);
    }

    #[test]
    fn large_and_filtered_scans_match_brute_force_with_and_without_the_helper() {
        let dimensions = 8;
        let stored: Vec<(i64, Vec<f32>)> = vectors(45_000, dimensions, 7)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 3 + 1, v))
            .collect();
        let mut index = VectorIndex::new(dimensions);
        for (rowid, v) in &stored {
            index.upsert(*rowid, v).unwrap();
        }
        // No filter, a filter that still leaves a large scan, and a selective one.
        let filters: Vec<Option<HashSet<i64>>> = vec![
            None,
            Some(
                stored
                    .iter()
                    .map(|(r, _)| *r)
                    .filter(|r| r % 7 != 0)
                    .collect(),
            ),
            Some(
                stored
                    .iter()
                    .map(|(r, _)| *r)
                    .filter(|r| r % 97 == 0)
                    .collect(),
            ),
        ];
        let queries = vectors(6, dimensions, 99);
        let expected: Vec<Vec<(i64, f32)>> = queries
            .iter()
            .flat_map(|query| {
                filters.iter().map(|filter| {
                    let candidates: Vec<(i64, Vec<f32>)> = stored
                        .iter()
                        .filter(|(r, _)| filter.as_ref().is_none_or(|f| f.contains(r)))
                        .cloned()
                        .collect();
                    brute_force(&candidates, query, 10)
                })
            })
            .collect();
        let check = |index: &VectorIndex| {
            let found: Vec<Vec<(i64, f32)>> = queries
                .iter()
                .flat_map(|query| {
                    filters
                        .iter()
                        .map(|filter| index.nearest(query, 10, filter.as_ref()))
                })
                .collect();
            assert_eq!(found, expected);
        };
        check(&index);
        let shared = index.share().unwrap();
        // Two searches at once: the helper joins one of them, or both in turn.
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| check(&shared.read()));
            }
        });
    }

    #[test]
    fn two_stage_search_recalls_the_exact_top_ten_with_exact_scores() {
        let dimensions = 384;
        let stored: Vec<(i64, Vec<f32>)> = vectors(4_000, dimensions, 5)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 2 + 1, v))
            .collect();
        let mut index = VectorIndex::new(dimensions);
        for (rowid, v) in &stored {
            index.upsert(*rowid, v).unwrap();
        }
        let allowed: HashSet<i64> = stored
            .iter()
            .map(|(r, _)| *r)
            .filter(|r| r % 3 != 0)
            .collect();
        let subset: Vec<(i64, Vec<f32>)> = stored
            .iter()
            .filter(|(r, _)| allowed.contains(r))
            .cloned()
            .collect();
        let queries = vectors(40, dimensions, 1234);
        let (mut found, mut wanted) = (0, 0);
        for (query, within, candidates) in queries
            .iter()
            .flat_map(|q| [(q, None, &stored), (q, Some(&allowed), &subset)])
        {
            let got = index.nearest(query, 10, within);
            let exact = brute_force(candidates, query, 10);
            assert_eq!(got.len(), 10);
            assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
            for (rowid, score) in &got {
                let vector = &candidates
                    .iter()
                    .find(|(r, _)| r == rowid)
                    .expect("a returned rowid is a candidate")
                    .1;
                assert_eq!(*score, dot(vector, query), "rowid {rowid}");
            }
            wanted += exact.len();
            found += exact.iter().filter(|hit| got.contains(hit)).count();
        }
        let recall = found as f64 / wanted as f64;
        assert!(recall >= 0.99, "recall@10 {recall}");
    }

    #[test]
    fn remove_and_replace_keep_slots_consistent() {
        let dimensions = 4;
        let vs = vectors(50, dimensions, 3);
        let mut index = VectorIndex::new(dimensions);
        for (i, v) in vs.iter().enumerate() {
            index.upsert(i as i64, v).unwrap();
        }
        assert!(index.remove(0));
        assert!(index.remove(25));
        assert!(!index.remove(25));
        index.upsert(49, &vs[0]).unwrap();
        assert_eq!(index.len(), 48);
        for rowid in 1..49i64 {
            if rowid == 25 {
                assert_eq!(index.similarity(rowid, &vs[1]), None);
                continue;
            }
            let expected = dot(&vs[rowid as usize], &vs[1]);
            assert_eq!(
                index.similarity(rowid, &vs[1]),
                Some(expected),
                "rowid {rowid}"
            );
        }
        assert_eq!(index.similarity(49, &vs[0]), Some(dot(&vs[0], &vs[0])));
        assert!(index.upsert(1, &[1.0]).is_err());
    }
}
