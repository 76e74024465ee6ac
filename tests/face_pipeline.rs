//! The face pipeline on the real models and the real test images (ground truth in
//! ../shared/testdata/README.md).

mod common;

use common::{block_on, faces, image};
use verity::{
    pipeline::face_ops::{liveness_op, verify_op},
    pipeline::operating::{self, LIVENESS, VERIFY},
    vision::align::align_face,
};

fn count_faces(name: &str) -> usize {
    block_on(faces().detect(image(name))).unwrap().len()
}

#[test]
fn detection_counts_match_the_ground_truth() {
    assert_eq!(count_faces("astronaut.png"), 1);
    assert_eq!(count_faces("obama.jpg"), 1);
    let solvay = count_faces("solvay_conference_1927.jpg");
    assert!((27..=29).contains(&solvay), "solvay: {solvay} faces, want >= 27 of 29");
    assert_eq!(count_faces("skimage_page.png"), 0);
}

#[test]
fn detected_faces_have_landmarks_inside_the_box_and_a_near_frontal_pose() {
    let found = block_on(faces().detect(image("obama.jpg"))).unwrap();
    let f = &found[0];
    let b = f.bbox;
    for p in f.landmarks.points() {
        assert!(p.x >= b.x && p.x <= b.x + b.width && p.y >= b.y && p.y <= b.y + b.height, "{p:?} outside {b:?}");
    }
    assert!(f.pose.yaw.abs() < 25.0 && f.pose.pitch.abs() < 25.0 && f.pose.roll.abs() < 10.0, "{:?}", f.pose);
    assert!(f.quality.face_size > 100.0 && f.quality.issues.is_empty(), "{:?}", f.quality);
}

const OBAMA: [&str; 6] =
    ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg", "32bit.png"];

#[test]
fn every_pair_of_obama_images_matches_at_the_default_threshold() {
    let op = operating::pick(&VERIFY, None).unwrap();
    let f = faces();
    for (i, a) in OBAMA.iter().enumerate() {
        for b in &OBAMA[i + 1..] {
            let r = block_on(verify_op(&f, image(a), image(b), op)).unwrap();
            assert!(r.is_match, "{a} vs {b}: similarity {} < {}", r.similarity, r.threshold);
            assert_eq!(r.operating_point, "default");
        }
    }
}

#[test]
fn different_people_never_match_at_any_operating_point() {
    let f = faces();
    for (a, b) in [("obama.jpg", "biden.jpg"), ("obama.jpg", "astronaut.png"), ("obama2.jpg", "biden.jpg")] {
        for op in VERIFY {
            let r = block_on(verify_op(&f, image(a), image(b), op)).unwrap();
            assert!(!r.is_match, "{a} vs {b} matched at {}: {}", op.name, r.similarity);
        }
    }
}

#[test]
fn verify_without_a_face_names_the_image() {
    let op = operating::pick(&VERIFY, None).unwrap();
    let err = block_on(verify_op(&faces(), image("obama.jpg"), image("skimage_page.png"), op)).unwrap_err();
    assert_eq!(err.code(), "no_face");
    assert!(err.to_string().contains("target"), "{err}");
}

#[test]
fn liveness_separates_the_real_sample_from_the_attacks() {
    let f = faces();
    let op = operating::pick(&LIVENESS, None).unwrap();
    assert!(block_on(liveness_op(&f, image("image_T1.jpg"), op)).unwrap().live);
    for spoof in ["image_F1.jpg", "image_F2.jpg"] {
        let r = block_on(liveness_op(&f, image(spoof), op)).unwrap();
        assert!(!r.live, "{spoof} judged live with score {}", r.score);
    }
}

/// A printed photo filling the frame, held by hand (dev set `spoof_vm-fake2.jpg`): both models
/// give it a live probability above the default threshold, and one sees it as a 2D attack.
#[test]
fn the_2d_attack_class_rejects_a_close_up_print_that_both_models_call_live() {
    let f = faces();
    let op = operating::pick(&LIVENESS, None).unwrap();
    let r = block_on(liveness_op(&f, common::devset_image("liveness/images/spoof_vm-fake2.jpg"), op)).unwrap();
    let m = &r.models;
    assert!((m.minifasnet_v2 + m.minifasnet_v1se) / 2.0 >= op.threshold, "ensemble alone: {m:?}");
    assert!(m.attack_2d >= operating::LIVENESS_2D_VETO, "{m:?}");
    assert!(!r.live && r.score == 0.0, "{r:?}");
    // The live sample is far from the veto.
    let t1 = block_on(liveness_op(&f, image("image_T1.jpg"), op)).unwrap();
    assert!(t1.live && t1.models.attack_2d < operating::LIVENESS_2D_VETO / 4.0, "{:?}", t1.models);
}

#[test]
fn liveness_refuses_no_face_and_several_faces_with_distinct_codes() {
    let f = faces();
    let op = operating::pick(&LIVENESS, None).unwrap();
    assert_eq!(block_on(liveness_op(&f, image("skimage_page.png"), op)).unwrap_err().code(), "no_face");
    assert_eq!(
        block_on(liveness_op(&f, image("solvay_conference_1927.jpg"), op)).unwrap_err().code(),
        "multiple_faces"
    );
}

#[test]
fn a_small_background_face_is_not_a_second_person_but_a_face_of_similar_size_is() {
    let f = faces();
    let op = operating::pick(&LIVENESS, None).unwrap();
    let person = image("image_T1.jpg");
    let alone = block_on(liveness_op(&f, person.clone(), op)).unwrap().face.bbox;
    // Someone far behind: biden at a sixth of the size, in the corner away from the face.
    let biden = image("biden.jpg");
    let small = image::imageops::resize(&*biden, biden.width() / 6, biden.height() / 6, image::imageops::Triangle);
    let mut scene = (*person).clone();
    let corner = i64::from(scene.width() - small.width());
    image::imageops::overlay(&mut scene, &small, corner, 0);
    let scene = std::sync::Arc::new(scene);
    assert_eq!(block_on(f.detect(scene.clone())).unwrap().len(), 2, "both faces are found");
    let r = block_on(liveness_op(&f, scene, op)).expect("one person with a background face is judged");
    assert!(
        (r.face.bbox.x - alone.x).abs() < 2.0 && (r.face.bbox.y - alone.y).abs() < 2.0,
        "the person's face is judged"
    );
    // Two people side by side: refused.
    let mut pair = image::RgbImage::new(person.width() * 2, person.height());
    image::imageops::overlay(&mut pair, &*person, 0, 0);
    image::imageops::overlay(&mut pair, &*person, i64::from(person.width()), 0);
    let err = block_on(liveness_op(&f, std::sync::Arc::new(pair), op)).unwrap_err();
    assert_eq!(err.code(), "multiple_faces");
}

#[test]
fn a_batch_of_aligned_faces_embeds_like_single_runs() {
    let f = faces();
    let names = ["obama.jpg", "biden.jpg", "astronaut.png", "image_T1.jpg", "obama3.jpg"];
    let aligned: Vec<_> = names
        .iter()
        .map(|n| {
            let img = image(n);
            let face = block_on(f.largest_face(img.clone(), "image")).unwrap();
            align_face(&img, &face.landmarks.points())
        })
        .collect();
    let batched = block_on(f.embed_aligned(aligned.clone())).unwrap();
    assert_eq!(batched.len(), names.len());
    for (i, face) in aligned.into_iter().enumerate() {
        let single = block_on(f.embed_aligned(vec![face])).unwrap().remove(0);
        assert_eq!(single.len(), 192);
        let max_diff = single.iter().zip(&batched[i]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{}: batched and single differ by {max_diff}", names[i]);
    }
}
