//! Measured fit: what the engine really took once it loaded the model, judged against the RAM budget before
//! OpenClaw is pointed at it. The estimate is checked before anything is fetched; this checks the engine itself,
//! and when it is over, names a smaller setup of the same model that fits at the rate this box measured.

use crate::receipt::Buffers;
use crate::select::Smaller;
use crate::size::{MIB, human};

/// What a measured peak is judged against (only where the model lives in RAM: a card's VRAM is not read here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitCheck {
    pub budget_bytes: u64,
    /// The estimate once loaded, before the prompt cache and checkpoints fill.
    pub estimate_at_load_bytes: u64,
    /// What the engine may still grow by: `--cache-ram` and the context checkpoints.
    pub growth_bytes: u64,
    /// Smaller setups of the same model, largest first (`Selection::smaller`).
    pub smaller: Vec<Smaller>,
    /// `--quant` is offered (a catalog model; an `hf:` spec names its file).
    pub quant_flag: bool,
}

/// Why the measured engine does not fit, and what would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overrun {
    /// "took 455 MiB of memory …, above the budget of 240 MiB by 215 MiB"
    pub what: String,
    /// The setup that fits at the measured rate, or what to do when none does.
    pub hint: String,
}

impl FitCheck {
    /// `None` when the peak plus the growth the engine is allowed stays within the budget.
    pub fn judge(&self, peak_bytes: u64) -> Option<Overrun> {
        let need = peak_bytes + self.growth_bytes;
        if need <= self.budget_bytes {
            return None;
        }
        let grown = if self.growth_bytes > 0 {
            format!(" (+ up to {} of prompt cache and checkpoints later: {})", human(self.growth_bytes), human(need))
        } else {
            String::new()
        };
        let what = format!(
            "took {} of memory once loaded{grown}, above the budget of {} by {}",
            human(peak_bytes),
            human(self.budget_bytes),
            human(need - self.budget_bytes)
        );
        // The estimate missed by this factor here; a smaller setup of the same model misses by about as much.
        let rate = peak_bytes as f64 / self.estimate_at_load_bytes.max(MIB) as f64;
        let fitting = self.smaller.iter().find(|s| (s.at_load_bytes as f64 * rate) as u64 <= self.budget_bytes);
        let hint = match fitting {
            Some(s) => {
                let flags = if self.quant_flag {
                    format!("--quant {} --context {}", s.quant, s.context)
                } else {
                    format!("--context {}", s.context)
                };
                format!(
                    "this box measured {rate:.2}× the estimate of {}; at that rate {} at context {} (estimated {}, so \
                     ~{}) fits: `clawlocal init {flags}`; the model stays in the Hugging Face cache",
                    human(self.estimate_at_load_bytes),
                    s.quant,
                    s.context,
                    human(s.at_load_bytes),
                    human((s.at_load_bytes as f64 * rate) as u64)
                )
            }
            None => format!(
                "this box measured {rate:.2}× the estimate of {}; at that rate no smaller quant or context of this model \
                 fits: choose a smaller model (`clawlocal plan` lists what fits); the model stays in the Hugging Face cache",
                human(self.estimate_at_load_bytes)
            ),
        };
        Some(Overrun { what, hint })
    }
}

/// llama.cpp's `… buffer size = N MiB` lines (logged at `--log-verbosity 4`), summed by kind. `None` when the log
/// has none.
pub fn buffers_from_log(log: &str) -> Option<Buffers> {
    let mut b = Buffers::default();
    let mut seen = false;
    for line in log.lines() {
        let Some((before, after)) = line.split_once(" buffer size =") else { continue };
        let Some(mib) = after.trim().strip_suffix("MiB").and_then(|n| n.trim().parse::<f64>().ok()) else {
            continue;
        };
        let bytes = (mib * MIB as f64).round() as u64;
        let words: Vec<&str> = before.split_whitespace().collect();
        let slot = match words.as_slice() {
            [.., name, "model"] if name.contains("REPACK") => &mut b.repack_bytes,
            [.., "model"] => &mut b.model_bytes,
            [.., "KV"] | [.., "RS"] => &mut b.kv_bytes,
            [.., "compute"] | [.., "output"] => &mut b.compute_bytes,
            _ => continue,
        };
        *slot += bytes;
        seen = true;
    }
    seen.then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(smaller: Vec<Smaller>) -> FitCheck {
        FitCheck {
            budget_bytes: 1000 * MIB,
            estimate_at_load_bytes: 800 * MIB,
            growth_bytes: 100 * MIB,
            smaller,
            quant_flag: true,
        }
    }

    fn smaller(quant: &str, context: u32, mib: u64) -> Smaller {
        Smaller { quant: quant.into(), context, at_load_bytes: mib * MIB }
    }

    #[test]
    fn a_peak_within_the_budget_after_growth_passes() {
        assert_eq!(check(Vec::new()).judge(900 * MIB), None);
    }

    #[test]
    fn an_overrun_names_both_figures_and_the_largest_setup_that_fits_at_the_measured_rate() {
        // 1200 MiB measured for an 800 MiB estimate: 1.5×. 700 × 1.5 = 1050 > 1000; 600 × 1.5 = 900 fits.
        let c = check(vec![smaller("Q8_0", 16384, 700), smaller("Q4_K_M", 32768, 600), smaller("Q4_K_M", 16384, 400)]);
        let o = c.judge(1200 * MIB).expect("over the budget");
        assert_eq!(
            o.what,
            "took 1.2 GiB of memory once loaded (+ up to 100 MiB of prompt cache and checkpoints later: 1.3 GiB), \
             above the budget of 1000 MiB by 300 MiB"
        );
        assert!(o.hint.contains("measured 1.50× the estimate of 800 MiB"), "{}", o.hint);
        assert!(o.hint.contains("Q4_K_M at context 32768 (estimated 600 MiB, so ~900 MiB) fits"), "{}", o.hint);
        assert!(o.hint.contains("`clawlocal init --quant Q4_K_M --context 32768`"), "{}", o.hint);
    }

    #[test]
    fn without_a_fitting_setup_the_hint_says_to_choose_a_smaller_model() {
        let o = check(vec![smaller("Q4_K_M", 16384, 750)]).judge(2000 * MIB).expect("over");
        assert!(o.hint.contains("no smaller quant or context of this model fits"), "{}", o.hint);
    }

    #[test]
    fn an_hf_model_is_offered_a_context_only() {
        let c = FitCheck { quant_flag: false, ..check(vec![smaller("Q4_K_M", 16384, 500)]) };
        let o = c.judge(1200 * MIB).expect("over");
        assert!(o.hint.contains("`clawlocal init --context 16384`"), "{}", o.hint);
    }

    #[test]
    fn buffer_lines_are_summed_by_kind() {
        let log = "load_tensors:   CPU_REPACK model buffer size =   597.00 MiB\n\
                   load_tensors:   CPU_Mapped model buffer size =   338.50 MiB\n\
                   llama_kv_cache:        CPU KV buffer size =   448.00 MiB\n\
                   llama_context:        CPU  output buffer size =     0.58 MiB\n\
                   llama_context:        CPU compute buffer size =    80.00 MiB\n\
                   srv  load_model: loading model\n";
        let b = buffers_from_log(log).expect("buffers");
        assert_eq!(b.repack_bytes, 597 * MIB);
        assert_eq!(b.model_bytes, 338 * MIB + MIB / 2);
        assert_eq!(b.kv_bytes, 448 * MIB);
        assert_eq!(b.compute_bytes, 80 * MIB + (0.58 * MIB as f64).round() as u64);
        assert_eq!(buffers_from_log("main: server is listening\n"), None);
    }
}
