#!/usr/bin/python3
"""A small MHA Llama trained on the King James Bible with PyTorch (Debian's python3-torch), so
that KV-cache dtypes and GQA conversions can be measured on a model that predicts something.
Until `gqa train` exists this is the project's one trained checkpoint; docs/kv-cache.md uses it.

  /usr/bin/python3 scripts/train_tiny_torch.py OUT_DIR [--steps 600]

Writes OUT_DIR/{config.json, model.safetensors, tokenizer.model} (the safetensors writer and the
config come from tests/data/make_golden.py) and OUT_DIR/heldout.txt, the last 5% of the verses.
Needs the bible-kjv package (its `bible` program prints the text) and sentencepiece's spm_train.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data"))
import make_golden  # noqa: E402  (config_json, write_safetensors)

CFG = dict(name="kjv-tiny", arch="LlamaForCausalLM", model_type="llama", layers=4, heads=6,
           kv_heads=6, head_dim=32, hidden=192, inter=512, vocab=1024, theta=10000.0,
           dtype="float32", bias=False, qk_norm=False, window=None, rope_scaling=None, tie=True,
           seed=0)


def kjv_lines():
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True,
                         text=True).stdout
    return [re.sub(r"^\S+\s+", "", line) for line in out.splitlines() if line.strip()]


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, H, hd, f, V = c["hidden"], c["heads"], c["head_dim"], c["inter"], c["vocab"]
        self.embed = torch.nn.Embedding(V, d)
        self.layers = torch.nn.ModuleList()
        for _ in range(c["layers"]):
            self.layers.append(torch.nn.ModuleDict(dict(
                q=torch.nn.Linear(d, H * hd, bias=False), k=torch.nn.Linear(d, H * hd, bias=False),
                v=torch.nn.Linear(d, H * hd, bias=False), o=torch.nn.Linear(H * hd, d, bias=False),
                gate=torch.nn.Linear(d, f, bias=False), up=torch.nn.Linear(d, f, bias=False),
                down=torch.nn.Linear(f, d, bias=False))))
        self.norms = torch.nn.Parameter(torch.ones(c["layers"] * 2 + 1, d))
        self.register_buffer("causal", torch.triu(torch.ones(2048, 2048, dtype=torch.bool), 1),
                             persistent=False)
        for p in self.parameters():
            if p.dim() == 2 and p is not self.norms:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        c = self.c
        B, T = ids.shape
        H, hd = c["heads"], c["head_dim"]
        inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()

        def rms(x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

        x = self.embed(ids)
        for i, L in enumerate(self.layers):
            h = rms(x, self.norms[2 * i])
            q = L["q"](h).view(B, T, H, hd).transpose(1, 2)
            k = L["k"](h).view(B, T, H, hd).transpose(1, 2)
            v = L["v"](h).view(B, T, H, hd).transpose(1, 2)
            q = q * cos + make_golden.rotate_half(q) * sin
            k = k * cos + make_golden.rotate_half(k) * sin
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            scores = scores.masked_fill(self.causal[:T, :T], float("-inf"))
            a = torch.softmax(scores, dim=-1) @ v
            x = x + L["o"](a.transpose(1, 2).reshape(B, T, H * hd))
            h = rms(x, self.norms[2 * i + 1])
            x = x + L["down"](F.silu(L["gate"](h)) * L["up"](h))
        return rms(x, self.norms[-1]) @ self.embed.weight.T

    def hf_weights(self):
        w = {"model.embed_tokens.weight": self.embed.weight, "model.norm.weight": self.norms[-1]}
        names = dict(q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj",
                     o="self_attn.o_proj", gate="mlp.gate_proj", up="mlp.up_proj",
                     down="mlp.down_proj")
        for i, L in enumerate(self.layers):
            p = f"model.layers.{i}."
            for short, hf in names.items():
                w[p + hf + ".weight"] = L[short].weight
            w[p + "input_layernorm.weight"] = self.norms[2 * i]
            w[p + "post_attention_layernorm.weight"] = self.norms[2 * i + 1]
        return {k: v.detach().double() for k, v in w.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    os.makedirs(args.out, exist_ok=True)
    lines = kjv_lines()
    cut = int(len(lines) * 0.95)
    train_txt = os.path.join(args.out, "train.txt")
    with open(train_txt, "w") as f:
        f.write("\n".join(lines[:cut]) + "\n")
    with open(os.path.join(args.out, "heldout.txt"), "w") as f:
        f.write("\n".join(lines[cut:]) + "\n")
    subprocess.run(["spm_train", f"--input={train_txt}", f"--model_prefix={args.out}/tokenizer",
                    f"--vocab_size={CFG['vocab']}", "--model_type=bpe", "--character_coverage=1.0",
                    "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1", "--minloglevel=2"],
                   check=True)
    os.remove(f"{args.out}/tokenizer.vocab")
    ids = subprocess.run(["spm_encode", f"--model={args.out}/tokenizer.model",
                          "--output_format=id", train_txt], check=True, capture_output=True,
                         text=True).stdout.split()
    os.remove(train_txt)
    data = torch.tensor([int(i) for i in ids], dtype=torch.long)
    model = Llama(CFG)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, betas=(0.9, 0.95))
    T, B, warm = 128, 16, 50
    start = time.time()
    for step in range(args.steps):
        lr = 3e-3 * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        at = torch.randint(0, len(data) - T - 1, (B,))
        x = torch.stack([data[i:i + T] for i in at])
        y = torch.stack([data[i + 1:i + T + 1] for i in at])
        loss = F.cross_entropy(model(x).view(-1, CFG["vocab"]), y.view(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  {time.time() - start:.0f} s", flush=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        import json
        json.dump(make_golden.config_json(CFG) | {"max_position_embeddings": 2048}, f, indent=2)
    make_golden.write_safetensors(os.path.join(args.out, "model.safetensors"),
                                  model.hf_weights(), "float32")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
