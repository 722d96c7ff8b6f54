# requires: torch
"""One DPO training step in PyTorch eager on the same tiny Llama shape and batch as dpo_step.rs
(random init, so only the timing is comparable): 8 pairs, 32 prompt + 32 response tokens, 2 layers,
hidden 64, vocab 512, one thread; prints a JSON line per the bench convention."""
import json
import os
import time

import torch
import torch.nn.functional as F

from _tiny_llama import B, P, R, V, Llama

torch.set_num_threads(1)
torch.manual_seed(0)
model = Llama()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
ids = torch.tensor([[(i * 7 + k) % V for k in range(P)] + [(i * 13 + k * 3) % V for k in range(R)] for i in range(2 * B)])
mask = torch.zeros(2 * B, P + R)
mask[:, P:] = 1
ref_w, ref_l = torch.full((B,), -180.0), torch.full((B,), -181.0)


def step():
    opt.zero_grad()
    logits = model(ids)[:, :-1]
    lp = torch.gather(logits.log_softmax(-1), 2, ids[:, 1:, None]).squeeze(-1)
    s = (lp * mask[:, 1:]).sum(1)
    loss = -F.logsigmoid(0.1 * ((s[:B] - ref_w) - (s[B:] - ref_l))).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(5):
    step()
n, t0 = 50, time.perf_counter()
for _ in range(n):
    step()
name = "dpo_step/tiny_llama_b8_t64"
if os.environ.get("REPRO_BENCH_FILTER", "") in name:
    print(json.dumps({"name": name, "seconds": (time.perf_counter() - t0) / n}))
