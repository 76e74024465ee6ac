//! Boxes, points, non-maximum suppression and the head pose estimated from five landmarks.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// An axis-aligned box in image pixels: top-left corner, width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl Rect {
    pub fn centre(&self) -> Point {
        Point { x: self.x + self.width / 2.0, y: self.y + self.height / 2.0 }
    }

    /// Whether `p` lies inside the box (edges included).
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x && p.x <= self.x + self.width && p.y >= self.y && p.y <= self.y + self.height
    }

    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    pub fn iou(&self, other: &Rect) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.width).min(other.x + other.width);
        let y2 = (self.y + self.height).min(other.y + other.height);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Clipped to a `width` x `height` image.
    pub fn clip(&self, width: f32, height: f32) -> Rect {
        let x1 = self.x.clamp(0.0, width);
        let y1 = self.y.clamp(0.0, height);
        let x2 = (self.x + self.width).clamp(0.0, width);
        let y2 = (self.y + self.height).clamp(0.0, height);
        Rect { x: x1, y: y1, width: x2 - x1, height: y2 - y1 }
    }
}

/// Greedy NMS: indices of the kept items, best score first.
pub fn nms(boxes: &[Rect], scores: &[f32], iou_threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.iter().all(|&k| boxes[k].iou(&boxes[i]) <= iou_threshold) {
            keep.push(i);
        }
    }
    keep
}

/// Head pose in degrees, estimated from five landmarks (eyes, nose tip, mouth corners).
/// Positive yaw: the face turns to the image's right; positive pitch: it looks up; roll: the
/// angle of the eye line. A geometric estimate, good to about ±10° near frontal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// Where the nose tip sits between the eye line (0) and the mouth line (1) on a frontal face.
const FRONTAL_NOSE_RATIO: f32 = 0.58;

/// `lm` in YuNet order: right eye, left eye (as seen: image-left first), nose, right and left
/// mouth corner.
pub fn estimate_pose(lm: &[Point; 5]) -> Pose {
    let (re, le) = (lm[0], lm[1]);
    let roll = (le.y - re.y).atan2(le.x - re.x);
    // Undo the roll around the eye centre so yaw and pitch read along the face's own axes.
    let centre = Point { x: (re.x + le.x) / 2.0, y: (re.y + le.y) / 2.0 };
    let (s, c) = (-roll).sin_cos();
    let derolled = lm.map(|p| {
        let (dx, dy) = (p.x - centre.x, p.y - centre.y);
        Point { x: dx * c - dy * s, y: dx * s + dy * c }
    });
    let [re, le, nose_r, rm, lm_] = derolled;
    let eye_dist = (le.x - re.x).abs().max(1e-3);
    let mouth = Point { x: (rm.x + lm_.x) / 2.0, y: (rm.y + lm_.y) / 2.0 };
    let mid_x = mouth.x / 2.0; // the eye centre is the origin
    let yaw = (nose_r.x - mid_x).atan2(0.5 * eye_dist);
    let eye_mouth = mouth.y.max(1e-3);
    let ratio = nose_r.y / eye_mouth;
    let pitch = ((FRONTAL_NOSE_RATIO - ratio) * eye_mouth).atan2(0.5 * eye_dist);
    Pose { yaw: yaw.to_degrees(), pitch: pitch.to_degrees(), roll: roll.to_degrees() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect { x, y, width: w, height: h }
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        assert!((r(0., 0., 10., 10.).iou(&r(0., 0., 10., 10.)) - 1.0).abs() < 1e-6);
        assert_eq!(r(0., 0., 10., 10.).iou(&r(20., 20., 5., 5.)), 0.0);
        assert!((r(0., 0., 10., 10.).iou(&r(5., 0., 10., 10.)) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = [r(0., 0., 10., 10.), r(1., 1., 10., 10.), r(50., 50., 10., 10.)];
        assert_eq!(nms(&boxes, &[0.8, 0.9, 0.7], 0.3), vec![1, 2]);
    }

    #[test]
    fn frontal_face_has_near_zero_pose_and_roll_follows_the_eyes() {
        let p = |x, y| Point { x, y };
        let frontal = [p(40., 50.), p(72., 50.), p(56., 68.56), p(43., 82.), p(69., 82.)];
        let pose = estimate_pose(&frontal);
        assert!(pose.yaw.abs() < 2.0 && pose.pitch.abs() < 3.0 && pose.roll.abs() < 0.1, "{pose:?}");
        let turned = [p(40., 50.), p(72., 50.), p(66., 68.56), p(43., 82.), p(69., 82.)];
        assert!(estimate_pose(&turned).yaw > 20.0);
        let tilted = [p(40., 50.), p(72., 60.), p(56., 70.), p(43., 85.), p(69., 90.)];
        assert!(estimate_pose(&tilted).roll > 15.0);
    }
}
