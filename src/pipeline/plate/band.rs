//! The country band at a plate's left end: a blue strip (the EU's, Ukraine's) with the
//! country's code in white under the stars or the flag. Where the text detector did not read
//! the code as a line of its own (small, blurred white letters), it is found here: the blue
//! strip next to the number, the lower part of it turned into dark letters on white, and the
//! plate recogniser's output scored against the closed set of codes the formats know.

use image::{imageops, GrayImage, Luma, RgbImage};

use crate::vision::geometry::Rect;

/// Whether a pixel is clearly blue (the band's blue, not a grey or a shadow).
fn is_blue(p: &image::Rgb<u8>) -> bool {
    let [r, g, b] = p.0.map(i32::from);
    b > r + 40 && b > g + 15
}

/// The share of a crop's left end (its first half height) that must be blue for a band.
pub const BAND_SHARE: f32 = 0.3;

/// Whether a crop starts with a blue country band (the EU band, the top of Ukraine's
/// flag): [`BAND_SHARE`] of the pixels of its left half-height clearly blue.
pub fn starts_blue(crop: &RgbImage) -> bool {
    let w = (crop.height() / 2).min(crop.width());
    let blue = (0..w)
        .flat_map(|x| (0..crop.height()).map(move |y| (x, y)))
        .filter(|&(x, y)| is_blue(crop.get_pixel(x, y)))
        .count();
    blue as f32 >= BAND_SHARE * (w * crop.height()) as f32
}

/// A column (or row) of the band is at least this share blue.
pub const BLUE_COLUMN: f32 = 0.4;

/// The band's width in text heights (the EU band is 40-50 mm by a 75-80 mm number).
const WIDTH: std::ops::RangeInclusive<f32> = 0.15..=1.1;

/// The band's height in text heights (the plate is taller than its number, but the text
/// detector's box may be taller than the plate).
const HEIGHT: std::ops::RangeInclusive<f32> = 0.5..=2.2;

/// The blue band at the left end of the number whose text is in `row`: a run of blue columns
/// from a text height left of the number to a little into it, as wide and as tall as a band
/// is, with something not blue on its either side (a blue car is no band).
pub fn find(img: &RgbImage, row: &Rect) -> Option<Rect> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let th = row.height.max(1.0);
    let x0 = ((row.x - 1.2 * th).floor() as i64).clamp(0, w);
    let x1 = ((row.x + (0.35 * row.width).min(1.5 * th)).ceil() as i64).clamp(0, w);
    let (y0, y1) = ((row.y.floor() as i64).clamp(0, h), ((row.y + th).ceil() as i64).clamp(0, h));
    if x1 - x0 < 3 || y1 - y0 < 3 {
        return None;
    }
    let share = |x: i64, ys: std::ops::Range<i64>| {
        let n = ys.end - ys.start;
        ys.filter(|&y| is_blue(img.get_pixel(x as u32, y as u32))).count() as f32 / n.max(1) as f32
    };
    let blue: Vec<bool> = (x0..x1).map(|x| share(x, y0..y1) >= BLUE_COLUMN).collect();
    // The widest run of blue columns.
    let (mut best, mut start) = (None::<(i64, i64)>, None);
    for (i, b) in blue.iter().chain([&false]).enumerate() {
        match (b, start) {
            (true, None) => start = Some(i as i64),
            (false, Some(s)) => {
                if best.is_none_or(|(bs, be)| be - bs < i as i64 - s) {
                    best = Some((s, i as i64));
                }
                start = None;
            }
            _ => {}
        }
    }
    let (s, e) = best?;
    let (bx0, bx1) = (x0 + s, x0 + e);
    if (bx0 == x0 && x0 > 0) || !WIDTH.contains(&((bx1 - bx0) as f32 / th)) {
        return None;
    }
    // Its rows: blue across the run, grown from the number's middle up and down.
    let row_blue = |y: i64| {
        let n = bx1 - bx0;
        (bx0..bx1).filter(|&x| is_blue(img.get_pixel(x as u32, y as u32))).count() as f32 / n as f32 >= BLUE_COLUMN
    };
    let (lo, hi) = (((row.y - 0.8 * th) as i64).max(0), ((row.y + 1.8 * th) as i64).min(h - 1));
    let mid = ((row.y + th / 2.0) as i64).clamp(0, h - 1);
    let mut top = mid;
    while top > lo && row_blue(top - 1) {
        top -= 1;
    }
    let mut bottom = mid;
    while bottom < hi && row_blue(bottom + 1) {
        bottom += 1;
    }
    let bh = (bottom - top + 1) as f32;
    if top == lo || bottom == hi || !HEIGHT.contains(&(bh / th)) {
        return None;
    }
    Some(Rect { x: bx0 as f32, y: top as f32, width: (bx1 - bx0) as f32, height: bh })
}

/// The code's share of the band: its lower part (the stars or the flag above it).
pub const CODE_FROM: f32 = 0.5;

/// The recogniser's strip for a band's code: the band's lower part in grey, inverted (dark
/// letters on white), its contrast stretched, `height` pixels high on a white strip `width`
/// wide.
pub fn code_strip(img: &RgbImage, band: &Rect, width: u32, height: u32) -> RgbImage {
    let x = band.x + 0.06 * band.width;
    let y = band.y + CODE_FROM * band.height;
    let (cw, ch) = ((0.88 * band.width).max(1.0), (band.height * (1.0 - CODE_FROM) - 1.0).max(1.0));
    let grey = GrayImage::from_fn(cw as u32, ch as u32, |i, j| {
        let p = img.get_pixel(((x as u32) + i).min(img.width() - 1), ((y as u32) + j).min(img.height() - 1));
        let [r, g, b] = p.0.map(u32::from);
        Luma([255 - ((299 * r + 587 * g + 114 * b) / 1000) as u8])
    });
    let (lo, hi) = grey.pixels().fold((255u8, 0u8), |(lo, hi), p| (lo.min(p[0]), hi.max(p[0])));
    let span = f32::from(hi.saturating_sub(lo)).max(1.0);
    let stretched = GrayImage::from_fn(grey.width(), grey.height(), |i, j| {
        Luma([((f32::from(grey.get_pixel(i, j)[0] - lo) / span) * 255.0) as u8])
    });
    // The letters' own box (dark after the stretch), with a margin: the recogniser reads
    // letters that fill its height.
    let ink = |i: u32, j: u32| stretched.get_pixel(i, j)[0] < 128;
    let rows: Vec<u32> = (0..stretched.height()).filter(|&j| (0..stretched.width()).any(|i| ink(i, j))).collect();
    let cols: Vec<u32> = (0..stretched.width()).filter(|&i| (0..stretched.height()).any(|j| ink(i, j))).collect();
    let (Some(&top), Some(&bottom), Some(&left), Some(&right)) = (rows.first(), rows.last(), cols.first(), cols.last())
    else {
        return RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    };
    let margin = (bottom - top + 1) / 6;
    let (x0, y0) = (left.saturating_sub(margin), top.saturating_sub(margin));
    let (x1, y1) = ((right + margin + 1).min(stretched.width()), (bottom + margin + 1).min(stretched.height()));
    let letters = imageops::crop_imm(&stretched, x0, y0, x1 - x0, y1 - y0).to_image();
    let out_w = ((height as f32 * letters.width() as f32 / letters.height() as f32).round() as u32).clamp(1, width / 2);
    let code = imageops::resize(&letters, out_w, height, imageops::FilterType::Triangle);
    let mut strip = RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let left = height / 3;
    for (i, j, p) in code.enumerate_pixels() {
        strip.put_pixel(left + i, j, image::Rgb([p[0]; 3]));
    }
    strip
}

/// The code a band's likelihoods (one per code of `codes`, natural logs) name: the most
/// likely, when it is [`CLEAR`] times as likely as every other code together.
pub fn pick<'a>(codes: &[&'a str], likelihoods: &[f32]) -> Option<&'a str> {
    let best = likelihoods.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if !best.1.is_finite() {
        return None;
    }
    let rest: f32 = likelihoods.iter().enumerate().filter(|(i, _)| *i != best.0).map(|(_, l)| (l - best.1).exp()).sum();
    (rest * CLEAR <= 1.0).then(|| codes[best.0])
}

/// How many times as likely the band's code must be as all the others together.
pub const CLEAR: f32 = 4.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn plate_with_band(band: bool) -> RgbImage {
        let mut img = RgbImage::from_pixel(400, 200, image::Rgb([90, 90, 90]));
        for x in 100..330 {
            for y in 60..130 {
                let inside_band = band && x < 125;
                img.put_pixel(x, y, image::Rgb(if inside_band { [20, 50, 160] } else { [240, 240, 240] }));
            }
        }
        img
    }

    #[test]
    fn a_blue_band_at_the_left_end_of_a_number_is_found() {
        let row = Rect { x: 135.0, y: 72.0, width: 180.0, height: 46.0 };
        let band = find(&plate_with_band(true), &row).expect("a band");
        assert_eq!((band.x, band.width), (100.0, 25.0));
        assert_eq!((band.y, band.height), (60.0, 70.0));
        assert_eq!(find(&plate_with_band(false), &row), None);
        // A blue car around a white plate has no band.
        let mut car = plate_with_band(false);
        for (x, y, p) in car.enumerate_pixels_mut() {
            if !(100..330).contains(&x) || !(60..130).contains(&y) {
                *p = image::Rgb([20, 50, 160]);
            }
        }
        assert_eq!(find(&car, &row), None);
    }

    #[test]
    fn the_band_code_is_picked_only_when_it_is_clear() {
        let codes = ["NL", "E", "D"];
        assert_eq!(pick(&codes, &[-0.5, -4.0, -6.0]), Some("NL"));
        assert_eq!(pick(&codes, &[-0.5, -0.9, -6.0]), None);
        assert_eq!(pick(&codes, &[f32::NEG_INFINITY; 3]), None);
    }

    #[test]
    fn a_blue_band_at_the_start_of_a_crop_is_seen() {
        let white = RgbImage::from_pixel(200, 48, image::Rgb([240, 240, 240]));
        assert!(!starts_blue(&white));
        let mut eu = white.clone();
        for x in 0..20 {
            for y in 0..48 {
                eu.put_pixel(x, y, image::Rgb([20, 50, 160]));
            }
        }
        assert!(starts_blue(&eu), "the EU band");
        let mut right = white;
        for x in 180..200 {
            for y in 0..48 {
                right.put_pixel(x, y, image::Rgb([20, 50, 160]));
            }
        }
        assert!(!starts_blue(&right), "blue at the other end");
    }
}
