"""GPT-2 speed: typedgpt against Hugging Face transformers (PyTorch), side by side.

Both run the same random GPT-2 weights (124M shapes by default: 12 layers, embed 768, 12
heads, vocab 50257, 1024 positions), float32, on the CPU, in one process, taking turns:

- forward: the logits of a batch of 8 sequences of 256 tokens (`jax.vmap(model)` against
  `GPT2LMHeadModel(ids).logits` under `torch.inference_mode`);
- decode: greedy generation for one prompt of 16 tokens, 128 new tokens (`tg.generate` with
  `temperature=0` against `generate(do_sample=False)`), prefill included, in new tokens/s;
- train: one AdamW step on 8 x 256 tokens with gradient clipping at 1.0 (the step `tg.train`
  runs, from `make_train_step`, against `loss.backward()`, `clip_grad_norm_` and
  `torch.optim.AdamW.step()`); neither has dropout.

Each measure is repeated `--repeats` times (3 by default) after one warm-up call that also
compiles, alternating the two libraries, and the median reported; the ratio is typedgpt's
speed over transformers'. It also times eager calls of each typed layer with checks on and
off (`tg.set_checks`): the difference is the cost of the call-time shape check.

Run from the repository root (about five minutes on 2 CPU cores at 124M shapes):

    .venv/bin/python benchmarks/gpt2_speed.py

Writes `benchmarks/results/gpt2_speed.json`. The targets (issue 4): decode at least 1.5x
transformers' tokens/s, forward and training step at least 1.2x.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import typedgpt as tg
from typedgpt._train import make_train_step

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpt2_speed.json"
TARGETS = {"forward": 1.2, "decode": 1.5, "train": 1.2}


def timed(call: Callable[[], Any]) -> float:
    """Seconds taken by `call()`, which must return only when its work is done."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def alternate(
    calls: dict[str, Callable[[], Any]], repeats: int, log: Callable[[str], None]
) -> dict[str, list[float]]:
    """Warm each call up once, then time them in turn, `repeats` rounds."""
    for name, call in calls.items():
        log(f"  warm-up {name}: {timed(call):.2f} s")
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(timed(call))
            log(f"  {name}: {times[name][-1]:.3f} s")
    return times


def hf_config(args: argparse.Namespace) -> Any:
    """The transformers config: GPT-2 with the chosen sizes and no dropout."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=args.vocab,
        n_positions=args.positions,
        n_embd=args.embed,
        n_layer=args.layers,
        n_head=args.heads,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )


def typed_twin(hf_model: Any, args: argparse.Namespace) -> tg.GPT:
    """The typedgpt GPT holding `hf_model`'s weights."""
    config = tg.GPTConfig.gpt2(
        vocab_size=args.vocab,
        max_seq_len=args.positions,
        num_layers=args.layers,
        num_heads=args.heads,
        embed_dim=args.embed,
        mlp_dim=4 * args.embed,
    )
    wanted = set(tg.GPT(config, key=jax.random.key(0)).state_dict())
    tensors = {}
    for name, tensor in hf_model.state_dict().items():
        short = name.removeprefix("transformer.")
        if short in wanted:
            tensors[short] = tensor.detach().numpy()
    return tg.GPT.from_state_dict(config, tensors)


def check_overhead(repeats: int = 200) -> dict[str, float]:
    """Microseconds an eager call of each typed layer spends in its shape check."""
    key = jax.random.key(0)
    config = tg.GPTConfig.gpt2(
        vocab_size=101, max_seq_len=32, num_layers=2, num_heads=4, embed_dim=64, mlp_dim=256
    )
    x_seq = jax.random.normal(key, (16, 64))
    layers: dict[str, tuple[Any, Any]] = {
        "Linear": (tg.Linear(64, 64, key=key), x_seq[0]),
        "LayerNorm": (tg.LayerNorm(64), x_seq[0]),
        "RMSNorm": (tg.RMSNorm(64), x_seq[0]),
        "MLP": (tg.MLP(64, 256, key=key), x_seq),
        "CausalSelfAttention": (tg.CausalSelfAttention(64, 4, key=key), x_seq),
        "Block": (tg.Block(config, key=key), x_seq),
    }
    overhead = {}
    for name, (layer, x) in layers.items():
        samples: dict[bool, list[float]] = {True: [], False: []}
        try:
            for _ in range(repeats):  # on and off in turn, so drifts in load hit both alike
                for checks in (True, False):
                    tg.set_checks(checks)
                    begin = time.perf_counter()
                    jax.block_until_ready(layer(x))  # type: ignore[no-untyped-call]
                    samples[checks].append(time.perf_counter() - begin)
        finally:
            tg.set_checks(True)
        on, off = statistics.median(samples[True]), statistics.median(samples[False])
        overhead[name] = (on - off) * 1e6
    return overhead


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch
    import transformers

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "jax_backend": jax.default_backend(),
        "jax_version": jax.__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers_version": transformers.__version__,
        "python": platform.python_version(),
        # glibc's malloc settings change both libraries' training steps (see Performance).
        "malloc_environment": {
            name: value
            for name, value in sorted(os.environ.items())
            if name.startswith("MALLOC_") or name == "GLIBC_TUNABLES"
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write the JSON, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON to write")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--embed", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--positions", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8, help="sequences for forward and train")
    parser.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    parser.add_argument("--prompt", type=int, default=16, help="prompt tokens for decode")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens decoded")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--check-repeats", type=int, default=200, help="eager calls per layer, checks on and off"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument(
        "--only",
        choices=list(TARGETS),
        action="append",
        help="run only this measure (repeatable); the default runs all three and the checks",
    )
    args = parser.parse_args(argv)
    only = set(args.only or TARGETS)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.seq + 1 > args.positions or args.prompt + args.new_tokens > args.positions:
        parser.error("--seq + 1 and --prompt + --new-tokens must fit in --positions")

    import torch
    from transformers import GPT2LMHeadModel

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    started = time.perf_counter()
    info = machine()
    torch.manual_seed(0)
    hf_model = GPT2LMHeadModel(hf_config(args)).eval()  # type: ignore[no-untyped-call]
    model = typed_twin(hf_model, args)
    num_parameters = sum(p.numel() for p in hf_model.parameters())
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, args.vocab, size=(args.batch, args.seq + 1), dtype=np.int32)
    prompt = rng.integers(0, args.vocab, size=args.prompt, dtype=np.int32)
    results: dict[str, Any] = {}

    def per_second(times: dict[str, list[float]], work: float) -> dict[str, Any]:
        return {
            name: {
                "seconds": statistics.median(samples),
                "per_second": work / statistics.median(samples),
                "all_seconds": samples,
            }
            for name, samples in times.items()
        }

    if "forward" in only:
        log(f"forward, {args.batch} x {args.seq} tokens:")
        inputs_jax = jnp.asarray(tokens[:, :-1])
        inputs_torch = torch.from_numpy(tokens[:, :-1].astype(np.int64))
        batched = jax.vmap(model)

        def torch_forward() -> None:
            with torch.inference_mode():
                hf_model(inputs_torch).logits.sum().item()

        times = alternate(
            {
                "typedgpt": lambda: jax.block_until_ready(batched(inputs_jax)),  # type: ignore[no-untyped-call]
                "transformers": torch_forward,
            },
            args.repeats,
            log,
        )
        with torch.inference_mode():
            expected = hf_model(inputs_torch[:1]).logits[0].numpy()
        results["forward"] = {
            "tokens": args.batch * args.seq,
            "max_abs_logit_difference": float(
                np.abs(np.asarray(model(inputs_jax[0])) - expected).max()
            ),
        }

        results["forward"].update(per_second(times, args.batch * args.seq))

    if "decode" in only:
        log(f"decode, greedy, prompt {args.prompt}, {args.new_tokens} new tokens:")
        generated: dict[str, list[int]] = {}

        def typed_decode() -> None:
            generated["typedgpt"] = tg.generate(
                model,
                prompt.tolist(),
                max_new_tokens=args.new_tokens,
                temperature=0.0,
                key=jax.random.key(0),
            )

        prompt_torch = torch.from_numpy(prompt.astype(np.int64))[None]

        def torch_decode() -> None:
            with torch.inference_mode():
                out = hf_model.generate(
                    prompt_torch,
                    attention_mask=torch.ones_like(prompt_torch),
                    max_new_tokens=args.new_tokens,
                    min_new_tokens=args.new_tokens,
                    do_sample=False,
                    pad_token_id=0,
                )
            generated["transformers"] = out[0, args.prompt :].tolist()

        times = alternate(
            {"typedgpt": typed_decode, "transformers": torch_decode}, args.repeats, log
        )
        same = 0
        for ours, theirs in zip(generated["typedgpt"], generated["transformers"], strict=True):
            if ours != theirs:
                break
            same += 1
        results["decode"] = {"new_tokens": args.new_tokens, "same_leading_tokens": same}
        results["decode"].update(per_second(times, args.new_tokens))

    if "train" in only:
        log(f"training step, AdamW, {args.batch} x {args.seq} tokens:")
        train_config = tg.TrainConfig(learning_rate=1e-4, grad_clip=1.0, weight_decay=0.0)
        optimizer = train_config.optimizer()
        leaves, treedef = jax.tree.flatten(model)
        state = [leaves, optimizer.init(leaves)]
        step = jax.jit(make_train_step(treedef, optimizer), donate_argnums=0)
        batch = (
            jnp.asarray(tokens[:, :-1]),
            jnp.asarray(tokens[:, 1:]),
            jnp.ones((args.batch, args.seq), jnp.float32),
        )

        losses: dict[str, list[float]] = {"typedgpt": [], "transformers": []}

        def typed_train() -> None:
            new_state, loss = step(tuple(state), batch)
            state[:] = list(new_state)
            losses["typedgpt"].append(float(loss))

        torch_optimizer = torch.optim.AdamW(hf_model.parameters(), lr=1e-4, weight_decay=0.0)
        full = torch.from_numpy(tokens[:, :].astype(np.int64))
        hf_model.train()

        def torch_train() -> None:
            loss = hf_model(full, labels=full).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(hf_model.parameters(), 1.0)
            torch_optimizer.step()
            torch_optimizer.zero_grad(set_to_none=True)
            losses["transformers"].append(loss.item())

        times = alternate({"typedgpt": typed_train, "transformers": torch_train}, args.repeats, log)
        # Same weights and batch: the first step's losses must agree (then the updates
        # differ in rounding).
        results["train"] = {
            "tokens": args.batch * args.seq,
            "first_loss": {name: values[0] for name, values in losses.items()},
        }
        results["train"].update(per_second(times, args.batch * args.seq))

    for name, target in TARGETS.items():
        if name not in results:
            continue
        ratio = (
            results[name]["typedgpt"]["per_second"] / results[name]["transformers"]["per_second"]
        )
        results[name].update(ratio=ratio, target_ratio=target, met=ratio >= target)

    overhead = {}
    if args.only is None:
        log("eager check overhead per layer call:")
        overhead = check_overhead(args.check_repeats)
    report = {
        "benchmark": "gpt2_speed",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "shapes": {
            "layers": args.layers,
            "embed": args.embed,
            "heads": args.heads,
            "vocab": args.vocab,
            "positions": args.positions,
            "parameters": num_parameters,
            "batch": args.batch,
            "seq": args.seq,
            "prompt": args.prompt,
            "new_tokens": args.new_tokens,
        },
        "dtype": "float32",
        "repeats": args.repeats,
        "timing": "median of the repeats after one warm-up call; the libraries take turns",
        **results,
        "check_overhead_us": overhead,
        "machine": info,
        "wall_s": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    units = {"forward": "tokens/s", "decode": "new tokens/s", "train": "tokens/s"}
    print(f"{'work':8s} {'typedgpt':>14s} {'transformers':>14s} {'ratio':>7s} {'target':>7s}")
    for name in [name for name in TARGETS if name in results]:
        row = results[name]
        print(
            f"{name:8s} {row['typedgpt']['per_second']:14,.1f} "
            f"{row['transformers']['per_second']:14,.1f} {row['ratio']:7.2f} "
            f"{row['target_ratio']:7.1f}  {units[name]}{'' if row['met'] else '  (missed)'}"
        )
    if overhead:
        print(
            "check overhead per eager call (us): "
            + ", ".join(f"{name} {value:.0f}" for name, value in overhead.items())
        )
    print(f"wrote {args.out} in {report['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
