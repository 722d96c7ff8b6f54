# requires: torch
"""One PPO step and one GRPO step in PyTorch eager, the same shapes as rl_step.rs (random init,
so only the timing is comparable): 8 rollouts of 32 prompt + 32 response tokens on a tiny Llama
(2 layers, hidden 64, vocab 512), one thread. PPO: the clipped surrogate on the policy and the
clipped value loss on a critic of the same shape (a scalar head), each with AdamW and gradient
clipping; GRPO: the policy's clipped surrogate + k3 KL loss, per-sequence mean (TRL's "grpo"
loss type). Prints a JSON line per the bench convention."""
import json
import os
import time

import torch
import torch.nn.functional as F

from _tiny_llama import B, P, R, V, Llama

torch.set_num_threads(1)
torch.manual_seed(0)
policy, critic = Llama(V), Llama(1)
popt = torch.optim.AdamW(policy.parameters(), lr=1e-4, weight_decay=0.0)
copt = torch.optim.AdamW(critic.parameters(), lr=1e-4, weight_decay=0.0)
ids = torch.tensor([[(i * 7 + k) % V for k in range(P)] + [(i * 13 + k * 3) % V for k in range(R)] for i in range(B)])
old = torch.stack([torch.tensor([-6.0 - 0.01 * k for k in range(R)]) for _ in range(B)])
ref = old - 0.1
v_old = torch.stack([torch.tensor([0.01 * k for k in range(R)]) for _ in range(B)])
adv = torch.tensor([[0.5 if (k + i) % 2 == 0 else -0.5 for k in range(R)] for i in range(B)])
ret = torch.full((B, R), 0.3)
mask = torch.ones(B, R)


def logps():
    logits = policy(ids)[:, P - 1 : -1]
    return torch.gather(logits.log_softmax(-1), 2, ids[:, P:, None]).squeeze(-1)


def surrogate(lp):
    ratio = (lp - old).exp()
    return torch.max(-adv * ratio, -adv * ratio.clamp(0.8, 1.2))


def ppo_step():
    popt.zero_grad()
    loss = (surrogate(logps()) * mask).sum() / mask.sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    popt.step()
    copt.zero_grad()
    v = critic(ids)[:, P - 1 : -1, 0]
    vc = v_old + (v - v_old).clamp(-0.2, 0.2)
    vloss = 0.05 * (torch.max((v - ret) ** 2, (vc - ret) ** 2) * mask).sum() / mask.sum()
    vloss.backward()
    torch.nn.utils.clip_grad_norm_(critic.parameters(), 1.0)
    copt.step()


def grpo_step():
    popt.zero_grad()
    lp = logps()
    per_token = surrogate(lp) + 1e-3 * ((ref - lp).exp() - (ref - lp) - 1)
    loss = ((per_token * mask).sum(1) / mask.sum(1)).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    popt.step()


for name, step in [("rl_step/ppo_tiny_llama_b8_t64", ppo_step), ("rl_step/grpo_tiny_llama_b8_t64", grpo_step)]:
    if os.environ.get("REPRO_BENCH_FILTER", "") not in name:
        continue
    for _ in range(5):
        step()
    n, t0 = 30, time.perf_counter()
    for _ in range(n):
        step()
    print(json.dumps({"name": name, "seconds": (time.perf_counter() - t0) / n}))
