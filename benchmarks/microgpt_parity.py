"""microgpt's recipe on microgpt's data, trained by `tg.train`: loss, samples and tokens/s.

The recipe is microgpt's own: `GPTConfig.microgpt` (1 layer, embed 16, 4 heads, 16
positions), a `CharTokenizer` of the names, `"lines"` mode (BOS before and after each name),
one name per step (`batch_size=1`, `seq_len=16`) and microgpt's Adam: learning rate 0.01
decayed linearly to 0, betas 0.85 and 0.99, eps 1e-8, no weight decay, no clipping, no warmup.
One difference remains: microgpt walks through the shuffled names in order, `tg.train`
draws a name at random (with replacement) at each step.

It reports:

- the loss of every step of the batch-1 run, a trailing moving average of it, and the final
  loss, the mean of the last 50 steps;
- names sampled from that model at temperature 0.5 with `tg.generate` (prompt `[BOS]`,
  stopping at BOS), and how many of them are not in the training names;
- training throughput at batch 1 and, after a sweep over batch sizes, at the fastest one,
  against microgpt's pure-Python 26 tokens/s (about 4 steps/s of one name each, measured at
  23 to 26 tokens/s). Tokens are the real target positions of a step (those the mask keeps:
  a name of n letters has n + 1, at most 16); `positions_per_s` counts `batch * seq`
  instead. The expected real positions per row is the mean over the names, as `tg.train`
  draws names uniformly.

Timing: `tg.train`'s whole loop (drawing the batches on the host, the jit-compiled call of
`--steps-per-call` steps, reading the losses back, logging), from the end of its first call
(step `--steps-per-call`; that call compiles) to the end of its last-but-one call (the last
call also writes the final checkpoint). Each measure is repeated (`--repeats`, 3 by
default), each time in a fresh `tg.train` call, and the median reported. On a shared, noisy
machine only ratios from one run mean much.

microgpt itself is not run here (its code is not in this repository). Its loss comes from
`benchmarks/microgpt_reference.py`, microgpt's recipe transcribed to PyTorch and trained
`--repeats` times for `--steps` steps; `loss_parity` in the JSON compares its final loss and
its loss on all the names with typedgpt's batch-1 runs, within 0.1 nats.

Run from the repository root (a few minutes on 2 CPU cores):

    .venv/bin/python benchmarks/microgpt_parity.py

Writes `benchmarks/results/microgpt_parity.json` and a loss-curve PNG beside it.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import typedgpt as tg
from typedgpt._train_config import MAX_SEED
from typedgpt._train_step import batch_loss

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.microgpt_reference import ReferenceRun, train_reference

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "names.txt"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "microgpt_parity.json"
MICROGPT_TOKENS_PER_S = 26.0
"""microgpt in pure Python: about 4 steps/s of one name each (measured at 23 to 26)."""
GOAL_SPEEDUP = 10_000.0
FINAL_WINDOW = 50
SEQ_LEN = 16
STEPS_PER_CALL = 50
"""Steps per compiled call of `tg.train` (`TrainConfig.steps_per_call`)."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest temperature `tg.generate` takes: it samples in float32."""
PARITY_TOLERANCE = 0.1
"""The largest gap, in nats, between typedgpt's and the reference's losses that is parity."""


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The trailing mean of `values`: item `i` is the mean of items `max(0, i-window+1)..i`."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    sums = np.cumsum(np.asarray(values, dtype=np.float64))
    out = []
    for i in range(len(values)):
        start = i - window
        total = sums[i] - (sums[start] if start >= 0 else 0.0)
        out.append(float(total / min(i + 1, window)))
    return out


def final_loss(losses: Sequence[float], window: int = FINAL_WINDOW) -> float:
    """The mean of the last `window` losses (all of them when there are fewer)."""
    if not losses:
        raise ValueError("no losses: train for at least one step")
    return float(np.mean(losses[-window:]))


def microgpt_train_config(
    *, steps: int, batch_size: int, seed: int, steps_per_call: int = STEPS_PER_CALL
) -> tg.TrainConfig:
    """microgpt's Adam and schedule, one checkpoint at the end and no evaluation."""
    return tg.TrainConfig(
        steps_per_call=steps_per_call,
        steps=steps,
        batch_size=batch_size,
        seq_len=SEQ_LEN,
        learning_rate=0.01,
        beta1=0.85,
        beta2=0.99,
        eps=1e-8,
        weight_decay=0.0,
        warmup_steps=0,
        decay="linear",
        final_lr_fraction=0.0,
        grad_clip=None,
        checkpoint_every=steps,
        seed=seed,
    )


def names_of(dataset: tg.TextDataset, tokenizer: tg.Tokenizer) -> list[str]:
    """The dataset's documents as text, BOS removed."""
    return [
        tokenizer.decode([int(i) for i in doc if i != tokenizer.bos_id])
        for doc in dataset.documents
    ]


def loss_on_all_names(model: tg.GPT, dataset: tg.TextDataset) -> float:
    """The mean loss per target position over every name, each cut to `SEQ_LEN` targets."""
    count = len(dataset.documents)
    rows = np.full((count, SEQ_LEN + 1), dataset.tokenizer.bos_id, dtype=np.int32)
    mask = np.zeros((count, SEQ_LEN), dtype=np.float32)
    for row, doc in enumerate(dataset.documents):
        kept = doc[: SEQ_LEN + 1]
        rows[row, : kept.size] = kept
        mask[row, : kept.size - 1] = 1.0
    loss = batch_loss(model, jnp.asarray(rows[:, :-1]), jnp.asarray(rows[:, 1:]), jnp.asarray(mask))
    return float(loss)


def loss_parity(
    dataset: tg.TextDataset, runs: Sequence["Run"], references: Sequence[ReferenceRun]
) -> dict[str, Any]:
    """typedgpt's batch-1 runs against the reference runs: mean final loss and loss on all
    names of each side, and whether they agree within `PARITY_TOLERANCE`."""
    ours = [run.final_loss for run in runs]
    theirs = [final_loss(reference.losses) for reference in references]
    ours_all = [loss_on_all_names(run.model, dataset) for run in runs]
    theirs_all = [reference.loss_on_all_names for reference in references]
    report: dict[str, Any] = {
        "final_loss_window": FINAL_WINDOW,
        "typedgpt_final_losses": ours,
        "microgpt_final_losses": theirs,
        "typedgpt_final_loss": float(np.mean(ours)),
        "microgpt_final_loss": float(np.mean(theirs)),
        "typedgpt_losses_on_all_names": ours_all,
        "microgpt_losses_on_all_names": theirs_all,
        "typedgpt_loss_on_all_names": float(np.mean(ours_all)),
        "microgpt_loss_on_all_names": float(np.mean(theirs_all)),
        "tolerance": PARITY_TOLERANCE,
    }
    report["final_loss_gap"] = report["typedgpt_final_loss"] - report["microgpt_final_loss"]
    report["loss_on_all_names_gap"] = (
        report["typedgpt_loss_on_all_names"] - report["microgpt_loss_on_all_names"]
    )
    report["met"] = (
        abs(report["final_loss_gap"]) <= PARITY_TOLERANCE
        and abs(report["loss_on_all_names_gap"]) <= PARITY_TOLERANCE
    )
    return report


def real_positions_per_row(dataset: tg.TextDataset, seq_len: int) -> float:
    """The mean number of real target positions in a row: `min(len(doc) - 1, seq_len)`."""
    return float(np.mean([min(doc.size - 1, seq_len) for doc in dataset.documents]))


@dataclass
class Run:
    """One timed `tg.train` call."""

    batch_size: int
    steps: int
    tokens_per_s: float
    positions_per_s: float
    timed_steps: int
    timed_s: float
    first_call_s: float
    final_loss: float
    losses: list[float] = field(repr=False)
    model: tg.GPT = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """The run as JSON data, without its losses and model."""
        data = asdict(self)
        del data["losses"], data["model"]
        return data


def timed_train(
    model_config: tg.GPTConfig,
    dataset: tg.TextDataset,
    tokenizer: tg.Tokenizer,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    steps_per_call: int = STEPS_PER_CALL,
) -> Run:
    """Train with microgpt's recipe in a temporary folder, timing all calls but two.

    The first call compiles and the last one writes the checkpoint, so the time runs from the
    end of the first call to the end of the last-but-one.
    """
    chunk = steps_per_call
    if steps < 3 * chunk:
        raise ValueError(
            f"steps must be at least {3 * chunk} to time a call of {chunk} steps "
            f"besides the first and the last, got {steps}"
        )
    stamps: list[float] = []

    def on_step(step: int, loss: float) -> None:
        stamps.append(time.perf_counter())

    config = microgpt_train_config(
        steps=steps, batch_size=batch_size, seed=seed, steps_per_call=chunk
    )
    with tempfile.TemporaryDirectory(prefix="microgpt_parity_") as out_dir:
        started = time.perf_counter()
        result = tg.train(
            model_config,
            dataset,
            None,
            tokenizer=tokenizer,
            out_dir=out_dir,
            config=config,
            progress=False,
            on_step=on_step,
        )
    # The calls end at steps chunk, 2 chunk, ... and `steps`: the last one may be shorter.
    last_start = (steps - 1) // chunk * chunk
    timed_steps, timed_s = last_start - chunk, stamps[last_start - 1] - stamps[chunk - 1]
    rows_per_s = timed_steps * batch_size / timed_s
    return Run(
        batch_size=batch_size,
        steps=steps,
        tokens_per_s=rows_per_s * real_positions_per_row(dataset, SEQ_LEN),
        positions_per_s=rows_per_s * SEQ_LEN,
        timed_steps=timed_steps,
        timed_s=timed_s,
        first_call_s=stamps[chunk - 1] - started,
        final_loss=final_loss(result.losses),
        losses=result.losses,
        model=result.model,
    )


def median_of(runs: Sequence[Run]) -> dict[str, Any]:
    """The median tokens/s and positions/s of repeated runs, with every run's summary."""
    return {
        "batch_size": runs[0].batch_size,
        "steps": runs[0].steps,
        "tokens_per_s": statistics.median(run.tokens_per_s for run in runs),
        "positions_per_s": statistics.median(run.positions_per_s for run in runs),
        "final_loss": runs[0].final_loss,
        "runs": [run.summary() for run in runs],
    }


def sample_names(
    model: tg.GPT, tokenizer: tg.Tokenizer, *, count: int, temperature: float, seed: int
) -> list[str]:
    """`count` names, each sampled from `[BOS]` until BOS, as microgpt samples them."""
    bos = tokenizer.bos_id
    outputs = tg.generate(
        model,
        [[bos]] * count,
        max_new_tokens=model.config.max_seq_len,
        temperature=temperature,
        eos_id=bos,
        key=jax.random.key(seed),
    )
    return [tokenizer.decode(ids) for ids in outputs]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load,
        "jax_backend": jax.default_backend(),
        "jax_device": str(jax.devices()[0]),
        "jax_version": jax.__version__,
        "python": platform.python_version(),
        "typedgpt_version": tg.__version__,
    }


def plot(report: dict[str, Any], losses: Sequence[float], png_path: Path) -> None:
    """The batch-1 loss curve (raw and smoothed) and tokens/s against batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch1 = report["batch1"]
    figure, (loss_axes, speed_axes) = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.arange(1, len(losses) + 1)
    loss_axes.plot(steps, losses, color="0.75", linewidth=0.6, label="loss per step")
    loss_axes.plot(
        steps,
        batch1["smoothed_losses"],
        linewidth=1.5,
        label=f"mean of the last {batch1['smoothing_window']} steps",
    )
    loss_axes.set_title(
        f"microgpt recipe, batch 1: final loss {batch1['final_loss']:.3f}", fontsize=10
    )
    loss_axes.set_xlabel("step")
    loss_axes.set_ylabel("cross-entropy (nats per token)")
    loss_axes.grid(alpha=0.3)
    loss_axes.legend()

    sweep = report["throughput"]["sweep"]
    sizes = [1] + [row["batch_size"] for row in sweep]
    speeds = [batch1["tokens_per_s"]] + [row["tokens_per_s"] for row in sweep]
    speed_axes.loglog(sizes, speeds, "o-", label="typedgpt (tg.train)")
    speed_axes.axhline(MICROGPT_TOKENS_PER_S, color="C3", linestyle=":", label="microgpt, 26")
    speed_axes.axhline(
        MICROGPT_TOKENS_PER_S * GOAL_SPEEDUP, color="C2", linestyle="--", label="10,000x goal"
    )
    speed_axes.set_title("training throughput (real target tokens/s)", fontsize=10)
    speed_axes.set_xlabel("batch size (names per step)")
    speed_axes.set_ylabel("tokens/s")
    speed_axes.grid(alpha=0.3, which="both")
    speed_axes.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)


def _batch_sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected positive ints like 64,256, got {text!r}")
    return sizes


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse options the runs cannot use, before any work (`parser.error` exits with 2)."""
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.steps_per_call < 1:
        parser.error(f"--steps-per-call must be at least 1, got {args.steps_per_call}")
    # `timed_train` times the calls between the first (which compiles) and the last.
    least = 3 * args.steps_per_call
    for option, steps in (("--steps", args.steps), ("--throughput-steps", args.throughput_steps)):
        if steps < least:
            parser.error(
                f"{option} must be at least 3 x --steps-per-call = {least}, got {steps}: "
                "raise it or lower --steps-per-call"
            )
    most = MAX_SEED - (args.repeats - 1)  # TrainConfig.seed is at most 2**32 - 1
    if not 0 <= args.seed <= most:
        parser.error(
            f"--seed must be from 0 to {most} (repeat r trains with seed --seed + r, at most "
            f"2**32 - 1), got {args.seed}"
        )
    if not args.data.is_file():
        parser.error(f"--data {args.data} is not a file: pass a file of one name per line")
    if args.num_samples < 1:
        parser.error(f"--num-samples must be at least 1, got {args.num_samples}")
    if not (math.isfinite(args.temperature) and 0 <= args.temperature <= FLOAT32_MAX):
        parser.error(
            f"--temperature must be a finite number from 0 (greedy) to {FLOAT32_MAX:.4g}, "
            f"got {args.temperature}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write the JSON and PNG, print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="one name per line")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON to write")
    parser.add_argument("--steps", type=int, default=1000, help="steps of the batch-1 run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measure")
    parser.add_argument(
        "--batch-sizes",
        type=_batch_sizes,
        default=[16, 64, 256, 1024],
        help="batch sizes to sweep for throughput (comma-separated)",
    )
    parser.add_argument(
        "--throughput-steps", type=int, default=300, help="steps of each batched run"
    )
    parser.add_argument(
        "--steps-per-call",
        type=int,
        default=STEPS_PER_CALL,
        help="TrainConfig.steps_per_call; --steps and --throughput-steps need 3 times it",
    )
    parser.add_argument("--num-samples", type=int, default=20, help="names to sample")
    parser.add_argument("--temperature", type=float, default=0.5, help="sampling temperature")
    parser.add_argument("--seed", type=int, default=0, help="seed for init, data and samples")
    args = parser.parse_args(argv)
    check_args(parser, args)

    started = time.perf_counter()
    info = machine()
    text = tg.load_text(args.data)
    tokenizer = tg.CharTokenizer.from_text(text)
    dataset = tg.TextDataset.from_text(text, tokenizer, mode="lines")
    model_config = tg.GPTConfig.microgpt(vocab_size=tokenizer.vocab_size)
    real_per_row = real_positions_per_row(dataset, SEQ_LEN)
    print(
        f"{len(dataset):,} names from {args.data}, vocab {tokenizer.vocab_size}, "
        f"{real_per_row:.3f} real target positions per name (of {SEQ_LEN})."
    )

    def train_runs(batch_size: int, steps: int, repeats: int) -> list[Run]:
        runs = []
        for repeat in range(repeats):
            run = timed_train(
                model_config,
                dataset,
                tokenizer,
                steps=steps,
                batch_size=batch_size,
                seed=args.seed + repeat,
                steps_per_call=args.steps_per_call,
            )
            print(
                f"  batch {batch_size:5d}, {steps} steps: {run.tokens_per_s:12,.0f} tokens/s "
                f"({run.positions_per_s:12,.0f} positions/s), final loss {run.final_loss:.4f}"
            )
            runs.append(run)
        return runs

    print(f"microgpt's recipe, batch 1, {args.steps} steps, seeds {args.seed}..:")
    batch1_runs = train_runs(1, args.steps, args.repeats)
    print(f"the PyTorch transcription of microgpt, {args.steps} steps, seeds 42..:")
    references = []
    for repeat in range(args.repeats):
        reference = train_reference(
            names_of(dataset, tokenizer), steps=args.steps, seed=42 + repeat
        )
        print(
            f"  final loss {final_loss(reference.losses):.4f}, "
            f"on all names {reference.loss_on_all_names:.4f}"
        )
        references.append(reference)
    parity = loss_parity(dataset, batch1_runs, references)
    print(
        f"final loss: typedgpt {parity['typedgpt_final_loss']:.4f}, microgpt "
        f"{parity['microgpt_final_loss']:.4f}; on all names: typedgpt "
        f"{parity['typedgpt_loss_on_all_names']:.4f}, microgpt "
        f"{parity['microgpt_loss_on_all_names']:.4f} (tolerance {PARITY_TOLERANCE})"
    )
    losses = batch1_runs[0].losses
    names = sample_names(
        batch1_runs[0].model,
        tokenizer,
        count=args.num_samples,
        temperature=args.temperature,
        seed=args.seed,
    )
    known = set(text.split())
    print(f"samples at temperature {args.temperature}: {', '.join(names)}")

    print(f"throughput sweep, {args.throughput_steps} steps per batch size:")
    sweep = [median_of(train_runs(size, args.throughput_steps, 1)) for size in args.batch_sizes]
    best = max(sweep, key=lambda row: float(row["tokens_per_s"]))["batch_size"]
    print(f"batch {best}, {args.repeats} more times:")
    batched = median_of(train_runs(best, args.throughput_steps, args.repeats))

    batch1 = median_of(batch1_runs)
    batch1.update(
        losses=losses,
        smoothed_losses=moving_average(losses, FINAL_WINDOW),
        smoothing_window=FINAL_WINDOW,
        final_loss=final_loss(losses),
        first_loss=losses[0],
        seq_len=SEQ_LEN,
        real_tokens_per_step=real_per_row,
        positions_per_step=SEQ_LEN,
    )
    batched.update(
        real_tokens_per_step=best * real_per_row,
        positions_per_step=best * SEQ_LEN,
    )
    report: dict[str, Any] = {
        "benchmark": "microgpt_parity",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": {
            "path": str(args.data),
            "documents": len(dataset),
            "vocab_size": tokenizer.vocab_size,
            "real_tokens_per_name": real_per_row,
        },
        "model_config": asdict(model_config),
        "num_parameters": sum(int(a.size) for a in jax.tree.leaves(batch1_runs[0].model)),
        "train_config": asdict(
            microgpt_train_config(
                steps=args.steps,
                batch_size=1,
                seed=args.seed,
                steps_per_call=args.steps_per_call,
            )
        ),
        "token_counting": (
            "tokens = real target positions (mask == 1) per step, the expected count "
            "batch_size * mean(min(len(name) + 1, seq_len)); positions = batch_size * seq_len"
        ),
        "timing": (
            "tg.train's whole loop from the end of its first call (step steps_per_call, "
            "which compiles) to the end of its last-but-one call (the last call writes the "
            "checkpoint); median of repeated runs"
        ),
        "batch1": batch1,
        "samples": {
            "temperature": args.temperature,
            "names": names,
            "not_in_training_data": sum(name not in known for name in names),
        },
        "throughput": {"sweep": sweep, "best": batched},
        "microgpt": {
            "tokens_per_s": MICROGPT_TOKENS_PER_S,
            "tokens_per_s_source": (
                "microgpt in pure Python: about 4 steps/s of one name each, measured at 23 to "
                "26 tokens/s"
            ),
            "final_loss_source": (
                "benchmarks/microgpt_reference.py: microgpt's recipe transcribed to PyTorch "
                "(its shuffled name order, gauss(0, 0.08) init, its Adam), one run per seed"
            ),
        },
        "loss_parity": parity,
        "speedup_batch1": batch1["tokens_per_s"] / MICROGPT_TOKENS_PER_S,
        "speedup_batched": batched["tokens_per_s"] / MICROGPT_TOKENS_PER_S,
        "goal_speedup": GOAL_SPEEDUP,
        "goal_met": batched["tokens_per_s"] >= GOAL_SPEEDUP * MICROGPT_TOKENS_PER_S,
        "machine": info,
        "wall_s": 0.0,
    }
    report["wall_s"] = time.perf_counter() - started

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    png_path = args.out.with_suffix(".png")
    plot(report, losses, png_path)
    print(
        f"batch 1: final loss {batch1['final_loss']:.4f} (mean of the last {FINAL_WINDOW}), "
        f"{batch1['tokens_per_s']:,.0f} tokens/s = {report['speedup_batch1']:,.0f}x microgpt\n"
        f"batch {best}: {batched['tokens_per_s']:,.0f} tokens/s "
        f"({batched['positions_per_s']:,.0f} positions/s) = "
        f"{report['speedup_batched']:,.0f}x microgpt (goal {GOAL_SPEEDUP:,.0f}x: "
        f"{'met' if report['goal_met'] else 'not met'})\n"
        f"wrote {args.out} and {png_path} in {report['wall_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
