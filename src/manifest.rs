//! The model manifest (`models/manifest.toml`): what each model is, where its file lives, its
//! sha256 and licence. Embedded in the binary; a file given by `--manifest` replaces it.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const EMBEDDED: &str = include_str!("../models/manifest.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub runtime: std::collections::BTreeMap<String, RuntimeEntry>,
    #[serde(rename = "model")]
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeEntry {
    pub package: String,
    pub version: String,
    pub file: String,
    pub licence: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub task: String,
    pub file: String,
    pub sha256: String,
    pub licence: String,
    pub origin: String,
    pub input: InputSpec,
    /// Input shape of the warm-up run made before the model is reported ready.
    pub warmup_shape: Vec<usize>,
    /// Largest batch the model takes (1 for fixed-batch models).
    #[serde(default = "one")]
    pub max_batch: usize,
    /// Largest batch on the CPU provider when it is smaller there (a model whose batches are no
    /// faster on the CPU and whose activations the CPU arena would keep).
    #[serde(default)]
    pub cpu_max_batch: Option<usize>,
    #[serde(default)]
    pub crop_scale: Option<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub layout: String,
    pub color: String,
    pub normalisation: String,
}

impl Manifest {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Manifest> {
        let text = match path {
            Some(p) => {
                std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read manifest {}: {e}", p.display()))?
            }
            None => EMBEDDED.to_string(),
        };
        Ok(toml::from_str(&text)?)
    }

    pub fn model(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }
}

impl ModelEntry {
    /// The static int8 variant that `make int8` makes next to the file (`<stem>.int8.onnx`):
    /// made locally, so it is verified only against the hash recorded beside it.
    pub fn int8(&self) -> ModelEntry {
        let stem = self.file.strip_suffix(".onnx").unwrap_or(&self.file);
        ModelEntry {
            file: format!("{stem}.int8.onnx"),
            sha256: String::new(),
            origin: format!("{}; static int8 (QDQ) made locally by `make int8`", self.origin),
            ..self.clone()
        }
    }

    pub fn path(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(&self.file)
    }

    /// Checks the file against the manifest's sha256, or against the hash that the fetcher
    /// recorded next to a locally converted file (`<file>.sha256`). Returns the file's hash.
    pub fn verify(&self, models_dir: &Path) -> Result<String, String> {
        let path = self.path(models_dir);
        let make = if self.file.ends_with(".int8.onnx") { "make int8` to make" } else { "make models` to fetch" };
        let got = file_sha256(&path)
            .map_err(|e| format!("{} is missing or unreadable ({e}); run `{make} it", path.display()))?;
        if got == self.sha256 {
            return Ok(got);
        }
        let sidecar = PathBuf::from(format!("{}.sha256", path.display()));
        let recorded = std::fs::read_to_string(sidecar).unwrap_or_default();
        if recorded.split_whitespace().next() == Some(got.as_str()) {
            return Ok(got);
        }
        Err(format!(
            "{} has sha256 {got}, the manifest says {}: corrupt or partial file refused; run `make models`",
            path.display(),
            self.sha256
        ))
    }
}

fn one() -> usize {
    1
}

pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_names_the_face_models() {
        let m = Manifest::load(None).unwrap();
        for name in ["yunet", "mobilefacenet", "minifasnet_v2", "minifasnet_v1se"] {
            let e = m.model(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(e.sha256.len(), 64);
        }
        assert!(m.runtime.contains_key("cpu"));
    }

    #[test]
    fn a_corrupt_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("verity-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = Manifest::load(None).unwrap();
        let e = m.model("yunet").unwrap();
        std::fs::write(e.path(&dir), b"not a model").unwrap();
        let err = e.verify(&dir).unwrap_err();
        assert!(err.contains("corrupt or partial"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.verify(&dir).unwrap_err().contains("make models"));
    }

    #[test]
    fn an_int8_variant_is_verified_against_its_recorded_hash_only() {
        let dir = std::env::temp_dir().join(format!("verity-int8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = Manifest::load(None).unwrap().model("mobilefacenet").unwrap().int8();
        assert_eq!(e.file, "mobilefacenet.int8.onnx");
        assert!(e.verify(&dir).unwrap_err().contains("make int8"));
        std::fs::write(e.path(&dir), b"an int8 model").unwrap();
        assert!(e.verify(&dir).unwrap_err().contains("corrupt or partial"), "no recorded hash: refused");
        let hash = file_sha256(&e.path(&dir)).unwrap();
        std::fs::write(dir.join("mobilefacenet.int8.onnx.sha256"), format!("{hash}  mobilefacenet.int8.onnx\n"))
            .unwrap();
        assert_eq!(e.verify(&dir).unwrap(), hash);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
