# requires: torch
"""One DPO training step in PyTorch eager on the same tiny Llama shape and batch as dpo_step.rs
(random init, so only the timing is comparable): 8 pairs, 32 prompt + 32 response tokens, 2 layers,
hidden 64, vocab 512, one thread; prints a JSON line per the bench convention."""
import json
import os
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
V, H, I, L, NH, B, P, R = 512, 64, 128, 2, 4, 8, 32, 32
D = H // NH


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(H, H, bias=False) for _ in range(4))
        self.g, self.u = torch.nn.Linear(H, I, bias=False), torch.nn.Linear(H, I, bias=False)
        self.d = torch.nn.Linear(I, H, bias=False)
        self.n1, self.n2 = torch.nn.RMSNorm(H, eps=1e-6), torch.nn.RMSNorm(H, eps=1e-6)

    def forward(self, x, cos, sin):
        h = self.n1(x)
        b, t, _ = h.shape
        q, k, v = (f(h).view(b, t, NH, D).transpose(1, 2) for f in (self.q, self.k, self.v))

        def rope(z):
            z1, z2 = z[..., : D // 2], z[..., D // 2 :]
            return z * cos + torch.cat((-z2, z1), -1) * sin

        a = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, H))
        h = self.n2(x)
        return x + self.d(F.silu(self.g(h)) * self.u(h))


class Llama(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, H)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = torch.nn.RMSNorm(H, eps=1e-6)
        self.head = torch.nn.Linear(H, V, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
        f = torch.outer(torch.arange(P + R).float(), inv)
        emb = torch.cat((f, f), -1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def forward(self, ids):
        x = self.emb(ids)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.head(self.norm(x))


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
