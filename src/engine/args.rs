//! llama-server's arguments from a selection and a profile. Pure: every unit, `serve` and the receipt take their
//! argv from here, so what runs is what was planned.

use serde::{Deserialize, Serialize};

use crate::engine::Features;
use crate::estimate::{CacheType, N_UBATCH};
use crate::profile::{AcceleratorKind, Profile};
use crate::select::Selection;
use crate::size::{GIB, MIB};

/// llama.cpp's default logical batch; the estimate's compute buffers are sized for `N_UBATCH` micro-batches.
pub const N_BATCH: u64 = 2048;
/// Boxes at or below this much memory serve one request at a time.
const SMALL_BOX: u64 = 16 * GIB;

/// The decisions, kept in the receipt so a later run can tell what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerArgs {
    /// `--alias`: the model id OpenClaw asks for.
    pub alias: String,
    /// `--ctx-size`: the selected context, never more than the model's training context (select refuses that).
    pub context: u32,
    /// `--threads`: the profile's cores.
    pub threads: u32,
    /// `--parallel`: 1 on small or CPU-only boxes; on bigger accelerators 4 slots sharing one unified KV pool,
    /// so each request may still use the whole context.
    pub parallel: u32,
    pub cache: CacheType,
    /// `--fit on --fit-target <MiB>` on accelerator profiles: llama.cpp places layers keeping this margin free;
    /// `--ctx-size` is set, so fit never lowers the context (and `--fit-ctx` says so again).
    pub gpu_margin_mib: Option<u64>,
    /// Keep the weights in RAM (CPU profiles where the estimate leaves ≥ 10% of the budget free).
    pub mlock: bool,
    /// `--cache-ram <MiB>`: llama-server keeps earlier conversations' KV state in RAM up to this cap (8192 MiB by
    /// default), which grows the engine past the estimate until the unit's MemoryMax kills it. Sized from what
    /// the RAM budget leaves after the estimate; 0 (no prompt cache) when nothing is left.
    #[serde(default)]
    pub cache_ram_mib: u64,
    /// `--ctx-checkpoints <N>` for a model with sliding-window or recurrent layers: llama-server keeps up to 32
    /// copies of that cache per slot by default, growing past the estimate; the estimate's own count where the model
    /// lives in RAM, `MAX_CHECKPOINTS` with a card. None where the model makes none (or the build cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx_checkpoints: Option<u64>,
    pub features: Features,
}

/// Where things are for one target: the host path, a path inside a container, or a systemd credential.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub model: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub api_key_file: Option<&'a str>,
}

pub fn server_args(profile: &Profile, selection: &Selection, features: Features) -> ServerArgs {
    let accelerator = profile.accelerator.as_ref();
    let gpu_margin_mib = accelerator.map(|acc| match acc.kind {
        AcceleratorKind::Cuda | AcceleratorKind::Vulkan => {
            let vram = acc.memory.map_or(0, |m| m.bytes());
            acc.reserve.map_or_else(|| GIB.max(vram / 10), |r| r.bytes()) / MIB
        }
        AcceleratorKind::Metal => GIB / MIB,
    });
    let checkpointing = features.ctx_checkpoints && selection.estimate.checkpoint_each_bytes > 0;
    let ctx_checkpoints = checkpointing.then(|| {
        if profile.model_in_ram() { selection.estimate.checkpoints } else { crate::estimate::MAX_CHECKPOINTS }
    });
    ServerArgs {
        alias: selection.model_id.clone(),
        context: selection.context,
        threads: profile.cores,
        parallel: slots(profile) as u32,
        cache: selection.kv_cache_type,
        gpu_margin_mib,
        mlock: accelerator.is_none()
            && selection.estimate.before_growth().saturating_mul(10) <= selection.budget_bytes * 9,
        cache_ram_mib: cache_ram_mib(profile, selection),
        ctx_checkpoints,
        features,
    }
}

/// `--parallel`: one slot on small or CPU-only boxes, else 4 (sharing one unified KV pool).
pub fn slots(profile: &Profile) -> u64 {
    if profile.accelerator.is_none() || profile.memory.bytes() <= SMALL_BOX { 1 } else { 4 }
}

/// llama-server's own default for `--cache-ram`; clawlocal never allows more.
pub const DEFAULT_CACHE_RAM_MIB: u64 = crate::estimate::PROMPT_CACHE_CAP_BYTES / MIB;

/// RAM for the prompt cache: on CPU-only and Apple (unified memory) boxes the estimate's own prompt-cache term
/// (what the budget leaves, up to one context's KV: `estimate::with_prompt_cache`), so the engine's growth is
/// counted; with a card of its own (CUDA, Vulkan) the weights and KV live in VRAM, so the RAM the unit may use
/// less the mapped model file, up to one context's KV too. In MiB, capped at llama-server's default.
fn cache_ram_mib(profile: &Profile, selection: &Selection) -> u64 {
    let bytes = if profile.model_in_ram() {
        selection.estimate.prompt_cache_bytes
    } else {
        let checkpoints = selection.estimate.checkpoint_each_bytes * crate::estimate::MAX_CHECKPOINTS * slots(profile);
        crate::render::memory_max(profile)
            .saturating_sub(selection.estimate.weights_bytes + checkpoints)
            .min(selection.estimate.kv_bytes)
    };
    (bytes / MIB).min(DEFAULT_CACHE_RAM_MIB)
}

impl ServerArgs {
    pub fn argv(&self, at: Placement<'_>) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let mut add = |flag: &str, value: Option<String>| {
            v.push(flag.to_string());
            v.extend(value);
        };
        add("--model", Some(at.model.to_string()));
        add("--alias", Some(self.alias.clone()));
        add("--host", Some(at.host.to_string()));
        add("--port", Some(at.port.to_string()));
        add("--ctx-size", Some(self.context.to_string()));
        add("--threads", Some(self.threads.to_string()));
        add("--batch-size", Some(N_BATCH.to_string()));
        add("--ubatch-size", Some(N_UBATCH.to_string()));
        add("--parallel", Some(self.parallel.to_string()));
        if self.parallel > 1 {
            add("--kv-unified", None);
        }
        if self.cache != CacheType::F16 {
            // A quantized V cache needs flash attention.
            add("--cache-type-k", Some(self.cache.as_str().into()));
            add("--cache-type-v", Some(self.cache.as_str().into()));
            add("--flash-attn", Some("on".into()));
        }
        match (self.gpu_margin_mib, self.features.fit) {
            (Some(margin), true) => {
                add("--fit", Some("on".into()));
                add("--fit-target", Some(margin.to_string()));
                add("--fit-ctx", Some(self.context.to_string()));
            }
            (Some(_), false) => add("--n-gpu-layers", Some("999".into())),
            // A CPU profile stays on the CPU even where the box has a GPU.
            (None, _) => add("--n-gpu-layers", Some("0".into())),
        }
        // On the CPU the weights are read into memory, not mapped: the backend repacks Q4_0 / Q4_K / IQ4_NL
        // tensors into a buffer of its own, and with a mapping their original pages stay resident beside the
        // copy (pinned, with mlock) — 2234 → 1644 MiB for Qwen2.5-1.5B Q4_K_M at 16K. The estimate counts one copy.
        // (A build without `--load-mode` keeps its mapping: older than the pinned release.)
        let on_cpu = self.gpu_margin_mib.is_none();
        match (self.features.load_mode, on_cpu, self.mlock) {
            (true, true, true) => add("--load-mode", Some("mlock".into())),
            (true, true, false) => add("--load-mode", Some("none".into())),
            (true, false, true) => add("--load-mode", Some("mmap+mlock".into())),
            (false, _, true) => add("--mlock", None),
            (_, _, false) => {}
        }
        if self.features.cache_ram {
            add("--cache-ram", Some(self.cache_ram_mib.to_string()));
        }
        if let Some(n) = self.ctx_checkpoints {
            add("--ctx-checkpoints", Some(n.to_string()));
        }
        add("--jinja", None);
        add("--metrics", None);
        if self.features.no_webui {
            add("--no-webui", None);
        }
        if let Some(key) = at.api_key_file {
            add("--api-key-file", Some(key.to_string()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::profile;
    use crate::select::{Request, select};

    fn args_for(profile_name: &str, request: Request, features: Features) -> (ServerArgs, Vec<String>) {
        let p = profile::bundled(profile_name).unwrap();
        let s = select(&p, Catalog::bundled(), &request).selection.expect(profile_name);
        let a = server_args(&p, &s, features);
        let at = Placement { model: "/m/model.gguf", host: "127.0.0.1", port: 8765, api_key_file: Some("/k") };
        let argv = a.argv(at);
        (a, argv)
    }

    fn value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
        argv.iter().position(|a| a == flag).and_then(|i| argv.get(i + 1)).map(String::as_str)
    }

    #[test]
    fn every_bundled_profile_gets_loopback_port_alias_context_and_a_key_file() {
        for name in profile::bundled_names() {
            let (a, argv) = args_for(name, Request::default(), Features::PINNED);
            assert_eq!(value(&argv, "--host"), Some("127.0.0.1"), "{name}");
            assert_eq!(value(&argv, "--port"), Some("8765"), "{name}");
            assert_eq!(value(&argv, "--alias"), Some(a.alias.as_str()), "{name}");
            let ctx: u32 = value(&argv, "--ctx-size").unwrap().parse().unwrap();
            assert!(ctx >= 16_000, "{name}: {ctx}");
            assert_eq!(value(&argv, "--api-key-file"), Some("/k"), "{name}");
            assert!(!argv.iter().any(|a| a == "--api-key"), "{name}: never the key itself");
            for flag in ["--jinja", "--metrics", "--no-webui"] {
                assert!(argv.iter().any(|a| a == flag), "{name}: {flag}");
            }
        }
    }

    /// The table: profile → the tuning flags it must get.
    #[test]
    fn tuning_follows_the_profile() {
        type Row = (&'static str, &'static [(&'static str, Option<&'static str>)], &'static [&'static str]);
        let table: &[Row] = &[
            // (profile, flags with their values, flags that must be absent)
            (
                "vps-8gb",
                &[("--threads", Some("4")), ("--parallel", Some("1")), ("--n-gpu-layers", Some("0"))],
                &["--fit", "--kv-unified"],
            ),
            ("vps-4gb", &[("--parallel", Some("1")), ("--n-gpu-layers", Some("0"))], &["--fit"]),
            (
                "gpu-24gb",
                &[
                    ("--threads", Some("12")),
                    ("--fit", Some("on")),
                    ("--fit-target", Some("2457")),
                    ("--parallel", Some("4")),
                    ("--kv-unified", None),
                ],
                &["--n-gpu-layers", "--load-mode", "--mlock"],
            ),
            ("gpu-8gb", &[("--fit-target", Some("1024"))], &["--n-gpu-layers"]),
            ("mac-8gb", &[("--fit-target", Some("1024")), ("--parallel", Some("1"))], &["--kv-unified"]),
            ("mac-32gb", &[("--parallel", Some("4")), ("--kv-unified", None)], &[]),
        ];
        for (name, present, absent) in table {
            let (a, argv) = args_for(name, Request::default(), Features::PINNED);
            for (flag, val) in *present {
                let i = argv.iter().position(|x| x == flag).unwrap_or_else(|| panic!("{name}: no {flag} in {argv:?}"));
                if let Some(val) = val {
                    assert_eq!(argv[i + 1], *val, "{name} {flag}");
                }
            }
            for flag in *absent {
                assert!(!argv.iter().any(|x| x == flag), "{name}: {flag} in {argv:?}");
            }
            assert_eq!(
                value(&argv, "--fit-ctx").map(|c| c.parse::<u32>().unwrap()),
                a.gpu_margin_mib.map(|_| a.context)
            );
        }
    }

    #[test]
    fn mlock_spelling_follows_the_engine_and_quantized_kv_brings_flash_attention() {
        let (a, argv) = args_for("vps-32gb", Request::default(), Features::PINNED);
        assert!(a.mlock, "a 32 GB box has room to lock the weights");
        assert_eq!(value(&argv, "--load-mode"), Some("mlock"), "read into memory and locked: one copy of the weights");
        let unlocked = ServerArgs { mlock: false, ..a };
        let argv = unlocked.argv(Placement { model: "m", host: "h", port: 1, api_key_file: None });
        assert_eq!(value(&argv, "--load-mode"), Some("none"), "read into memory, not mapped, on the CPU");
        let (a, argv) = args_for("gpu-24gb", Request::default(), Features::PINNED);
        assert!(!a.mlock && !argv.iter().any(|x| x == "--load-mode"), "a card keeps llama.cpp's default: {argv:?}");
        let (_, old) = args_for(
            "vps-32gb",
            Request::default(),
            Features { load_mode: false, fit: false, no_webui: false, cache_ram: false, ctx_checkpoints: false },
        );
        assert!(old.iter().any(|x| x == "--mlock") && !old.iter().any(|x| x == "--load-mode"));
        assert!(!old.iter().any(|x| x == "--no-webui"), "only where the build has it");
        let (_, gpu_old) = args_for(
            "gpu-24gb",
            Request::default(),
            Features { load_mode: false, fit: false, no_webui: false, cache_ram: false, ctx_checkpoints: false },
        );
        assert_eq!(value(&gpu_old, "--n-gpu-layers"), Some("999"), "no --fit: offload every layer");

        let mut a = a;
        a.cache = CacheType::Q8_0;
        let argv = a.argv(Placement { model: "m", host: "127.0.0.1", port: 1, api_key_file: None });
        assert_eq!(value(&argv, "--cache-type-k"), Some("q8_0"));
        assert_eq!(value(&argv, "--cache-type-v"), Some("q8_0"));
        assert_eq!(value(&argv, "--flash-attn"), Some("on"));
        assert!(!argv.iter().any(|x| x == "--api-key-file"));
    }

    #[test]
    fn the_asked_context_is_passed_as_is() {
        let req =
            Request { model: Some("qwen2.5-1.5b-instruct".into()), quant: None, context: Some(20_000), measured: None };
        let (a, argv) = args_for("vps-8gb", req, Features::PINNED);
        assert_eq!((a.context, value(&argv, "--ctx-size")), (20_000, Some("20000")));
    }

    #[test]
    fn the_prompt_cache_is_capped_by_what_the_budget_leaves() {
        for name in profile::bundled_names() {
            let p = profile::bundled(name).unwrap();
            let s = select(&p, Catalog::bundled(), &Request::default()).selection.expect(name);
            let (a, argv) = args_for(name, Request::default(), Features::PINNED);
            assert!(a.cache_ram_mib <= DEFAULT_CACHE_RAM_MIB, "{name}");
            if p.accelerator.is_none() {
                // Counted in the estimate: what the budget leaves before it, up to one context's KV cache.
                let before = s.estimate.total_bytes - s.estimate.prompt_cache_bytes;
                let left = (s.budget_bytes - before).min(s.estimate.kv_bytes);
                assert_eq!(a.cache_ram_mib * MIB, s.estimate.prompt_cache_bytes, "{name}");
                assert_eq!(a.cache_ram_mib, left / MIB, "{name}");
                assert!(s.estimate.total_bytes <= s.budget_bytes, "{name}: the cache stays within the budget");
            }
            assert_eq!(value(&argv, "--cache-ram"), Some(a.cache_ram_mib.to_string().as_str()), "{name}");
        }
        // A model that fills the budget leaves no room: no prompt cache at all rather than an OOM kill later.
        let p = profile::bundled("vps-8gb").unwrap();
        let mut s = select(&p, Catalog::bundled(), &Request::default()).selection.unwrap();
        s.estimate = crate::estimate::with_prompt_cache(
            crate::estimate::Estimate { total_bytes: s.budget_bytes + 1, prompt_cache_bytes: 0, ..s.estimate },
            s.budget_bytes,
            1,
        );
        assert_eq!(server_args(&p, &s, Features::PINNED).cache_ram_mib, 0);
        let old = Features { cache_ram: false, ..Features::PINNED };
        let argv = server_args(&p, &s, old).argv(Placement { model: "m", host: "h", port: 1, api_key_file: None });
        assert!(!argv.iter().any(|x| x == "--cache-ram"), "only where the build has it");
    }

    #[test]
    fn a_sliding_window_model_gets_the_checkpoints_its_estimate_counts() {
        let req = Request {
            model: Some("gemma-3-4b-it".into()),
            quant: Some("Q4_K_M".into()),
            context: Some(32_768),
            measured: None,
        };
        let p = profile::bundled("vps-32gb").unwrap();
        let s = select(&p, Catalog::bundled(), &req).selection.unwrap();
        let (a, argv) = args_for("vps-32gb", req.clone(), Features::PINNED);
        assert!(s.estimate.checkpoints > 0, "{:?}", s.estimate);
        assert_eq!(a.ctx_checkpoints, Some(s.estimate.checkpoints));
        assert_eq!(value(&argv, "--ctx-checkpoints"), Some(s.estimate.checkpoints.to_string().as_str()));
        let old = Features { ctx_checkpoints: false, ..Features::PINNED };
        let (_, argv) = args_for("vps-32gb", req, old);
        assert!(!argv.iter().any(|x| x == "--ctx-checkpoints"), "only where the build has it");
        // A model whose cache rolls back makes no checkpoints: no flag.
        let (a, argv) = args_for("vps-8gb", Request::default(), Features::PINNED);
        assert_eq!(a.ctx_checkpoints, None);
        assert!(!argv.iter().any(|x| x == "--ctx-checkpoints"));
    }
}
