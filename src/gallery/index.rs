//! The in-memory index of one replica: per collection, embeddings in one contiguous f32 buffer
//! (row-major, L2-normalised) and exact top-k by dot product. Removal is swap-remove, so the
//! buffer stays dense.

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
    }

    pub fn remove(&mut self, face_id: &str) -> bool {
        let Some(i) = self.pos.remove(face_id) else { return false };
        let last = self.ids.len() - 1;
        self.ids.swap_remove(i);
        if i != last {
            let (head, tail) = self.vectors.split_at_mut(last * self.dim);
            head[i * self.dim..(i + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.pos.insert(self.ids[i].0.clone(), i);
        }
        self.vectors.truncate(last * self.dim);
        true
    }

    pub fn embedding(&self, face_id: &str) -> Option<&[f32]> {
        self.pos.get(face_id).map(|&i| &self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    /// The `k` most similar faces with similarity >= `threshold`, best first.
    pub fn search(&self, query: &[f32], k: usize, threshold: f32, exclude: Option<&str>) -> Vec<Hit> {
        if self.is_empty() || query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let dim = self.dim;
        let skip = exclude.and_then(|f| self.pos.get(f).copied());
        let mut best: Vec<(f32, usize)> = self
            .vectors
            .par_chunks(CHUNK_ROWS * dim)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                let mut kept = TopK::new(k, threshold);
                for (r, v) in chunk.chunks_exact(dim).enumerate() {
                    let i = c * CHUNK_ROWS + r;
                    if Some(i) != skip {
                        kept.offer(dot(v, query), i);
                    }
                }
                kept.into_vec()
            })
            .collect();
        top(&mut best, k);
        best.into_iter()
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
        (self.vectors.capacity() * 4 + ids + map) / self.len().max(1)
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

/// Plain dot product in four lanes, which the compiler vectorises.
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
    fn dot_matches_the_naive_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.05).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }
}
