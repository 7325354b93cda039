//! Memory and speed estimates for one model, quant, context and KV cache type. Pure arithmetic; the
//! formulas are written out in ARCHITECTURE.md ("The estimate") and checked by hand in the tests below.

use schemars::JsonSchema;
use serde::Serialize;

use crate::catalog::{Arch, Model, QuantSpec};
use crate::profile::Device;
use crate::size::MIB;

/// llama.cpp's default micro-batch: compute buffers and sliding-window caches are sized for it.
pub const N_UBATCH: u64 = 512;
/// The prompt the speed estimate prefills: about what OpenClaw's agent sends on a first turn.
pub const REFERENCE_PROMPT_TOKENS: u64 = 16_384;
/// Runtime baseline of a llama-server process on the CPU (binary, threads, HTTP server, slots): its peak RSS less
/// llama.cpp's own buffers, −8 to +10 MiB over the calibration rows (docs/estimate-calibration.md).
pub const RUNTIME_BASE_BYTES: u64 = 16 * MIB;
/// The same on a GPU build: not calibrated yet (no GPU machine), the earlier figure.
pub const GPU_RUNTIME_BASE_BYTES: u64 = 192 * MIB;
/// Tokenizer tables per vocabulary entry (gguf-parser's figure).
pub const TOKENIZER_BYTES_PER_TOKEN: u64 = 96;
/// A CUDA context and cuBLAS workspace on the card.
pub const CUDA_CONTEXT_BYTES: u64 = 512 * MIB;
/// The most prompt cache clawlocal gives llama-server (`--cache-ram`; also its default).
pub const PROMPT_CACHE_CAP_BYTES: u64 = 8192 * MIB;
/// Context checkpoints llama-server keeps per slot for a model whose cache cannot be rolled back (sliding-window
/// or recurrent layers): each a copy of that part of the cache, made as prompts are processed. Its default is 32
/// (≈ 700 MiB on Gemma-3-1B, 5.4 GiB on Gemma-3-4B, at any context). OpenClaw's turns append to the conversation,
/// so the latest checkpoints are the ones reused: clawlocal gives at most this many, fewer where the budget is tight.
pub const MAX_CHECKPOINTS: u64 = 4;
/// Safety margin on weights + KV + compute, in percent.
pub const MARGIN_PERCENT: u64 = 5;
/// An estimated (not Hub-reported) file size is raised by this much, in percent.
pub const ESTIMATED_SIZE_PERCENT: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheType {
    F16,
    Q8_0,
}

impl CacheType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
        }
    }
    /// Bytes of one row of `head_dim` elements (ggml blocks of 32 for q8_0).
    fn row_bytes(self, head_dim: u64) -> u64 {
        match self {
            Self::F16 => head_dim * 2,
            Self::Q8_0 => head_dim.div_ceil(32) * 34,
        }
    }
}

/// The contract's `selection.estimate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Estimate {
    pub total_bytes: u64,
    pub weights_bytes: u64,
    pub kv_bytes: u64,
    /// llama-server's prompt cache (`--cache-ram`): earlier conversations' KV state kept in RAM, at most one
    /// full context's worth and only what the budget leaves (0 until a selection fits it to a budget).
    #[serde(default)]
    pub prompt_cache_bytes: u64,
    /// One context checkpoint (`--ctx-checkpoints`): the sliding-window part of the KV cache plus any recurrent
    /// state; 0 for a model whose cache rolls back (no checkpoints are made).
    pub checkpoint_each_bytes: u64,
    /// Checkpoints per slot the engine is given, and what they take in all slots (0 until a selection fits it to a
    /// budget).
    pub checkpoints: u64,
    pub checkpoint_bytes: u64,
    pub compute_bytes: u64,
    /// Runtime baseline + tokenizer (+ CUDA context) + the safety margin.
    pub overhead_bytes: u64,
    pub margin_bytes: u64,
    /// `hub` when the file size is known, `estimated` when computed from parameters.
    pub weights_source: &'static str,
    pub kv_cache_type: CacheType,
}

/// Weights: the real file size when known; else parameters × bits per weight of the preset, with the
/// vocabulary-sized tensors at their own rates (they dominate small models), raised by 5%.
pub fn weights_bytes(model: &Model, quant: &QuantSpec, known_size: Option<u64>) -> (u64, &'static str) {
    if let Some(size) = known_size {
        return (size, "hub");
    }
    let a = &model.arch;
    let vocab_tensor = u64::from(a.vocab) * u64::from(a.hidden);
    let (embed_bits, vocab_params) = if a.tied_embeddings {
        // One tensor serves as embedding and output; llama-quantize gives it the output type.
        (vocab_tensor as f64 * quant.output_bpw, vocab_tensor)
    } else {
        (vocab_tensor as f64 * (quant.embed_bpw + quant.output_bpw), 2 * vocab_tensor)
    };
    let body = model.params.saturating_sub(vocab_params) as f64 * quant.body_bpw;
    let bytes = ((body + embed_bits) / 8.0).ceil() as u64;
    (bytes + bytes * ESTIMATED_SIZE_PERCENT / 100, "estimated")
}

/// KV cache bytes per token of context for one group: K and V rows for each KV head of each layer.
fn group_bytes_per_cell(layers: u32, kv_heads: u32, head_dim: u32, cache: CacheType) -> u64 {
    u64::from(layers) * 2 * u64::from(kv_heads) * cache.row_bytes(u64::from(head_dim))
}

/// KV cache at `context` tokens: global layers hold every token; sliding-window layers hold the window plus
/// one micro-batch; recurrent layers hold a fixed state.
pub fn kv_bytes(arch: &Arch, context: u64, cache: CacheType) -> u64 {
    let attention: u64 = arch
        .attention
        .iter()
        .map(|g| {
            let cells = g.window.map_or(context, |w| context.min(u64::from(w) + N_UBATCH));
            group_bytes_per_cell(g.layers, g.kv_heads, g.head_dim, cache) * cells
        })
        .sum();
    attention + arch.recurrent.map_or(0, |r| u64::from(r.layers) * r.state_bytes)
}

/// One context checkpoint: what llama-server copies of the cache that cannot be rolled back
/// (`LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY`): the sliding-window layers' cells and the recurrent state.
pub fn checkpoint_each_bytes(arch: &Arch, context: u64, cache: CacheType) -> u64 {
    let windowed: u64 = arch
        .attention
        .iter()
        .filter_map(|g| {
            let w = g.window?;
            Some(group_bytes_per_cell(g.layers, g.kv_heads, g.head_dim, cache) * context.min(u64::from(w) + N_UBATCH))
        })
        .sum();
    windowed + arch.recurrent.map_or(0, |r| u64::from(r.layers) * r.state_bytes)
}

/// Compute buffers. On the CPU, as the pinned build reserves them (ggml-alloc's measure of the worst-case graph:
/// its `CPU compute buffer size` and `CPU output buffer size` lines, matched to the 0.01 MiB over real shapes by
/// scripts/bench-estimate.sh): one micro-batch's f32 FFN activations (3·ff: gate, up, their product) and hidden
/// states (4·hidden), the f16 KQ mask over the context (2 bytes per cell per micro-batch token), and the logits of
/// one output row (f32 × vocab). On a GPU (not calibrated yet): the widest f32 activation of one micro-batch (the
/// logits, vocab-wide, or the FFN) plus the hidden-state buffers.
pub fn compute_bytes(arch: &Arch, context: u64, on_gpu: bool) -> u64 {
    let (ff, hidden, vocab) = (u64::from(arch.ff), u64::from(arch.hidden), u64::from(arch.vocab));
    if !on_gpu {
        return 4 * N_UBATCH * (3 * ff + 4 * hidden) + 2 * N_UBATCH * context + 4 * vocab;
    }
    4 * N_UBATCH * (vocab.max(3 * ff) + 4 * hidden)
}

pub fn estimate(
    model: &Model,
    quant: &QuantSpec,
    known_size: Option<u64>,
    context: u64,
    cache: CacheType,
    device: Device,
) -> Estimate {
    let (weights, source) = weights_bytes(model, quant, known_size);
    let kv = kv_bytes(&model.arch, context, cache);
    // On the CPU the engine reads the weights into memory (`--load-mode none|mlock`, engine::args): the tensors
    // the backend repacks (Q4_0, Q4_K, IQ4_NL, MXFP4 on x86-64) move into its `CPU_REPACK` buffer instead of
    // staying mapped beside it, so the weights count once, at the file's size.
    let compute = compute_bytes(&model.arch, context, device.offloaded);
    let runtime = (if device.offloaded { GPU_RUNTIME_BASE_BYTES } else { RUNTIME_BASE_BYTES })
        + u64::from(model.arch.vocab) * TOKENIZER_BYTES_PER_TOKEN
        + if device.cuda { CUDA_CONTEXT_BYTES } else { 0 };
    let margin = (weights + kv + compute).div_ceil(100 / MARGIN_PERCENT);
    let overhead = runtime + margin;
    Estimate {
        total_bytes: weights + kv + compute + overhead,
        weights_bytes: weights,
        kv_bytes: kv,
        prompt_cache_bytes: 0,
        checkpoint_each_bytes: checkpoint_each_bytes(&model.arch, context, cache),
        checkpoints: 0,
        checkpoint_bytes: 0,
        compute_bytes: compute,
        overhead_bytes: overhead,
        margin_bytes: margin,
        weights_source: source,
        kv_cache_type: cache,
    }
}

impl Estimate {
    /// The engine's memory once it has loaded, before conversations fill its prompt cache and checkpoints.
    pub fn before_growth(&self) -> u64 {
        self.total_bytes - self.prompt_cache_bytes - self.checkpoint_bytes
    }
}

/// The estimate of a candidate that fits `budget`, with the growth the engine is allowed, both in whole units of
/// what the budget leaves: first context checkpoints (up to `MAX_CHECKPOINTS` per slot, for each of `slots`), then
/// the prompt cache, up to one context's KV cache (the conversation OpenClaw switched away from), in whole MiB. The
/// engine's `--ctx-checkpoints` and `--cache-ram` are exactly these, so the peak after many conversations stays
/// within the total.
pub fn with_prompt_cache(mut e: Estimate, budget: u64, slots: u64) -> Estimate {
    let per_checkpoint = e.checkpoint_each_bytes * slots.max(1);
    if let Some(n) = budget.saturating_sub(e.total_bytes).checked_div(per_checkpoint) {
        e.checkpoints = n.min(MAX_CHECKPOINTS);
        e.checkpoint_bytes = e.checkpoints * per_checkpoint;
        e.total_bytes += e.checkpoint_bytes;
    }
    let cache = budget.saturating_sub(e.total_bytes).min(e.kv_bytes).min(PROMPT_CACHE_CAP_BYTES) / MIB * MIB;
    e.prompt_cache_bytes = cache;
    e.total_bytes += cache;
    e
}

/// Rough throughput on a device, for choosing and for showing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct Speed {
    /// Tokens per second while generating with a 16K-token context: bandwidth / bytes read per token.
    pub generation_tps: f64,
    /// Seconds to process a 16K-token prompt: matmul FLOPs + attention FLOPs / device compute.
    pub prefill_seconds: f64,
    pub prompt_tokens: u64,
}

/// Below these, the box cannot really serve OpenClaw: slower than reading speed, or a first turn that runs
/// past the provider timeout OpenClaw uses for local llama.cpp (600 s).
pub const MIN_GENERATION_TPS: f64 = 5.0;
pub const MAX_PREFILL_SECONDS: f64 = 600.0;

impl Speed {
    pub fn usable(&self) -> bool {
        self.generation_tps >= MIN_GENERATION_TPS && self.prefill_seconds <= MAX_PREFILL_SECONDS
    }
}

pub fn speed(model: &Model, weights_bytes: u64, cache: CacheType, device: Device) -> Speed {
    let n = REFERENCE_PROMPT_TOKENS;
    let active_fraction = model.active_params() as f64 / model.params as f64;
    let bytes_per_token = weights_bytes as f64 * active_fraction + kv_bytes(&model.arch, n, cache) as f64;
    let generation_tps = device.bandwidth_gbps * 1e9 / bytes_per_token;
    // 2 FLOPs per active parameter per token, plus QK^T and AV: 4·heads·head_dim per (query, key) pair;
    // a causal prompt has n²/2 pairs per global layer and about window·n per sliding layer.
    let n_f = n as f64;
    let matmul = 2.0 * model.active_params() as f64 * n_f;
    let attention: f64 = model
        .arch
        .attention
        .iter()
        .map(|g| {
            let pairs = g.window.map_or(n_f * n_f / 2.0, |w| {
                let w = f64::from(w).min(n_f);
                w * n_f - w * w / 2.0
            });
            4.0 * f64::from(g.layers) * f64::from(model.arch.heads) * f64::from(g.head_dim) * pairs
        })
        .sum();
    Speed { generation_tps, prefill_seconds: (matmul + attention) / (device.compute_gflops * 1e9), prompt_tokens: n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, quant_spec};

    const GIB_TEST: u64 = 1 << 30;
    const CPU: Device = Device { bandwidth_gbps: 10.0, compute_gflops: 100.0, cuda: false, offloaded: false };
    const CARD: Device = Device { bandwidth_gbps: 900.0, compute_gflops: 70_000.0, cuda: true, offloaded: true };

    /// Qwen2.5-1.5B-Instruct Q4_K_M, by hand from the research notes: 28 layers, 2 KV heads of 128,
    /// vocab 151936, hidden 1536, FFN 8960, official file 1,117,320,736 bytes.
    #[test]
    fn qwen25_15b_q4km_matches_a_hand_calculation() {
        let model = Catalog::bundled().get("qwen2.5-1.5b-instruct").unwrap();
        let quant = quant_spec("Q4_K_M").unwrap();
        let size = model.files_for("Q4_K_M").unwrap().size;
        assert_eq!(size, Some(1_117_320_736));

        let kv_per_token = 28 * 2 * 2 * 128 * 2; // layers · (K,V) · kv_heads · head_dim · f16 bytes
        assert_eq!(kv_per_token, 28_672);
        let runtime = 16 * 1024 * 1024 + 151_936 * 96;
        for (context, kv) in [(16_384u64, 469_762_048u64), (32_768, 939_524_096)] {
            assert_eq!(kv_per_token * context, kv);
            // f32 · ubatch · (3 FFN rows + 4 hidden rows) + f16 mask · ubatch · context + f32 logits of one row
            let compute = 4 * 512 * (3 * 8960 + 4 * 1536) + 2 * 512 * context + 4 * 151_936;
            let margin = (1_117_320_736 + kv + compute).div_ceil(20);
            let e = estimate(model, quant, size, context, CacheType::F16, CPU);
            assert_eq!(e.weights_bytes, 1_117_320_736);
            assert_eq!(e.weights_source, "hub");
            assert_eq!(e.kv_bytes, kv, "KV at {context}");
            assert_eq!(e.compute_bytes, compute);
            assert_eq!(e.margin_bytes, margin);
            assert_eq!(e.overhead_bytes, runtime + margin);
            assert_eq!(e.total_bytes, 1_117_320_736 + kv + compute + runtime + margin);
        }
        // 16K: 1,117,320,736 + 469,762,048 + 85,018,112 + 31,363,072 + 83,605,045
        assert_eq!(estimate(model, quant, size, 16_384, CacheType::F16, CPU).total_bytes, 1_787_069_013);
        // On a card: the GPU compute term and runtime (not calibrated yet), a CUDA context.
        let e = estimate(model, quant, size, 16_384, CacheType::F16, CARD);
        assert_eq!(e.compute_bytes, 4 * 512 * (151_936 + 4 * 1536));
        assert_eq!(e.overhead_bytes - e.margin_bytes, GPU_RUNTIME_BASE_BYTES + 151_936 * 96 + CUDA_CONTEXT_BYTES);
    }

    /// The CPU compute term against the `CPU compute buffer size` + `CPU output buffer size` the pinned
    /// llama-server logged for real shapes (FFN width, hidden, vocabulary, context, MiB) in
    /// docs/estimate-calibration.json (scripts/bench-estimate.sh). Within 2% each.
    #[test]
    fn cpu_compute_buffer_matches_what_the_pinned_build_logged() {
        for (name, ff, hidden, vocab, context, logged_mib) in [
            ("qwen2.5-0.5b", 4864u32, 896u32, 151_936u32, 16_384u64, 51.51 + 0.58),
            ("qwen2.5-0.5b", 4864, 896, 151_936, 32_768, 67.51 + 0.58),
            ("qwen2.5-1.5b", 8960, 1536, 151_936, 16_384, 80.51 + 0.58),
            ("qwen2.5-1.5b", 8960, 1536, 151_936, 32_768, 96.51 + 0.58),
            ("llama-3.2-1b", 8192, 2048, 128_256, 16_384, 80.01 + 0.49),
            ("llama-3.2-1b", 8192, 2048, 128_256, 32_768, 96.01 + 0.49),
            ("gemma-3-1b", 6912, 1152, 262_144, 16_384, 66.27 + 1.0),
            ("gemma-3-1b", 6912, 1152, 262_144, 32_768, 82.27 + 1.0),
            ("qwen3-0.6b", 3072, 1024, 151_936, 16_384, 42.01 + 0.58),
            ("qwen3-0.6b", 3072, 1024, 151_936, 32_768, 58.01 + 0.58),
        ] {
            let mut arch = Catalog::bundled().get("qwen2.5-1.5b-instruct").unwrap().arch.clone();
            (arch.ff, arch.hidden, arch.vocab) = (ff, hidden, vocab);
            let mib = compute_bytes(&arch, context, false) as f64 / MIB as f64;
            let ratio = mib / logged_mib;
            assert!((0.98..=1.02).contains(&ratio), "{name} at {context}: {mib:.2} MiB vs {logged_mib:.2} logged");
        }
    }

    /// The prompt cache takes what the budget leaves, at most one context's KV, in whole MiB; none when the
    /// estimate fills the budget.
    #[test]
    fn the_prompt_cache_is_what_the_budget_leaves_up_to_one_context() {
        let model = Catalog::bundled().get("qwen2.5-1.5b-instruct").unwrap();
        let quant = quant_spec("Q4_K_M").unwrap();
        let e = estimate(model, quant, None, 16_384, CacheType::F16, CPU);
        let roomy = with_prompt_cache(e.clone(), e.total_bytes + 10 * e.kv_bytes, 1);
        assert_eq!(roomy.prompt_cache_bytes, e.kv_bytes / MIB * MIB);
        assert_eq!(roomy.total_bytes, e.total_bytes + roomy.prompt_cache_bytes);
        let tight = with_prompt_cache(e.clone(), e.total_bytes + 100 * MIB + 5, 1);
        assert_eq!(tight.prompt_cache_bytes, 100 * MIB);
        assert_eq!(with_prompt_cache(e.clone(), e.total_bytes - 1, 1).prompt_cache_bytes, 0);
    }

    #[test]
    fn q8_cache_is_17_of_32_of_f16() {
        let arch = &Catalog::bundled().get("qwen2.5-1.5b-instruct").unwrap().arch;
        assert_eq!(kv_bytes(arch, 16_384, CacheType::Q8_0), 28 * 2 * 2 * (4 * 34) * 16_384);
    }

    #[test]
    fn sliding_window_layers_hold_window_plus_ubatch() {
        // Gemma 3 4B: 29 sliding layers (window 1024) + 5 global, 4 KV heads of 256.
        let arch = &Catalog::bundled().get("gemma-3-4b-it").unwrap().arch;
        let per_cell = 2 * 4 * 256 * 2;
        let expected = 29 * per_cell * (1024 + 512) + 5 * per_cell * 32_768;
        assert_eq!(kv_bytes(arch, 32_768, CacheType::F16), expected);
        // Below the window, a sliding layer holds only the context.
        assert_eq!(kv_bytes(arch, 1000, CacheType::F16), 34 * per_cell * 1000);
    }

    #[test]
    fn hybrid_models_count_only_full_attention_layers_plus_fixed_state() {
        // Qwen3.5-9B: 8 full-attention layers of 4 KV heads × 256, and 24 linear layers with fixed state.
        let arch = &Catalog::bundled().get("qwen3.5-9b").unwrap().arch;
        assert_eq!(kv_bytes(arch, 65_536, CacheType::F16), 8 * 2 * 4 * 256 * 2 * 65_536 + 24 * 2_195_456);
    }

    #[test]
    fn estimated_sizes_are_close_to_known_files() {
        // Where the Hub size is known, the parameter-based estimate (before its +5%) lands within 10%.
        let c = Catalog::bundled();
        for (id, quant) in [
            ("qwen3-8b", "Q4_K_M"),
            ("llama-3.1-8b-instruct", "Q4_K_M"),
            ("qwen3-4b", "Q4_K_M"),
            ("qwen3-32b", "Q5_K_M"),
        ] {
            let m = c.get(id).unwrap();
            let known = m.files_for(quant).unwrap().size.unwrap() as f64;
            let (est, source) = weights_bytes(m, quant_spec(quant).unwrap(), None);
            assert_eq!(source, "estimated");
            let ratio = est as f64 / 1.05 / known;
            assert!((0.9..1.1).contains(&ratio), "{id} {quant}: estimate/known = {ratio:.3}");
        }
    }

    #[test]
    fn speed_follows_bandwidth_and_compute() {
        let m = Catalog::bundled().get("qwen2.5-1.5b-instruct").unwrap();
        let s = speed(m, 1_000_000_000, CacheType::F16, CPU);
        let bytes = 1e9 + 469_762_048.0;
        assert!((s.generation_tps - 10e9 / bytes).abs() < 1e-9);
        let flops = 2.0 * 1_543_714_304.0 * 16_384.0 + 4.0 * 28.0 * 12.0 * 128.0 * 16_384.0 * 16_384.0 / 2.0;
        assert!((s.prefill_seconds - flops / 100e9).abs() < 1e-6);
        assert!(!s.usable(), "{s:?}: 10 GB/s and 100 GFLOPS is too slow for a 16K prompt");
    }

    /// Gemma-3-4B: 29 sliding-window layers of 4 KV heads × 256, window 1024: a checkpoint holds 1024 + 512 cells
    /// of them, whatever the context; a model without such layers makes none.
    #[test]
    fn checkpoints_hold_the_sliding_window_cells_and_fit_in_what_the_budget_leaves() {
        let catalog = Catalog::bundled();
        let gemma = catalog.get("gemma-3-4b-it").unwrap();
        let each = 29 * 2 * 4 * 256 * 2 * (1024 + 512);
        assert_eq!(checkpoint_each_bytes(&gemma.arch, 32_768, CacheType::F16), each);
        assert_eq!(checkpoint_each_bytes(&gemma.arch, 1_000, CacheType::F16), 29 * 2 * 4 * 256 * 2 * 1_000);
        let qwen = catalog.get("qwen2.5-1.5b-instruct").unwrap();
        assert_eq!(checkpoint_each_bytes(&qwen.arch, 32_768, CacheType::F16), 0);

        let e = estimate(gemma, quant_spec("Q4_K_M").unwrap(), None, 32_768, CacheType::F16, CPU);
        let roomy = with_prompt_cache(e.clone(), e.total_bytes + 100 * GIB_TEST, 1);
        assert_eq!((roomy.checkpoints, roomy.checkpoint_bytes), (MAX_CHECKPOINTS, MAX_CHECKPOINTS * each));
        assert_eq!(roomy.before_growth(), e.total_bytes);
        // Room for two and a half: two checkpoints, the half left to the prompt cache.
        let tight = with_prompt_cache(e.clone(), e.total_bytes + each * 5 / 2, 1);
        assert_eq!(tight.checkpoints, 2);
        assert_eq!(tight.prompt_cache_bytes, (each / 2) / MIB * MIB);
        assert!(tight.total_bytes <= e.total_bytes + each * 5 / 2);
        // Four slots share the budget: each slot gets its own checkpoints.
        let slots = with_prompt_cache(e.clone(), e.total_bytes + each * 5 / 2, 4);
        assert_eq!((slots.checkpoints, slots.checkpoint_bytes), (0, 0));
    }
}
