"""GPT-2 speed: typedgpt against Hugging Face transformers (PyTorch), side by side.

Both run the same random GPT-2 weights (124M shapes by default: 12 layers, embed 768, 12
heads, vocab 50257, 1024 positions), float32 on the CPU by default (`--dtype bfloat16`,
`--device gpu`), each library in a process of its own, taking turns:

- forward: the logits of a batch of 8 sequences of 256 tokens (`jax.vmap(model)` against
  `GPT2LMHeadModel(ids).logits` under `torch.inference_mode`);
- decode: greedy generation for one prompt of 16 tokens, 128 new tokens (`tg.generate` with
  `temperature=0` against `generate(do_sample=False)`), prefill included, in new tokens/s;
- train: one AdamW step on 8 x 256 tokens with gradient clipping at 1.0 (the step `tg.train`
  runs, from `make_train_step`, against `loss.backward()`, `clip_grad_norm_` and
  `torch.optim.AdamW.step()`); neither has dropout.

The transformers process makes the model and saves it (`save_pretrained`) to a temporary
folder, from which the typedgpt process loads it (`tg.from_pretrained`). This process only
sends the two processes their turns: while one computes, the other waits, so each has the
machine to itself, as a program using either library would. (In one process the two libraries
change each other's times, through the memory glibc hands back and takes again: see the
Performance page.) After one warm-up call each, which also compiles, the two libraries take
`--repeats` turns each (5 by default). In its turn a library runs the call twice, back to
back, as a program runs its steps one after another; the second call is the measure and the
median over the turns is reported. The first call of a turn comes right after the other
process's turn, which on this machine makes typedgpt's slower (its page faults cost more
kernel time; see the Performance page): its times are reported too, with their ratio. The
ratio is typedgpt's speed over transformers'. It also times eager calls of each typed layer
with checks on and off (`tg.set_checks`): the difference is the cost of the call-time shape
check.

Model FLOPs utilisation (MFU) is the model's FLOPs per second over the device's peak: the
matrix products of the model, 2 FLOPs per multiply-add, as `model_flops` counts them, whatever
the library computes on top (padding, masked cache slots). The peak is `--peak-tflops`, else
the datasheet's dense figure for a GPU listed in `PEAK_TFLOPS` (none is assumed for a CPU, so
there MFU is reported only with `--peak-tflops`). On a GPU float32 runs in true float32 in both
libraries (JAX's `jax_default_matmul_precision="highest"`, PyTorch's default of no TF32), so
the float32 peak is that of the non-tensor cores.

Run from the repository root (about ten minutes on 2 CPU cores at 124M shapes):

    .venv/bin/python benchmarks/gpt2_speed.py

On a GPU, with jax[cuda] and a CUDA build of torch installed (a minute or two per dtype):

    python benchmarks/gpt2_speed.py --device gpu --dtype bfloat16 --out gpt2_speed_gpu_bf16.json

Writes `benchmarks/results/gpt2_speed.json`. The targets (issue 4): decode at least 1.5x
transformers' tokens/s, forward and training step at least 1.2x.
"""

import argparse
import datetime
import functools
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpt2_speed.json"
TARGETS = {"forward": 1.2, "decode": 1.5, "train": 1.2}
LIBRARIES = ("typedgpt", "transformers")
DTYPES = ("float32", "bfloat16")
DEVICES = ("cpu", "gpu")
# Dense peak TFLOP/s by GPU and dtype, from NVIDIA's datasheets (float32: without tensor cores).
# A device is matched when its name (JAX's `device_kind`, "NVIDIA H200") contains the key.
PEAK_TFLOPS = {
    "H200": {"bfloat16": 989.0, "float32": 67.0},
    "H100": {"bfloat16": 989.0, "float32": 67.0},
    "A100": {"bfloat16": 312.0, "float32": 19.5},
}


def timed(call: Callable[[], Any]) -> float:
    """Seconds taken by `call()`, which must return only when its work is done."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def alternate(
    calls: Mapping[str, Callable[[], float]], repeats: int, log: Callable[[str], None]
) -> dict[str, tuple[list[float], list[float]]]:
    """Warm each call up once, then run them in turn, `repeats` rounds; each returns seconds.

    In its turn each call runs twice, back to back: a program's steps follow its own steps,
    not another process's. Returns, per call, the seconds of the first and of the second
    call of every turn; the second are the measure.
    """
    for name, call in calls.items():
        log(f"  warm-up {name}: {call():.2f} s")
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            first, second = times[name]
            first.append(call())
            second.append(call())
            log(f"  {name}: {second[-1]:.3f} s (first in its turn {first[-1]:.3f} s)")
    return times


class TransformersMeasures:
    """transformers' side, in its own process: makes the random model and saves it."""

    def __init__(self, setup: dict[str, Any]) -> None:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        shapes = setup["shapes"]
        config = GPT2Config(
            vocab_size=shapes["vocab"],
            n_positions=shapes["positions"],
            n_embd=shapes["embed"],
            n_layer=shapes["layers"],
            n_head=shapes["heads"],
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
        torch.manual_seed(0)
        self.torch = torch
        self.device = torch.device("cuda" if setup["device"] == "gpu" else "cpu")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device gpu, but torch sees no CUDA device: install a CUDA build")
        self.model = GPT2LMHeadModel(config).eval()  # type: ignore[no-untyped-call]
        self.model.save_pretrained(setup["folder"])  # in float32; typedgpt casts as it loads
        self.model.to(self.device, getattr(torch, setup["dtype"]))
        tokens = setup["tokens"].astype(np.int64)
        self.tokens = torch.from_numpy(tokens).to(self.device)
        self.inputs = self.tokens[:, :-1]
        self.prompt = torch.from_numpy(setup["prompt"].astype(np.int64))[None].to(self.device)
        self.new_tokens = setup["new_tokens"]
        self.optimizer: Any = None
        self.generated: list[int] = []
        self.losses: list[float] = []

    def info(self) -> dict[str, Any]:
        import transformers

        return {
            "torch_version": self.torch.__version__,
            "torch_threads": self.torch.get_num_threads(),
            "torch_device": (
                self.torch.cuda.get_device_name(self.device)
                if self.device.type == "cuda"
                else "cpu"
            ),
            "torch_tf32_matmul": self.torch.backends.cuda.matmul.allow_tf32,
            "transformers_version": transformers.__version__,
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }

    def forward(self) -> float:
        def call() -> None:
            with self.torch.inference_mode():
                self.model(self.inputs).logits.sum().item()

        return timed(call)

    def first_logits(self) -> np.ndarray:
        with self.torch.inference_mode():
            logits = self.model(self.inputs[:1]).logits[0]
            return logits.float().cpu().numpy()  # type: ignore[no-any-return]

    def decode(self) -> float:
        def call() -> None:
            with self.torch.inference_mode():
                out = self.model.generate(
                    self.prompt,
                    attention_mask=self.torch.ones_like(self.prompt),
                    max_new_tokens=self.new_tokens,
                    min_new_tokens=self.new_tokens,
                    do_sample=False,
                    pad_token_id=0,
                )
            self.generated = out[0, self.prompt.shape[1] :].tolist()

        return timed(call)

    def outputs(self) -> dict[str, Any]:
        return {"generated": self.generated, "losses": self.losses}

    def train(self) -> float:
        if self.optimizer is None:
            self.model.train()
            self.optimizer = self.torch.optim.AdamW(
                self.model.parameters(), lr=1e-4, weight_decay=0.0
            )

        def call() -> None:
            loss = self.model(self.tokens, labels=self.tokens).loss
            loss.backward()
            self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.losses.append(loss.item())

        return timed(call)


class TypedMeasures:
    """typedgpt's side, in its own process: loads the model transformers saved."""

    def __init__(self, setup: dict[str, Any]) -> None:
        import jax
        import jax.numpy as jnp

        import typedgpt as tg

        self.jax, self.tg = jax, tg
        if setup["device"] == "gpu":
            if jax.default_backend() != "gpu":
                raise RuntimeError(
                    f"--device gpu, but JAX's backend is {jax.default_backend()}: install "
                    "jax[cuda12] or jax[cuda13]"
                )
            if setup["dtype"] == "float32":  # true float32, as PyTorch's default (no TF32)
                jax.config.update(  # type: ignore[no-untyped-call]
                    "jax_default_matmul_precision", "highest"
                )
        self.model = tg.from_pretrained(setup["folder"], dtype=getattr(jnp, setup["dtype"]))
        tokens = setup["tokens"]
        self.inputs = jnp.asarray(tokens[:, :-1])
        self.targets = jnp.asarray(tokens[:, 1:])
        self.prompt: list[int] = setup["prompt"].tolist()
        self.new_tokens = setup["new_tokens"]
        self.batched = jax.jit(jax.vmap(self.model))
        self.step: Any = None
        self.state: list[Any] = []
        self.generated: list[int] = []
        self.losses: list[float] = []

    def info(self) -> dict[str, Any]:
        return {
            "jax_backend": self.jax.default_backend(),
            "jax_device": self.jax.devices()[0].device_kind,
            "jax_version": self.jax.__version__,
            "jax_matmul_precision": self.jax.config.values["jax_default_matmul_precision"],
        }

    def forward(self) -> float:
        return timed(lambda: self.jax.block_until_ready(self.batched(self.inputs)))

    def first_logits(self) -> np.ndarray:
        return np.asarray(self.model(self.inputs[0]), np.float32)

    def decode(self) -> float:
        def call() -> None:
            self.generated = self.tg.generate(
                self.model,
                self.prompt,
                max_new_tokens=self.new_tokens,
                temperature=0.0,
                key=self.jax.random.key(0),
            )

        return timed(call)

    def outputs(self) -> dict[str, Any]:
        return {"generated": self.generated, "losses": self.losses}

    def train(self) -> float:
        jax, jnp = self.jax, self.jax.numpy
        if self.step is None:
            from typedgpt._train_step import make_train_step

            optimizer = self.tg.TrainConfig(
                learning_rate=1e-4, grad_clip=1.0, weight_decay=0.0
            ).optimizer()
            leaves, treedef = jax.tree.flatten(self.model)
            self.state = [leaves, optimizer.init(leaves)]
            self.step = jax.jit(make_train_step(treedef, optimizer), donate_argnums=0)
            self.batch = (self.inputs, self.targets, jnp.ones(self.inputs.shape, jnp.float32))

        def call() -> None:
            new_state, loss = self.step(tuple(self.state), self.batch)
            self.state[:] = list(new_state)
            self.losses.append(float(loss))

        return timed(call)

    def check_overhead(self, repeats: int) -> dict[str, float]:
        return check_overhead(repeats)


def serve(library: str, setup: dict[str, Any], connection: Connection) -> None:
    """A worker process: set up `library`'s side, then answer requests until told to stop.

    Every answer is `("ok", value)` or `("error", traceback)`; the first is the setup's.
    """
    # Before JAX is imported here: the CPU run must not take a GPU that happens to be there.
    os.environ["JAX_PLATFORMS"] = "cuda" if setup["device"] == "gpu" else "cpu"
    try:
        measures: Any = (TypedMeasures if library == "typedgpt" else TransformersMeasures)(setup)
        connection.send(("ok", None))
    except Exception:
        connection.send(("error", traceback.format_exc()))
        return
    while True:
        request, arguments = connection.recv()
        if request == "stop":
            return
        try:
            connection.send(("ok", getattr(measures, request)(*arguments)))
        except Exception:
            connection.send(("error", traceback.format_exc()))


class Worker:
    """One library in a process of its own (started by `spawn`, so it shares no memory)."""

    def __init__(self, library: str, setup: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.library = library
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(library, setup, child), name=f"gpt2_speed {library}", daemon=True
        )
        self.process.start()
        child.close()
        self.receive("setting up")

    def receive(self, doing: str) -> Any:
        try:
            status, value = self.connection.recv()
        except EOFError:
            self.process.join(10)
            raise RuntimeError(
                f"the {self.library} process ended (exit code {self.process.exitcode}) while "
                f"{doing}; if it was killed, the machine may be short of memory for these sizes"
            ) from None
        if status != "ok":
            raise RuntimeError(f"the {self.library} process failed while {doing}:\n{value}")
        return value

    def __call__(self, request: str, *arguments: Any) -> Any:
        """Call the method `request` of the worker's measures there, and return its value."""
        try:
            self.connection.send((request, arguments))
        except OSError:
            pass  # the process has gone: receiving says how
        return self.receive(f"running {request!r}")

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.connection.send(("stop", ()))
            except OSError:
                pass
            self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def model_flops(shapes: Mapping[str, int], work: str, args: argparse.Namespace) -> float:
    """The FLOPs of one call of `work` ("forward", "decode" or "train") at these shapes.

    A token costs, per layer, 24 d^2 (the four products of attention and MLP: 12 d^2
    multiply-adds with an MLP of 4 d) plus 4 n d for attention over n positions (scores and
    weighted values), and 2 d V for the output layer. A sequence of T tokens counts n = T for
    every token, as PaLM's appendix B does; a decoded token, the n positions it attends to.
    Training is three times the forward pass (forward, and backward through activations and
    weights). AdamW and the norms are left out.
    """
    d, layers, vocab = shapes["embed"], shapes["layers"], shapes["vocab"]

    def token(n: int) -> float:
        return layers * (24 * d * d + 4 * n * d) + 2 * d * vocab

    if work == "decode":  # the prompt in one pass, then one token at a time
        prompt: int = args.prompt
        decoded = range(prompt + 1, prompt + args.new_tokens)
        return prompt * token(prompt) + sum(token(n) for n in decoded)
    seq: int = args.seq
    forward = args.batch * seq * token(seq)
    return 3.0 * forward if work == "train" else float(forward)


def peak_flops(args: argparse.Namespace, device_name: str) -> tuple[float | None, str | None]:
    """The device's peak FLOP/s for `--dtype`, and where the figure comes from."""
    if args.peak_tflops is not None:
        return args.peak_tflops * 1e12, "--peak-tflops"
    if args.device == "gpu":
        for name, peaks in PEAK_TFLOPS.items():
            if name in device_name:
                return peaks[args.dtype] * 1e12, f"datasheet, {name} dense {args.dtype}"
    return None, None


def check_overhead(repeats: int = 200) -> dict[str, float]:
    """Microseconds an eager call of each typed layer spends in its shape check."""
    import jax

    import typedgpt as tg

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


# CPU features that decide which matrix-product kernels the libraries can use.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The processor's name and which of `CPU_FLAGS` it has, from Linux's `cpuinfo`."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {"model": platform.processor() or None, "flags": None}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name"), "flags": [f for f in CPU_FLAGS if f in flags]}


def machine() -> dict[str, Any]:
    """What the numbers were measured on; each worker process adds its library's versions."""
    return {
        "platform": platform.platform(),
        "cpu": cpu(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        # glibc's malloc settings change both libraries' training steps (see Performance).
        "malloc_environment": {
            name: value
            for name, value in sorted(os.environ.items())
            if name.startswith("MALLOC_") or name == "GLIBC_TUNABLES"
        },
    }


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse sizes the workers cannot use, before any work (`parser.error` exits with 2)."""
    for option in (
        "layers",
        "embed",
        "heads",
        "vocab",
        "positions",
        "batch",
        "seq",
        "prompt",
        "new_tokens",
        "repeats",
        "check_repeats",
    ):
        value = getattr(args, option)
        if value < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {value}")
    if args.peak_tflops is not None and not 0 < args.peak_tflops < float("inf"):
        parser.error(f"--peak-tflops must be a positive number, got {args.peak_tflops}")
    if args.embed % args.heads != 0:
        parser.error(
            f"--embed {args.embed} is not divisible by --heads {args.heads}: choose --embed "
            "as a multiple of --heads"
        )
    if args.seq + 1 > args.positions or args.prompt + args.new_tokens > args.positions:
        parser.error(
            f"--seq + 1 = {args.seq + 1} and --prompt + --new-tokens = "
            f"{args.prompt + args.new_tokens} must fit in --positions {args.positions}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write the JSON, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON to write")
    parser.add_argument(
        "--layers", type=int, default=12, help="transformer blocks (default %(default)s)"
    )
    parser.add_argument(
        "--embed", type=int, default=768, help="embedding width (default %(default)s)"
    )
    parser.add_argument(
        "--heads",
        type=int,
        default=12,
        help="attention heads, a divisor of --embed (default %(default)s)",
    )
    parser.add_argument("--vocab", type=int, default=50257, help="vocabulary (default %(default)s)")
    parser.add_argument(
        "--positions", type=int, default=1024, help="context length (default %(default)s)"
    )
    parser.add_argument(
        "--batch", type=int, default=8, help="sequences for forward and train (default %(default)s)"
    )
    parser.add_argument(
        "--seq", type=int, default=256, help="tokens per sequence (default %(default)s)"
    )
    parser.add_argument(
        "--prompt", type=int, default=16, help="prompt tokens for decode (default %(default)s)"
    )
    parser.add_argument(
        "--new-tokens", type=int, default=128, help="tokens decoded (default %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed turns per library (default %(default)s)"
    )
    parser.add_argument(
        "--check-repeats",
        type=int,
        default=200,
        help="eager calls per layer, checks on and off (default %(default)s)",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="where both libraries run (default %(default)s)",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="the parameters' and activations' dtype in both libraries (default %(default)s)",
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="the device's peak TFLOP/s at --dtype, for MFU (default: the datasheet's for "
        "a GPU in PEAK_TFLOPS; none for a CPU)",
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
    check_args(parser, args)

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    started = time.perf_counter()
    info = machine()
    shapes = {
        "layers": args.layers,
        "embed": args.embed,
        "heads": args.heads,
        "vocab": args.vocab,
        "positions": args.positions,
    }
    rng = np.random.default_rng(0)
    workers: dict[str, Worker] = {}
    with tempfile.TemporaryDirectory(prefix="gpt2_speed-") as folder:
        setup = {
            "shapes": shapes,
            "folder": folder,
            "tokens": rng.integers(0, args.vocab, size=(args.batch, args.seq + 1), dtype=np.int32),
            "prompt": rng.integers(0, args.vocab, size=args.prompt, dtype=np.int32),
            "new_tokens": args.new_tokens,
            "device": args.device,
            "dtype": args.dtype,
        }
        try:
            log("starting the transformers process (it makes and saves the model) ...")
            workers["transformers"] = Worker("transformers", setup)
            log("starting the typedgpt process (it loads the saved model) ...")
            workers["typedgpt"] = Worker("typedgpt", setup)
            results, overhead = measure(workers, only, args, log)
            for library in LIBRARIES:
                info[library] = workers[library]("info")
        finally:
            for worker in workers.values():
                worker.close()

    num_parameters = info["transformers"].pop("parameters")
    peak, peak_source = peak_flops(args, info["typedgpt"]["jax_device"])
    for work, row in results.items():
        flops = model_flops(shapes, work, args)
        row["model_flops"] = flops
        for library in LIBRARIES:
            achieved = flops / row[library]["seconds"]
            row[library]["model_tflop_per_s"] = achieved / 1e12
            row[library]["mfu"] = None if peak is None else achieved / peak
    report = {
        "benchmark": "gpt2_speed",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "shapes": {
            **shapes,
            "parameters": num_parameters,
            "batch": args.batch,
            "seq": args.seq,
            "prompt": args.prompt,
            "new_tokens": args.new_tokens,
        },
        "device": args.device,
        "dtype": args.dtype,
        "peak_tflop_per_s": None if peak is None else peak / 1e12,
        "peak_source": peak_source,
        "repeats": args.repeats,
        "timing": (
            "median of the repeats after one warm-up call; each library in its own process, "
            "the two taking turns; in its turn each runs the call twice, back to back, and "
            "the second is the measure (the first's times are first_in_turn_seconds)"
        ),
        **results,
        "check_overhead_us": overhead,
        "machine": info,
        "wall_s": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    units = {"forward": "tokens/s", "decode": "new tokens/s", "train": "tokens/s"}
    print(f"{args.device}, {args.dtype}:")
    print(
        f"{'work':8s} {'typedgpt':>14s} {'transformers':>14s} {'ratio':>7s} {'target':>7s} "
        f"{'first':>7s} {'MFU':>13s}"
    )
    for name in [name for name in TARGETS if name in results]:
        row = results[name]
        mfu = (
            "/".join(f"{row[library]['mfu']:.1%}" for library in LIBRARIES)
            if peak is not None
            else "-"
        )
        print(
            f"{name:8s} {row['typedgpt']['per_second']:14,.1f} "
            f"{row['transformers']['per_second']:14,.1f} {row['ratio']:7.2f} "
            f"{row['target_ratio']:7.1f} {row['first_in_turn_ratio']:7.2f} {mfu:>13s}  "
            f"{units[name]}{'' if row['met'] else '  (missed)'}"
        )
    print("first: the ratio of the first calls of the turns, right after the other process's")
    if peak is not None:
        print(f"MFU: typedgpt/transformers, of {peak / 1e12:,.1f} TFLOP/s ({peak_source})")
    if overhead:
        print(
            "check overhead per eager call (us): "
            + ", ".join(f"{name} {value:.0f}" for name, value in overhead.items())
        )
    print(f"wrote {args.out} in {report['wall_s']:.0f} s")
    return 0


def measure(
    workers: dict[str, Worker],
    only: set[str],
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, float]]:
    """The measures asked for, each library's in its own process, and the check overhead."""
    results: dict[str, Any] = {}

    def per_second(
        times: dict[str, tuple[list[float], list[float]]], work: float
    ) -> dict[str, Any]:
        rows: dict[str, Any] = {
            name: {
                "seconds": statistics.median(second),
                "per_second": work / statistics.median(second),
                "all_seconds": second,
                "first_in_turn_seconds": first,
            }
            for name, (first, second) in times.items()
        }
        ours, theirs = (statistics.median(times[library][0]) for library in LIBRARIES)
        rows["first_in_turn_ratio"] = theirs / ours
        return rows

    def turns(request: str) -> dict[str, tuple[list[float], list[float]]]:
        calls = {library: functools.partial(workers[library], request) for library in LIBRARIES}
        return alternate(calls, args.repeats, log)

    if "forward" in only:
        log(f"forward, {args.batch} x {args.seq} tokens:")
        times = turns("forward")
        ours, theirs = (workers[library]("first_logits") for library in LIBRARIES)
        results["forward"] = {
            "tokens": args.batch * args.seq,
            "max_abs_logit_difference": float(np.abs(ours - theirs).max()),
            **per_second(times, args.batch * args.seq),
        }

    if "decode" in only:
        log(f"decode, greedy, prompt {args.prompt}, {args.new_tokens} new tokens:")
        times = turns("decode")
        ours, theirs = (workers[library]("outputs")["generated"] for library in LIBRARIES)
        same = 0
        for our_token, their_token in zip(ours, theirs, strict=True):
            if our_token != their_token:
                break
            same += 1
        results["decode"] = {
            "new_tokens": args.new_tokens,
            "same_leading_tokens": same,
            **per_second(times, args.new_tokens),
        }

    if "train" in only:
        log(f"training step, AdamW, {args.batch} x {args.seq} tokens:")
        times = turns("train")
        # Same weights and batch: the first step's losses must agree (then the updates
        # differ in rounding).
        results["train"] = {
            "tokens": args.batch * args.seq,
            "first_loss": {
                library: workers[library]("outputs")["losses"][0] for library in LIBRARIES
            },
            **per_second(times, args.batch * args.seq),
        }

    for name, target in TARGETS.items():
        if name not in results:
            continue
        ratio = (
            results[name]["typedgpt"]["per_second"] / results[name]["transformers"]["per_second"]
        )
        results[name].update(ratio=ratio, target_ratio=target, met=ratio >= target)

    overhead: dict[str, float] = {}
    if args.only is None:
        log("eager check overhead per layer call:")
        overhead = workers["typedgpt"]("check_overhead", args.check_repeats)
    return results, overhead


if __name__ == "__main__":
    sys.exit(main())
