# requires: torch transformers
"""PyTorch-eager reference for benches/sft_step.rs: one SFT step (forward, masked token-mean NLL,
backward, clipping to 1.0, AdamW) of the miniature world's base shape with transformers'
LlamaForCausalLM, two threads, the same [32, 30 + 52] batch. Prints a JSON line per the bench
convention."""
import json
import os
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(2)
torch.manual_seed(0)
V, B, P, R = 116, 32, 30, 52
cfg = LlamaConfig(vocab_size=V, hidden_size=96, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=4, rms_norm_eps=1e-6, max_position_embeddings=128, tie_word_embeddings=True)
model = LlamaForCausalLM(cfg)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
ids = torch.tensor([[(i * 7 + k) % V for k in range(P)] + [(i * 13 + k * 3) % V for k in range(R)] for i in range(B)])
mask = torch.ones_like(ids)
resp = torch.zeros(B, P + R - 1)
resp[:, P - 1:] = 1.0  # labels ids[:, 1:]; response tokens are positions P..


def step():
    opt.zero_grad()
    logits = model(input_ids=ids, attention_mask=mask).logits
    lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    (-(lp * resp).sum() / resp.sum()).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(3):
    step()
n, t0 = 20, time.perf_counter()
for _ in range(n):
    step()
name = "sft/step/world_mini_b32_t82"
if os.environ.get("REPRO_BENCH_FILTER", "") in name:
    secs = (time.perf_counter() - t0) / n
    print(json.dumps({"name": name, "seconds": secs, "tokens_per_s": B * (P + R) / secs}))
