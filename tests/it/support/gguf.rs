//! A tiny but real llama GGUF (v3), written at test time: random weights from a seeded generator, a
//! SentencePiece vocabulary with byte fallback, ChatML control tokens and template. llama-server loads it and
//! chats (word salad). Byte layout and the vocabulary trick follow shared/scripts/gen_tiny_gguf_stdlib.py:
//! every prefix of every word is a token, so SentencePiece merges can reach whole words; embedding dimension 0
//! is a constant bias channel that pushes control/byte tokens' logits down, so output is printable text.

use std::path::Path;

const ALIGN: usize = 32;
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STR: u32 = 8;
const T_ARR: u32 = 9;
const GGML_F32: u32 = 0;
const GGML_F16: u32 = 1;
const TT_NORMAL: i32 = 1;
const TT_UNKNOWN: i32 = 2;
const TT_CONTROL: i32 = 3;
const TT_BYTE: i32 = 6;

const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
const WORDS: &[&str] = &[
    "hello",
    "world",
    "the",
    "a",
    "is",
    "of",
    "and",
    "to",
    "in",
    "you",
    "I",
    "test",
    "model",
    "tiny",
    "llama",
    "server",
    "user",
    "assistant",
    "system",
    "what",
    "how",
    "are",
    "ok",
    "yes",
    "no",
    "say",
    "one",
    "two",
    "three",
    "pong",
    "reply",
    "with",
    "exactly",
];

#[derive(Debug, Clone)]
pub struct TinyModel {
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// `llama.context_length`: llama-server caps `-c` at it.
    pub context_length: u32,
    pub seed: u64,
    pub name: String,
    /// A GPT-2 style byte-level BPE vocabulary (`tokenizer.ggml.model` "gpt2", pre "qwen2") instead of
    /// SentencePiece: what tinygrad's tokenizer reads (it refuses the "default" preset). Its reply is ` hello` and
    /// the end of the turn (see [`CHANNELS`]). For tinygrad only: no merges, which llama.cpp would need.
    pub bpe: bool,
    /// Reply ` hello` and end the turn (see [`CHANNELS`]) instead of word salad up to the token limit: for servers
    /// that are slow to generate. Always so with `bpe`.
    pub says_hello: bool,
    /// Extra vocabulary entries of 1,500 bytes each: a tokenizer that takes far more memory in llama.cpp (the GGUF
    /// metadata and the vocabulary's own copies) than the estimate's bytes per token.
    pub long_tokens: usize,
}

impl Default for TinyModel {
    fn default() -> Self {
        // Rows of 256 so llama-quantize can make real K-quants.
        Self {
            n_embd: 256,
            n_ff: 512,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 2,
            context_length: 32_768,
            seed: 42,
            name: "tiny-random-llama".into(),
            bpe: false,
            says_hello: false,
            long_tokens: 0,
        }
    }
}

struct Buf(Vec<u8>);

impl Buf {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn key(&mut self, key: &str, vtype: u32) {
        self.str(key);
        self.u32(vtype);
    }
}

/// splitmix64 + Box-Muller: deterministic normal samples.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self, sigma: f64) -> f32 {
        let (u1, u2) = (self.unit(), self.unit());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * sigma) as f32
    }
}

/// IEEE 754 binary16 from f32, round to nearest even, with subnormals.
fn f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rem = m & ((1 << shift) - 1);
        let mut v = m >> shift;
        if rem > half || (rem == half && v & 1 == 1) {
            v += 1;
        }
        return sign | v as u16;
    }
    let mut v = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && v & 1 == 1) {
        v += 1;
    }
    sign | v as u16
}

fn vocab() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut toks = Vec::new();
    let mut scores = Vec::new();
    let mut types = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |p: String, sc: f32, t: i32, toks: &mut Vec<String>, scores: &mut Vec<f32>, types: &mut Vec<i32>| {
        if seen.insert(p.clone()) {
            toks.push(p);
            scores.push(sc);
            types.push(t);
            true
        } else {
            false
        }
    };
    for (p, t) in [
        ("<unk>", TT_UNKNOWN),
        ("<s>", TT_CONTROL),
        ("</s>", TT_CONTROL),
        ("<|im_start|>", TT_CONTROL),
        ("<|im_end|>", TT_CONTROL),
    ] {
        add(p.into(), 0.0, t, &mut toks, &mut scores, &mut types);
    }
    for b in 0..256 {
        add(format!("<0x{b:02X}>"), 0.0, TT_BYTE, &mut toks, &mut scores, &mut types);
    }
    let mut pieces: Vec<String> = vec!["\u{2581}".into()];
    pieces.extend(('a'..='z').chain('A'..='Z').chain('0'..='9').map(String::from));
    pieces.extend(".,!?'\":;-()".chars().map(String::from));
    let mut sc = -1000.0f32;
    for p in pieces {
        if add(p, sc, TT_NORMAL, &mut toks, &mut scores, &mut types) {
            sc += 1.0;
        }
    }
    for w in WORDS {
        for full in [format!("\u{2581}{w}"), (*w).to_string()] {
            let chars: Vec<char> = full.chars().collect();
            for n in 2..=chars.len() {
                let p: String = chars[..n].iter().collect();
                if add(p, sc + n as f32 * 100.0, TT_NORMAL, &mut toks, &mut scores, &mut types) {
                    sc += 1.0;
                }
            }
        }
    }
    (toks, scores, types)
}

/// name, ne (row length first), ggml type, data.
type Tensor = (String, Vec<u64>, u32, Vec<u8>);

/// A matrix of `rows` × `cols` normal(0, 0.02) values; `set(r, c)` overrides an entry (the channels below),
/// and the first `untouched` output dimensions get nothing from it (a layer never writes into a channel).
fn mat(
    t: &mut Vec<Tensor>,
    rng: &mut Rng,
    name: &str,
    (rows, cols): (usize, usize),
    set: &dyn Fn(usize, usize) -> Option<f32>,
    untouched: usize,
) {
    let mut vals: Vec<f32> = (0..rows * cols).map(|_| rng.gauss(0.02)).collect();
    for r in 0..rows {
        for c in 0..CHANNELS.min(cols) {
            if let Some(v) = set(r, c) {
                vals[r * cols + c] = v;
            }
        }
    }
    vals[..untouched * cols].iter_mut().for_each(|v| *v = 0.0);
    let data = vals.iter().flat_map(|v| f16_bits(*v).to_le_bytes()).collect();
    t.push((name.to_string(), vec![cols as u64, rows as u64], GGML_F16, data));
}

/// Embedding dimensions with a meaning, carried unchanged through every layer by the residual stream: 0 is the
/// constant bias channel; in a model that says hello 1 marks "the answer was said" (the token ` hello`) and 2 "the answer
/// starts here" (the newline that ends the assistant header), so its greedy reply is ` hello` and then the end
/// of the turn, on any server, without a token limit.
const CHANNELS: usize = 3;
const BIAS: usize = 0;
const SAID: usize = 1;
const STARTS: usize = 2;

/// An RMS-norm weight of ones, F32 as llama.cpp expects.
fn norm(t: &mut Vec<Tensor>, name: &str, n: usize) {
    let data = std::iter::repeat_n(1.0f32, n).flat_map(f32::to_le_bytes).collect();
    t.push((name.to_string(), vec![n as u64], GGML_F32, data));
}

/// GPT-2's byte → printable character table (`bytes_to_unicode`).
fn byte_char(b: u8) -> char {
    let keeps = |b: u8| (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
    if keeps(b) {
        return char::from(b);
    }
    let shifted = (0..=255u8).filter(|x| !keeps(*x)).position(|x| x == b).unwrap();
    char::from_u32(256 + shifted as u32).unwrap()
}

/// The BPE vocabulary: `<|endoftext|>`, ChatML's controls, the 256 byte tokens, every prefix of every word with and
/// without its leading space (`Ġ`).
fn bpe_vocab() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut toks: Vec<String> = vec!["<|endoftext|>".into(), "<|im_start|>".into(), "<|im_end|>".into()];
    let mut types = vec![TT_CONTROL; 3];
    let mut seen: std::collections::HashSet<String> = toks.iter().cloned().collect();
    let mut add = |t: String, toks: &mut Vec<String>, types: &mut Vec<i32>| {
        if seen.insert(t.clone()) {
            toks.push(t);
            types.push(TT_NORMAL);
        }
    };
    for b in 0..=255u8 {
        add(byte_char(b).to_string(), &mut toks, &mut types);
    }
    for w in WORDS {
        for full in [format!("{}{w}", byte_char(b' ')), (*w).to_string()] {
            let chars: Vec<char> = full.chars().collect();
            for n in 2..=chars.len() {
                add(chars[..n].iter().collect(), &mut toks, &mut types);
            }
        }
    }
    let scores = vec![0.0; toks.len()];
    (toks, scores, types)
}

impl TinyModel {
    /// Tokens in its vocabulary (ids for a prompt given as token ids).
    pub fn vocab_size(&self) -> usize {
        if self.bpe { bpe_vocab() } else { vocab() }.0.len()
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut rng = Rng(self.seed);
        let hd = self.n_embd / self.n_head;
        let (mut toks, mut scores, mut types) = if self.bpe { bpe_vocab() } else { vocab() };
        for i in 0..self.long_tokens {
            toks.push(format!("{i:08}{}", "x".repeat(1492)));
            scores.push(0.0);
            types.push(1);
        }
        let nv = toks.len();

        let mut kv = Buf(Vec::new());
        let mut n_kv = 0u64;
        let put_str = |kv: &mut Buf, k: &str, v: &str| {
            kv.key(k, T_STR);
            kv.str(v);
        };
        put_str(&mut kv, "general.architecture", "llama");
        put_str(&mut kv, "general.name", &self.name);
        n_kv += 2;
        let u32s: [(&str, u32); 10] = [
            ("general.file_type", 1),
            ("llama.context_length", self.context_length),
            ("llama.embedding_length", self.n_embd as u32),
            ("llama.block_count", self.n_layer as u32),
            ("llama.feed_forward_length", self.n_ff as u32),
            ("llama.attention.head_count", self.n_head as u32),
            ("llama.attention.head_count_kv", self.n_head_kv as u32),
            ("llama.rope.dimension_count", hd as u32),
            ("llama.vocab_size", nv as u32),
            ("tokenizer.ggml.unknown_token_id", 0),
        ];
        for (k, v) in u32s {
            kv.key(k, T_U32);
            kv.u32(v);
            n_kv += 1;
        }
        for (k, v) in [("llama.rope.freq_base", 10000.0f32), ("llama.attention.layer_norm_rms_epsilon", 1e-5)] {
            kv.key(k, T_F32);
            kv.0.extend_from_slice(&v.to_le_bytes());
            n_kv += 1;
        }
        put_str(&mut kv, "tokenizer.ggml.model", if self.bpe { "gpt2" } else { "llama" });
        put_str(&mut kv, "tokenizer.ggml.pre", if self.bpe { "qwen2" } else { "default" });
        n_kv += 2;
        kv.key("tokenizer.ggml.tokens", T_ARR);
        kv.u32(T_STR);
        kv.u64(nv as u64);
        for t in &toks {
            kv.str(t);
        }
        kv.key("tokenizer.ggml.scores", T_ARR);
        kv.u32(T_F32);
        kv.u64(nv as u64);
        for s in &scores {
            kv.0.extend_from_slice(&s.to_le_bytes());
        }
        kv.key("tokenizer.ggml.token_type", T_ARR);
        kv.u32(T_I32);
        kv.u64(nv as u64);
        for t in &types {
            kv.0.extend_from_slice(&t.to_le_bytes());
        }
        n_kv += 3;
        // `<|im_end|>` ends a turn: id 4 in the SentencePiece vocabulary, 2 in the BPE one.
        let (bos, end) = if self.bpe { (0u32, 2u32) } else { (1, 4) };
        for (k, v) in [
            ("tokenizer.ggml.bos_token_id", bos),
            ("tokenizer.ggml.eos_token_id", end),
            ("tokenizer.ggml.eot_token_id", end),
            ("tokenizer.ggml.padding_token_id", 0),
        ] {
            kv.key(k, T_U32);
            kv.u32(v);
            n_kv += 1;
        }
        for (k, v) in [("tokenizer.ggml.add_bos_token", !self.bpe), ("tokenizer.ggml.add_eos_token", false)] {
            kv.key(k, T_BOOL);
            kv.0.push(u8::from(v));
            n_kv += 1;
        }
        put_str(&mut kv, "tokenizer.chat_template", CHATML);
        n_kv += 1;

        let mut tensors: Vec<Tensor> = Vec::new();
        let t = &mut tensors;
        let (embd, ff, heads, kv_heads) = (self.n_embd, self.n_ff, self.n_head, self.n_head_kv);
        let hello_then_end = self.bpe || self.says_hello;
        let channels = if hello_then_end { CHANNELS } else { 1 };
        // The layers read no channel and write none.
        let blind = |_: usize, c: usize| (c < channels).then_some(0.0);
        let none = |_: usize, _: usize| None;
        let id = |tok: &str| toks.iter().position(|t| t == tok).unwrap();
        let (hello, newline) = match (hello_then_end, self.bpe) {
            (false, _) => (usize::MAX, usize::MAX),
            (true, true) => (id("\u{120}hello"), id("\u{10a}")),
            (true, false) => (id("\u{2581}hello"), id("<0x0A>")),
        };
        let embedding = |r: usize, c: usize| match c {
            BIAS => Some(1.0),
            SAID if hello_then_end => Some(if r == hello { 1.0 } else { 0.0 }),
            STARTS if hello_then_end => Some(if r == newline { 1.0 } else { 0.0 }),
            _ => None,
        };
        mat(t, &mut rng, "token_embd.weight", (nv, embd), &embedding, 0);
        for i in 0..self.n_layer {
            let p = format!("blk.{i}.");
            norm(t, &format!("{p}attn_norm.weight"), embd);
            mat(t, &mut rng, &format!("{p}attn_q.weight"), (heads * hd, embd), &blind, 0);
            mat(t, &mut rng, &format!("{p}attn_k.weight"), (kv_heads * hd, embd), &blind, 0);
            mat(t, &mut rng, &format!("{p}attn_v.weight"), (kv_heads * hd, embd), &blind, 0);
            mat(t, &mut rng, &format!("{p}attn_output.weight"), (embd, heads * hd), &none, channels);
            norm(t, &format!("{p}ffn_norm.weight"), embd);
            mat(t, &mut rng, &format!("{p}ffn_gate.weight"), (ff, embd), &blind, 0);
            mat(t, &mut rng, &format!("{p}ffn_up.weight"), (ff, embd), &blind, 0);
            mat(t, &mut rng, &format!("{p}ffn_down.weight"), (embd, ff), &none, channels);
        }
        norm(t, "output_norm.weight", embd);
        // Control, byte and unknown tokens get a strongly negative logit through the bias channel; in a model that
        // says hello the end of the turn follows ` hello`, and ` hello` follows the assistant header's newline.
        let bias = |r: usize| match types[r] {
            TT_NORMAL => 0.0,
            _ => -4.0,
        };
        let output = |r: usize, c: usize| match c {
            BIAS => Some(bias(r)),
            SAID if hello_then_end => Some(if r == end as usize { 10.0 } else { 0.0 }),
            STARTS if hello_then_end => Some(if r == hello { 10.0 } else { 0.0 }),
            _ => None,
        };
        mat(t, &mut rng, "output.weight", (nv, embd), &output, 0);

        let mut out = Buf(Vec::new());
        out.0.extend_from_slice(b"GGUF");
        out.u32(3);
        out.u64(tensors.len() as u64);
        out.u64(n_kv);
        out.0.extend_from_slice(&kv.0);
        let mut offset = 0u64;
        for (name, ne, t, data) in &tensors {
            out.str(name);
            out.u32(ne.len() as u32);
            for d in ne {
                out.u64(*d);
            }
            out.u32(*t);
            out.u64(offset);
            offset += data.len().div_ceil(ALIGN) as u64 * ALIGN as u64;
        }
        let pad = (ALIGN - out.0.len() % ALIGN) % ALIGN;
        out.0.extend(std::iter::repeat_n(0u8, pad));
        for (_, _, _, data) in &tensors {
            out.0.extend_from_slice(data);
            out.0.extend(std::iter::repeat_n(0u8, (ALIGN - data.len() % ALIGN) % ALIGN));
        }
        out.0
    }

    pub fn write(&self, path: &Path) -> std::io::Result<u64> {
        let bytes = self.bytes();
        std::fs::write(path, &bytes)?;
        Ok(bytes.len() as u64)
    }
}

#[test]
fn f16_conversion_matches_known_values() {
    assert_eq!(f16_bits(1.0), 0x3c00);
    assert_eq!(f16_bits(-4.0), 0xc400);
    assert_eq!(f16_bits(0.0), 0);
    assert_eq!(f16_bits(65504.0), 0x7bff);
    assert_eq!(f16_bits(1e-7), 0x0002, "subnormal, rounded");
    assert_eq!(f16_bits(0.1), 0x2e66);
}

#[test]
fn tiny_model_is_deterministic_and_well_formed() {
    let m = TinyModel::default();
    let a = m.bytes();
    assert_eq!(a, m.bytes(), "same seed, same bytes");
    assert_eq!(&a[..4], b"GGUF");
    assert_eq!(u32::from_le_bytes(a[4..8].try_into().unwrap()), 3);
    assert_eq!(u64::from_le_bytes(a[8..16].try_into().unwrap()), 2 + 2 * 9 + 1, "tensors");
    assert_eq!(a.len() % ALIGN, 0);
    assert!(a.len() > 2_000_000 && a.len() < 4_000_000, "{} bytes", a.len());
}
