"""GGUFs with random weights and the exact shapes, hyper-parameters and vocabulary sizes of real models, written
with llama.cpp's own gguf-py (from the pinned llama.cpp tree): what llama-server allocates depends on those, not on
the weights' values. F16 here; llama-quantize makes the quants."""

import numpy as np

# name: (gguf architecture, hidden, layers, heads, kv heads, head dim, FFN, vocab, training context, extras)
SHAPES = {
    # Qwen/Qwen2.5-0.5B-Instruct config.json: tied embeddings, q/k/v biases
    "qwen2.5-0.5b": ("qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, {"bias": True}),
    # Qwen/Qwen2.5-1.5B-Instruct
    "qwen2.5-1.5b": ("qwen2", 1536, 28, 12, 2, 128, 8960, 151936, 32768, {"bias": True}),
    # meta-llama/Llama-3.2-1B-Instruct: tied embeddings
    "llama-3.2-1b": ("llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, {}),
    # google/gemma-3-1b-it: sliding window 512 on 5 of 6 layers, head dim 256, tied
    "gemma-3-1b": ("gemma3", 1152, 26, 4, 1, 256, 6912, 262144, 32768, {"window": 512, "norms": True}),
    # Qwen/Qwen3-0.6B: q/k norms, head dim 128, tied
    "qwen3-0.6b": ("qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, {"qk_norm": True}),
}


def write(gguf, name, path, seed=0):
    arch, hidden, layers, heads, kv, hd, ff, vocab, ctx, extra = SHAPES[name]
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"{name} (random weights, real shape)")
    w.add_file_type(1)  # F16
    w.add_context_length(ctx)
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1e6)
    if "window" in extra:
        w.add_sliding_window(extra["window"])
    # A SentencePiece-style vocabulary of the real size: control tokens, the 256 byte tokens, then filler.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"t{i}" for i in range(vocab - len(tokens))]
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * vocab)
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (vocab - 259))
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def mat(tname, rows, cols):
        w.add_tensor(tname, (rng.random((rows, cols), dtype=np.float32) * 0.04 - 0.02).astype(np.float16))

    def vec(tname, n):
        w.add_tensor(tname, np.ones(n, dtype=np.float32))

    mat("token_embd.weight", vocab, hidden)
    vec("output_norm.weight", hidden)
    for i in range(layers):
        b = f"blk.{i}."
        vec(b + "attn_norm.weight", hidden)
        mat(b + "attn_q.weight", heads * hd, hidden)
        mat(b + "attn_k.weight", kv * hd, hidden)
        mat(b + "attn_v.weight", kv * hd, hidden)
        mat(b + "attn_output.weight", hidden, heads * hd)
        if extra.get("bias"):
            for t, n in (("attn_q", heads * hd), ("attn_k", kv * hd), ("attn_v", kv * hd)):
                w.add_tensor(b + t + ".bias", np.zeros(n, dtype=np.float32))
        if extra.get("qk_norm") or extra.get("norms"):
            vec(b + "attn_q_norm.weight", hd)
            vec(b + "attn_k_norm.weight", hd)
        if extra.get("norms"):
            vec(b + "post_attention_norm.weight", hidden)
            vec(b + "post_ffw_norm.weight", hidden)
        vec(b + "ffn_norm.weight", hidden)
        mat(b + "ffn_gate.weight", ff, hidden)
        mat(b + "ffn_up.weight", ff, hidden)
        mat(b + "ffn_down.weight", hidden, ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
