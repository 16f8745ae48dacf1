//! The embedded store's vector index: every embedding in one contiguous matrix, searched exactly
//! by dot product (the vectors are unit length, so this is cosine similarity).

use crate::memory::StoreError;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::Range;

/// Above this many vectors a full scan is split over two threads; below it a thread costs more
/// than it saves.
const PARALLEL_SCAN_MIN: usize = 20_000;

/// All stored vectors, addressed by the SQLite rowid of their memory.
pub(super) struct VectorIndex {
    dimensions: usize,
    /// Row-major: the vector in slot `s` is `data[s * dimensions..(s + 1) * dimensions]`.
    data: Vec<f32>,
    /// The rowid of each slot.
    rowids: Vec<i64>,
    slots: HashMap<i64, usize>,
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
            rowids: Vec::new(),
            slots: HashMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rowids.len()
    }

    /// Adds the vector of `rowid`, or replaces it.
    pub(super) fn upsert(&mut self, rowid: i64, vector: &[f32]) -> Result<(), StoreError> {
        if vector.len() != self.dimensions {
            return Err(StoreError::Dimension {
                expected: self.dimensions,
                got: vector.len(),
            });
        }
        match self.slots.get(&rowid) {
            Some(&slot) => {
                let span = self.span(slot);
                self.data[span].copy_from_slice(vector);
            }
            None => {
                self.slots.insert(rowid, self.rowids.len());
                self.rowids.push(rowid);
                self.data.extend_from_slice(vector);
            }
        }
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
            self.data.copy_within(from, slot * self.dimensions);
            let moved = self.rowids[last];
            self.slots.insert(moved, slot);
        }
        self.rowids.swap_remove(slot);
        self.data.truncate(last * self.dimensions);
        true
    }

    /// The similarity of `query` to the vector of `rowid`, if it is indexed.
    pub(super) fn similarity(&self, rowid: i64, query: &[f32]) -> Option<f32> {
        let slot = *self.slots.get(&rowid)?;
        Some(dot(&self.data[self.span(slot)], query))
    }

    /// The `k` vectors most similar to `query`, best first (ties: lower rowid first). With
    /// `within`, only those rowids are considered.
    pub(super) fn nearest(
        &self,
        query: &[f32],
        k: usize,
        within: Option<&HashSet<i64>>,
    ) -> Vec<(i64, f32)> {
        if k == 0 || query.len() != self.dimensions {
            return Vec::new();
        }
        let best = match within {
            Some(allowed) => {
                let mut best = TopK::new(k);
                for slot in allowed.iter().filter_map(|rowid| self.slots.get(rowid)) {
                    best.offer(self.hit(*slot, query));
                }
                best
            }
            None if self.len() > PARALLEL_SCAN_MIN => {
                let middle = self.len() / 2;
                std::thread::scope(|scope| {
                    let upper = scope.spawn(|| self.scan(middle..self.len(), query, k));
                    let mut best = self.scan(0..middle, query, k);
                    let upper = upper
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    best.merge(upper);
                    best
                })
            }
            None => self.scan(0..self.len(), query, k),
        };
        best.into_sorted()
    }

    fn scan(&self, slots: Range<usize>, query: &[f32], k: usize) -> TopK {
        let mut best = TopK::new(k);
        for slot in slots {
            best.offer(self.hit(slot, query));
        }
        best
    }

    fn hit(&self, slot: usize, query: &[f32]) -> Hit {
        Hit {
            score: dot(&self.data[self.span(slot)], query),
            rowid: self.rowids[slot],
        }
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

    fn merge(&mut self, other: TopK) {
        for Reverse(hit) in other.heap {
            self.offer(hit);
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
    fn parallel_and_filtered_scans_match_brute_force() {
        let dimensions = 8;
        let stored: Vec<(i64, Vec<f32>)> = vectors(PARALLEL_SCAN_MIN + 5_000, dimensions, 7)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 3 + 1, v))
            .collect();
        let mut index = VectorIndex::new(dimensions);
        for (rowid, v) in &stored {
            index.upsert(*rowid, v).unwrap();
        }
        let query = &vectors(1, dimensions, 99)[0];
        assert_eq!(
            index.nearest(query, 10, None),
            brute_force(&stored, query, 10)
        );

        let allowed: HashSet<i64> = stored
            .iter()
            .map(|(r, _)| *r)
            .filter(|r| r % 7 == 0)
            .collect();
        let subset: Vec<(i64, Vec<f32>)> = stored
            .iter()
            .filter(|(r, _)| allowed.contains(r))
            .cloned()
            .collect();
        assert_eq!(
            index.nearest(query, 10, Some(&allowed)),
            brute_force(&subset, query, 10)
        );
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
