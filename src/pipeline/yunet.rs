//! YuNet output decoding: per stride, score = sqrt(cls * obj), box and landmarks from grid
//! offsets, then NMS and mapping back to the original image.

use crate::{
    engine::Tensor,
    vision::geometry::{nms, Point, Rect},
};

pub const STRIDES: [usize; 3] = [8, 16, 32];
pub const NMS_IOU: f32 = 0.3;

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub rect: Rect,
    pub score: f32,
    pub landmarks: [Point; 5],
}

/// `outputs` in the model's order: cls_8/16/32, obj_8/16/32, bbox_8/16/32, kps_8/16/32, for an
/// input of `in_w` x `in_h`. `scale` is the factor by which the original image was resized.
pub fn decode(
    outputs: &[Tensor],
    in_w: usize,
    in_h: usize,
    score_threshold: f32,
    scale: f32,
    img_w: u32,
    img_h: u32,
) -> Vec<Detection> {
    let mut found: Vec<Detection> = Vec::new();
    if outputs.len() < 12 {
        return found;
    }
    for (k, &stride) in STRIDES.iter().enumerate() {
        let cols = in_w / stride;
        let rows = in_h / stride;
        let (cls, obj, bbox, kps) =
            (&outputs[k].data, &outputs[3 + k].data, &outputs[6 + k].data, &outputs[9 + k].data);
        let n = (cols * rows).min(cls.len()).min(obj.len()).min(bbox.len() / 4).min(kps.len() / 10);
        let s = stride as f32;
        for i in 0..n {
            let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
            if score < score_threshold {
                continue;
            }
            let (col, row) = ((i % cols) as f32, (i / cols) as f32);
            let b = &bbox[4 * i..4 * i + 4];
            let (cx, cy) = ((col + b[0]) * s, (row + b[1]) * s);
            let (w, h) = (b[2].exp() * s, b[3].exp() * s);
            let kp = &kps[10 * i..10 * i + 10];
            let landmarks = std::array::from_fn(|j| Point {
                x: (col + kp[2 * j]) * s / scale,
                y: (row + kp[2 * j + 1]) * s / scale,
            });
            let rect =
                Rect { x: (cx - w / 2.0) / scale, y: (cy - h / 2.0) / scale, width: w / scale, height: h / scale };
            found.push(Detection { rect, score, landmarks });
        }
    }
    let rects: Vec<Rect> = found.iter().map(|d| d.rect).collect();
    let scores: Vec<f32> = found.iter().map(|d| d.score).collect();
    nms(&rects, &scores, NMS_IOU)
        .into_iter()
        .map(|i| {
            let mut d = found[i].clone();
            d.rect = d.rect.clip(img_w as f32, img_h as f32);
            d
        })
        .filter(|d| d.rect.area() > 0.0)
        .collect()
}
