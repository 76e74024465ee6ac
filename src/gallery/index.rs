//! The in-memory index of one replica: per collection, embeddings in one contiguous f32 buffer
//! (row-major, L2-normalised) plus an int8 copy (one scale per face). A search scans the int8
//! copy with SimSIMD's runtime-dispatched kernels (a quarter of the memory traffic of f32, which
//! is what bounds a scan of a million faces), keeps the best candidates, and re-ranks them
//! exactly in f32: scores and order are exact. Removal is swap-remove, so buffers stay dense.

use std::collections::HashMap;

use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub face_id: String,
    pub external_id: String,
    pub similarity: f32,
}

#[derive(Debug, Default)]
pub struct CollectionIndex {
    dim: usize,
    vectors: Vec<f32>,
    codes: Vec<i8>,
    scales: Vec<f32>,
    ids: Vec<(String, String)>,
    pos: HashMap<String, usize>,
}

/// Rows per parallel chunk: large enough that a chunk's work outweighs the split.
const CHUNK_ROWS: usize = 16_384;

impl CollectionIndex {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn contains(&self, face_id: &str) -> bool {
        self.pos.contains_key(face_id)
    }

    /// Adds a face; a face already present is left as it is.
    pub fn insert(&mut self, face_id: &str, external_id: &str, embedding: &[f32]) {
        if self.pos.contains_key(face_id) || embedding.is_empty() {
            return;
        }
        if self.dim == 0 {
            self.dim = embedding.len();
        }
        if embedding.len() != self.dim {
            tracing::warn!(face_id, dim = embedding.len(), want = self.dim, "embedding of another size ignored");
            return;
        }
        self.pos.insert(face_id.to_string(), self.ids.len());
        self.ids.push((face_id.to_string(), external_id.to_string()));
        self.vectors.extend_from_slice(embedding);
        let scale = quantise_into(embedding, &mut self.codes);
        self.scales.push(scale);
    }

    pub fn remove(&mut self, face_id: &str) -> bool {
        let Some(i) = self.pos.remove(face_id) else { return false };
        let last = self.ids.len() - 1;
        let dim = self.dim;
        self.ids.swap_remove(i);
        self.scales.swap_remove(i);
        if i != last {
            self.vectors.copy_within(last * dim..(last + 1) * dim, i * dim);
            self.codes.copy_within(last * dim..(last + 1) * dim, i * dim);
            self.pos.insert(self.ids[i].0.clone(), i);
        }
        self.vectors.truncate(last * dim);
        self.codes.truncate(last * dim);
        true
    }

    pub fn embedding(&self, face_id: &str) -> Option<&[f32]> {
        self.pos.get(face_id).map(|&i| &self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    /// The `k` most similar faces with similarity >= `threshold`, best first. The int8 scan keeps
    /// `max(8k, 64)` candidates; their order and scores come from the exact f32 dot product.
    pub fn search(&self, query: &[f32], k: usize, threshold: f32, exclude: Option<&str>) -> Vec<Hit> {
        if self.is_empty() || query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let dim = self.dim;
        let skip = exclude.and_then(|f| self.pos.get(f).copied());
        let mut q = Vec::with_capacity(dim);
        let q_scale = quantise_into(query, &mut q);
        let candidates = (8 * k).max(64);
        // The rough floor sits a little under the threshold: int8 scores are approximate.
        let rough_floor = threshold - 0.05;
        let mut rough: Vec<(f32, usize)> = self
            .codes
            .par_chunks(CHUNK_ROWS * dim)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                let base = c * CHUNK_ROWS;
                let mut kept = TopK::new(candidates, rough_floor);
                for (r, v) in chunk.chunks_exact(dim).enumerate() {
                    if Some(base + r) != skip {
                        kept.offer(dot_i8(v, &q) * self.scales[base + r] * q_scale, base + r);
                    }
                }
                kept.into_vec()
            })
            .collect();
        top(&mut rough, candidates);
        let mut exact: Vec<(f32, usize)> = rough
            .into_iter()
            .map(|(_, i)| (dot(&self.vectors[i * dim..(i + 1) * dim], query), i))
            .filter(|&(s, _)| s >= threshold)
            .collect();
        top(&mut exact, k);
        exact
            .into_iter()
            .map(|(similarity, i)| Hit {
                face_id: self.ids[i].0.clone(),
                external_id: self.ids[i].1.clone(),
                similarity,
            })
            .collect()
    }

    /// Bytes held per face (vector + ids + map entry, approximately).
    pub fn bytes_per_face(&self) -> usize {
        let ids: usize = self.ids.iter().map(|(f, e)| f.capacity() + e.capacity() + 48).sum();
        let map = self.pos.capacity() * (24 + 8 + 8) + self.pos.keys().map(String::capacity).sum::<usize>();
        (self.vectors.capacity() * 4 + self.codes.capacity() + self.scales.capacity() * 4 + ids + map)
            / self.len().max(1)
    }
}

/// Streaming top-k: candidates above the current floor go into a buffer that is cut back to
/// `k` whenever it doubles, so a scan allocates nothing per row.
struct TopK {
    k: usize,
    floor: f32,
    buf: Vec<(f32, usize)>,
}

impl TopK {
    fn new(k: usize, threshold: f32) -> TopK {
        TopK { k, floor: threshold, buf: Vec::with_capacity(2 * k + 1) }
    }

    #[inline]
    fn offer(&mut self, score: f32, i: usize) {
        if score < self.floor {
            return;
        }
        self.buf.push((score, i));
        if self.buf.len() >= 2 * self.k {
            top(&mut self.buf, self.k);
            self.floor = self.floor.max(self.buf[self.k - 1].0);
        }
    }

    fn into_vec(mut self) -> Vec<(f32, usize)> {
        top(&mut self.buf, self.k);
        self.buf
    }
}

/// Keeps the `k` best (highest similarity) entries, sorted best first.
fn top(v: &mut Vec<(f32, usize)>, k: usize) {
    if v.len() > k {
        v.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        v.truncate(k);
    }
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
}

/// Appends `v` as int8 codes (symmetric, scaled by its largest component) and returns the scale
/// that maps a code back to a value.
fn quantise_into(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-12);
    let scale = max / 127.0;
    out.extend(v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8));
    scale
}

/// Integer dot product of int8 codes (SimSIMD picks the widest kernel this CPU has).
#[inline]
fn dot_i8(a: &[i8], b: &[i8]) -> f32 {
    <i8 as simsimd::SpatialSimilarity>::dot(a, b).unwrap_or(0.0) as f32
}

/// Plain dot product in eight lanes, which the compiler vectorises.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Every collection of one replica.
#[derive(Debug, Default)]
pub struct Index {
    pub collections: HashMap<String, CollectionIndex>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(i: usize, dim: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[i % dim] = 1.0;
        v
    }

    #[test]
    fn insert_search_remove_keep_the_buffer_dense() {
        let mut idx = CollectionIndex::default();
        for i in 0..10 {
            idx.insert(&format!("f{i}"), &format!("p{i}"), &unit(i, 16));
        }
        idx.insert("f3", "p3", &unit(3, 16)); // idempotent
        assert_eq!(idx.len(), 10);
        let hits = idx.search(&unit(3, 16), 3, 0.5, None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].external_id, "p3");
        assert!(idx.remove("f0"));
        assert!(!idx.remove("f0"));
        assert_eq!(idx.len(), 9);
        assert_eq!(idx.search(&unit(9, 16), 1, 0.5, None)[0].face_id, "f9", "the moved row is still found");
        assert!(idx.search(&unit(0, 16), 1, 0.5, None).is_empty());
        assert!(idx.search(&unit(9, 16), 1, 0.5, Some("f9")).is_empty(), "exclude works");
    }

    #[test]
    fn top_k_is_sorted_and_exact_across_chunks() {
        let mut idx = CollectionIndex::default();
        let n = CHUNK_ROWS * 2 + 5;
        for i in 0..n {
            let s = i as f32 / n as f32;
            idx.insert(&i.to_string(), "x", &[s, (1.0 - s * s).sqrt()]);
        }
        let hits = idx.search(&[1.0, 0.0], 4, -1.0, None);
        let ids: Vec<&str> = hits.iter().map(|h| h.face_id.as_str()).collect();
        let want: Vec<String> = (0..4).map(|k| (n - 1 - k).to_string()).collect();
        assert_eq!(ids, want);
        assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    }

    #[test]
    fn quantised_scan_then_exact_rerank_finds_the_true_top_k() {
        let mut idx = CollectionIndex::default();
        let mut seed = 7u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let vecs: Vec<Vec<f32>> = (0..3000)
            .map(|_| {
                let v: Vec<f32> = (0..64).map(|_| rand()).collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / n).collect()
            })
            .collect();
        for (i, v) in vecs.iter().enumerate() {
            idx.insert(&i.to_string(), "x", v);
        }
        for q in vecs.iter().take(20) {
            let mut truth: Vec<(f32, usize)> = vecs.iter().enumerate().map(|(i, v)| (dot(v, q), i)).collect();
            truth.sort_by(|a, b| b.0.total_cmp(&a.0));
            let hits = idx.search(q, 10, -1.0, None);
            let got: Vec<String> = hits.iter().map(|h| h.face_id.clone()).collect();
            let want: Vec<String> = truth[..10].iter().map(|(_, i)| i.to_string()).collect();
            assert_eq!(got, want);
            assert!((hits[0].similarity - truth[0].0).abs() < 1e-6, "scores are exact");
        }
    }

    #[test]
    fn dot_matches_the_naive_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.05).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }
}
