//! A catalog `Model` built from a real GGUF header (an `hf:` spec), so selection and the fit check judge the
//! file the user named before it is downloaded. Where the header leaves a fact open, the choice is the one that
//! estimates more memory, and it is listed in `unverified`.

use std::collections::BTreeMap;

use crate::catalog::{Arch, FileFact, KvGroup, Model, QuantFiles, Recurrent};
use crate::error::{Error, Result};
use crate::gguf::{Header, Value};
use crate::hub::client::Resolution;

/// llama.cpp's sliding-window layouts (`set_swa_pattern(n)`: layer i slides unless i % n == n - 1), for the
/// architectures that do not write the pattern into the file.
fn swa_period(arch: &str) -> Option<usize> {
    Some(match arch {
        "gemma2" | "gpt-oss" => 2,
        "gemma3" => 6,
        "gemma3n" => 5,
        "cohere2" => 4,
        _ => return None,
    })
}

/// The most layers a header may claim (the largest published models have under 200).
pub const MAX_LAYERS: u32 = 4096;

/// What makes a header's model facts impossible, when they are: a block count of 0 or above [`MAX_LAYERS`], an
/// embedding length of 0. Facts the header does not have are not judged here (an adapter or a vocabulary-only
/// GGUF has none); `from_header` asks for them.
pub fn implausible(header: &Header) -> Option<String> {
    let arch = header.architecture()?;
    if let Some(layers) = header.arch_u64("block_count")
        && (layers == 0 || layers > u64::from(MAX_LAYERS))
    {
        return Some(format!("{arch}.block_count = {layers}; a model has 1 to {MAX_LAYERS} layers"));
    }
    if header.arch_u64("embedding_length") == Some(0) {
        return Some(format!("{arch}.embedding_length = 0"));
    }
    None
}

pub fn from_header(header: &Header, spec: &str, repo: &str, r: &Resolution) -> Result<Model> {
    let name = &r.files[0].name;
    let bad = |what: &str| Error::usage(format!("{spec}: the GGUF header of {name} has no {what}"));
    let arch_name = header.architecture().ok_or_else(|| bad("general.architecture"))?.to_string();
    let need = |key: &str| header.arch_u64(key).ok_or_else(|| bad(&format!("{arch_name}.{key}")));
    let small = |v: u64, what: &str| u32::try_from(v).map_err(|_| bad(&format!("plausible {what}")));
    // Per-layer tables are sized from block_count: a damaged header must not drive the allocation.
    if let Some(why) = implausible(header) {
        return Err(Error::usage(format!("{spec}: the GGUF header of {name} says {why}"))
            .with_hint("the file is damaged or not a model: nothing was downloaded"));
    }
    let layers = small(need("block_count")?, "block count")?;
    let hidden = small(need("embedding_length")?, "embedding length")?;
    let heads = small(need("attention.head_count")?, "head count")?.max(1);
    let context = small(need("context_length")?, "context length")?;
    let mut unverified = Vec::new();

    // Per-layer KV heads (0 = a recurrent layer), and which layers slide.
    let kv_scalar = header.arch_u64("attention.head_count_kv").unwrap_or(u64::from(heads));
    let kv_per_layer: Vec<u64> = match header.arch_array("attention.head_count_kv") {
        Some(a) if a.len() == layers as usize => a.iter().map(|x| *x as u64).collect(),
        _ => vec![kv_scalar; layers as usize],
    };
    let full_attention_every = header.arch_u64("full_attention_interval").filter(|n| *n > 0);
    let window = header.arch_u64("attention.sliding_window").filter(|w| *w > 0);
    let pattern = header.arch_array("attention.sliding_window_pattern").filter(|p| p.len() == layers as usize);
    if window.is_some() && pattern.is_none() && swa_period(&arch_name).is_none() {
        unverified.push(format!("{arch_name}: sliding-window layout unknown; every layer counted as global"));
    }
    let head_dim = header.arch_u64("attention.key_length").unwrap_or(u64::from(hidden / heads));
    let mut groups: BTreeMap<(u64, Option<u64>), u32> = BTreeMap::new();
    let mut recurrent_layers = 0u32;
    for (i, kv) in kv_per_layer.iter().enumerate() {
        let recurrent = *kv == 0 || full_attention_every.is_some_and(|n| !(i as u64 + 1).is_multiple_of(n));
        if recurrent {
            recurrent_layers += 1;
            continue;
        }
        let slides = match (window, pattern, swa_period(&arch_name)) {
            (Some(_), Some(p), _) => p[i] != 0.0,
            (Some(_), None, Some(n)) => i % n != n - 1,
            _ => false,
        };
        *groups.entry((*kv, slides.then_some(window).flatten())).or_default() += 1;
    }
    let attention = groups
        .into_iter()
        .map(|((kv, window), n)| {
            Ok(KvGroup {
                layers: n,
                kv_heads: small(kv, "KV head count")?,
                head_dim: small(head_dim, "head size")?,
                window: window.map(|w| small(w, "sliding window")).transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let recurrent = (recurrent_layers > 0).then(|| {
        let ssm = |k: &str| header.arch_u64(&format!("ssm.{k}")).unwrap_or(0);
        let (conv, inner, state, groups) =
            (ssm("conv_kernel"), ssm("inner_size"), ssm("state_size"), ssm("group_count"));
        if inner == 0 || state == 0 {
            unverified.push("recurrent state size unknown (no ssm.* keys); counted as 0".into());
        }
        // f32 conv state + ssm state per layer, as llama.cpp sizes its recurrent cache.
        Recurrent {
            layers: recurrent_layers,
            state_bytes: 4 * (conv.saturating_sub(1) * (inner + 2 * groups * state) + state * inner),
        }
    });

    // FFN width a token passes through; MoE: the experts it uses.
    let experts = header.arch_u64("expert_count").unwrap_or(0);
    let used = header.arch_u64("expert_used_count").unwrap_or(0);
    let ff = if experts > 0 && used > 0 {
        let expert_ff =
            header.arch_u64("expert_feed_forward_length").or(header.arch_u64("feed_forward_length")).unwrap_or(0);
        let shared = header.arch_u64("expert_shared_feed_forward_length").unwrap_or(0)
            * header.arch_u64("expert_shared_count").unwrap_or(0);
        expert_ff * used + shared
    } else {
        header.arch_u64("feed_forward_length").unwrap_or(4 * u64::from(hidden))
    };
    let vocab =
        header.array_len("tokenizer.ggml.tokens").or(header.arch_u64("vocab_size")).ok_or_else(|| bad("vocabulary"))?;
    let params = header.params();
    let expert_params: u64 = header.tensors.iter().filter(|t| t.name.contains("_exps")).map(|t| t.elements()).sum();
    let active_params =
        (experts > 0 && used > 0 && expert_params > 0).then(|| params - expert_params + expert_params * used / experts);
    let quant = header.file_type().unwrap_or("unknown").to_string();
    let tools = header.get("tokenizer.chat_template").and_then(Value::as_str).is_some_and(|t| t.contains("tool"));
    let id = id_from_file(name, &quant);
    let mut quants = BTreeMap::new();
    quants.insert(
        quant,
        QuantFiles {
            repo: Some(repo.to_string()),
            revision: Some(r.commit.clone()),
            files: r
                .files
                .iter()
                .map(|f| FileFact { name: f.name.clone(), size: Some(f.size), sha256: Some(f.sha256.clone()) })
                .collect(),
        },
    );
    Ok(Model {
        id,
        name: header.get("general.name").and_then(Value::as_str).unwrap_or(name).to_string(),
        family: arch_name.clone(),
        recipe: None,
        params,
        active_params,
        context,
        tools,
        license: header.get("general.license").and_then(Value::as_str).unwrap_or("unknown").to_string(),
        arch: Arch {
            layers,
            hidden,
            heads,
            ff: small(ff, "FFN width")?,
            vocab: small(vocab, "vocabulary size")?,
            tied_embeddings: !header.tensors.iter().any(|t| t.name == "output.weight"),
            attention,
            recurrent,
        },
        repo: repo.to_string(),
        file_pattern: name.clone(),
        quants,
        sources: format!("GGUF header of {spec} at {}", r.commit),
        unverified,
    })
}

/// `Qwen2.5-7B-Instruct-Q4_K_M-00001-of-00002.gguf` → `qwen2.5-7b-instruct`: lower case, the quant and shard
/// suffixes dropped, anything but `[a-z0-9.-]` turned into `-`.
pub fn id_from_file(file: &str, quant: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".gguf").to_ascii_lowercase();
    let base = match base.rsplitn(4, '-').collect::<Vec<_>>()[..] {
        [_, "of", _, rest] if super::hub::split_set(file).len() > 1 => rest.to_string(),
        _ => base,
    };
    let q = quant.to_ascii_lowercase();
    let base = base
        .strip_suffix(&format!("-{q}"))
        .or_else(|| base.strip_suffix(&format!(".{q}")))
        .or_else(|| base.strip_suffix(&format!("_{q}")))
        .unwrap_or(&base);
    let mut id: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    id = id.trim_start_matches(['-', '.']).to_string();
    if id.is_empty() { "model".into() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::gguf::TensorInfo;
    use crate::hub::client::RemoteFile;

    fn header(arch: &str, pairs: &[(&str, Value)], tensors: &[(&str, &[u64])]) -> Header {
        let mut metadata: BTreeMap<String, Value> =
            pairs.iter().map(|(k, v)| (format!("{arch}.{k}"), v.clone())).collect();
        metadata.insert("general.architecture".into(), Value::Str(arch.into()));
        metadata.insert("general.file_type".into(), Value::Uint(15));
        metadata.insert("tokenizer.ggml.tokens".into(), Value::Array { elem_type: 8, len: 1000, numbers: None });
        let tensors = tensors
            .iter()
            .map(|(n, d)| TensorInfo { name: (*n).into(), dims: d.to_vec(), ggml_type: 12, offset: 0 })
            .collect();
        Header { version: 3, metadata, tensors, data_offset: 0, min_file_size: None }
    }

    fn resolution() -> Resolution {
        Resolution {
            commit: "c".repeat(40),
            files: vec![RemoteFile { name: "m-Q4_K_M.gguf".into(), size: 10, sha256: "a".repeat(64) }],
        }
    }

    fn base(layers: u64) -> Vec<(&'static str, Value)> {
        vec![
            ("block_count", Value::Uint(layers)),
            ("embedding_length", Value::Uint(2560)),
            ("attention.head_count", Value::Uint(16)),
            ("attention.head_count_kv", Value::Uint(4)),
            ("attention.key_length", Value::Uint(256)),
            ("context_length", Value::Uint(131072)),
            ("feed_forward_length", Value::Uint(9216)),
        ]
    }

    #[test]
    fn a_header_claiming_no_or_absurdly_many_layers_is_refused_before_any_table_is_sized() {
        for (layers, hidden) in [(1u64 << 31, 2560u64), (1 << 28, 2560), (0, 2560), (12, 0)] {
            let mut kv = base(layers);
            kv[1] = ("embedding_length", Value::Uint(hidden));
            let err = from_header(
                &header("llama", &kv, &[("token_embd.weight", &[2560, 1000])]),
                "hf:o/n/m.gguf",
                "o/n",
                &resolution(),
            )
            .unwrap_err();
            assert!(err.message.contains("says llama."), "{layers}/{hidden}: {}", err.message);
            assert!(!err.message.contains("Uint("), "no Debug text: {}", err.message);
        }
    }

    #[test]
    fn gemma3_layers_slide_five_of_six() {
        let mut kv = base(12);
        kv.push(("attention.sliding_window", Value::Uint(1024)));
        let m = from_header(
            &header("gemma3", &kv, &[("token_embd.weight", &[2560, 1000])]),
            "hf:o/n/m.gguf",
            "o/n",
            &resolution(),
        )
        .unwrap();
        let groups: Vec<(u32, Option<u32>)> = m.arch.attention.iter().map(|g| (g.layers, g.window)).collect();
        assert_eq!(groups, [(2, None), (10, Some(1024))]);
        assert!(m.arch.tied_embeddings && m.unverified.is_empty());
        assert_eq!((m.id.as_str(), m.quants.keys().next().unwrap().as_str()), ("m", "Q4_K_M"));
    }

    #[test]
    fn hybrid_models_count_recurrent_layers_and_their_state_like_the_catalog() {
        let mut kv = base(32);
        kv.extend([
            ("full_attention_interval", Value::Uint(4)),
            ("ssm.conv_kernel", Value::Uint(4)),
            ("ssm.inner_size", Value::Uint(4096)),
            ("ssm.state_size", Value::Uint(128)),
            ("ssm.group_count", Value::Uint(16)),
        ]);
        let m = from_header(&header("qwen35", &kv, &[]), "hf:o/n/m.gguf", "o/n", &resolution()).unwrap();
        let r = m.arch.recurrent.unwrap();
        assert_eq!((r.layers, r.state_bytes), (24, 2_195_456), "the catalog's Qwen3.5-4B figures");
        assert_eq!(m.arch.attention[0].layers, 8);
    }

    #[test]
    fn moe_active_parameters_count_the_experts_in_use() {
        let mut kv = base(2);
        kv.extend([
            ("expert_count", Value::Uint(8)),
            ("expert_used_count", Value::Uint(2)),
            ("expert_feed_forward_length", Value::Uint(768)),
        ]);
        let m = from_header(
            &header(
                "qwen3moe",
                &kv,
                &[("blk.0.ffn_up_exps.weight", &[2560, 768, 8]), ("output.weight", &[2560, 1000])],
            ),
            "hf:o/n/m.gguf",
            "o/n",
            &resolution(),
        )
        .unwrap();
        assert_eq!(m.params, 2560 * 768 * 8 + 2_560_000);
        assert_eq!(m.active_params, Some(2560 * 768 * 2 + 2_560_000));
        assert_eq!(m.arch.ff, 768 * 2);
        assert!(!m.arch.tied_embeddings);
        let err = from_header(&header("x", &[], &[]), "hf:o/n/m.gguf", "o/n", &resolution()).unwrap_err();
        assert!(err.message.contains("has no x.block_count"), "{}", err.message);
    }

    #[test]
    fn ids_drop_quant_and_shard_suffixes() {
        assert_eq!(id_from_file("Qwen2.5-7B-Instruct-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"), "qwen2.5-7b-instruct");
        assert_eq!(id_from_file("sub/gemma-3-4b-it.Q8_0.gguf", "Q8_0"), "gemma-3-4b-it");
        assert_eq!(id_from_file("tiny_model F16.gguf", "F16"), "tiny-model-f16");
        assert_eq!(id_from_file("__.gguf", "F16"), "model");
    }
}
