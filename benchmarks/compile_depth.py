"""Compile time against depth: the blocks run under `lax.scan`, so it should barely grow.

For GPT-2-shaped but small models (embed 64, 4 heads, vocab 101, 32 positions) at each
depth, this times `jax.jit(f).lower(...).compile()` and, separately, the first call of a
fresh `jax.jit(f)` (trace, lower, compile and run), for two programs:

- forward: the logits of one sequence;
- train: `value_and_grad` of the mean next-token cross-entropy over a batch of 2 (`vmap`).

Each measurement is repeated (3 times by default) with a fresh function, so nothing comes
from JAX's caches, and the median is reported. Run:

    .venv/bin/python benchmarks/compile_depth.py --layers 2 48 --out compile_depth.json

Writes JSON `{layers: {forward_compile_s, train_compile_s, forward_first_call_s,
train_first_call_s}}` and prints a table.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

import typedgpt as tg

VOCAB, EMBED, HEADS, SEQ, BATCH = 101, 64, 4, 32, 2


def _config(num_layers: int) -> tg.GPTConfig:
    return tg.GPTConfig.gpt2(
        vocab_size=VOCAB,
        max_seq_len=SEQ,
        num_layers=num_layers,
        num_heads=HEADS,
        embed_dim=EMBED,
        mlp_dim=4 * EMBED,
    )


def _programs(model: tg.GPT) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...]]]:
    """Each program as a fresh (function, arguments) pair; the model travels as its arrays."""
    params, static = eqx.partition(model, eqx.is_array)

    def forward(params: tg.GPT, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        model: tg.GPT = eqx.combine(params, static)
        return model.forward(tokens)

    def loss(params: tg.GPT, tokens: Int[Array, "batch seq"]) -> Float[Array, ""]:
        model: tg.GPT = eqx.combine(params, static)
        logits = jax.vmap(model.forward)(tokens[:, :-1])
        log_probs = jax.nn.log_softmax(logits, axis=-1)
        picked = jnp.take_along_axis(log_probs, tokens[:, 1:, None], axis=-1)
        return -jnp.mean(picked)

    def train(params: tg.GPT, tokens: Int[Array, "batch seq"]) -> tuple[Any, Any]:
        return jax.value_and_grad(loss)(params, tokens)

    rng = np.random.default_rng(0)
    sequence = jnp.asarray(rng.integers(0, VOCAB, size=SEQ, dtype=np.int32))
    batch = jnp.asarray(rng.integers(0, VOCAB, size=(BATCH, SEQ + 1), dtype=np.int32))
    # SEQ + 1 tokens give SEQ inputs and SEQ targets.
    return {"forward": (forward, (params, sequence)), "train": (train, (params, batch))}


def _fresh(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A new function object with the same behaviour, so `jax.jit` cannot reuse a trace."""
    return lambda *args: fn(*args)


def _time_compile(fn: Callable[..., Any], args: tuple[Any, ...]) -> float:
    start = time.perf_counter()
    jax.jit(_fresh(fn)).lower(*args).compile()
    return time.perf_counter() - start


def _time_first_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> float:
    start = time.perf_counter()
    for leaf in jax.tree.leaves(jax.jit(_fresh(fn))(*args)):
        leaf.block_until_ready()
    return time.perf_counter() - start


def measure(num_layers: int, repeats: int) -> dict[str, float]:
    """Median seconds to compile, and to make the first call, for each program."""
    model = tg.GPT(_config(num_layers), key=jax.random.key(0))
    out: dict[str, float] = {}
    for name, (fn, args) in _programs(model).items():
        compiles = [_time_compile(fn, args) for _ in range(repeats)]
        first_calls = [_time_first_call(fn, args) for _ in range(repeats)]
        out[f"{name}_compile_s"] = statistics.median(compiles)
        out[f"{name}_first_call_s"] = statistics.median(first_calls)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print a table, and write the JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--layers", type=int, nargs="+", default=[2, 48], help="depths (default 2 48)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.layers) or args.repeats < 1:
        parser.error("--layers and --repeats must be positive")

    results = {str(n): measure(n, args.repeats) for n in args.layers}

    header = f"{'layers':>6}  {'forward compile':>15}  {'first call':>10}  "
    header += f"{'train compile':>13}  {'first call':>10}"
    print(f"median of {args.repeats}, seconds, jax {jax.__version__} on {jax.default_backend()}")
    print(header)
    for n, r in results.items():
        print(
            f"{n:>6}  {r['forward_compile_s']:>15.3f}  {r['forward_first_call_s']:>10.3f}  "
            f"{r['train_compile_s']:>13.3f}  {r['train_first_call_s']:>10.3f}"
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
