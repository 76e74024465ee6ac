//! Image decoding for untrusted uploads: magic-byte sniffing (JPEG, PNG, WebP, BMP), a pixel
//! cap checked from the header before any pixel is decoded (decompression bombs), EXIF
//! orientation, and alpha or grey images turned into RGB.

use std::io::Cursor;

use image::{metadata::Orientation, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::ApiError;

/// The formats verity accepts, recognised by their first bytes (never by a filename or a
/// client-declared content type).
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else if bytes.starts_with(b"BM") && bytes.len() >= 26 {
        Some(ImageFormat::Bmp)
    } else {
        None
    }
}

/// Decodes `bytes` (the content of field `field`) into an upright RGB image.
pub fn decode(field: &str, bytes: &[u8], max_pixels: u64) -> Result<RgbImage, ApiError> {
    let format = sniff(bytes).ok_or_else(|| ApiError::UnsupportedImageFormat(field.to_string()))?;
    if format == ImageFormat::Jpeg && !has_jpeg_end(bytes) {
        // The JPEG decoder fills a cut-off scan with grey; a truncated upload must not pass.
        return Err(ApiError::ImageDecode {
            field: field.to_string(),
            reason: "truncated JPEG: no end-of-image marker".into(),
        });
    }
    let too_large = |(width, height): (u32, u32)| {
        (u64::from(width) * u64::from(height) > max_pixels).then(|| ApiError::ImageTooLarge {
            field: field.to_string(),
            width,
            height,
            limit: max_pixels,
        })
    };
    if let Some(err) = png_dimensions(bytes).and_then(too_large) {
        return Err(err);
    }
    let failed = |e: image::ImageError| ApiError::ImageDecode { field: field.to_string(), reason: e.to_string() };
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format).into_decoder().map_err(failed)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ApiError::ImageTooLarge { field: field.to_string(), width, height, limit: max_pixels });
    }
    if width == 0 || height == 0 {
        return Err(ApiError::ImageDecode { field: field.to_string(), reason: "the image has no pixels".into() });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(64 << 20));
    decoder.set_limits(limits).map_err(failed)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(failed)?;
    img.apply_orientation(orientation);
    Ok(to_rgb(img))
}

/// The size a PNG declares in its IHDR chunk, read before any decoder looks further.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

/// A complete JPEG ends with the EOI marker (FF D9), possibly followed by a little padding.
fn has_jpeg_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// RGB view of any colour type; transparent pixels are composited over white, as a viewer shows them.
fn to_rgb(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(src[3]);
        for c in 0..3 {
            dst[c] = ((u32::from(src[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_recognises_the_four_formats_and_nothing_else() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageFormat::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
        assert_eq!(sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), Some(ImageFormat::Bmp));
        assert_eq!(sniff(b"hello, this is text"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn alpha_is_composited_over_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([10, 20, 30, 255]));
        let rgb = to_rgb(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [10, 20, 30]);
    }

    #[test]
    fn text_is_refused_and_a_truncated_png_fails_cleanly() {
        assert_eq!(decode("image", b"just text", 1000).unwrap_err().code(), "unsupported_image_format");
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(64, 64)).write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
        assert!(decode("image", &png, 1 << 20).is_ok());
        assert_eq!(decode("image", &png, 100).unwrap_err().code(), "image_too_large");
        assert_eq!(decode("image", &png[..png.len() / 2], 1 << 20).unwrap_err().code(), "image_decode_failed");
    }
}
