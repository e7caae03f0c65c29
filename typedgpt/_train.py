"""Training: AdamW with warmup and decay, a jit-compiled step, checkpoints, resume.

The step is one `jax.jit` over the model's leaves: the loss is the masked mean cross-entropy
of `jax.vmap(model.forward)` over the batch, its gradient is clipped by global norm, and optax
updates the leaves. Everything that decides the next step (the leaves, the optimizer state,
the step number, the data sampler's position) is saved in each checkpoint, with the training
settings and a hash of the training data that a resumed run must match, so a resumed run
continues exactly as an uninterrupted one would.
"""

import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._checkpoint import holds_checkpoint, save_checkpoint
from ._config import GPTConfig
from ._data import Batch, TextDataset
from ._gpt import GPT
from ._loss import head_cross_entropy
from ._memory import check_memory
from ._metrics import (
    METRICS_FILE,
    PLOT_FILE,
    plot_losses,
    progress_bar,
    truncate_metrics,
    write_records,
)
from ._resume import (
    MODEL_ONLY,
    fingerprint,
    holds_only_a_model,
    jsonable,
    restore,
)
from ._tokenizer import Tokenizer
from ._train_checks import check_arguments, check_init
from ._train_config import TrainConfig, TrainingDiverged, TrainResult
from ._train_step import make_train_step


def _device_batch(batch: Batch) -> tuple[Array, Array, Array]:
    return jnp.asarray(batch.inputs), jnp.asarray(batch.targets), jnp.asarray(batch.mask)


def train(
    model_config: GPTConfig,
    train_data: TextDataset,
    val_data: TextDataset | None,
    *,
    tokenizer: Tokenizer,
    out_dir: str | Path,
    config: TrainConfig = TrainConfig(),
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    init: GPT | None = None,
) -> TrainResult:
    """Train a GPT on `train_data`, checkpointing to `out_dir`; see the Quickstart.

    `train_data` and `val_data` must be encoded with `tokenizer`, which is saved with the
    model. `resume=True` continues from the checkpoint in `out_dir` up to `config.steps` in
    total: the model config, tokenizer, training data and training settings must be the ones
    the checkpoint records, except `steps`, `eval_every`, `eval_batches`,
    `checkpoint_every` and `steps_per_call` (and `warmup_steps`,
    when the recorded run warmed up over all its steps, may grow with `steps`). Ctrl-C saves a
    checkpoint of the last completed step, where `metrics.jsonl` then ends too, and returns
    with `interrupted=True`; a NaN or
    infinite loss raises `TrainingDiverged` and leaves the last checkpoint as it is.

    `init` starts the run from that model's parameters instead of fresh ones drawn with
    `config.seed`: fine-tuning, of a model from `tg.from_pretrained` for example. Its config
    must be `model_config`; float16 parameters are refused (AdamW's moments underflow in
    float16), and bfloat16 ones train in bfloat16. With `resume=True` the checkpoint holds the
    run's parameters, and `init` is not used.

    **Arguments:**

    - `model_config`: the `GPTConfig` of the model to train.
    - `train_data`, `val_data`: `TextDataset`s; `val_data=None` skips evaluation.
    - `tokenizer`: the tokenizer both were encoded with.
    - `out_dir`: the folder for checkpoints, `metrics.jsonl` (one JSON record per step:
      `step`, `loss`, `lr`, `tokens_per_s`, and `val_loss` where evaluated) and `loss.png`.
    - `config`: the `TrainConfig`.
    - `resume`: continue the run in `out_dir`, as above.
    - `progress`: show a tqdm progress bar.
    - `on_step`: called as `on_step(step, loss)` once per step, in order; the steps of one
      compiled call (up to `steps_per_call`) are reported together after it.
    - `init`: a `GPT` to start from, as above.

    **Returns:** a `TrainResult`.

    **Raises:** `TrainingDiverged`, as above; `FileExistsError` when `out_dir` holds a
    checkpoint and `resume` is false; `CheckpointError` when `resume=True` finds no checkpoint, a
    corrupt one, or one of another model config or tokenizer; `ValueError` for data or
    settings that do not fit (a `seq_len` over `max_seq_len`, a tokenizer larger than
    `vocab_size`, data encoded by another tokenizer, a stream shorter than a row, settings
    that differ from the resumed run's, a run already at `steps`, a float16 or
    mismatched `init`, or a model and batch that need more memory than is available, see
    `check_memory`); `TypeError` for data that is not a `TextDataset` or an `init` that
    is not a `GPT`; `NotADirectoryError` when `out_dir` is a file.
    """
    check_init(init, model_config)
    out_dir, seq_len = check_arguments(
        model_config, train_data, val_data, tokenizer, out_dir, config
    )
    check_memory(model_config, config, init=init)
    data_fingerprint = fingerprint(train_data)
    optimizer = config.optimizer()
    rng = np.random.default_rng(config.seed)
    start = 0
    if resume:
        start, leaves, treedef, opt_state, saved_rng = restore(
            out_dir, model_config, tokenizer, config, optimizer, data_fingerprint
        )
        rng.bit_generator.state = saved_rng
        truncate_metrics(out_dir / METRICS_FILE, start)
    elif holds_checkpoint(out_dir):
        if holds_only_a_model(out_dir):
            raise FileExistsError(f"{out_dir} {MODEL_ONLY}")
        raise FileExistsError(
            f"{out_dir} already holds a training run: pass resume=True (--resume) to continue "
            "it, or choose another folder"
        )
    else:
        (out_dir / METRICS_FILE).unlink(missing_ok=True)  # from a run that never checkpointed
    if not resume:
        # Not kept under a name of its own: the first step's inputs would stay alive all run.
        leaves, treedef = jax.tree.flatten(
            GPT(model_config, key=jax.random.key(config.seed)) if init is None else init
        )
        opt_state = optimizer.init(leaves)

    one_step = make_train_step(treedef, optimizer)

    @jax.jit
    def chunk_fn(
        leaves: list[Array], opt_state: Any, active: Array, batches: tuple[Array, Array, Array]
    ) -> tuple[list[Array], Any, Array]:
        """`steps_per_call` steps in one call; a step whose `active` is False changes nothing."""

        def body(state: Any, xs: tuple[Array, tuple[Array, Array, Array]]) -> Any:
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
    # In lines mode the batches hold different numbers of targets (padding is masked out):
    # the validation loss is the mean over all their targets, not the mean of batch means.
    val_targets = sum(float(jnp.sum(mask)) for _, _, mask in val_batches)

    def evaluate(leaves: list[Array]) -> float:
        total = sum(float(summed_loss(leaves, *batch)) for batch in val_batches)
        return total / max(val_targets, 1.0)

    saved_step = start if resume else None

    def save(step: int, leaves: list[Array], opt_state: Any, data_rng: Mapping[str, Any]) -> None:
        nonlocal saved_step
        save_checkpoint(
            out_dir,
            jax.tree.unflatten(treedef, leaves),
            tokenizer_json=tokenizer.to_json(),
            optimizer_arrays=[np.asarray(a) for a in jax.tree.leaves(opt_state)],
            train_state={
                "step": step,
                "seed": config.seed,
                "prng_key": np.asarray(jax.random.key_data(jax.random.key(config.seed))).tolist(),
                "data_rng": dict(data_rng),
                "train_config": jsonable(config),
                "train_data": data_fingerprint,
            },
        )
        saved_step = step

    all_losses: list[float] = []
    val_losses: list[tuple[int, float]] = []
    interrupted = False
    schedule = config.schedule()
    tokens_per_step = config.batch_size * seq_len
    chunk = config.steps_per_call
    bar = progress_bar(progress, start, config.steps)
    out_dir.mkdir(parents=True, exist_ok=True)
    # `leaves`, `opt_state`, `step` and `data_rng` change together, once a call's steps are
    # done and recorded: Ctrl-C at any moment saves a consistent step, whose data position is
    # the one before the batches of a call that never finished.
    step = start
    data_rng: Mapping[str, Any] = rng.bit_generator.state
    run_started = time.perf_counter()
    try:
        with (out_dir / METRICS_FILE).open("a") as metrics:
            while step < config.steps:
                started = time.perf_counter()
                # A call runs up to the next evaluation, checkpoint or the end, at most `chunk`
                # steps; the batches are drawn in step order, so the data stream and a resumed
                # run do not depend on how the steps were grouped into calls.
                stop = min(
                    _next_multiple(step, config.eval_every) if val_batches else config.steps,
                    _next_multiple(step, config.checkpoint_every),
                    config.steps,
                    step + chunk,
                )
                count = stop - step
                drawn = [
                    train_data.sample_batch(rng, config.batch_size, seq_len) for _ in range(count)
                ]
                batches = tuple(
                    jnp.asarray(_stack_padded([getattr(b, name) for b in drawn], chunk))
                    for name in ("inputs", "targets", "mask")
                )
                active = jnp.arange(chunk) < count
                new_leaves, new_opt_state, loss_array = chunk_fn(leaves, opt_state, active, batches)
                losses = [float(loss) for loss in np.asarray(loss_array)[:count]]
                with jax.numpy_dtype_promotion("standard"):
                    lrs = np.broadcast_to(schedule(np.arange(step, stop)), (count,)).tolist()
                elapsed = time.perf_counter() - started
                finite = [math.isfinite(loss) for loss in losses]
                good = finite.index(False) if not all(finite) else count
                records: list[dict[str, Any]] = [
                    {
                        "step": step + i + 1,
                        "loss": losses[i],
                        "lr": lrs[i],
                        "tokens_per_s": tokens_per_step * count / elapsed,
                    }
                    for i in range(good)
                ]
                if good < count:
                    write_records(metrics, records)
                    raise TrainingDiverged(
                        _divergence_message(
                            losses[good], step + good + 1, config, out_dir, saved_step
                        )
                    )
                if val_batches and (stop % config.eval_every == 0 or stop == config.steps):
                    records[-1]["val_loss"] = evaluate(new_leaves)
                write_records(metrics, records)
                leaves, opt_state, step = new_leaves, new_opt_state, stop
                _refresh_locals_snapshot()
                data_rng = rng.bit_generator.state
                all_losses.extend(losses)
                if "val_loss" in records[-1]:
                    val_losses.append((step, records[-1]["val_loss"]))
                if bar is not None:
                    bar.update(count)
                    postfix = {
                        "loss": f"{losses[-1]:.3f}",
                        "tok/s": f"{records[-1]['tokens_per_s']:,.0f}",
                    }
                    if "val_loss" in records[-1]:
                        postfix["val"] = f"{records[-1]['val_loss']:.3f}"
                    bar.set_postfix(postfix, refresh=False)
                if step % config.checkpoint_every == 0 or step == config.steps:
                    save(step, leaves, opt_state, data_rng)
                if on_step is not None:
                    for record in records:
                        on_step(record["step"], record["loss"])
    except KeyboardInterrupt:
        save(step, leaves, opt_state, data_rng)
        # Records are written before the step they end becomes the state: a call cut off in
        # between leaves records past the checkpoint.
        truncate_metrics(out_dir / METRICS_FILE, step)
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    total = time.perf_counter() - run_started
    result = TrainResult(
        model=jax.tree.unflatten(treedef, leaves),
        losses=all_losses,
        val_losses=val_losses,
        step=step,
        tokens_per_second=(step - start) * tokens_per_step / total if total > 0 else 0.0,
        interrupted=interrupted,
    )
    plot_losses(out_dir / METRICS_FILE, out_dir / PLOT_FILE)
    return result


def _refresh_locals_snapshot() -> None:
    """Point the caller's `f_locals` snapshot at its current locals.

    Before Python 3.13, reading a frame's `f_locals` stores a dict of its locals on the
    frame, kept until the next read. Equinox's `error_if` reads it for every frame on the
    stack while a program is traced, so `train`'s frame kept the parameters and AdamW state
    of the step it compiled at, three more copies of the parameters, all run.
    """
    if sys.version_info < (3, 13):
        sys._getframe(1).f_locals  # noqa: B018 (the read is the point)


def _divergence_message(
    loss: float, step: int, config: TrainConfig, out_dir: Path, saved_step: int | None
) -> str:
    if config.grad_clip is None:
        fix = f"lower learning_rate (it is {config.learning_rate}) or set grad_clip (it is None)"
    else:
        fix = (
            f"lower learning_rate (it is {config.learning_rate}) or grad_clip "
            f"(it is {config.grad_clip})"
        )
    if saved_step is None:
        kept = (
            f"no checkpoint was saved before it (the first was due at step "
            f"{min(config.checkpoint_every, config.steps)}), so {out_dir} holds only metrics"
        )
    else:
        kept = f"the checkpoint of step {saved_step} in {out_dir} is kept"
    return f"the loss or the parameters became {loss} at step {step}: {fix}; {kept}"


def _next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` after `step`."""
    return (step // every + 1) * every


def _stack_padded(arrays: list[np.ndarray], length: int) -> np.ndarray:
    """`arrays` stacked on a new first axis, padded with zeros to `length` entries."""
    stacked = np.zeros((length, *arrays[0].shape), dtype=arrays[0].dtype)
    stacked[: len(arrays)] = arrays
    return stacked
