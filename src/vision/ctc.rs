//! Greedy CTC decoding of a recogniser's per-step class probabilities.

/// Decodes `steps` x `classes` probabilities (row-major) with `charset[i - 1]` for class i
/// (class 0 is the blank). Returns the text and the mean probability of its characters.
pub fn decode(probs: &[f32], steps: usize, classes: usize, charset: &[String]) -> (String, f32) {
    decode_masked(probs, steps, classes, charset, None)
}

/// The classes allowed by `alphabet` (the blank always is): a mask for [`decode_masked`].
pub fn mask(charset: &[String], alphabet: impl Fn(&str) -> bool) -> Vec<bool> {
    std::iter::once(true).chain(charset.iter().map(|c| alphabet(c))).collect()
}

/// [`decode`] with only the classes `allowed[i]` competing at each step (e.g. the MRZ
/// alphabet), so a character outside it can never be read.
pub fn decode_masked(
    probs: &[f32],
    steps: usize,
    classes: usize,
    charset: &[String],
    allowed: Option<&[bool]>,
) -> (String, f32) {
    let mut text = String::new();
    let (mut conf, mut n) = (0.0f32, 0usize);
    let mut last = 0usize;
    let ok = |i: usize| allowed.is_none_or(|m| m.get(i).copied().unwrap_or(false));
    for t in 0..steps {
        let row = &probs[t * classes..(t + 1) * classes];
        let (best, p) =
            row.iter()
                .enumerate()
                .filter(|&(i, _)| ok(i))
                .fold((0, f32::MIN), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc });
        if best != 0 && best != last {
            if let Some(c) = charset.get(best - 1) {
                text.push_str(c);
                conf += p;
                n += 1;
            }
        }
        last = best;
    }
    (text, if n == 0 { 0.0 } else { conf / n as f32 })
}

/// The recogniser's character list from its `character` metadata, plus the space PaddleOCR
/// appends.
pub fn charset(metadata: &str) -> Vec<String> {
    let mut chars: Vec<String> = metadata.split('\n').map(String::from).collect();
    chars.push(" ".into());
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_collapse_and_blanks_separate() {
        let cs = charset("A\nB");
        // steps: A A blank A B blank
        let one_hot = |i: usize| {
            let mut r = vec![0.0; 4];
            r[i] = 1.0;
            r
        };
        let probs: Vec<f32> = [1, 1, 0, 1, 2, 0].iter().flat_map(|&i| one_hot(i)).collect();
        let (text, conf) = decode(&probs, 6, 4, &cs);
        assert_eq!(text, "AAB");
        assert!((conf - 1.0).abs() < 1e-6);
        assert_eq!(decode(&one_hot(3), 1, 4, &cs).0, " ");
    }

    #[test]
    fn a_masked_class_never_wins() {
        let cs = charset("A\nb");
        // b is the most likely class at the step, A second: masked to upper case, A is read.
        let probs = [0.1f32, 0.3, 0.6, 0.0];
        let m = mask(&cs, |c| c.chars().all(|ch| ch.is_ascii_uppercase()));
        assert_eq!(decode(&probs, 1, 4, &cs).0, "b");
        assert_eq!(decode_masked(&probs, 1, 4, &cs, Some(&m)).0, "A");
    }
}
