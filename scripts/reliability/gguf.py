"""A minimal GGUF v3 writer for scripts/reliability.sh: a llama-architecture header (the keys clawlocal's plan reads,
a vocabulary) and F32 tensors of zeros, laid out as llama.cpp lays them out (32-byte alignment). Returns the bytes
and the offsets of the fields the mutation probe aims at."""

import struct

T_U32, T_F32, T_STR, T_ARR, T_U64 = 4, 6, 8, 9, 10
ALIGN = 32


def _str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def model(n_layer=2, n_embd=256, vocab=1000, big_tensor_elems=0, split=None):
    """A GGUF file. `split=(i, n)` makes shard i of n (only shard 1 carries the model's metadata, as
    llama.cpp's gguf-split writes them); `big_tensor_elems` adds one F32 tensor of that many elements."""
    kv = bytearray()
    fields = {}
    n_kv = 0

    def put_u32(key, v):
        nonlocal n_kv
        kv.extend(_str(key) + struct.pack("<I", T_U32))
        fields[key] = len(kv)
        kv.extend(struct.pack("<I", v))
        n_kv += 1

    def put_str(key, v):
        nonlocal n_kv
        kv.extend(_str(key) + struct.pack("<I", T_STR))
        fields[key] = len(kv)
        kv.extend(_str(v))
        n_kv += 1

    first = split is None or split[0] == 1
    if first:
        put_str("general.architecture", "llama")
        put_str("general.name", "reliability-probe")
        for key, v in [
            ("general.file_type", 0),
            ("llama.context_length", 32768),
            ("llama.embedding_length", n_embd),
            ("llama.block_count", n_layer),
            ("llama.feed_forward_length", 2 * n_embd),
            ("llama.attention.head_count", 4),
            ("llama.attention.head_count_kv", 2),
            ("llama.vocab_size", vocab),
        ]:
            put_u32(key, v)
        put_str("tokenizer.ggml.model", "llama")
        kv.extend(_str("tokenizer.ggml.tokens") + struct.pack("<I", T_ARR))
        fields["tokenizer.ggml.tokens"] = len(kv)
        kv.extend(struct.pack("<IQ", T_STR, vocab))
        for i in range(vocab):
            kv.extend(_str(f"tok{i}"))
        n_kv += 1
    if split is not None:
        put_u32("split.no", split[0] - 1)
        put_u32("split.count", split[1])
    tensors = [("token_embd.weight", (n_embd, vocab))] if first else []
    if first:
        for layer in range(n_layer):
            tensors.append((f"blk.{layer}.attn_norm.weight", (n_embd,)))
    if big_tensor_elems:
        tensors.append(("big.weight", (big_tensor_elems,)))
    table = bytearray()
    offset = 0
    for name, dims in tensors:
        table.extend(_str(name) + struct.pack("<I", len(dims)))
        table.extend(b"".join(struct.pack("<Q", d) for d in dims))
        table.extend(struct.pack("<IQ", 0, offset))  # type 0 = F32
        size = 4
        for d in dims:
            size *= d
        offset += (size + ALIGN - 1) // ALIGN * ALIGN
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), n_kv)
    fields = {k: len(head) + v for k, v in fields.items()}
    fields["n_tensors"] = 8
    fields["n_kv"] = 16
    header = head + bytes(kv) + bytes(table)
    pad = (-len(header)) % ALIGN
    data_offset = len(header) + pad
    return header + b"\0" * pad + b"\0" * offset, fields, data_offset
