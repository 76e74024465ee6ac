//! Named operating points: the thresholds verity decides with, chosen from measurements on the
//! test images (see README, "Operating points"). Every response echoes the one it used.

use serde::Serialize;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct OperatingPoint {
    pub name: &'static str,
    pub threshold: f32,
}

/// Cosine similarity of MobileFaceNet embeddings at or above which two faces match.
pub const VERIFY: [OperatingPoint; 3] = [
    OperatingPoint { name: "default", threshold: 0.50 },
    OperatingPoint { name: "strict", threshold: 0.60 },
    OperatingPoint { name: "lenient", threshold: 0.42 },
];

/// MiniFASNet ensemble "real" probability at or above which a face is live.
pub const LIVENESS: [OperatingPoint; 2] =
    [OperatingPoint { name: "default", threshold: 0.60 }, OperatingPoint { name: "strict", threshold: 0.80 }];

/// The operating point named `name` in `table`, or 400 `invalid_field`.
pub fn pick(table: &[OperatingPoint], name: Option<&str>) -> Result<OperatingPoint, ApiError> {
    let name = name.unwrap_or("default");
    table.iter().copied().find(|op| op.name == name).ok_or_else(|| ApiError::InvalidField {
        field: "operating_point".into(),
        reason: format!(
            "unknown operating point {name:?}; one of: {}",
            table.iter().map(|op| op.name).collect::<Vec<_>>().join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_first_and_unknown_names_are_refused() {
        assert_eq!(pick(&VERIFY, None).unwrap().name, "default");
        assert_eq!(pick(&VERIFY, Some("strict")).unwrap().threshold, 0.60);
        assert_eq!(pick(&LIVENESS, Some("nope")).unwrap_err().code(), "invalid_field");
    }
}
