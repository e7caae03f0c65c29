"""What a training run keeps fixed from call to call: `Run`, which `train` asks for where the
next call ends, its batches, the compiled call itself, the records of its steps, the
validation loss and the checkpoint.

The state that changes (the leaves, the optimizer state, the step and the data position) is
never held here: `train` keeps it in its own frame, where it changes all at once.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array

from ._checkpoint import save_checkpoint
from ._data import Batch, TextDataset
from ._loss import head_cross_entropy
from ._resume import jsonable
from ._tokenizer import Tokenizer
from ._train_config import TrainConfig
from ._train_step import make_train_step

Batches = tuple[Array, Array, Array]  # inputs, targets and mask, each with a leading axis


@dataclass(frozen=True)
class Run:
    """The fixed parts of one run of `train`: settings, data, compiled functions."""

    config: TrainConfig
    out_dir: Path
    treedef: Any
    tokenizer: Tokenizer
    train_data: TextDataset
    seq_len: int
    data_fingerprint: dict[str, Any]
    schedule: optax.Schedule
    call: Callable[[list[Array], Any, Array, Batches], tuple[list[Array], Any, Array]]
    summed_loss: Callable[[list[Array], Array, Array, Array], Array]
    val_batches: list[Batches]
    val_targets: float

    def call_end(self, step: int) -> int:
        """The step the call from `step` ends at: the next evaluation, checkpoint or the end,
        at most `steps_per_call` steps on."""
        config = self.config
        return min(
            _next_multiple(step, config.eval_every) if self.val_batches else config.steps,
            _next_multiple(step, config.checkpoint_every),
            config.steps,
            step + config.steps_per_call,
        )

    def draw(self, rng: np.random.Generator, count: int) -> tuple[Array, Batches]:
        """The batches of a call's `count` steps, padded to `steps_per_call` (or `steps`,
        where fewer: a call never holds more steps than the run), and which of them are
        active.

        They are drawn in step order, so the data stream and a resumed run do not depend on
        how the steps were grouped into calls.
        """
        size = min(self.config.steps_per_call, self.config.steps)
        drawn = [
            self.train_data.sample_batch(rng, self.config.batch_size, self.seq_len)
            for _ in range(count)
        ]
        inputs, targets, mask = (
            jnp.asarray(_stack_padded([getattr(b, name) for b in drawn], size))
            for name in ("inputs", "targets", "mask")
        )
        return jnp.arange(size) < count, (inputs, targets, mask)

    def records(self, step: int, losses: list[float], elapsed: float) -> list[dict[str, Any]]:
        """The `metrics.jsonl` records of the steps after `step`, up to the first that is not
        finite: shorter than `losses` when the run diverged."""
        count = len(losses)
        with jax.numpy_dtype_promotion("standard"):
            lrs = np.broadcast_to(self.schedule(np.arange(step, step + count)), (count,)).tolist()
        tokens_per_s = self.config.batch_size * self.seq_len * count / elapsed
        finite = [math.isfinite(loss) for loss in losses]
        good = finite.index(False) if not all(finite) else count
        return [
            {"step": step + i + 1, "loss": losses[i], "lr": lrs[i], "tokens_per_s": tokens_per_s}
            for i in range(good)
        ]

    def evaluates_at(self, step: int) -> bool:
        return bool(self.val_batches) and (
            step % self.config.eval_every == 0 or step == self.config.steps
        )

    def evaluate(self, leaves: list[Array]) -> float:
        """The mean loss over every target of the validation batches.

        In lines mode the batches hold different numbers of targets (padding is masked out),
        so this is not the mean of the batches' means.
        """
        total = sum(float(self.summed_loss(leaves, *batch)) for batch in self.val_batches)
        return total / max(self.val_targets, 1.0)

    def saves_at(self, step: int) -> bool:
        return step % self.config.checkpoint_every == 0 or step == self.config.steps

    def save(
        self, step: int, leaves: list[Array], opt_state: Any, data_rng: Mapping[str, Any]
    ) -> None:
        config = self.config
        save_checkpoint(
            self.out_dir,
            jax.tree.unflatten(self.treedef, leaves),
            tokenizer_json=self.tokenizer.to_json(),
            optimizer_arrays=[np.asarray(a) for a in jax.tree.leaves(opt_state)],
            train_state={
                "step": step,
                "seed": config.seed,
                "prng_key": np.asarray(jax.random.key_data(jax.random.key(config.seed))).tolist(),
                "data_rng": dict(data_rng),
                "train_config": jsonable(config),
                "train_data": self.data_fingerprint,
            },
        )

    def divergence_message(self, loss: float, step: int, saved_step: int | None) -> str:
        config = self.config
        if config.grad_clip is None:
            fix = (
                f"lower learning_rate (it is {config.learning_rate}) or set grad_clip (it is None)"
            )
        else:
            fix = (
                f"lower learning_rate (it is {config.learning_rate}) or grad_clip "
                f"(it is {config.grad_clip})"
            )
        if saved_step is None:
            kept = (
                f"no checkpoint was saved before it (the first was due at step "
                f"{min(config.checkpoint_every, config.steps)}), so {self.out_dir} holds only "
                "metrics"
            )
        else:
            kept = f"the checkpoint of step {saved_step} in {self.out_dir} is kept"
        return f"the loss or the parameters became {loss} at step {step}: {fix}; {kept}"


def make_run(
    config: TrainConfig,
    out_dir: Path,
    treedef: Any,
    optimizer: optax.GradientTransformation,
    tokenizer: Tokenizer,
    train_data: TextDataset,
    val_data: TextDataset | None,
    seq_len: int,
    data_fingerprint: dict[str, Any],
) -> Run:
    """The `Run` of these settings: its compiled functions and its validation batches."""
    one_step = make_train_step(treedef, optimizer)

    @jax.jit
    def call(
        leaves: list[Array], opt_state: Any, active: Array, batches: Batches
    ) -> tuple[list[Array], Any, Array]:
        """`steps_per_call` steps in one call; a step whose `active` is False changes nothing."""

        def body(state: Any, xs: tuple[Array, Batches]) -> Any:
            is_active, batch = xs
            return jax.lax.cond(
                is_active, one_step, lambda state, _: (state, jnp.float32(0)), state, batch
            )

        (leaves, opt_state), losses = jax.lax.scan(body, (leaves, opt_state), (active, batches))
        return leaves, opt_state, losses

    @jax.jit
    def summed_loss(leaves: list[Array], inputs: Array, targets: Array, mask: Array) -> Array:
        model = jax.tree.unflatten(treedef, leaves)
        return head_cross_entropy(jax.vmap(model.hidden)(inputs), model.head_weight, targets, mask)

    val_batches = []
    if val_data is not None:
        val_rng = np.random.default_rng(config.seed + 1)
        val_batches = [
            _device_batch(val_data.sample_batch(val_rng, config.batch_size, seq_len))
            for _ in range(config.eval_batches)
        ]
    return Run(
        config=config,
        out_dir=out_dir,
        treedef=treedef,
        tokenizer=tokenizer,
        train_data=train_data,
        seq_len=seq_len,
        data_fingerprint=data_fingerprint,
        schedule=config.schedule(),
        call=call,
        summed_loss=summed_loss,
        val_batches=val_batches,
        val_targets=sum(float(jnp.sum(mask)) for _, _, mask in val_batches),
    )


def _device_batch(batch: Batch) -> Batches:
    return jnp.asarray(batch.inputs), jnp.asarray(batch.targets), jnp.asarray(batch.mask)


def _next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` after `step`."""
    return (step // every + 1) * every


def _stack_padded(arrays: list[np.ndarray], length: int) -> np.ndarray:
    """`arrays` stacked on a new first axis, padded with zeros to `length` entries."""
    stacked = np.zeros((length, *arrays[0].shape), dtype=arrays[0].dtype)
    stacked[: len(arrays)] = arrays
    return stacked
