#!/usr/bin/python3
"""Golden logits for the native runtime, from an independent PyTorch Llama.

For each case this writes a small random checkpoint (config.json + model.safetensors, written
here without gqa's code) and `logits.golden`: the logits of every position of a fixed token list,
computed in float64 with causal eager attention and HF's repeat_kv, exactly as transformers'
Llama/Qwen2/Qwen3/Mistral modules compute them. The C++ test prefills part of the tokens,
decodes the rest one at a time, and compares every row.

bf16 cases store bf16 weights; the reference computes in float64 on those rounded weights, so
bf16 and f32 cases share one tolerance.

Golden file: b"GQAGOLD1", uint32 version (1), uint32 n_tokens, uint32 vocab,
int32 tokens[n_tokens], float32 logits[n_tokens][vocab]; little-endian.

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/make_golden.py
"""
import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden")
TOKENS = [1, 17, 42, 3, 88, 5, 61, 29, 7, 90, 13, 54, 2, 77]


def case(name, arch="LlamaForCausalLM", model_type="llama", layers=2, heads=4, kv_heads=4,
         head_dim=16, hidden=48, inter=80, vocab=97, theta=10000.0, dtype="float32", bias=False,
         qk_norm=False, window=None, rope_scaling=None, tie=False, seed=0):
    return dict(name=name, arch=arch, model_type=model_type, layers=layers, heads=heads,
                kv_heads=kv_heads, head_dim=head_dim, hidden=hidden, inter=inter, vocab=vocab,
                theta=theta, dtype=dtype, bias=bias, qk_norm=qk_norm, window=window,
                rope_scaling=rope_scaling, tie=tie, seed=seed)


CASES = [
    case("llama_mha_f32", seed=1),
    case("llama_gqa_f32", heads=8, kv_heads=2, head_dim=8, seed=2),
    case("llama_mqa_f32", heads=6, kv_heads=1, head_dim=10, hidden=40, tie=True, seed=3),
    case("llama_mha_bf16", dtype="bfloat16", seed=4),
    case("llama3_rope_gqa_f32", heads=4, kv_heads=2, theta=500000.0, seed=5,
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8}),
    case("qwen2_bias_gqa_f32", arch="Qwen2ForCausalLM", model_type="qwen2", heads=6, kv_heads=2,
         head_dim=12, hidden=36, bias=True, theta=1e6, seed=6),
    case("qwen3_qknorm_gqa_f32", arch="Qwen3ForCausalLM", model_type="qwen3", heads=4, kv_heads=2,
         head_dim=16, hidden=40, qk_norm=True, theta=1e6, tie=True, seed=7),
    case("qwen3_qknorm_gqa_bf16", arch="Qwen3ForCausalLM", model_type="qwen3", heads=8, kv_heads=4,
         head_dim=8, hidden=32, qk_norm=True, dtype="bfloat16", seed=8),
    case("mistral_window_gqa_f32", arch="MistralForCausalLM", model_type="mistral", heads=4,
         kv_heads=2, window=5, seed=9),
]


def make_weights(c):
    g = torch.Generator().manual_seed(1000 + c["seed"])
    L, H, KV, hd, d, f, V = (c[k] for k in ("layers", "heads", "kv_heads", "head_dim", "hidden",
                                             "inter", "vocab"))

    def randn(*shape, std=0.2):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    def norm(n):
        return 1.0 + randn(n, std=0.1)

    w = {"model.embed_tokens.weight": randn(V, d, std=0.5)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm(d)
        w[p + "self_attn.q_proj.weight"] = randn(H * hd, d)
        w[p + "self_attn.k_proj.weight"] = randn(KV * hd, d)
        w[p + "self_attn.v_proj.weight"] = randn(KV * hd, d)
        w[p + "self_attn.o_proj.weight"] = randn(d, H * hd)
        if c["bias"]:
            w[p + "self_attn.q_proj.bias"] = randn(H * hd)
            w[p + "self_attn.k_proj.bias"] = randn(KV * hd)
            w[p + "self_attn.v_proj.bias"] = randn(KV * hd)
        if c["qk_norm"]:
            w[p + "self_attn.q_norm.weight"] = norm(hd)
            w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "post_attention_layernorm.weight"] = norm(d)
        w[p + "mlp.gate_proj.weight"] = randn(f, d)
        w[p + "mlp.up_proj.weight"] = randn(f, d)
        w[p + "mlp.down_proj.weight"] = randn(d, f)
    w["model.norm.weight"] = norm(d)
    if not c["tie"]:
        w["lm_head.weight"] = randn(V, d, std=0.5)
    # The stored (rounded) weights are what the reference computes with.
    stored = torch.bfloat16 if c["dtype"] == "bfloat16" else torch.float32
    w = {k: v.to(stored).to(torch.float64) for k, v in w.items()}
    return w


def inv_freq(c):
    hd = c["head_dim"]
    f = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    s = c["rope_scaling"]
    if s and s["rope_type"] == "llama3":
        old = s["original_max_position_embeddings"]
        low_wl, high_wl = old / s["low_freq_factor"], old / s["high_freq_factor"]
        wl = 2 * math.pi / f
        scaled = torch.where(wl > low_wl, f / s["factor"], f)
        smooth = (old / wl - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
        smoothed = (1 - smooth) * scaled / s["factor"] + smooth * scaled
        medium = ~(wl < high_wl) & ~(wl > low_wl)
        f = torch.where(medium, smoothed, scaled)
    return f


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def repeat_kv(x, n_rep):  # [kv, T, hd] -> [kv * n_rep, T, hd], as transformers
    kv, T, hd = x.shape
    return x[:, None, :, :].expand(kv, n_rep, T, hd).reshape(kv * n_rep, T, hd)


def forward(c, w, tokens):
    L, H, KV, hd = c["layers"], c["heads"], c["kv_heads"], c["head_dim"]
    T = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    pos = torch.arange(T, dtype=torch.float64)
    freqs = pos[:, None] * inv_freq(c)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    masked = j > i
    if c["window"]:
        masked = masked | (i - j >= c["window"])
    for l in range(L):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = h @ w[p + "self_attn.q_proj.weight"].T
        k = h @ w[p + "self_attn.k_proj.weight"].T
        v = h @ w[p + "self_attn.v_proj.weight"].T
        if c["bias"]:
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
        q = q.view(T, H, hd)
        k = k.view(T, KV, hd)
        v = v.view(T, KV, hd)
        if c["qk_norm"]:
            q = rms(q, w[p + "self_attn.q_norm.weight"])
            k = rms(k, w[p + "self_attn.k_norm.weight"])
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads, T, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        scores = q @ k.transpose(1, 2) / math.sqrt(hd)
        scores = scores.masked_fill(masked, float("-inf"))
        att = torch.softmax(scores, dim=-1) @ v  # [H, T, hd]
        att = att.transpose(0, 1).reshape(T, H * hd)
        x = x + att @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if c["tie"] else w["lm_head.weight"]
    return x @ head.T


def mean_pool(c, w, groups):
    """The GQA paper's conversion, written independently: mean of K/V heads per group."""
    hd, KV = c["head_dim"], c["kv_heads"]
    r = KV // groups
    out = dict(w)
    for name, t in w.items():
        if any(s in name for s in ("k_proj.", "v_proj.")):
            shaped = t.reshape(KV, hd, *t.shape[1:])
            out[name] = shaped.reshape(groups, r, hd, *t.shape[1:]).mean(dim=1).reshape(
                groups * hd, *t.shape[1:])
    c2 = dict(c, kv_heads=groups)
    return c2, out


def config_json(c):
    j = {"architectures": [c["arch"]], "model_type": c["model_type"],
         "hidden_size": c["hidden"], "intermediate_size": c["inter"],
         "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
         "num_key_value_heads": c["kv_heads"], "head_dim": c["head_dim"],
         "vocab_size": c["vocab"], "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
         "rope_theta": c["theta"], "rope_scaling": c["rope_scaling"],
         "tie_word_embeddings": c["tie"], "sliding_window": c["window"],
         "torch_dtype": c["dtype"], "bos_token_id": 1, "eos_token_id": 2}
    if c["model_type"] == "qwen2":
        j["use_sliding_window"] = False
    return j


def write_safetensors(path, w, dtype):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(w):
        t = w[name]
        if dtype == "bfloat16":
            data = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
            st = "BF16"
        else:
            data = t.to(torch.float32).numpy().tobytes()
            st = "F32"
        header[name] = {"dtype": st, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_golden(path, tokens, logits):
    with open(path, "wb") as f:
        f.write(b"GQAGOLD1")
        f.write(struct.pack("<III", 1, len(tokens), logits.shape[1]))
        f.write(struct.pack(f"<{len(tokens)}i", *tokens))
        f.write(logits.to(torch.float32).numpy().tobytes())


def emit(c, w, folder, golden_name="logits.golden", weights=True):
    os.makedirs(folder, exist_ok=True)
    if weights:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config_json(c), f, indent=2)
        write_safetensors(os.path.join(folder, "model.safetensors"), w, c["dtype"])
    write_golden(os.path.join(folder, golden_name), TOKENS, forward(c, w, TOKENS))


def main():
    for c in CASES:
        w = make_weights(c)
        emit(c, w, os.path.join(OUT, c["name"]))
        print("wrote", c["name"])
    # Conversion: the reference on mean-pooled weights, for gqa convert's output to match.
    c = CASES[0]
    c2, w2 = mean_pool(c, make_weights(c), 2)
    emit(c2, w2, os.path.join(OUT, c["name"]), "converted_g2.golden", weights=False)
    print("wrote", c["name"], "converted to 2 KV heads")


if __name__ == "__main__":
    main()
