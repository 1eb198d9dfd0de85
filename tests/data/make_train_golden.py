#!/usr/bin/python3
"""Golden values for one training step, from an independent PyTorch decoder (make_golden.forward,
float64, every family), like llm.c's test: the loss of a fixed batch, the gradients of several parameters, and
every parameter after one AdamW step (decay on matrices only) with global-norm clipping.

For each case this writes config.json + model.safetensors (f32) and train_step.json:
  {"ids": [[...]], "targets": [[...]], "lr", "betas", "eps", "weight_decay", "clip",
   "loss": float, "grad_norm": float, "grads": {name: [flat]}, "after": {name: [flat]}}

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/make_train_golden.py
"""
import json
import os

import torch

import make_golden as g

CASES = [
    g.case("train_llama_gqa", heads=4, kv_heads=2, head_dim=8, hidden=32, inter=48, vocab=61,
           seed=21),
    g.case("train_qwen2_bias_mqa_tied", arch="Qwen2ForCausalLM", model_type="qwen2", heads=4,
           kv_heads=1, head_dim=8, hidden=32, inter=40, vocab=53, bias=True, theta=1e6, tie=True,
           seed=22),
    # A 9-token window is one forward call past original_max 8: longrope's long factors.
    g.case("train_phi3_longrope_gqa", arch="Phi3ForCausalLM", model_type="phi3", heads=4,
           kv_heads=2, head_dim=16, hidden=32, inter=40, vocab=59, partial=0.5,
           rope_scaling=g.LONGROPE, original_max=8, tie=True, seed=23),
    g.case("train_smollm3_nope_mqa", arch="SmolLM3ForCausalLM", model_type="smollm3", layers=4,
           heads=4, kv_heads=1, head_dim=8, hidden=32, inter=40, vocab=61, theta=5e6, seed=24),
    g.case("train_gemma3_gqa", arch="Gemma3ForCausalLM", model_type="gemma3_text", layers=2,
           heads=4, kv_heads=2, head_dim=8, hidden=32, inter=40, vocab=67, qk_norm=True, theta=1e6,
           window=4, rope_scaling={"rope_type": "linear", "factor": 8.0}, local_theta=10000.0,
           qpas=12, softcap=4.0, tie=True, layer_types=["sliding_attention", "full_attention"],
           seed=25),
]
# The gradients compared, of those each family has.
GRADS = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
         "model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight",
         "model.layers.0.self_attn.qkv_proj.weight", "model.layers.1.mlp.gate_up_proj.weight",
         "model.layers.0.self_attn.q_norm.weight", "model.layers.0.post_feedforward_layernorm.weight",
         "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight",
         "model.norm.weight"]
# eps 1e-4 keeps the first AdamW update (about lr * g / (|g| + eps)) smooth in g, so gradients
# that agree to rounding give updates that agree to rounding too.
LR, BETAS, EPS, WD, CLIP = 1e-2, (0.9, 0.95), 1e-4, 0.1, 0.5


def batch(c, seed):
    gen = torch.Generator().manual_seed(seed)
    window = torch.randint(0, c["vocab"], (3, 10), generator=gen)
    return window[:, :-1], window[:, 1:]


def main():
    for c in CASES:
        w = {k: v.clone().requires_grad_(True) for k, v in g.make_weights(c).items()}
        ids, targets = batch(c, 500 + c["seed"])
        losses = [torch.nn.functional.cross_entropy(g.forward(c, w, row.tolist(), one_call=True),
                                                    tgt)
                  for row, tgt in zip(ids, targets)]
        loss = torch.stack(losses).mean()
        loss.backward()
        names = [n for n in GRADS if n in w]
        names += ["model.layers.0.self_attn.k_proj.bias"] if c["bias"] else []
        grads = {n: w[n].grad.clone() for n in names}
        params = [w[n] for n in sorted(w)]
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=LR, betas=BETAS, eps=EPS)
        opt.step()
        folder = os.path.join(g.OUT, c["name"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(g.config_json(c), f, indent=2)
        start = g.make_weights(c)
        g.write_safetensors(os.path.join(folder, "model.safetensors"), start, "float32")
        out = {"ids": ids.tolist(), "targets": targets.tolist(), "lr": LR, "betas": list(BETAS),
               "eps": EPS, "weight_decay": WD, "clip": CLIP, "loss": loss.item(),
               "grad_norm": norm.item(),
               "grads": {n: t.flatten().tolist() for n, t in grads.items()},
               "after": {n: w[n].detach().flatten().tolist() for n in sorted(w)}}
        with open(os.path.join(folder, "train_step.json"), "w") as f:
            json.dump(out, f)
        print("wrote", c["name"], "loss", loss.item(), "grad norm", norm.item())


if __name__ == "__main__":
    main()
