//! The face pipeline: detection (YuNet) with pose and quality, alignment, embedding
//! (MobileFaceNet), and passive liveness (MiniFASNetV2 + V1SE ensemble).

use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{operating, yunet};
use crate::{
    engine::{Engine, Tensor},
    error::ApiError,
    vision::{
        align::align_face,
        geometry::{estimate_pose, Point, Pose, Rect},
        pool, quality, resize, tensor,
    },
};

/// Five landmarks, named from the person's point of view (their right eye is image-left).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Landmarks {
    pub right_eye: Point,
    pub left_eye: Point,
    pub nose: Point,
    pub mouth_right: Point,
    pub mouth_left: Point,
}

impl Landmarks {
    pub fn points(&self) -> [Point; 5] {
        [self.right_eye, self.left_eye, self.nose, self.mouth_right, self.mouth_left]
    }
}

/// Advisory quality measures; `issues` lists what an enrollment would object to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quality {
    /// The shorter side of the face box, in pixels.
    pub face_size: f32,
    /// Variance of the Laplacian of the aligned 112x112 face (low = blurred).
    pub sharpness: f32,
    /// Mean luma of the aligned face, 0..1.
    pub brightness: f32,
    pub issues: Vec<String>,
}

pub const MIN_FACE_SIZE: f32 = 40.0;
pub const MIN_SHARPNESS: f32 = 20.0;
pub const MIN_BRIGHTNESS: f32 = 0.15;
pub const MAX_BRIGHTNESS: f32 = 0.92;
pub const MAX_YAW: f32 = 45.0;
pub const MAX_PITCH: f32 = 35.0;

/// A face smaller than this fraction of the largest face's area is a background face (someone far
/// behind the person), not a second person in the picture.
pub const BACKGROUND_FACE_AREA: f32 = 0.25;

/// The one person of a picture, the rule of every route that wants a single face (liveness, the
/// onboarding selfie, the KBY-AI liveness shape): the largest face when every other face is a
/// background face; otherwise `Err(n)`, `n` the faces of similar size (0 when there is none).
pub fn dominant_face(mut faces: Vec<Face>) -> Result<Face, usize> {
    faces.sort_by(|a, b| b.area().total_cmp(&a.area()));
    let largest = faces.first().map_or(0.0, Face::area);
    match faces.iter().filter(|f| f.area() >= largest * BACKGROUND_FACE_AREA).count() {
        1 => Ok(faces.swap_remove(0)),
        n => Err(n),
    }
}

/// One detected face, as every face route returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Face {
    #[serde(rename = "box")]
    pub bbox: Rect,
    pub score: f32,
    pub landmarks: Landmarks,
    pub pose: Pose,
    pub quality: Quality,
    /// The aligned 112x112 face made at detection (for the quality measures), kept so that
    /// embedding does not align it again. Not part of any answer.
    #[serde(skip)]
    #[schema(ignore)]
    pub aligned: Aligned,
}

/// An aligned face kept alongside a [`Face`]; it follows from the landmarks, so it takes no part
/// in equality and prints only its size.
#[derive(Clone, Default)]
pub struct Aligned(pub Option<Arc<RgbImage>>);

impl PartialEq for Aligned {
    fn eq(&self, _: &Aligned) -> bool {
        true
    }
}

impl std::fmt::Debug for Aligned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(img) => write!(f, "Aligned({}x{})", img.width(), img.height()),
            None => f.write_str("Aligned(none)"),
        }
    }
}

impl Face {
    fn from_detection(img: &RgbImage, d: yunet::Detection) -> Face {
        let aligned = align_face(img, &d.landmarks);
        let pose = estimate_pose(&d.landmarks);
        let face_size = d.rect.width.min(d.rect.height);
        let sharpness = quality::sharpness(&aligned);
        let brightness = quality::brightness(&aligned);
        let mut issues = Vec::new();
        if face_size < MIN_FACE_SIZE {
            issues.push("too_small");
        }
        if pose.yaw.abs() > MAX_YAW || pose.pitch.abs() > MAX_PITCH {
            issues.push("extreme_pose");
        }
        if brightness < MIN_BRIGHTNESS {
            issues.push("too_dark");
        }
        if brightness > MAX_BRIGHTNESS {
            issues.push("too_bright");
        }
        if sharpness < MIN_SHARPNESS {
            issues.push("blurry");
        }
        let [right_eye, left_eye, nose, mouth_right, mouth_left] = d.landmarks;
        Face {
            bbox: d.rect,
            score: d.score,
            landmarks: Landmarks { right_eye, left_eye, nose, mouth_right, mouth_left },
            pose,
            quality: Quality {
                face_size,
                sharpness,
                brightness,
                issues: issues.into_iter().map(String::from).collect(),
            },
            aligned: Aligned(Some(Arc::new(aligned))),
        }
    }

    pub fn area(&self) -> f32 {
        self.bbox.area()
    }
}

/// Liveness of one face: the ensemble score and each model's.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LivenessScores {
    /// The score every liveness decision compares with its threshold: the mean of the two
    /// models' live probabilities, or 0 when `attack_2d` reaches the veto level
    /// (`operating::LIVENESS_2D_VETO`).
    pub score: f32,
    /// MiniFASNetV2's live probability (crop and mirror averaged).
    pub minifasnet_v2: f32,
    /// MiniFASNetV1SE's live probability (crop and mirror averaged).
    pub minifasnet_v1se: f32,
    /// The highest of the two models' probabilities of their "2D attack" class (a printed or
    /// shown photo), crop and mirror averaged, on the crop as taken and partly white-balanced.
    #[serde(default)]
    pub attack_2d: f32,
}

impl LivenessScores {
    /// The scores from the two models' outputs.
    pub fn from_models(v2: ModelLiveness, v1se: ModelLiveness) -> LivenessScores {
        let attack_2d =
            [v2.classes[0], v1se.classes[0], v2.balanced_2d, v1se.balanced_2d].into_iter().fold(0.0, f32::max);
        let mut s =
            LivenessScores { score: 0.0, minifasnet_v2: v2.classes[1], minifasnet_v1se: v1se.classes[1], attack_2d };
        if attack_2d < operating::LIVENESS_2D_VETO {
            s.score = s.ensemble();
        }
        s
    }

    /// The two models' mean live probability: `score` before the 2D veto.
    pub fn ensemble(&self) -> f32 {
        (self.minifasnet_v2 + self.minifasnet_v1se) / 2.0
    }
}

/// One liveness model on one face: its class probabilities `[2D attack, live, other attack]`
/// (crop and mirror averaged) and its 2D probability on the partly white-balanced crop.
#[derive(Debug, Clone, Copy)]
pub struct ModelLiveness {
    pub classes: [f32; 3],
    pub balanced_2d: f32,
}

/// How far the veto's second look moves each channel's mean towards grey (0: not at all, 1: grey
/// world). Measured on the dev set's altered copies (README, "Liveness"): 0.3 cut the attacks a
/// warm cast lets through from 5 to 2 of 66 and rejected no more live photos in any condition;
/// a full grey world (1.0) rejected 1-5 more.
const LIVENESS_BALANCE: f32 = 0.3;

/// `img` with each channel scaled by `(grey mean / channel mean)^strength`.
pub fn partial_white_balance(img: &RgbImage, strength: f32) -> RgbImage {
    let mut sum = [0f64; 3];
    for p in img.pixels() {
        for (s, &v) in sum.iter_mut().zip(&p.0) {
            *s += f64::from(v);
        }
    }
    let n = f64::from((img.width() * img.height()).max(1));
    let mean = sum.map(|s| (s / n) as f32);
    let grey = mean.iter().sum::<f32>() / 3.0;
    let gain = mean.map(|m| (grey / m.max(1.0)).powf(strength));
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for (v, g) in p.0.iter_mut().zip(gain) {
            *v = (f32::from(*v) * g).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[derive(Clone)]
pub struct FacePipeline {
    engine: Arc<Engine>,
}

impl FacePipeline {
    pub fn new(engine: Arc<Engine>) -> FacePipeline {
        FacePipeline { engine }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// All faces, best score first.
    #[tracing::instrument(name = "detect", skip_all)]
    pub async fn detect(&self, img: Arc<RgbImage>) -> Result<Vec<Face>, ApiError> {
        let model = self.engine.get("yunet")?;
        let cfg = self.engine.config();
        let (max_side, min_score, fixed) = (cfg.detect_max_side, cfg.detect_score, cfg.fixed_shapes());
        let src = img.clone();
        let (input, scale) = pool::run(move || Ok(tensor::detector_input(&src, max_side, 32, fixed))).await?;
        let (in_h, in_w) = (input.shape[2], input.shape[3]);
        let outputs = model.run(input).await?;
        pool::run(move || {
            let (w, h) = img.dimensions();
            let found = yunet::decode(&outputs, in_w, in_h, min_score, scale, w, h);
            Ok(found.into_iter().map(|d| Face::from_detection(&img, d)).collect())
        })
        .await
    }

    /// The largest face, or 422 `no_face` naming `field`.
    pub async fn largest_face(&self, img: Arc<RgbImage>, field: &str) -> Result<Face, ApiError> {
        let faces = self.detect(img).await?;
        faces
            .into_iter()
            .max_by(|a, b| a.area().total_cmp(&b.area()))
            .ok_or_else(|| ApiError::NoFace(field.to_string()))
    }

    /// L2-normalised embedding of one face.
    pub async fn embed(&self, img: Arc<RgbImage>, face: &Face) -> Result<Vec<f32>, ApiError> {
        let mut out = self.embed_faces(img, std::slice::from_ref(face)).await?;
        out.pop().ok_or_else(|| ApiError::Internal("the embedding model returned nothing".into()))
    }

    /// The aligned faces of `faces` (those kept from detection; aligned from `img` otherwise).
    pub async fn aligned(&self, img: Arc<RgbImage>, faces: &[Face]) -> Result<Vec<RgbImage>, ApiError> {
        let kept: Vec<Result<RgbImage, [Point; 5]>> = faces
            .iter()
            .map(|f| match &f.aligned.0 {
                Some(a) => Ok(RgbImage::clone(a)),
                None => Err(f.landmarks.points()),
            })
            .collect();
        if kept.iter().all(Result::is_ok) {
            return Ok(kept.into_iter().flatten().collect());
        }
        pool::run(move || Ok(kept.into_iter().map(|k| k.unwrap_or_else(|lm| align_face(&img, &lm))).collect())).await
    }

    /// L2-normalised embeddings of `faces` of `img`, in one batched inference.
    pub async fn embed_faces(&self, img: Arc<RgbImage>, faces: &[Face]) -> Result<Vec<Vec<f32>>, ApiError> {
        let aligned = self.aligned(img, faces).await?;
        self.embed_aligned(aligned).await
    }

    /// L2-normalised embeddings of aligned 112x112 faces, in one batched inference: each the
    /// mean of the face's and its mirror image's embeddings (flip-averaging: at FMR 1e-3 it
    /// lowered the false non-match rate on the dev pairs, see README "Faces").
    pub async fn embed_aligned(&self, faces: Vec<RgbImage>) -> Result<Vec<Vec<f32>>, ApiError> {
        self.embed_aligned_with(faces, true).await
    }

    /// As [`Self::embed_aligned`]; `flip` false embeds the faces alone (the harness compares).
    #[tracing::instrument(name = "embed", skip_all, fields(faces = faces.len()))]
    pub async fn embed_aligned_with(&self, faces: Vec<RgbImage>, flip: bool) -> Result<Vec<Vec<f32>>, ApiError> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.engine.get("mobilefacenet")?;
        let n = faces.len();
        let input = pool::run(move || {
            let batch: Vec<RgbImage> = if flip {
                faces.iter().flat_map(|f| [f.clone(), image::imageops::flip_horizontal(f)]).collect()
            } else {
                faces
            };
            Ok(tensor::rgb_nhwc_batch(&batch))
        })
        .await?;
        let out = model.run(input).await?;
        let rows = split_embeddings(out, if flip { 2 * n } else { n })?;
        if !flip {
            return Ok(rows);
        }
        Ok(rows
            .chunks(2)
            .map(|p| l2_normalise(&p[0].iter().zip(&p[1]).map(|(a, b)| a + b).collect::<Vec<_>>()))
            .collect())
    }

    /// Ensemble liveness score of `face` (probability that it is a live person).
    #[tracing::instrument(name = "liveness", skip_all)]
    pub async fn liveness(&self, img: Arc<RgbImage>, face: &Face) -> Result<LivenessScores, ApiError> {
        // The two models of the ensemble run side by side (each on its own worker).
        let (v2, v1se) = futures_util::future::join(
            self.liveness_model("minifasnet_v2", 2.7, img.clone(), face.bbox),
            self.liveness_model("minifasnet_v1se", 4.0, img, face.bbox),
        )
        .await;
        Ok(LivenessScores::from_models(v2?, v1se?))
    }

    /// One liveness model's class probabilities for the face in `rect` (`[2D attack, live,
    /// other attack]`): the mean over its context crop and the crop's mirror image (the models
    /// take one crop per inference; the runs go one after the other on the model's worker). The
    /// mirror halves the spread of a single crop's score: on the dev set it lowered BPCER at the
    /// same APCER (README, "Liveness"). Also the 2D probability of the crop partly white-balanced
    /// (and its mirror), so that a colour cast cannot hide a print from the veto.
    async fn liveness_model(
        &self,
        name: &str,
        crop_scale: f32,
        img: Arc<RgbImage>,
        rect: Rect,
    ) -> Result<ModelLiveness, ApiError> {
        let model = self.engine.get(name)?;
        let crops = pool::run(move || {
            let crop = liveness_crop(&img, rect, crop_scale, 80);
            let balanced = partial_white_balance(&crop, LIVENESS_BALANCE);
            let flip = image::imageops::flip_horizontal;
            Ok([&crop, &flip(&crop), &balanced, &flip(&balanced)].map(tensor::bgr_nchw))
        })
        .await?;
        let runs = futures_util::future::join_all(crops.into_iter().map(|c| model.run(c))).await;
        let p = runs.into_iter().map(|r| class_probabilities(&r?)).collect::<Result<Vec<_>, _>>()?;
        Ok(ModelLiveness {
            classes: std::array::from_fn(|k| (p[0][k] + p[1][k]) / 2.0),
            balanced_2d: (p[2][0] + p[3][0]) / 2.0,
        })
    }
}

fn split_embeddings(out: Vec<Tensor>, n: usize) -> Result<Vec<Vec<f32>>, ApiError> {
    let t = out.into_iter().next().ok_or_else(|| ApiError::Internal("embedding model gave no output".into()))?;
    let dim = t.data.len() / n.max(1);
    if dim == 0 || dim * n != t.data.len() {
        return Err(ApiError::Internal(format!("embedding output of shape {:?} for {n} faces", t.shape)));
    }
    Ok(t.data.chunks(dim).map(l2_normalise).collect())
}

pub fn l2_normalise(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Softmax of a Silent-Face model's three logits: 0 a 2D attack (print, screen), 1 live,
/// 2 a 3D attack (as the upstream project's issue threads #2, #46 and #55 name them).
fn class_probabilities(out: &[Tensor]) -> Result<[f32; 3], ApiError> {
    let logits = out.first().map(|t| t.data.as_slice()).unwrap_or(&[]);
    if logits.len() != 3 {
        return Err(ApiError::Internal(format!("liveness model gave {} logits, not 3", logits.len())));
    }
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exps: [f32; 3] = std::array::from_fn(|k| (logits[k] - max).exp());
    let sum: f32 = exps.iter().sum();
    Ok(exps.map(|e| e / sum))
}

/// The context crop of Silent-Face-Anti-Spoofing: the face box scaled by `scale` around its
/// centre (the scale reduced where the image is too small), shifted inside the image, resized.
pub fn liveness_crop(img: &RgbImage, face: Rect, scale: f32, size: u32) -> RgbImage {
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let (bw, bh) = (face.width.max(1.0), face.height.max(1.0));
    let scale = scale.min((ih - 1.0) / bh).min((iw - 1.0) / bw).max(0.1);
    let (nw, nh) = (bw * scale, bh * scale);
    let (cx, cy) = (face.x + bw / 2.0, face.y + bh / 2.0);
    let (mut x1, mut y1, mut x2, mut y2) = (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if x1 < 0.0 {
        x2 -= x1;
        x1 = 0.0;
    }
    if y1 < 0.0 {
        y2 -= y1;
        y1 = 0.0;
    }
    if x2 > iw - 1.0 {
        x1 -= x2 - iw + 1.0;
        x2 = iw - 1.0;
    }
    if y2 > ih - 1.0 {
        y1 -= y2 - ih + 1.0;
        y2 = ih - 1.0;
    }
    let (x1, y1) = (x1.max(0.0).floor(), y1.max(0.0).floor());
    let w = ((x2 + 1.0).floor().min(iw) - x1).max(1.0).min(iw - x1);
    let h = ((y2 + 1.0).floor().min(ih) - y1).max(1.0).min(ih - y1);
    resize::crop_resize(img, (f64::from(x1), f64::from(y1), f64::from(w), f64::from(h)), size, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_2d_attack_class_vetoes_the_live_score() {
        let m = |classes: [f32; 3], balanced_2d: f32| ModelLiveness { classes, balanced_2d };
        let live = LivenessScores::from_models(m([0.01, 0.9, 0.09], 0.02), m([0.0, 0.6, 0.4], 0.0));
        assert!((live.score - 0.75).abs() < 1e-6 && (live.attack_2d - 0.02).abs() < 1e-6);
        // The dev set's print that both models call live (0.57, 0.48), seen as 2D by one.
        let print = LivenessScores::from_models(m([0.19, 0.57, 0.24], 0.1), m([0.09, 0.48, 0.43], 0.0));
        assert_eq!(print.score, 0.0);
        assert!((print.minifasnet_v2 - 0.57).abs() < 1e-6 && (print.attack_2d - 0.19).abs() < 1e-6);
        // A print under a colour cast: 2D only on the balanced crop.
        let cast = LivenessScores::from_models(m([0.01, 0.7, 0.29], 0.08), m([0.0, 0.6, 0.4], 0.01));
        assert_eq!(cast.score, 0.0);
        assert!((cast.attack_2d - 0.08).abs() < 1e-6);
    }

    #[test]
    fn partial_white_balance_moves_channel_means_towards_grey() {
        let warm = RgbImage::from_pixel(4, 4, image::Rgb([200, 100, 50]));
        let none = partial_white_balance(&warm, 0.0);
        assert_eq!(none.get_pixel(0, 0).0, [200, 100, 50]);
        let grey = partial_white_balance(&warm, 1.0).get_pixel(0, 0).0;
        assert!(grey.iter().all(|&v| (i32::from(v) - 117).abs() <= 1), "{grey:?}");
        let part = partial_white_balance(&warm, 0.3).get_pixel(0, 0).0;
        assert!(part[0] < 200 && part[0] > 117 && part[2] > 50 && part[2] < 117, "{part:?}");
    }

    #[test]
    fn softmax_real_index_and_cosine() {
        let p = class_probabilities(&[Tensor::new(vec![1, 3], vec![0.0, 2.0, 0.0])]).unwrap();
        assert!((p[1] - 2f32.exp() / (2.0 + 2f32.exp())).abs() < 1e-5);
        assert!((p[0] - p[2]).abs() < 1e-6 && (p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(class_probabilities(&[Tensor::new(vec![1, 2], vec![0.0, 2.0])]).is_err());
        let a = l2_normalise(&[3.0, 4.0]);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn liveness_crop_stays_inside_small_images() {
        let img = RgbImage::new(100, 80);
        let c = liveness_crop(&img, Rect { x: 70.0, y: 50.0, width: 30.0, height: 30.0 }, 4.0, 80);
        assert_eq!(c.dimensions(), (80, 80));
    }
}
