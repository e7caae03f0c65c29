"""How to train: `TrainConfig` (steps, batch, optimizer, schedule, evaluation, saving),
what `train` returns (`TrainResult`) and the error it raises when the loss diverges."""

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import optax

from ._gpt import GPT

MAX_SEED = 2**32 - 1


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train: steps, batch, optimizer and schedule, and how often to evaluate and save.

    `steps` is the total number of optimizer steps; each draws `batch_size` rows of
    `seq_len` positions (`None`: the model's `max_seq_len`). Every `eval_every` steps (and at
    the end) the loss is averaged over every target of `eval_batches` validation batches; every
    `checkpoint_every` steps (and at the end) a checkpoint is saved.

    The learning rate rises linearly from 0 over `warmup_steps`, then decays to
    `final_lr_fraction * learning_rate` at `steps` (`decay="cosine"` or `"linear"`), or
    stays constant. AdamW with `beta1`, `beta2`, `eps`, `weight_decay` (which decays every
    parameter, norm gains and biases too, unlike nanoGPT's); gradients clipped to a
    global norm of `grad_clip` unless it is `None`. Up to `steps_per_call` steps run inside
    one compiled call (a `lax.scan`), which saves the per-step cost of calling into JAX and
    reading the loss back; the progress bar, metrics and Ctrl-C act between calls. Results do
    not depend on it. `seed` (0 to 2**32 - 1) seeds the initial parameters and the order of
    the batches. A resumed run must keep every setting but `steps`, `eval_every`,
    `eval_batches`, `checkpoint_every` and `steps_per_call`.

    Every field is checked at construction: a bad value raises `ValueError` naming it.
    """

    steps: int = 1000
    batch_size: int = 16
    seq_len: int | None = None
    learning_rate: float = 1e-3
    warmup_steps: int = 0
    decay: Literal["cosine", "linear", "constant"] = "cosine"
    final_lr_fraction: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    eval_every: int = 100
    eval_batches: int = 8
    checkpoint_every: int = 500
    steps_per_call: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, np.generic) and not isinstance(value, np.bool_):
                # A NumPy number is taken as the Python number it holds, which JSON (the
                # checkpoint's train_state.json) can record.
                object.__setattr__(self, name, value.item())
        for name in (
            "steps",
            "batch_size",
            "eval_every",
            "eval_batches",
            "checkpoint_every",
            "steps_per_call",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}")
        if self.seq_len is not None and (
            not isinstance(self.seq_len, int) or isinstance(self.seq_len, bool) or self.seq_len < 1
        ):
            raise ValueError(f"TrainConfig.seq_len must be a positive int, got {self.seq_len!r}")
        if (
            not isinstance(self.warmup_steps, int)
            or isinstance(self.warmup_steps, bool)
            or not 0 <= self.warmup_steps <= self.steps
        ):
            raise ValueError(
                f"TrainConfig.warmup_steps must be between 0 and steps={self.steps}, "
                f"got {self.warmup_steps!r}"
            )
        if (
            not isinstance(self.seed, int)
            or isinstance(self.seed, bool)
            or not 0 <= self.seed <= MAX_SEED
        ):
            # NumPy's SeedSequence needs a non-negative int; jax.random.key keeps only the low
            # 32 bits of a seed (without jax_enable_x64), so a larger one repeats a smaller one.
            raise ValueError(
                f"TrainConfig.seed must be an int from 0 to 2**32 - 1 = {MAX_SEED}, "
                f"got {self.seed!r}"
            )
        for name in (
            "learning_rate",
            "final_lr_fraction",
            "beta1",
            "beta2",
            "eps",
            "weight_decay",
            "grad_clip",
        ):
            value = getattr(self, name)
            if name == "grad_clip" and value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"TrainConfig.{name} must be a number, got {value!r}")
        if not 0 < self.learning_rate < math.inf:
            raise ValueError(
                f"TrainConfig.learning_rate must be a finite number > 0, got {self.learning_rate}"
            )
        if self.decay not in ("cosine", "linear", "constant"):
            raise ValueError(
                f"TrainConfig.decay must be cosine, linear or constant: {self.decay!r}"
            )
        if not 0 <= self.final_lr_fraction <= 1:
            raise ValueError(
                f"TrainConfig.final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}"
            )
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and 0 < self.eps < math.inf):
            raise ValueError(
                "TrainConfig.beta1 and beta2 must be in [0, 1) and eps a finite number > 0, "
                f"got beta1={self.beta1}, beta2={self.beta2}, eps={self.eps}"
            )
        if not 0 <= self.weight_decay < math.inf:
            raise ValueError(
                f"TrainConfig.weight_decay must be a finite number >= 0, got {self.weight_decay}"
            )
        if self.grad_clip is not None and not 0 < self.grad_clip < math.inf:
            raise ValueError(
                "TrainConfig.grad_clip must be a finite number > 0, or None for no clipping, "
                f"got {self.grad_clip}"
            )

    def schedule(self) -> optax.Schedule:
        """The learning rate at each step: an optax schedule, step number to rate."""
        peak, decay_steps = self.learning_rate, max(self.steps - self.warmup_steps, 1)
        final = peak * self.final_lr_fraction
        if self.decay == "cosine":
            after = optax.cosine_decay_schedule(peak, decay_steps, alpha=self.final_lr_fraction)
        elif self.decay == "linear":
            after = optax.linear_schedule(peak, final, decay_steps)
        else:
            after = optax.constant_schedule(peak)
        if self.warmup_steps == 0:
            return after
        warmup = optax.linear_schedule(0.0, peak, self.warmup_steps)
        return optax.join_schedules([warmup, after], [self.warmup_steps])

    def optimizer(self) -> optax.GradientTransformation:
        """AdamW on the schedule, after global-norm clipping when `grad_clip` is set."""
        adamw = optax.adamw(
            self.schedule(),
            b1=self.beta1,
            b2=self.beta2,
            eps=self.eps,
            weight_decay=self.weight_decay,
        )
        if self.grad_clip is None:
            return adamw
        return optax.chain(optax.clip_by_global_norm(self.grad_clip), adamw)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left in place.

    A subclass of `RuntimeError`, raised by `train`; the message names the step and the
    checkpoint that is kept.
    """


@dataclass
class TrainResult:
    """What `train` produced.

    - `model`: the trained `GPT`, as of `step`.
    - `losses`: the loss of each step this call ran (a step's batch, before its update); a
      resumed run holds only the steps after the checkpoint it resumed from (the earlier ones
      are in `metrics.jsonl`).
    - `val_losses`: `(step, loss)` for each evaluation this call made, the loss averaged over
      every target (padding excluded) of the `eval_batches` validation batches (drawn once,
      with `seed + 1`); empty without `val_data`.
    - `step`: the last completed step, counted from the start of the run.
    - `tokens_per_second`: `batch_size * seq_len` positions per step (padding included) over
      this call's wall time, compiling, evaluating and checkpointing included.
    - `interrupted`: whether a `KeyboardInterrupt` (Ctrl-C) stopped training; the checkpoint
      of `step` was saved.
    """

    model: GPT
    losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    step: int = 0
    tokens_per_second: float = 0.0
    interrupted: bool = False
