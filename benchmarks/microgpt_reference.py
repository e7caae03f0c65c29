"""microgpt's training run, transcribed to PyTorch: the reference for the final-loss parity.

microgpt (a pure-Python GPT with scalar autograd) is not in this repository, and at about 26
tokens/s it would need minutes for its 1000 steps. This module is its recipe written with
torch tensors instead of scalars, step for step:

- `random.seed(seed)`, the names shuffled with `random.shuffle`, step `i` trains on name
  `i % len(names)`, tokens `[BOS] + letters + [BOS]`, at most `block_size` = 16 targets;
- every matrix drawn from `random.gauss(0, 0.08)`: `wte`, `wpe`, `lm_head`, then per layer
  `attn_wq`, `attn_wk`, `attn_wv`, `attn_wo`, `mlp_fc1`, `mlp_fc2`;
- the forward pass: `rmsnorm(wte[token] + wpe[pos])`, then per layer
  `x += attn_wo(attention(rmsnorm(x)))` and `x += mlp_fc2(relu(mlp_fc1(rmsnorm(x))))`, then
  `lm_head(x)`; rmsnorm `x / sqrt(mean(x^2) + 1e-5)` without gain; 4 heads of 4; no biases;
- the loss of a step: the mean over the name's positions of `-log softmax(logits)[target]`;
- Adam as microgpt writes it: `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`, bias
  corrections `1 - b^(step + 1)`, `p -= lr_t m_hat / (sqrt(v_hat) + eps)`, with
  `lr_t = 0.01 (1 - step / steps)`, b1 0.85, b2 0.99, eps 1e-8.

Attention over the whole name with a causal mask computes what microgpt's growing key and
value lists compute one position at a time. The loss must match `tg.train` with the same
recipe within 0.1 nats (`benchmarks/microgpt_parity.py` compares them).
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

N_EMBD, N_HEAD, N_LAYER, BLOCK_SIZE, INIT_STD = 16, 4, 1, 16, 0.08
LEARNING_RATE, BETA1, BETA2, EPS = 0.01, 0.85, 0.99, 1e-8


@dataclass
class ReferenceRun:
    """The per-step losses of a reference run and its mean loss over all the names."""

    losses: list[float]
    loss_on_all_names: float


def train_reference(names: Sequence[str], *, steps: int = 1000, seed: int = 42) -> ReferenceRun:
    """Train microgpt's model on `names` with microgpt's recipe; see the module docstring."""
    import torch

    if not names:
        raise ValueError("no names to train on")
    rng = random.Random(seed)
    docs = list(names)
    rng.shuffle(docs)
    chars = sorted(set("".join(docs)))
    bos, vocab = len(chars), len(chars) + 1
    index = {ch: i for i, ch in enumerate(chars)}

    def matrix(nout: int, nin: int) -> "torch.Tensor":
        values = [[rng.gauss(0, INIT_STD) for _ in range(nin)] for _ in range(nout)]
        return torch.tensor(values, dtype=torch.float32, requires_grad=True)

    params = {"wte": matrix(vocab, N_EMBD), "wpe": matrix(BLOCK_SIZE, N_EMBD)}
    params["lm_head"] = matrix(vocab, N_EMBD)
    for i in range(N_LAYER):
        for name in ("attn_wq", "attn_wk", "attn_wv", "attn_wo"):
            params[f"layer{i}.{name}"] = matrix(N_EMBD, N_EMBD)
        params[f"layer{i}.mlp_fc1"] = matrix(4 * N_EMBD, N_EMBD)
        params[f"layer{i}.mlp_fc2"] = matrix(N_EMBD, 4 * N_EMBD)

    def rmsnorm(x: "torch.Tensor") -> "torch.Tensor":
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5)

    def loss_of(doc: str) -> "torch.Tensor":
        tokens = [bos] + [index[ch] for ch in doc] + [bos]
        n = min(BLOCK_SIZE, len(tokens) - 1)
        inputs, targets = torch.tensor(tokens[:n]), torch.tensor(tokens[1 : n + 1])
        x = rmsnorm(params["wte"][inputs] + params["wpe"][:n])
        head_dim = N_EMBD // N_HEAD
        causal = torch.ones(n, n).tril().bool()
        for i in range(N_LAYER):
            h = rmsnorm(x)
            q, k, v = (
                (h @ params[f"layer{i}.attn_w{w}"].T).view(n, N_HEAD, head_dim).transpose(0, 1)
                for w in "qkv"
            )
            scores = (q @ k.transpose(1, 2)) / math.sqrt(head_dim)
            weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
            heads = (weights @ v).transpose(0, 1).reshape(n, N_EMBD)
            x = x + heads @ params[f"layer{i}.attn_wo"].T
            hidden = torch.relu(rmsnorm(x) @ params[f"layer{i}.mlp_fc1"].T)
            x = x + hidden @ params[f"layer{i}.mlp_fc2"].T
        logits = x @ params["lm_head"].T
        return torch.nn.functional.cross_entropy(logits, targets)

    moments = {name: torch.zeros_like(p) for name, p in params.items()}
    squares = {name: torch.zeros_like(p) for name, p in params.items()}
    losses = []
    for step in range(steps):
        loss = loss_of(docs[step % len(docs)])
        for p in params.values():
            p.grad = None
        loss.backward()  # type: ignore[no-untyped-call]
        lr = LEARNING_RATE * (1 - step / steps)
        with torch.no_grad():
            for name, p in params.items():
                assert p.grad is not None
                moments[name] = BETA1 * moments[name] + (1 - BETA1) * p.grad
                squares[name] = BETA2 * squares[name] + (1 - BETA2) * p.grad**2
                m_hat = moments[name] / (1 - BETA1 ** (step + 1))
                v_hat = squares[name] / (1 - BETA2 ** (step + 1))
                p -= lr * m_hat / (v_hat.sqrt() + EPS)
        losses.append(loss.item())
    with torch.no_grad():
        total = sum(float(loss_of(doc)) * min(BLOCK_SIZE, len(doc) + 1) for doc in docs)
        count = sum(min(BLOCK_SIZE, len(doc) + 1) for doc in docs)
    return ReferenceRun(losses=losses, loss_on_all_names=total / count)
