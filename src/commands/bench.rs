//! `clawlocal bench`: the installed model measured on this box through the engine that runs it. A prompt of
//! `--prompt-tokens` tokens (the model's own tokens, from `/tokenize`) is prefilled and `--generate` tokens are
//! generated with the prompt cache off; llama-server's own `timings` give the rates. The result goes into the
//! receipt (until init changes the model or its arguments), where doctor's `server.speed` reads it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{BenchArgs, GlobalArgs};
use crate::doctor::server::call;
use crate::error::{Error, Exit, Result};
use crate::estimate::{MAX_PREFILL_SECONDS, MIN_GENERATION_TPS, REFERENCE_PROMPT_TOKENS};
use crate::host::Host;
use crate::layout;
use crate::output::Printer;
use crate::receipt::{Bench, Receipt};

/// A 16K-token prompt on a slow CPU takes minutes; OpenClaw's own provider timeout is 600 s.
const TIMEOUT: Duration = Duration::from_secs(1800);

pub fn run(args: &BenchArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let path = layout.receipt_file();
    let mut receipt = Receipt::load(&path)?.ok_or_else(|| {
        Error::usage(format!("nothing to measure: no receipt at {}", path.display()))
            .with_hint("run `clawlocal init` first (with the same --scope)")
    })?;
    let key_path = layout.on_host(&receipt.api_key_file);
    let key = std::fs::read_to_string(&key_path)
        .map_err(|e| Error::io(format!("cannot read the API key {}", key_path.display()), &e))?;
    let key = key.trim();
    let base = format!("http://127.0.0.1:{}", receipt.port);
    let post = |route: &str, body: &Value| -> Result<Value> {
        let url = format!("{base}{route}");
        let reply = call(&url, Some(key), Some(body), TIMEOUT).map_err(|e| {
            Error::failure(format!("the engine does not answer at {url}: {e}")).with_hint(
                "start it (`clawlocal serve`, or the service init installed); `clawlocal doctor` says why not",
            )
        })?;
        if reply.status != 200 {
            return Err(Error::failure(format!("{url} answered {}: {}", reply.status, reply.error_message())));
        }
        Ok(reply.json())
    };
    let generate = args.generate.max(1);
    let room = u64::from(receipt.model.context).saturating_sub(generate + 8);
    let prompt_tokens = args.prompt_tokens.min(room).max(1);
    // The model's own tokens for ordinary text, repeated to length: any vocabulary, no special tokens.
    let sample = "The gateway asks the local model to plan a task, call a tool and summarise what it found. ";
    let ids: Vec<Value> =
        post("/tokenize", &json!({"content": sample}))?["tokens"].as_array().cloned().unwrap_or_default();
    if ids.is_empty() {
        return Err(Error::failure(format!("{base}/tokenize gave no tokens for a plain sentence")));
    }
    let prompt: Vec<Value> = ids.iter().cycle().take(prompt_tokens as usize).cloned().collect();
    printer.note(&format!(
        "prefilling {prompt_tokens} tokens and generating {generate} with {} at {base}",
        receipt.model.id
    ));
    let body = json!({
        "prompt": prompt, "n_predict": generate, "cache_prompt": false, "ignore_eos": true, "temperature": 0,
    });
    let answer = post("/completion", &body)?;
    let t = &answer["timings"];
    let number = |k: &str| t[k].as_f64().filter(|x| x.is_finite() && *x >= 0.0);
    let (Some(prompt_n), Some(prompt_ms), Some(predicted_n), Some(predicted_ms)) =
        (number("prompt_n"), number("prompt_ms"), number("predicted_n"), number("predicted_ms"))
    else {
        return Err(Error::failure(format!("{base}/completion gave no usable `timings`: {t}")));
    };
    let per_second = |n: f64, ms: f64| if ms > 0.0 { n * 1000.0 / ms } else { 0.0 };
    let prefill_tps = per_second(prompt_n, prompt_ms);
    let generation_tps = per_second(predicted_n, predicted_ms);
    let prefill_16k = if prefill_tps > 0.0 { REFERENCE_PROMPT_TOKENS as f64 / prefill_tps } else { f64::INFINITY };
    let bench = Bench {
        model: receipt.model.id.clone(),
        prompt_tokens: prompt_n as u64,
        prefill_seconds: prompt_ms / 1000.0,
        prefill_tokens_per_second: prefill_tps,
        generated_tokens: predicted_n as u64,
        generation_tokens_per_second: generation_tps,
        prefill_16k_seconds: prefill_16k,
        usable: generation_tps >= MIN_GENERATION_TPS && prefill_16k <= MAX_PREFILL_SECONDS,
    };
    receipt.bench = Some(bench.clone());
    receipt.save(&path)?;
    if printer.json {
        printer.document(&serde_json::to_value(&bench).expect("the bench serialises"));
    } else {
        printer.data(&format!(
            "{}: prefill {} tokens in {:.1} s ({:.0} tokens/s; a 16K prompt in ~{:.0} s), generation {:.1} tokens/s",
            bench.model,
            bench.prompt_tokens,
            bench.prefill_seconds,
            bench.prefill_tokens_per_second,
            bench.prefill_16k_seconds,
            bench.generation_tokens_per_second
        ));
    }
    if !bench.usable {
        printer.warn(&format!(
            "below what OpenClaw needs to be usable here (≥ {MIN_GENERATION_TPS} tokens/s, a 16K prompt in ≤ {MAX_PREFILL_SECONDS:.0} s)"
        ));
    }
    Ok(Exit::Success)
}
