"""The tiny Llama of the PyTorch-eager step benchmarks (dpo_step.py, rl_step.py), the same shape
as the Rust benches' model: vocab 512, hidden 64, MLP 128, 2 layers, 4 heads, RMSNorm, rotary
positions over 32 prompt + 32 response tokens, SDPA attention. Not a benchmark itself (the runner
skips files starting with "_")."""
import torch
import torch.nn.functional as F

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
    """The tiny Llama; `out` = V for a language model, 1 for a scalar head (critic)."""

    def __init__(self, out=V):
        super().__init__()
        self.emb = torch.nn.Embedding(V, H)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = torch.nn.RMSNorm(H, eps=1e-6)
        self.head = torch.nn.Linear(H, out, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
        f = torch.outer(torch.arange(P + R).float(), inv)
        emb = torch.cat((f, f), -1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def forward(self, ids):
        x = self.emb(ids)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.head(self.norm(x))
