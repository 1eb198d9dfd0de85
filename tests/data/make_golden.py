#!/usr/bin/python3
"""Golden logits for the native runtime, from an independent PyTorch decoder.

For each case this writes a small random checkpoint (config.json + model.safetensors, written
here without gqa's code) and `logits.golden`: the logits of every position of a fixed token list,
computed in float64 with causal eager attention and HF's repeat_kv, exactly as transformers'
Llama/Qwen2/Qwen3/Mistral/Phi3/SmolLM3/Gemma3 modules compute them. The C++ test prefills the
first half of the tokens in one call, decodes the rest one at a time, and compares every row.

Phi-3's longrope picks its table per forward call (the long factors when the call's last
position + 1 exceeds original_max_position_embeddings), and cached keys keep theirs; the
reference follows the test's calls: positions of the prefill use the prefill's table, each
decoded position its own step's.

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
         qk_norm=False, window=None, rope_scaling=None, tie=False, seed=0, partial=1.0,
         original_max=None, no_rope=None, layer_types=None, local_theta=None, qpas=None,
         softcap=None):
    return dict(name=name, arch=arch, model_type=model_type, layers=layers, heads=heads,
                kv_heads=kv_heads, head_dim=head_dim, hidden=hidden, inter=inter, vocab=vocab,
                theta=theta, dtype=dtype, bias=bias, qk_norm=qk_norm, window=window,
                rope_scaling=rope_scaling, tie=tie, seed=seed, partial=partial,
                original_max=original_max, no_rope=no_rope, layer_types=layer_types,
                local_theta=local_theta, qpas=qpas, softcap=softcap)


LONGROPE = {"rope_type": "longrope", "short_factor": [1.0, 1.3, 2.1, 3.5],
            "long_factor": [1.2, 2.4, 5.0, 9.5]}


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
    # Phi-3: fused qkv_proj and gate_up_proj, half the head rotated with longrope (switching to
    # the long factors at the ninth position), tied embeddings.
    case("phi3_longrope_gqa_f32", arch="Phi3ForCausalLM", model_type="phi3", heads=4, kv_heads=2,
         partial=0.5, rope_scaling=LONGROPE, original_max=8, tie=True, seed=10),
    case("phi3_window_mqa_bf16", arch="Phi3ForCausalLM", model_type="phi3", heads=4, kv_heads=1,
         partial=0.75, window=6, dtype="bfloat16", seed=11),
    case("phi3_mha_f32", arch="Phi3ForCausalLM", model_type="phi3", heads=4, kv_heads=4,
         partial=0.75, seed=16),
    # SmolLM3: every fourth layer without RoPE.
    case("smollm3_nope_gqa_f32", arch="SmolLM3ForCausalLM", model_type="smollm3", layers=4,
         heads=4, kv_heads=2, theta=5e6, tie=True, seed=12),
    case("smollm3_nope_mha_bf16", arch="SmolLM3ForCausalLM", model_type="smollm3", layers=3,
         no_rope=[1, 0, 1], dtype="bfloat16", seed=13),
    # Gemma 3: local layers with their own RoPE base and a window, a global one with linear
    # scaling, (1 + w) norms around each sublayer, GeGLU, query_pre_attn_scalar, soft-capping.
    case("gemma3_local_global_gqa_f32", arch="Gemma3ForCausalLM", model_type="gemma3_text",
         layers=3, heads=4, kv_heads=2, qk_norm=True, theta=1e6, window=4,
         rope_scaling={"rope_type": "linear", "factor": 8.0}, local_theta=10000.0, qpas=24,
         softcap=4.0, tie=True,
         layer_types=["sliding_attention", "full_attention", "sliding_attention"], seed=14),
    case("smollm3_nope_mqa_f32", arch="SmolLM3ForCausalLM", model_type="smollm3", layers=4,
         heads=4, kv_heads=1, theta=5e6, seed=17),
    case("gemma3_mha_f32", arch="Gemma3ForCausalLM", model_type="gemma3_text", layers=2,
         heads=4, kv_heads=4, qk_norm=True, theta=1e6, window=3, local_theta=10000.0, qpas=16,
         tie=True, layer_types=["sliding_attention", "full_attention"], seed=18),
    case("gemma3_mqa_bf16", arch="Gemma3ForCausalLM", model_type="gemma3_text", layers=2,
         heads=4, kv_heads=1, qk_norm=True, theta=1e6, window=5, local_theta=10000.0, qpas=16,
         tie=True, layer_types=["sliding_attention", "full_attention"], dtype="bfloat16",
         seed=15),
]
# Checkpoints converted by gqa convert are checked against the reference on weights pooled here:
# (case, KV heads after).
CONVERTED = [("llama_mha_f32", 2), ("phi3_longrope_gqa_f32", 1), ("smollm3_nope_gqa_f32", 1),
             ("gemma3_local_global_gqa_f32", 1)]


def is_gemma(c):
    return c["model_type"] == "gemma3_text"


def is_phi3(c):
    return c["model_type"] == "phi3"


def layer_uses_rope(c, l):
    if c["model_type"] != "smollm3":
        return True
    if c["no_rope"] is not None:
        return bool(c["no_rope"][l])
    return (l + 1) % 4 != 0


def layer_slides(c, l):
    if c["layer_types"] is not None:
        return c["layer_types"][l] == "sliding_attention"
    return c["window"] is not None


def make_weights(c):
    g = torch.Generator().manual_seed(1000 + c["seed"])
    L, H, KV, hd, d, f, V = (c[k] for k in ("layers", "heads", "kv_heads", "head_dim", "hidden",
                                             "inter", "vocab"))

    def randn(*shape, std=0.2):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    gemma = is_gemma(c)

    def norm(n):  # Gemma stores w of its (1 + w) norms
        return randn(n, std=0.1) + (0.0 if gemma else 1.0)

    w = {"model.embed_tokens.weight": randn(V, d, std=0.5)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm(d)
        q, k, v = randn(H * hd, d), randn(KV * hd, d), randn(KV * hd, d)
        if is_phi3(c):
            w[p + "self_attn.qkv_proj.weight"] = torch.cat((q, k, v))
        else:
            w[p + "self_attn.q_proj.weight"] = q
            w[p + "self_attn.k_proj.weight"] = k
            w[p + "self_attn.v_proj.weight"] = v
        w[p + "self_attn.o_proj.weight"] = randn(d, H * hd)
        if c["bias"]:
            w[p + "self_attn.q_proj.bias"] = randn(H * hd)
            w[p + "self_attn.k_proj.bias"] = randn(KV * hd)
            w[p + "self_attn.v_proj.bias"] = randn(KV * hd)
        if c["qk_norm"]:
            w[p + "self_attn.q_norm.weight"] = norm(hd)
            w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "post_attention_layernorm.weight"] = norm(d)
        if gemma:
            w[p + "pre_feedforward_layernorm.weight"] = norm(d)
            w[p + "post_feedforward_layernorm.weight"] = norm(d)
        gate, up = randn(f, d), randn(f, d)
        if is_phi3(c):
            w[p + "mlp.gate_up_proj.weight"] = torch.cat((gate, up))
        else:
            w[p + "mlp.gate_proj.weight"] = gate
            w[p + "mlp.up_proj.weight"] = up
        w[p + "mlp.down_proj.weight"] = randn(d, f)
    w["model.norm.weight"] = norm(d)
    if not c["tie"]:
        w["lm_head.weight"] = randn(V, d, std=0.5)
    # The stored (rounded) weights are what the reference computes with.
    stored = torch.bfloat16 if c["dtype"] == "bfloat16" else torch.float32
    w = {k: v.to(stored).to(torch.float64) for k, v in w.items()}
    return w


def longrope_switch(c):
    return c["original_max"] if c["rope_scaling"] and c["rope_scaling"]["rope_type"] == "longrope" \
        else None


def inv_freq(c, local=False, long=False):
    """The inverse frequencies of one layer kind, and the factor cos and sin are scaled by."""
    dim = int(c["head_dim"] * c["partial"])
    theta = c["local_theta"] if local else c["theta"]
    f = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    s = None if local else c["rope_scaling"]
    if s and s["rope_type"] == "linear":
        f = f / s["factor"]
    if s and s["rope_type"] == "longrope":
        orig = c["original_max"]
        ext = torch.tensor(s["long_factor"] if long else s["short_factor"], dtype=torch.float64)
        factor = 64 / orig  # max_position_embeddings / original_max_position_embeddings
        return f / ext, math.sqrt(1 + math.log(factor) / math.log(orig))
    if s and s["rope_type"] == "llama3":
        old = s["original_max_position_embeddings"]
        low_wl, high_wl = old / s["low_freq_factor"], old / s["high_freq_factor"]
        wl = 2 * math.pi / f
        scaled = torch.where(wl > low_wl, f / s["factor"], f)
        smooth = (old / wl - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
        smoothed = (1 - smooth) * scaled / s["factor"] + smooth * scaled
        medium = ~(wl < high_wl) & ~(wl > low_wl)
        f = torch.where(medium, smoothed, scaled)
    return f, 1.0


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):  # partial rotary: the first cos.shape[-1] values of each head
    rd = cos.shape[-1]
    rot, rest = x[..., :rd], x[..., rd:]
    return torch.cat((rot * cos + rotate_half(rot) * sin, rest), dim=-1)


def repeat_kv(x, n_rep):  # [kv, T, hd] -> [kv * n_rep, T, hd], as transformers
    kv, T, hd = x.shape
    return x[:, None, :, :].expand(kv, n_rep, T, hd).reshape(kv * n_rep, T, hd)


def rotation(c, local, T, one_call):
    """cos, sin [T, rotary_dim] of one layer kind at positions 0..T-1. With longrope, position t
    takes the table of the call that computes it: the test's (see the module docstring), or with
    one_call a single forward over all T positions (a training step)."""
    pos = torch.arange(T, dtype=torch.float64)
    switch = longrope_switch(c)
    rows = []
    for t in range(T):
        call_end = T if one_call else T // 2 if t < T // 2 else t + 1
        f, scale = inv_freq(c, local, long=switch is not None and call_end > switch)
        emb = torch.cat((pos[t] * f, pos[t] * f))
        rows.append((emb.cos() * scale, emb.sin() * scale))
    return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])


def forward(c, w, tokens, one_call=False):
    L, H, KV, hd = c["layers"], c["heads"], c["kv_heads"], c["head_dim"]
    gemma = is_gemma(c)
    T = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    if gemma:  # sqrt(hidden) as a float32 tensor, cast to the weights' dtype
        scale = torch.tensor(c["hidden"] ** 0.5, dtype=torch.float32)
        if c["dtype"] == "bfloat16":
            scale = scale.to(torch.bfloat16)
        x = x * scale.to(torch.float64)

    def norm(t, name):
        return rms(t, (1.0 + w[name]) if gemma else w[name])

    rot = {False: rotation(c, False, T, one_call)}
    if gemma:
        rot[True] = rotation(c, True, T, one_call)
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    causal = j > i
    scaling = (c["qpas"] if c["qpas"] else hd) ** -0.5
    for l in range(L):
        p = f"model.layers.{l}."
        masked = causal | (i - j >= c["window"]) if layer_slides(c, l) else causal
        h = norm(x, p + "input_layernorm.weight")
        if is_phi3(c):
            qkv = h @ w[p + "self_attn.qkv_proj.weight"].T
            q, k, v = qkv.split([H * hd, KV * hd, KV * hd], dim=-1)
        else:
            q = h @ w[p + "self_attn.q_proj.weight"].T
            k = h @ w[p + "self_attn.k_proj.weight"].T
            v = h @ w[p + "self_attn.v_proj.weight"].T
        if c["bias"]:
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
        q = q.reshape(T, H, hd)
        k = k.reshape(T, KV, hd)
        v = v.reshape(T, KV, hd)
        if c["qk_norm"]:
            q = norm(q, p + "self_attn.q_norm.weight")
            k = norm(k, p + "self_attn.k_norm.weight")
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads, T, hd]
        if layer_uses_rope(c, l):
            cos, sin = rot[gemma and layer_slides(c, l)]
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        scores = q @ k.transpose(1, 2) * scaling
        scores = scores.masked_fill(masked, float("-inf"))
        att = torch.softmax(scores, dim=-1) @ v  # [H, T, hd]
        att = att.transpose(0, 1).reshape(T, H * hd)
        o = att @ w[p + "self_attn.o_proj.weight"].T
        if gemma:
            x = x + norm(o, p + "post_attention_layernorm.weight")
            h = norm(x, p + "pre_feedforward_layernorm.weight")
        else:
            x = x + o
            h = norm(x, p + "post_attention_layernorm.weight")
        if is_phi3(c):
            gate, up = (h @ w[p + "mlp.gate_up_proj.weight"].T).chunk(2, dim=-1)
        else:
            gate = h @ w[p + "mlp.gate_proj.weight"].T
            up = h @ w[p + "mlp.up_proj.weight"].T
        if gemma:
            act = torch.nn.functional.gelu(gate, approximate="tanh")
        else:
            act = torch.nn.functional.silu(gate)
        m = (act * up) @ w[p + "mlp.down_proj.weight"].T
        x = x + (norm(m, p + "post_feedforward_layernorm.weight") if gemma else m)
    x = norm(x, "model.norm.weight")
    head = w["model.embed_tokens.weight"] if c["tie"] else w["lm_head.weight"]
    logits = x @ head.T
    if c["softcap"]:
        logits = torch.tanh(logits / c["softcap"]) * c["softcap"]
    return logits


def mean_pool(c, w, groups):
    """The GQA paper's conversion, written independently: mean of K/V heads per group (the K
    and V rows of Phi-3's fused qkv_proj)."""
    hd, H, KV = c["head_dim"], c["heads"], c["kv_heads"]
    r = KV // groups

    def pool(t):
        shaped = t.reshape(KV, hd, *t.shape[1:])
        return shaped.reshape(groups, r, hd, *t.shape[1:]).mean(dim=1).reshape(
            groups * hd, *t.shape[1:])

    out = dict(w)
    for name, t in w.items():
        if "qkv_proj." in name:
            q, k, v = t.split([H * hd, KV * hd, KV * hd])
            out[name] = torch.cat((q, pool(k), pool(v)))
        elif any(s in name for s in ("k_proj.", "v_proj.")):
            out[name] = pool(t)
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
    if c["partial"] != 1.0:
        j["partial_rotary_factor"] = c["partial"]
    if c["original_max"]:
        j["original_max_position_embeddings"] = c["original_max"]
    if c["no_rope"] is not None:
        j["no_rope_layers"] = c["no_rope"]
    if c["layer_types"] is not None:
        j["layer_types"] = c["layer_types"]
    if is_gemma(c):
        j["hidden_activation"] = "gelu_pytorch_tanh"
        j["rope_local_base_freq"] = c["local_theta"]
        j["query_pre_attn_scalar"] = c["qpas"]
        j["final_logit_softcapping"] = c["softcap"]
        j["attn_logit_softcapping"] = None
    else:
        j["hidden_act"] = "silu"
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
    by_name = {c["name"]: c for c in CASES}
    for name, groups in CONVERTED:
        c = by_name[name]
        c2, w2 = mean_pool(c, make_weights(c), groups)
        emit(c2, w2, os.path.join(OUT, name), f"converted_g{groups}.golden", weights=False)
        print("wrote", name, f"converted to {groups} KV heads")


if __name__ == "__main__":
    main()
