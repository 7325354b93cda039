//! The bundled model catalog (`catalog/models.json5`): architecture facts, Hub files per quantization,
//! and the quantization table the size estimate uses.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const BUNDLED: &str = include_str!("../catalog/models.json5");

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub version: u32,
    pub models: Vec<Model>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Lower-case id; with the quant it forms the OpenClaw model id (`<id>-<quant>`).
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9.\-]*$"))]
    pub id: String,
    pub name: String,
    pub family: String,
    /// OpenClaw's llama-cpp recipe id when OpenClaw itself recommends this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    /// Total parameters.
    #[schemars(range(min = 1))]
    pub params: u64,
    /// Parameters used per token (MoE experts in use, or Gemma "E" effective parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_params: Option<u64>,
    /// Training context in tokens (GGUF `<arch>.context_length`); llama-server caps `-c` at it.
    #[schemars(range(min = 1))]
    pub context: u32,
    /// The chat template has native tool calling that llama.cpp's `--jinja` understands.
    pub tools: bool,
    pub license: String,
    pub arch: Arch,
    /// Default Hub repository for quants that do not name their own.
    pub repo: String,
    /// File name for a quant without `files`; `{quant}` is replaced by the quant name.
    pub file_pattern: String,
    pub quants: BTreeMap<String, QuantFiles>,
    /// Where the facts come from.
    pub sources: String,
    /// Facts that no source confirmed.
    #[serde(default)]
    pub unverified: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    pub layers: u32,
    pub hidden: u32,
    /// Query heads.
    pub heads: u32,
    /// FFN width a token passes through (MoE: expert width x experts used).
    pub ff: u32,
    pub vocab: u32,
    /// The output projection reuses the token embedding.
    pub tied_embeddings: bool,
    /// Groups of layers that hold a KV cache.
    pub attention: Vec<KvGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrent: Option<Recurrent>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KvGroup {
    #[schemars(range(min = 1))]
    pub layers: u32,
    #[schemars(range(min = 1))]
    pub kv_heads: u32,
    #[schemars(range(min = 1))]
    pub head_dim: u32,
    /// Sliding-window size in tokens; absent for global attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
}

/// Linear-attention (recurrent) layers of a hybrid model: a fixed state per layer, whatever the context.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recurrent {
    pub layers: u32,
    /// Bytes of state per layer (f32).
    pub state_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Hub commit the sizes and sha256 below belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{40}$"))]
    pub revision: Option<String>,
    /// The file, or the shards of a split file in order; absent: one file from `file_pattern`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileFact>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileFact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: Option<String>,
}

/// Where one quant of one model lives on the Hub.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResolvedFiles {
    pub repo: String,
    pub revision: Option<String>,
    pub files: Vec<FileFact>,
    /// Sum of the file sizes, when every size is known.
    pub size: Option<u64>,
}

impl Model {
    pub fn files_for(&self, quant: &str) -> Option<ResolvedFiles> {
        let entry = self.quants.get(quant)?;
        let files = if entry.files.is_empty() {
            vec![FileFact { name: self.file_pattern.replace("{quant}", quant), size: None, sha256: None }]
        } else {
            entry.files.clone()
        };
        let size = files.iter().map(|f| f.size).sum::<Option<u64>>();
        Some(ResolvedFiles {
            repo: entry.repo.clone().unwrap_or_else(|| self.repo.clone()),
            revision: entry.revision.clone(),
            files,
            size,
        })
    }

    /// The id OpenClaw and llama-server's `--alias` use: `<catalog id>-<quant>`, lower-case.
    pub fn model_id(&self, quant: &str) -> String {
        format!("{}-{}", self.id, quant).to_ascii_lowercase()
    }

    pub fn active_params(&self) -> u64 {
        self.active_params.unwrap_or(self.params)
    }
}

/// Bits per weight of a llama-quantize preset: body tensors, token embedding, and output projection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantSpec {
    pub name: &'static str,
    pub body_bpw: f64,
    pub embed_bpw: f64,
    pub output_bpw: f64,
}

/// Body rates are whole-file sizes of Llama-3-8B from llama.cpp's quantize tool with the embedding and output
/// tensors taken out; those two use the preset's base type (embedding) and Q6_K (output), as llama-quantize does.
pub const QUANTS: &[QuantSpec] = &[
    QuantSpec { name: "F16", body_bpw: 16.0, embed_bpw: 16.0, output_bpw: 16.0 },
    QuantSpec { name: "BF16", body_bpw: 16.0, embed_bpw: 16.0, output_bpw: 16.0 },
    QuantSpec { name: "Q8_0", body_bpw: 8.5, embed_bpw: 8.5, output_bpw: 8.5 },
    QuantSpec { name: "Q6_K", body_bpw: 6.5625, embed_bpw: 6.5625, output_bpw: 6.5625 },
    QuantSpec { name: "Q5_K_M", body_bpw: 5.65, embed_bpw: 5.5, output_bpw: 6.5625 },
    QuantSpec { name: "Q5_K_S", body_bpw: 5.5, embed_bpw: 5.5, output_bpw: 6.5625 },
    QuantSpec { name: "Q4_K_M", body_bpw: 4.82, embed_bpw: 4.5, output_bpw: 6.5625 },
    QuantSpec { name: "Q4_K_S", body_bpw: 4.6, embed_bpw: 4.5, output_bpw: 6.5625 },
    QuantSpec { name: "Q4_0", body_bpw: 4.5, embed_bpw: 4.5, output_bpw: 6.5625 },
    QuantSpec { name: "Q3_K_M", body_bpw: 3.85, embed_bpw: 3.4375, output_bpw: 6.5625 },
    QuantSpec { name: "Q2_K", body_bpw: 2.95, embed_bpw: 2.625, output_bpw: 6.5625 },
];

/// What automatic selection tries, best first. Nothing below Q4_K_M unless asked with `--quant`.
pub const AUTO_QUANTS: &[&str] = &["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M"];

/// Case-insensitive lookup of a quant name: `q4_k_m` → `Q4_K_M`.
pub fn quant_spec(name: &str) -> Option<&'static QuantSpec> {
    QUANTS.iter().find(|q| q.name.eq_ignore_ascii_case(name))
}

/// Rank for "higher quality first" among quants: Q8_0 highest.
pub fn quant_rank(name: &str) -> usize {
    AUTO_QUANTS.iter().position(|q| *q == name).map_or(0, |i| AUTO_QUANTS.len() - i)
}

impl Catalog {
    /// Parse catalog text (JSON5). The bundled catalog is also checked against its schema by a test.
    pub fn parse(text: &str) -> Result<Self> {
        let catalog: Self = json5::from_str(text).map_err(|e| Error::usage(format!("catalog: {e}")))?;
        catalog.check()?;
        Ok(catalog)
    }

    /// Facts the schema cannot express.
    fn check(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.models {
            let bad = |what: &str| Err(Error::usage(format!("catalog: model {}: {what}", m.id)));
            if !seen.insert(&m.id) {
                return bad("duplicate id");
            }
            if m.arch.attention.iter().map(|g| g.layers).sum::<u32>() + m.arch.recurrent.map_or(0, |r| r.layers)
                > m.arch.layers
            {
                return bad("attention + recurrent layers exceed arch.layers");
            }
            if m.active_params.is_some_and(|a| a > m.params) {
                return bad("active_params exceeds params");
            }
            if !m.file_pattern.contains("{quant}") {
                return bad("file_pattern has no {quant}");
            }
            for quant in m.quants.keys() {
                if quant_spec(quant).is_none_or(|q| q.name != quant) {
                    return bad(&format!("unknown quant {quant} (known: {})", known_quants()));
                }
            }
        }
        Ok(())
    }

    pub fn bundled() -> &'static Self {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Self::parse(BUNDLED).expect("the bundled catalog is checked by tests"))
    }

    pub fn get(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id.eq_ignore_ascii_case(id))
    }
}

pub fn known_quants() -> String {
    QUANTS.iter().map(|q| q.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalog_parses_and_validates_against_its_schema() {
        let catalog = Catalog::bundled();
        assert!(catalog.models.len() >= 26, "catalog has {} models", catalog.models.len());
        let value: serde_json::Value = json5::from_str(BUNDLED).unwrap();
        let schema = serde_json::to_value(schemars::schema_for!(Catalog)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn catalog_covers_the_required_families_and_openclaw_recipes() {
        let c = Catalog::bundled();
        for id in [
            "qwen2.5-0.5b-instruct",
            "qwen2.5-1.5b-instruct",
            "qwen2.5-3b-instruct",
            "qwen2.5-7b-instruct",
            "qwen2.5-14b-instruct",
            "qwen2.5-32b-instruct",
            "qwen3-4b",
            "qwen3-8b",
            "qwen3-14b",
            "qwen3-32b",
            "qwen3-30b-a3b",
            "llama-3.1-8b-instruct",
            "llama-3.3-70b-instruct",
            "mistral-small-3.2-24b-instruct",
            "gemma-3-4b-it",
            "gemma-3-12b-it",
            "gemma-3-27b-it",
            "phi-4",
        ] {
            assert!(c.get(id).is_some(), "missing {id}");
        }
        let recipes: Vec<&str> = c.models.iter().filter_map(|m| m.recipe.as_deref()).collect();
        for recipe in [
            "qwen3.8-27b-ud-q4_k_m",
            "muse-glimmer-30b-q4_k_m",
            "gemma-4-26b-a4b-it-ud-q4_k_m",
            "gemma-4-12b-it-q4_k_m",
            "qwen3.5-9b-q4_k_m",
            "gemma-4-e4b-it-q4_k_m",
            "qwen3.5-4b-q4_k_m",
            "gemma-4-e2b-it-q4_k_m",
        ] {
            assert!(recipes.contains(&recipe), "missing OpenClaw recipe {recipe}");
        }
    }

    #[test]
    fn split_files_resolve_in_order_with_their_total_size() {
        let m = Catalog::bundled().get("qwen2.5-7b-instruct").unwrap();
        let files = m.files_for("Q4_K_M").unwrap();
        assert_eq!(files.repo, "Qwen/Qwen2.5-7B-Instruct-GGUF");
        assert_eq!(files.files.len(), 2);
        assert!(files.files[0].name.ends_with("-00001-of-00002.gguf"));
        assert_eq!(files.size, Some(3_993_201_344 + 689_872_288));
        let q8 = m.files_for("Q8_0").unwrap();
        assert_eq!(q8.files[0].name, "Qwen2.5-7B-Instruct-Q8_0.gguf");
        assert_eq!(q8.size, None);
        assert_eq!(m.model_id("Q4_K_M"), "qwen2.5-7b-instruct-q4_k_m");
    }

    #[test]
    fn rejects_inconsistent_entries() {
        let text = BUNDLED.replacen(
            "quants: {\n        Q8_0: {}, Q6_K: {}, Q5_K_M: {},",
            "quants: {\n        Q9_X: {}, Q6_K: {}, Q5_K_M: {},",
            1,
        );
        let err = Catalog::parse(&text).unwrap_err();
        assert!(err.message.contains("unknown quant Q9_X"), "{err}");
    }
}
