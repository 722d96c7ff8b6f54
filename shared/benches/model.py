# requires: torch transformers
"""PyTorch-eager reference for benches/model.rs: the same tiny Llama shape (vocab 512, hidden 64,
2 layers, 4 heads, one thread) built with transformers' LlamaForCausalLM, timing
forward+backward of response log-probs (8 x 64 tokens) and greedy generation of 32 new tokens for
4 prompts of 16, with and without the KV cache. Prints JSON lines {"name", "seconds", ...}."""
import json
import os
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(1)
torch.manual_seed(0)
B, T, GB, GP, GN = 8, 64, 4, 16, 32
cfg = LlamaConfig(
    vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=4, rms_norm_eps=1e-6, max_position_embeddings=128, tie_word_embeddings=False,
)
model = LlamaForCausalLM(cfg)
model.generation_config.eos_token_id = None
FILTER = os.environ.get("REPRO_BENCH_FILTER", "")


def timeit(fn, min_time=2.0, warmup=2):
    for _ in range(warmup):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def report(name, seconds, tokens):
    if FILTER in name:
        print(json.dumps({"name": name, "seconds": seconds, "tokens_per_s": tokens / seconds}), flush=True)


ids = torch.stack([torch.cat([(i * 7 + torch.arange(32)) % 512, (i * 13 + 3 * torch.arange(32)) % 512]) for i in range(B)])
mask = torch.ones_like(ids)
resp = torch.zeros(B, T - 1)
resp[:, 31:] = 1.0  # labels ids[:, 1:]; response tokens are positions 32..63


def fwd_bwd():
    model.zero_grad(set_to_none=False)
    logits = model(input_ids=ids, attention_mask=mask).logits
    lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    ((lp * resp).sum(1) / resp.sum(1)).sum().backward()


model.train(False)
report("model/forward_backward/b8_t64", timeit(fwd_bwd), B * T)

prompts = torch.stack([(i * 5 + 11 * torch.arange(GP)) % 512 for i in range(GB)])
pmask = torch.ones_like(prompts)
for cache, name in ((True, "model/generate_kv_cache/b4_p16_n32"), (False, "model/generate_no_cache/b4_p16_n32")):
    def gen():
        with torch.no_grad():
            out = model.generate(input_ids=prompts, attention_mask=pmask, do_sample=False, max_new_tokens=GN,
                                 min_new_tokens=GN, use_cache=cache, pad_token_id=0)
        assert out.shape[1] == GP + GN
    report(name, timeit(gen), GB * GN)
