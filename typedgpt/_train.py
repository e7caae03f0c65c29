"""Training: AdamW with warmup and decay, a jit-compiled step, checkpoints, resume.

The step is one `jax.jit` over the model's leaves: the loss is the masked mean cross-entropy
of `jax.vmap(model.forward)` over the batch, its gradient is clipped by global norm, and optax
updates the leaves. Everything that decides the next step (the leaves, the optimizer state,
the step number, the data sampler's position) is saved in each checkpoint, with the training
settings and a hash of the training data that a resumed run must match, so a resumed run
continues exactly as an uninterrupted one would.
"""

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import jax
import numpy as np
import optax
from jaxtyping import Array

from ._checkpoint import CHECKPOINT_FILES, holds_checkpoint
from ._config import GPTConfig
from ._data import TextDataset
from ._gpt import GPT
from ._memory import check_memory
from ._metrics import (
    METRICS_FILE,
    PLOT_FILE,
    plot_losses,
    progress_bar,
    truncate_metrics,
    write_records,
)
from ._resume import MODEL_ONLY, fingerprint, holds_only_a_model, restore, saved_shapes
from ._tokenizer import Tokenizer
from ._train_checks import check_arguments, check_init, check_types
from ._train_config import TrainConfig, TrainingDiverged, TrainResult
from ._train_run import make_run


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
    when the recorded run warmed up over all its steps, may grow with `steps`). Ctrl-C stops
    training once the call under way is done (a second Ctrl-C stops it at once), saves a
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
    `check_memory`); `TypeError` for an argument of the wrong kind (data that is not a
    `TextDataset`, a `config` that is not a `TrainConfig`, an `on_step` that cannot be
    called, a `resume` that is not a bool, ...), before any work; `NotADirectoryError`
    when `out_dir` is a file.
    """
    flags = {"resume": resume, "progress": progress, "on_step": on_step}
    check_types(model_config, tokenizer, out_dir, config, flags)
    check_init(init, model_config)
    with _ctrl_c_between_calls() as asked:
        out_dir, seq_len = check_arguments(
            model_config, train_data, val_data, tokenizer, out_dir, config
        )
        shapes = saved_shapes(out_dir, model_config) if resume else init
        check_memory(model_config, config, init=shapes, validation=val_data is not None)
        data_fingerprint = fingerprint(train_data)
        optimizer = config.optimizer()
        rng = np.random.default_rng(config.seed)
        start, leaves, treedef, opt_state = _start_state(
            model_config, tokenizer, out_dir, config, optimizer, data_fingerprint, rng, resume, init
        )
        run = make_run(
            config,
            out_dir,
            treedef,
            optimizer,
            tokenizer,
            train_data,
            val_data,
            seq_len,
            data_fingerprint,
        )
        saved_step = start if resume else None
        all_losses: list[float] = []
        val_losses: list[tuple[int, float]] = []
        interrupted = False
        if asked():  # before anything is written: stop as if Ctrl-C had raised
            raise KeyboardInterrupt
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
                    if asked():
                        raise KeyboardInterrupt
                    started = time.perf_counter()
                    stop = run.call_end(step)
                    active, batches = run.draw(rng, stop - step)
                    new_leaves, new_opt_state, loss_array = run.call(
                        leaves, opt_state, active, batches
                    )
                    losses = [float(loss) for loss in np.asarray(loss_array)[: stop - step]]
                    records = run.records(step, losses, time.perf_counter() - started)
                    if len(records) < len(losses):
                        write_records(metrics, records)
                        raise TrainingDiverged(
                            run.divergence_message(
                                losses[len(records)], step + len(records) + 1, saved_step
                            )
                        )
                    if run.evaluates_at(stop):
                        records[-1]["val_loss"] = run.evaluate(new_leaves)
                    write_records(metrics, records)
                    leaves, opt_state, step = new_leaves, new_opt_state, stop
                    _refresh_locals_snapshot()
                    data_rng = rng.bit_generator.state
                    all_losses.extend(losses)
                    if "val_loss" in records[-1]:
                        val_losses.append((step, records[-1]["val_loss"]))
                    if bar is not None:
                        _show_progress(bar, records)
                    if run.saves_at(step):
                        run.save(step, leaves, opt_state, data_rng)
                        saved_step = step
                    if on_step is not None:
                        for record in records:
                            on_step(record["step"], record["loss"])
        except KeyboardInterrupt:
            run.save(step, leaves, opt_state, data_rng)
            # Records are written before the step they end becomes the state: a call cut off in
            # between leaves records past the checkpoint.
            truncate_metrics(out_dir / METRICS_FILE, step)
            interrupted = True
        finally:
            if bar is not None:
                bar.close()
        total = time.perf_counter() - run_started
        tokens = (step - start) * config.batch_size * seq_len
        result = TrainResult(
            model=jax.tree.unflatten(treedef, leaves),
            losses=all_losses,
            val_losses=val_losses,
            step=step,
            tokens_per_second=tokens / total if total > 0 else 0.0,
            interrupted=interrupted,
        )
        plot_losses(out_dir / METRICS_FILE, out_dir / PLOT_FILE)
        return result


def _start_state(
    model_config: GPTConfig,
    tokenizer: Tokenizer,
    out_dir: Path,
    config: TrainConfig,
    optimizer: optax.GradientTransformation,
    data_fingerprint: dict[str, Any],
    rng: np.random.Generator,
    resume: bool,
    init: GPT | None,
) -> tuple[int, list[Array], Any, Any]:
    """The step a run starts from, its leaves, their treedef and the optimizer state: the
    checkpoint's when resuming (`rng` then takes its data position), else fresh ones."""
    if resume:
        start, leaves, treedef, opt_state, saved_rng = restore(
            out_dir, model_config, tokenizer, config, optimizer, data_fingerprint
        )
        rng.bit_generator.state = saved_rng
        truncate_metrics(out_dir / METRICS_FILE, start)
        return start, leaves, treedef, opt_state
    if holds_checkpoint(out_dir):
        if holds_only_a_model(out_dir):
            raise FileExistsError(f"{out_dir} {MODEL_ONLY}")
        raise FileExistsError(
            f"{out_dir} already holds a training run: pass resume=True (--resume) to continue "
            "it, or choose another folder"
        )
    theirs = [name for name in CHECKPOINT_FILES if (out_dir / name).exists()]
    if theirs:  # a Hugging Face folder, say: a run would overwrite its files
        raise FileExistsError(
            f"{out_dir} holds {', '.join(theirs)} but no training run: training would "
            "overwrite them; choose another folder"
        )
    (out_dir / METRICS_FILE).unlink(missing_ok=True)  # from a run that never checkpointed
    # The model is not kept under a name of its own: it would stay alive all run.
    leaves, treedef = jax.tree.flatten(
        GPT(model_config, key=jax.random.key(config.seed)) if init is None else init
    )
    return 0, leaves, treedef, optimizer.init(leaves)


@contextlib.contextmanager
def _ctrl_c_between_calls() -> Iterator[Callable[[], bool]]:
    """While training, the first Ctrl-C is a request that the loop reads between calls: a
    `KeyboardInterrupt` raised inside JAX can be swallowed (by its garbage-collection
    callback) or leave a computation running as the interpreter exits, which can crash it.
    A second Ctrl-C raises `KeyboardInterrupt` at once. Off the main thread, Python has no
    signal handler to set, and Ctrl-C stays as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    asked = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()
        with contextlib.suppress(OSError):  # no stderr to write to: stop all the same
            os.write(
                2,
                b"\nCtrl-C: training stops once the steps under way are done, then saves a "
                b"checkpoint (Ctrl-C again to stop at once)\n",
            )

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield asked.is_set
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _show_progress(bar: Any, records: list[dict[str, Any]]) -> None:
    """Advance the progress bar by a call's steps, showing the last one's numbers."""
    last = records[-1]
    postfix = {"loss": f"{last['loss']:.3f}", "tok/s": f"{last['tokens_per_s']:,.0f}"}
    if "val_loss" in last:
        postfix["val"] = f"{last['val_loss']:.3f}"
    bar.set_postfix(postfix, refresh=False)  # before `update`, which draws it: not a call late
    bar.update(len(records))


def _refresh_locals_snapshot() -> None:
    """Point the caller's `f_locals` snapshot at its current locals.

    Before Python 3.13, reading a frame's `f_locals` stores a dict of its locals on the
    frame, kept until the next read. Equinox's `error_if` reads it for every frame on the
    stack while a program is traced, so `train`'s frame kept the parameters and AdamW state
    of the step it compiled at, three more copies of the parameters, all run.
    """
    if sys.version_info < (3, 13):
        sys._getframe(1).f_locals  # noqa: B018 (the read is the point)
