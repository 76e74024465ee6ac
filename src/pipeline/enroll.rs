//! Enrollment: the largest face of the image through the quality gate, embedded from the aligned
//! face kept at detection, stored under a face id derived from (collection, external_id, image),
//! so enrolling the same image twice is one face.

use std::sync::Arc;

use image::RgbImage;
use sha2::{Digest, Sha256};

use super::{Face, FacePipeline};
use crate::{
    error::ApiError,
    gallery::{store::NewFace, Gallery},
    vision::pool,
};

/// One enrollment, checked by the caller (ids, metadata as a JSON object text, a future expiry).
pub struct Enrollment {
    pub collection: String,
    pub external_id: String,
    pub metadata: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub image: Arc<RgbImage>,
    /// Of the uploaded bytes.
    pub image_sha256: String,
}

pub struct Enrolled {
    pub face_id: String,
    /// False when the same (collection, external_id, image) was enrolled before.
    pub created: bool,
    pub face: Face,
}

/// The face id of an enrollment: the same for the same collection, subject and image bytes.
pub fn face_id(collection: &str, external_id: &str, image_sha256: &str) -> String {
    hex::encode(&Sha256::digest(format!("{collection}\0{external_id}\0{image_sha256}"))[..16])
}

/// PNG bytes of an image (the stored aligned face).
fn png(img: &RgbImage) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| ApiError::Internal(format!("encoding the aligned face: {e}")))?;
    Ok(out)
}

pub async fn enroll(faces: &FacePipeline, gallery: &Gallery, e: Enrollment) -> Result<Enrolled, ApiError> {
    let face = faces.largest_face(e.image.clone(), "image").await?;
    if !face.quality.issues.is_empty() {
        return Err(ApiError::FaceRejected(face.quality.issues.clone()));
    }
    // Aligned once, at detection: embedded now, and kept (as PNG) for a later re-embedding.
    let aligned = faces.aligned(e.image, std::slice::from_ref(&face)).await?;
    let aligned_png = match (gallery.keeps_aligned(), aligned.first().cloned()) {
        (true, Some(a)) => Some(pool::run(move || png(&a)).await?),
        _ => None,
    };
    let embedding = faces
        .embed_aligned(aligned)
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("the embedding model returned nothing".into()))?;
    let face_id = face_id(&e.collection, &e.external_id, &e.image_sha256);
    let created = gallery
        .enroll(NewFace {
            collection: e.collection,
            face_id: face_id.clone(),
            external_id: e.external_id,
            image_sha256: e.image_sha256,
            embedding,
            metadata: e.metadata,
            expires_at: e.expires_at,
            aligned_png,
        })
        .await?;
    Ok(Enrolled { face_id, created, face })
}
