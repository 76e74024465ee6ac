//! 1:N search in a collection: the query is the largest face of an image or an enrolled face;
//! the scan runs on the preprocessing pool (a large collection takes milliseconds of CPU, never
//! spent on an async worker thread).

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;
use tracing::Instrument;

use super::{Face, FacePipeline};
use crate::{
    error::ApiError,
    gallery::{index::Hit, Gallery},
    vision::pool,
};

/// How many enrolled faces the onboarding duplicate check reports at most.
pub const MAX_DUPLICATES: usize = 5;

/// What to search with.
pub enum Query {
    /// The largest face of this image.
    Image(Arc<RgbImage>),
    /// An enrolled face of the collection (itself left out of the matches).
    Face(String),
}

/// The matches, best first, and the query face when the query was an image.
pub struct Found {
    pub matches: Vec<Hit>,
    pub face: Option<Face>,
}

/// An enrolled face that matches an onboarding selfie.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Duplicate {
    pub external_id: String,
    pub face_id: String,
    pub similarity: f32,
}

/// The best `top_k` matches at or above `threshold`.
pub async fn search(
    faces: &FacePipeline,
    gallery: &Arc<Gallery>,
    collection: &str,
    query: Query,
    top_k: usize,
    threshold: f32,
) -> Result<Found, ApiError> {
    let (embedding, face, exclude) = match query {
        Query::Image(img) => {
            let face = faces.largest_face(img.clone(), "image").await?;
            (faces.embed(img, &face).await?, Some(face), None)
        }
        Query::Face(face_id) => (gallery.embedding_of(collection, &face_id)?, None, Some(face_id)),
    };
    let matches = scan(gallery, collection, embedding, top_k, threshold, exclude).await?;
    Ok(Found { matches, face })
}

/// Enrolled faces matching `query` at or above `threshold`, other than the applicant's own.
pub async fn duplicates(
    gallery: &Arc<Gallery>,
    collection: String,
    query: Vec<f32>,
    threshold: f32,
    own_external_id: Option<String>,
) -> Result<Vec<Duplicate>, ApiError> {
    let hits = scan(gallery, &collection, query, MAX_DUPLICATES, threshold, None).await?;
    Ok(hits
        .into_iter()
        .filter(|h| own_external_id.as_deref() != Some(h.external_id.as_str()))
        .map(|h| Duplicate { external_id: h.external_id, face_id: h.face_id, similarity: h.similarity })
        .collect())
}

async fn scan(
    gallery: &Arc<Gallery>,
    collection: &str,
    query: Vec<f32>,
    top_k: usize,
    threshold: f32,
    exclude: Option<String>,
) -> Result<Vec<Hit>, ApiError> {
    let span = tracing::info_span!("search", collection = %collection);
    let (gallery, name) = (gallery.clone(), collection.to_string());
    pool::run(move || gallery.search(&name, &query, top_k, threshold, exclude.as_deref())).instrument(span).await
}
