//! OCR with a PaddleOCR detector/recogniser pair: DB text detection, a rotated crop of each
//! line at the recogniser's height, batched CTC recognition with the charset from the model's
//! metadata, and 180-degree handling (a low-confidence line is read upside down too and the
//! better reading kept).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use image::RgbImage;
use serde::Serialize;

use crate::{
    engine::{Engine, Tensor},
    error::ApiError,
    vision::{
        align::{bilinear, Border},
        ctc,
        db::{self, DbParams, TextBox},
        geometry::{Point, Rect},
        pool, resize,
    },
};

/// tinyocr's tuned values for PP-OCRv6 tiny; they suit PP-OCRv4 as well.
pub const DB: DbParams = DbParams { thresh: 0.2, box_thresh: 0.4, unclip_ratio: 1.4, max_candidates: 3000 };
pub const DET_MAX_SIDE: u32 = 960;
pub const REC_HEIGHT: u32 = 48;
const REC_MIN_WIDTH: u32 = 320;
const REC_MAX_WIDTH: u32 = 2400;
/// Lines per recogniser batch.
const REC_BATCH: usize = 8;
/// A batch takes lines up to this many times as wide as its narrowest (each line is padded to
/// the batch's widest, and the recogniser's time grows with the padded width).
const REC_BATCH_WIDTH_RATIO: f32 = 1.5;
/// Below this mean character probability a line is also read rotated by 180 degrees.
const FLIP_BELOW: f32 = 0.85;
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TextLine {
    pub text: String,
    pub confidence: f32,
    /// Corners clockwise from top-left, in image pixels.
    pub polygon: [Point; 4],
    #[serde(rename = "box")]
    pub bbox: Rect,
    /// Where each character of `text` (whitespace aside) was read along the line, in the
    /// recogniser's steps (see [`ctc::Glyph`]); empty for lines made otherwise.
    #[serde(skip)]
    pub glyphs: Vec<ctc::Glyph>,
}

#[derive(Clone)]
pub struct Ocr {
    engine: Arc<Engine>,
    charsets: Arc<Charsets>,
}

/// A class mask's key: the recogniser and the alphabet function's address.
type MaskKey = (String, usize);

/// Each recogniser's character list (built once from its metadata, not per call) and the
/// class masks of the alphabets asked of it.
#[derive(Default)]
struct Charsets {
    chars: Mutex<HashMap<String, Arc<Vec<String>>>>,
    masks: Mutex<HashMap<MaskKey, Arc<Vec<Option<usize>>>>>,
    rivals: Mutex<HashMap<String, Arc<Vec<ctc::Rival>>>>,
}

impl Charsets {
    fn charset(&self, model: &str, metadata: &str) -> Arc<Vec<String>> {
        let mut map = self.chars.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(model.to_string()).or_insert_with(|| Arc::new(ctc::charset(metadata))).clone()
    }

    fn rivals(&self, model: &str, chars: &[String]) -> Arc<Vec<ctc::Rival>> {
        let mut map = self.rivals.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(model.to_string()).or_insert_with(|| Arc::new(ctc::rivals(chars))).clone()
    }

    fn mask(&self, model: &str, chars: &[String], alphabet: fn(&str) -> bool) -> Arc<Vec<Option<usize>>> {
        let mut map = self.masks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((model.to_string(), alphabet as usize))
            .or_insert_with(|| Arc::new(ctc::mask(chars, alphabet)))
            .clone()
    }
}

/// The detector input: stretched to multiples of 32 (longer side <= 960), BGR, ImageNet-normalised.
pub fn det_input(img: &RgbImage) -> (Tensor, f32, f32) {
    det_input_at(img, DET_MAX_SIDE, false)
}

/// The detector input with the longer side at `side`: never larger than the image unless
/// `upscale` (then at most 3x), so small text gets enough pixels for the detector.
pub fn det_input_at(img: &RgbImage, side: u32, upscale: bool) -> (Tensor, f32, f32) {
    let (w, h) = img.dimensions();
    let fit = side as f32 / w.max(h) as f32;
    let scale = if upscale { fit.min(3.0) } else { fit.min(1.0) };
    let to32 = |v: u32| (((v as f32 * scale) / 32.0).round() as u32 * 32).max(32);
    let (nw, nh) = (to32(w), to32(h));
    let small = resize::resize(img, nw, nh);
    let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
    let plane = (nw * nh) as usize;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, p) in small.pixels().enumerate() {
        for (c, v) in [p[2], p[1], p[0]].into_iter().enumerate() {
            data[c * plane + i] = (f32::from(v) / 255.0 - mean[c]) / std[c];
        }
    }
    (Tensor::new(vec![1, 3, nh as usize, nw as usize], data), w as f32 / nw as f32, h as f32 / nh as f32)
}

/// The line inside `b`, sampled onto a REC_HEIGHT-high strip (bilinear, affine).
pub fn crop_line(img: &RgbImage, b: &TextBox) -> RgbImage {
    let (w, h) = (b.width().max(1.0), b.height().max(1.0));
    crop_line_at(img, b, w / h)
}

/// [`crop_line`] stretched to `aspect` (width over height) whatever the box's own.
pub fn crop_line_at(img: &RgbImage, b: &TextBox, aspect: f32) -> RgbImage {
    let out_w = ((REC_HEIGHT as f32 * aspect).ceil() as u32).clamp(8, REC_MAX_WIDTH);
    crop_quad(img, b, out_w, REC_HEIGHT)
}

/// The parallelogram of `b` (its corners top-left, top-right and bottom-left) sampled into an
/// `out_w` x `out_h` image.
pub fn crop_quad(img: &RgbImage, b: &TextBox, out_w: u32, out_h: u32) -> RgbImage {
    let [tl, tr, _, bl] = b.corners;
    let (u, v) = (Point { x: tr.x - tl.x, y: tr.y - tl.y }, Point { x: bl.x - tl.x, y: bl.y - tl.y });
    RgbImage::from_fn(out_w, out_h, |x, y| {
        let (a, c) = ((x as f32 + 0.5) / out_w as f32, (y as f32 + 0.5) / out_h as f32);
        bilinear(img, tl.x + a * u.x + c * v.x - 0.5, tl.y + a * u.y + c * v.y - 0.5, Border::Clamp)
    })
}

/// Crops padded to one width, BGR, (x/255 - 0.5) / 0.5; padding is 0 after normalisation.
fn rec_input(crops: &[RgbImage]) -> Tensor {
    let width = crops.iter().map(RgbImage::width).max().unwrap_or(REC_MIN_WIDTH).max(REC_MIN_WIDTH) as usize;
    let h = REC_HEIGHT as usize;
    let mut data = vec![0.0f32; crops.len() * 3 * h * width];
    for (n, crop) in crops.iter().enumerate() {
        let base = n * 3 * h * width;
        for (x, y, p) in crop.enumerate_pixels() {
            for (c, v) in [p[2], p[1], p[0]].into_iter().enumerate() {
                data[base + c * h * width + y as usize * width + x as usize] = f32::from(v) / 127.5 - 1.0;
            }
        }
    }
    Tensor::new(vec![crops.len(), 3, h, width], data)
}

/// Top to bottom, left to right; boxes whose centres lie within half a line height share a row.
pub fn reading_order(mut lines: Vec<TextLine>) -> Vec<TextLine> {
    lines.sort_by(|a, b| (a.bbox.y + a.bbox.height / 2.0).total_cmp(&(b.bbox.y + b.bbox.height / 2.0)));
    let mut rows: Vec<Vec<TextLine>> = Vec::new();
    for line in lines {
        let cy = line.bbox.y + line.bbox.height / 2.0;
        match rows.last_mut() {
            Some(row)
                if (cy - (row[0].bbox.y + row[0].bbox.height / 2.0)).abs()
                    <= 0.5 * row[0].bbox.height.min(line.bbox.height) =>
            {
                row.push(line)
            }
            _ => rows.push(vec![line]),
        }
    }
    rows.into_iter()
        .flat_map(|mut r| {
            r.sort_by(|a, b| a.bbox.x.total_cmp(&b.bbox.x));
            r
        })
        .collect()
}

impl Ocr {
    pub fn new(engine: Arc<Engine>) -> Ocr {
        Ocr { engine, charsets: Arc::default() }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Reads every crop. Crops are sorted by width and recognised in batches of at most
    /// [`REC_BATCH`] lines of similar width ([`REC_BATCH_WIDTH_RATIO`]), each padded to its own
    /// widest crop, so short words are not padded to the width of an MRZ line.
    pub async fn recognise(&self, crops: Vec<RgbImage>) -> Result<Vec<(String, f32)>, ApiError> {
        let model = self.engine.config().ocr_rec.clone();
        self.recognise_with(&model, crops, None).await
    }

    /// [`Ocr::recognise`] with only the characters `alphabet` accepts (e.g. the MRZ's
    /// `A-Z 0-9 <`): the other classes of the recogniser never win a step. Each reading comes
    /// with where its characters were read.
    pub async fn recognise_in(
        &self,
        crops: Vec<RgbImage>,
        alphabet: fn(&str) -> bool,
    ) -> Result<Vec<ctc::Decoded>, ApiError> {
        let model = self.engine.config().ocr_rec.clone();
        self.recognise_glyphs(&model, crops, Some(alphabet)).await
    }

    /// [`Ocr::recognise`] by the recogniser `name` (a manifest name the engine loaded, e.g. the
    /// plate reader's), with only the characters `alphabet` accepts when given.
    pub async fn recognise_with(
        &self,
        name: &str,
        crops: Vec<RgbImage>,
        alphabet: Option<fn(&str) -> bool>,
    ) -> Result<Vec<(String, f32)>, ApiError> {
        let read = self.recognise_glyphs(name, crops, alphabet).await?;
        Ok(read.into_iter().map(|d| (d.text, d.confidence)).collect())
    }

    /// [`Ocr::recognise_with`] with each character's place along its line.
    pub async fn recognise_glyphs(
        &self,
        name: &str,
        crops: Vec<RgbImage>,
        alphabet: Option<fn(&str) -> bool>,
    ) -> Result<Vec<ctc::Decoded>, ApiError> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let name = name.to_string();
        let model = self.engine.get(&name)?;
        let charset = self.engine.character_list(&name).ok_or_else(|| ApiError::ModelUnavailable {
            model: name.clone(),
            reason: "the recogniser has no `character` metadata".into(),
        })?;
        let chars = self.charsets.charset(&name, &charset);
        let mask = alphabet.map(|a| self.charsets.mask(&name, &chars, a));
        let rivals = self.charsets.rivals(&name, &chars);
        let mut order: Vec<usize> = (0..crops.len()).collect();
        order.sort_by_key(|&i| crops[i].width());
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for i in order {
            let w = crops[i].width() as f32;
            match groups.last_mut() {
                Some(g)
                    if g.len() < REC_BATCH
                        && w <= crops[g[0]].width().max(REC_MIN_WIDTH) as f32 * REC_BATCH_WIDTH_RATIO =>
                {
                    g.push(i)
                }
                _ => groups.push(vec![i]),
            }
        }
        let crops = Arc::new(crops);
        let batches = groups.iter().map(|idx| {
            let (idx, crops, chars, model, mask, rivals) =
                (idx.to_vec(), crops.clone(), chars.clone(), model.clone(), mask.clone(), rivals.clone());
            async move {
                let picked: Vec<RgbImage> = idx.iter().map(|&i| crops[i].clone()).collect();
                let input = pool::run(move || Ok(rec_input(&picked))).await?;
                let out = model.run(input).await?;
                let n = idx.len();
                let read = pool::run(move || {
                    let t =
                        out.into_iter().next().ok_or_else(|| ApiError::Internal("recogniser gave no output".into()))?;
                    let (steps, classes) = (t.shape.get(1).copied().unwrap_or(0), t.shape.get(2).copied().unwrap_or(0));
                    if t.data.len() != n * steps * classes {
                        return Err(ApiError::Internal(format!("recogniser output {:?} for {n} lines", t.shape)));
                    }
                    Ok(t.data
                        .chunks(steps * classes)
                        .map(|row| {
                            ctc::decode_glyphs(row, steps, classes, &chars, mask.as_deref().map(Vec::as_slice), &rivals)
                        })
                        .collect::<Vec<_>>())
                })
                .await?;
                Ok::<_, ApiError>(idx.into_iter().zip(read).collect::<Vec<_>>())
            }
        });
        let mut out = vec![ctc::Decoded::default(); crops.len()];
        for batch in futures_util::future::join_all(batches).await {
            for (i, r) in batch? {
                out[i] = r;
            }
        }
        Ok(out)
    }

    /// For each of `crops` (one width: a batch), the log-likelihood by the recogniser `name`
    /// of each of `options` ([`ctc::log_likelihood`]): a closed set of readings (a country
    /// band's codes) ranked by the whole output. An option with a character the recogniser
    /// lacks scores minus infinity.
    pub async fn likelihoods(
        &self,
        name: &str,
        crops: Vec<RgbImage>,
        options: &[&str],
    ) -> Result<Vec<Vec<f32>>, ApiError> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.engine.get(name)?;
        let charset = self.engine.character_list(name).ok_or_else(|| ApiError::ModelUnavailable {
            model: name.to_string(),
            reason: "the recogniser has no `character` metadata".into(),
        })?;
        let chars = self.charsets.charset(name, &charset);
        let labels: Vec<Option<Vec<usize>>> = options
            .iter()
            .map(|o| o.chars().map(|c| chars.iter().position(|x| *x == c.to_string()).map(|i| i + 1)).collect())
            .collect();
        let n = crops.len();
        let input = pool::run(move || Ok(rec_input(&crops))).await?;
        let out = model.run(input).await?;
        pool::run(move || {
            let t = out.into_iter().next().ok_or_else(|| ApiError::Internal("recogniser gave no output".into()))?;
            let (steps, classes) = (t.shape.get(1).copied().unwrap_or(0), t.shape.get(2).copied().unwrap_or(0));
            if t.data.len() != n * steps * classes || steps == 0 {
                return Err(ApiError::Internal(format!("recogniser output {:?} for {n} crops", t.shape)));
            }
            Ok(t.data
                .chunks(steps * classes)
                .map(|row| {
                    labels
                        .iter()
                        .map(|l| l.as_ref().map_or(f32::NEG_INFINITY, |l| ctc::log_likelihood(row, steps, classes, l)))
                        .collect()
                })
                .collect())
        })
        .await
    }

    /// Every text line of `img` in reading order.
    #[tracing::instrument(name = "ocr", skip_all)]
    pub async fn read(&self, img: Arc<RgbImage>) -> Result<Vec<TextLine>, ApiError> {
        self.read_scaled(img, DET_MAX_SIDE, false).await
    }

    /// [`Ocr::read`] with the detector's input at `side` pixels on its longer side, smaller
    /// images upscaled to it: larger finds smaller text, at a higher cost.
    pub async fn read_at(&self, img: Arc<RgbImage>, side: u32) -> Result<Vec<TextLine>, ApiError> {
        self.read_scaled(img, side, true).await
    }

    /// The text boxes of `img` (the detector at its usual scale), not yet read.
    pub async fn detect_lines(&self, img: Arc<RgbImage>) -> Result<Vec<TextBox>, ApiError> {
        self.boxes(img, DET_MAX_SIDE, false).await
    }

    async fn read_scaled(&self, img: Arc<RgbImage>, side: u32, upscale: bool) -> Result<Vec<TextLine>, ApiError> {
        let boxes = self.boxes(img.clone(), side, upscale).await?;
        self.recognise_boxes(img, boxes).await
    }

    /// The detector's text boxes of `img`, in image pixels.
    async fn boxes(&self, img: Arc<RgbImage>, side: u32, upscale: bool) -> Result<Vec<TextBox>, ApiError> {
        let det = self.engine.get(&self.engine.config().ocr_det)?;
        let src = img.clone();
        let (input, sx, sy) = pool::run(move || Ok(det_input_at(&src, side, upscale))).await?;
        let (mh, mw) = (input.shape[2], input.shape[3]);
        let out = det.run(input).await?;
        pool::run(move || {
            let prob = out.into_iter().next().ok_or_else(|| ApiError::Internal("detector gave no output".into()))?;
            Ok(db::boxes(&prob.data, mw, mh, DB).into_iter().map(|b| b.scaled(sx, sy)).collect())
        })
        .await
    }

    /// The text of each box (upside-down lines handled), as lines in reading order.
    pub async fn recognise_boxes(&self, img: Arc<RgbImage>, boxes: Vec<TextBox>) -> Result<Vec<TextLine>, ApiError> {
        let (boxes, crops) = pool::run(move || {
            let crops: Vec<RgbImage> = boxes.iter().map(|b| crop_line(&img, b)).collect();
            Ok((boxes, crops))
        })
        .await?;
        let model = self.engine.config().ocr_rec.clone();
        let mut read = self.recognise_glyphs(&model, crops.clone(), None).await?;
        // 180 degrees: read the doubtful lines upside down too, keep the better reading.
        let doubtful: Vec<usize> = (0..read.len()).filter(|&i| read[i].confidence < FLIP_BELOW).collect();
        if !doubtful.is_empty() {
            let flipped: Vec<RgbImage> = doubtful.iter().map(|&i| image::imageops::rotate180(&crops[i])).collect();
            for (k, alt) in self.recognise_glyphs(&model, flipped, None).await?.into_iter().enumerate() {
                let i = doubtful[k];
                if alt.confidence > read[i].confidence + 0.05 && !alt.text.is_empty() {
                    read[i] = alt;
                }
            }
        }
        let lines = boxes
            .into_iter()
            .zip(read)
            .filter(|(_, d)| !d.text.trim().is_empty())
            .map(|(b, ctc::Decoded { text, confidence, glyphs })| {
                let xs = b.corners.map(|p| p.x);
                let ys = b.corners.map(|p| p.y);
                let (x0, x1) =
                    (xs.iter().copied().fold(f32::MAX, f32::min), xs.iter().copied().fold(f32::MIN, f32::max));
                let (y0, y1) =
                    (ys.iter().copied().fold(f32::MAX, f32::min), ys.iter().copied().fold(f32::MIN, f32::max));
                TextLine {
                    text: text.trim().to_string(),
                    confidence,
                    polygon: b.corners,
                    bbox: Rect { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
                    glyphs,
                }
            })
            .collect();
        Ok(reading_order(lines))
    }
}
