"""Training: AdamW with warmup and decay, a jit-compiled step, checkpoints, resume.

The step is one `jax.jit` over the model's leaves: the loss is the masked mean cross-entropy
of `jax.vmap(model.forward)` over the batch, its gradient is clipped by global norm, and optax
updates the leaves. Everything that decides the next step (the leaves, the optimizer state,
the step number, the data sampler's position) is saved in each checkpoint, with the training
settings and a hash of the training data that a resumed run must match, so a resumed run
continues exactly as an uninterrupted one would.
"""

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from ._checkpoint import (
    COMMITTED_DIR,
    STATE_FILE,
    CheckpointError,
    holds_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from ._config import GPTConfig
from ._data import Batch, TextDataset
from ._gpt import GPT
from ._loss import head_cross_entropy
from ._memory import check_memory
from ._tokenizer import Tokenizer
from ._train_config import TrainConfig, TrainingDiverged, TrainResult

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"
# Settings a resumed run may change: they decide when to stop, evaluate and save, and how steps
# are grouped into calls, never what a step computes (`steps` also stretches the schedule).
RESUMABLE_CHANGES = frozenset(
    {"steps", "eval_every", "eval_batches", "checkpoint_every", "steps_per_call"}
)


def batch_loss(
    model: GPT,
    inputs: Int[Array, "batch seq"],
    targets: Int[Array, "batch seq"],
    mask: Float[Array, "batch seq"],
) -> Float[Array, ""]:
    """Mean cross-entropy of the next token over the positions where `mask` is 1.

    The head and the loss run together, in chunks of positions (`head_cross_entropy`): the
    `batch seq vocab` logits are never made whole, nor their gradient.
    """
    hidden = jax.vmap(model.hidden)(inputs)
    weights = mask / jnp.maximum(jnp.sum(mask), 1.0)
    return head_cross_entropy(hidden, model.head_weight, targets, weights)


def make_train_step(
    treedef: Any, optimizer: optax.GradientTransformation
) -> Callable[[tuple[list[Array], Any], tuple[Array, Array, Array]], Any]:
    """One training step on the model's leaves, the function `train` runs (not jitted).

    `step((leaves, opt_state), (inputs, targets, mask))` returns `((leaves, opt_state),
    loss)`: the loss is `batch_loss` before the update, or NaN when any updated parameter is
    not finite.
    """

    def loss_of(leaves: list[Array], inputs: Array, targets: Array, mask: Array) -> Array:
        return batch_loss(jax.tree.unflatten(treedef, leaves), inputs, targets, mask)

    def step(
        state: tuple[list[Array], Any], batch: tuple[Array, Array, Array]
    ) -> tuple[tuple[list[Array], Any], Array]:
        leaves, opt_state = state
        loss, grads = jax.value_and_grad(loss_of)(leaves, *batch)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32
            updates, opt_state = optimizer.update(grads, opt_state, leaves)
        leaves = optax.apply_updates(leaves, updates)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))
        return (leaves, opt_state), jnp.where(finite, loss, jnp.nan)

    return step


def _check_init(init: GPT | None, model_config: GPTConfig) -> None:
    """Refuse an `init` model that is not a GPT of `model_config` in a dtype AdamW can train."""
    if init is None:
        return
    if not isinstance(init, GPT):
        raise TypeError(f"init must be a tg.GPT or None, got {type(init).__qualname__}")
    if init.config != model_config:
        raise ValueError(
            "init was made with another config than model_config: pass init.config as model_config"
        )
    dtypes = {leaf.dtype for leaf in jax.tree.leaves(init) if isinstance(leaf, jax.Array)}
    if jnp.dtype(jnp.float16) in dtypes:
        raise ValueError(
            "init has float16 parameters, in which AdamW's moments underflow and training "
            "gives NaN: load it as float32 (or bfloat16), e.g. "
            "tg.from_pretrained(path, dtype=jnp.float32)"
        )


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
    checkpoint of the last completed step and returns with `interrupted=True`; a NaN or
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
    _check_init(init, model_config)
    out_dir = Path(out_dir)
    existing = next(path for path in (out_dir, *out_dir.parents) if path.exists())
    if not existing.is_dir():
        where = "is a file" if existing == out_dir else f"lies inside {existing}, which is a file"
        raise NotADirectoryError(
            f"out_dir {out_dir} {where}, not a folder: name a folder for the checkpoint"
        )
    seq_len = config.seq_len or model_config.max_seq_len
    if seq_len > model_config.max_seq_len:
        raise ValueError(
            f"seq_len={seq_len} is longer than max_seq_len={model_config.max_seq_len}: "
            "lower seq_len or raise max_seq_len"
        )
    if tokenizer.vocab_size > model_config.vocab_size:
        raise ValueError(
            f"the tokenizer has {tokenizer.vocab_size} ids but vocab_size is "
            f"{model_config.vocab_size}: set vocab_size to at least {tokenizer.vocab_size}"
        )
    seq_len_source = "TrainConfig.seq_len" if config.seq_len else "the model's max_seq_len"
    _check_dataset("train_data", train_data, tokenizer, model_config.vocab_size)
    _check_batch_rows("train_data", train_data, seq_len, seq_len_source)
    if val_data is not None:
        _check_dataset("val_data", val_data, tokenizer, model_config.vocab_size)
        _check_batch_rows("val_data", val_data, seq_len, seq_len_source)
    check_memory(model_config, config, init=init)
    data_fingerprint = _fingerprint(train_data)
    optimizer = config.optimizer()
    rng = np.random.default_rng(config.seed)
    model = GPT(model_config, key=jax.random.key(config.seed)) if init is None else init
    leaves, treedef = jax.tree.flatten(model)
    opt_state = optimizer.init(leaves)
    start = 0
    if resume:
        checkpoint = load_checkpoint(out_dir, expect_config=model_config)
        state = checkpoint.train_state
        if state is None or checkpoint.optimizer_arrays is None:
            raise ValueError(f"{out_dir} {_MODEL_ONLY}")
        if checkpoint.tokenizer_json != tokenizer.to_json():
            raise CheckpointError(
                f"{out_dir} was trained with another tokenizer: resume with the tokenizer "
                "saved in its tokenizer.json"
            )
        start, saved_rng = _resume_position(out_dir / STATE_FILE, state)
        # Before the settings: fewer steps can change a warmup capped at them.
        if start >= config.steps:
            raise ValueError(
                f"{out_dir} is already at step {start}, so steps={config.steps} leaves nothing "
                f"to train: set steps above {start} to resume"
            )
        _check_same_settings(out_dir, state, config, data_fingerprint)
        leaves = jax.tree.leaves(checkpoint.model)
        structure = jax.tree.structure(opt_state)
        saved = [jnp.asarray(a) for a in checkpoint.optimizer_arrays]
        needed = len(jax.tree.leaves(opt_state))
        if len(saved) != needed:
            raise ValueError(
                f"{out_dir}: the optimizer state has {len(saved)} arrays, this optimizer "
                f"needs {needed}: resume with the same training settings"
            )
        opt_state = jax.tree.unflatten(structure, saved)
        rng.bit_generator.state = saved_rng
        _truncate_metrics(out_dir / METRICS_FILE, start)
    elif holds_checkpoint(out_dir):
        if _holds_only_a_model(out_dir):
            raise FileExistsError(f"{out_dir} {_MODEL_ONLY}")
        raise FileExistsError(
            f"{out_dir} already holds a training run: pass resume=True (--resume) to continue "
            "it, or choose another folder"
        )
    else:
        (out_dir / METRICS_FILE).unlink(missing_ok=True)  # from a run that never checkpointed

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
                "train_config": _jsonable(config),
                "train_data": data_fingerprint,
            },
        )
        saved_step = step

    result = TrainResult(model=model, step=start)
    schedule = config.schedule()
    tokens_per_step = config.batch_size * seq_len
    chunk = config.steps_per_call
    bar = _progress_bar(progress, start, config.steps)
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
                    _write_records(metrics, records)
                    raise TrainingDiverged(
                        _divergence_message(
                            losses[good], step + good + 1, config, out_dir, saved_step
                        )
                    )
                if val_batches and (stop % config.eval_every == 0 or stop == config.steps):
                    records[-1]["val_loss"] = evaluate(new_leaves)
                _write_records(metrics, records)
                leaves, opt_state, step = new_leaves, new_opt_state, stop
                data_rng = rng.bit_generator.state
                result.losses.extend(losses)
                if "val_loss" in records[-1]:
                    result.val_losses.append((step, records[-1]["val_loss"]))
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
        result.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    total = time.perf_counter() - run_started
    result.model = jax.tree.unflatten(treedef, leaves)
    result.step = step
    result.tokens_per_second = (step - start) * tokens_per_step / total if total > 0 else 0.0
    plot_losses(out_dir / METRICS_FILE, out_dir / PLOT_FILE)
    return result


_MODEL_ONLY = "holds a model but no training state to resume: train into a new folder instead"


def _holds_only_a_model(out_dir: Path) -> bool:
    """Whether `out_dir`'s checkpoint is a model without a training run (`save_checkpoint`
    called without `train_state`), judged by its `train_state.json`, committed or moved."""
    for path in (out_dir / COMMITTED_DIR / STATE_FILE, out_dir / STATE_FILE):
        if path.exists():
            try:
                state = json.loads(path.read_bytes())
            except ValueError:
                return False  # a corrupt state: resuming names the problem
            return isinstance(state, dict) and "step" not in state
    return False


def _check_batch_rows(name: str, data: TextDataset, seq_len: int, source: str) -> None:
    """`data` has next-token targets, and a stream is long enough for a row of `seq_len`."""
    if data.mode == "stream" and data.num_tokens < seq_len + 1:
        size = data.num_tokens
        fix = f"set TrainConfig.seq_len to at most {size - 1}, or " if size > 1 else ""
        raise ValueError(
            f"{name} is a stream of {size} tokens but a batch row needs seq_len + 1 = "
            f"{seq_len + 1} (seq_len is {source}): {fix}use more text"
        )
    if data.num_targets == 0:
        raise ValueError(
            f"{name} has no next-token targets: each of its {len(data)} documents is a single "
            "token; a document needs at least two (TextDataset.from_text makes "
            "[BOS] + ids + [BOS])"
        )


def _check_dataset(name: str, data: Any, tokenizer: Tokenizer, vocab_size: int) -> None:
    """`data` is a `TextDataset` made by `tokenizer`, with ids the model has embeddings for."""
    if not isinstance(data, TextDataset):
        raise TypeError(
            f"{name} must be a TextDataset (TextDataset.from_text(text, tokenizer)), "
            f"got {type(data).__name__}"
        )
    if data.tokenizer is not tokenizer and data.tokenizer.to_json() != tokenizer.to_json():
        raise ValueError(
            f"{name} was encoded by a different tokenizer than tokenizer= ("
            f"{type(data.tokenizer).__name__} of {data.tokenizer.vocab_size} ids, "
            f"tokenizer= {type(tokenizer).__name__} of {tokenizer.vocab_size} ids): the model "
            "would be saved with a tokenizer that decodes its ids as other text; pass "
            f"tokenizer={name}.tokenizer, or encode the text with this tokenizer "
            "(TextDataset.from_text(text, tokenizer))"
        )
    low = min(int(doc.min()) for doc in data.documents)
    high = max(int(doc.max()) for doc in data.documents)
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name} holds the token id {bad} but the model's ids are 0 to {vocab_size - 1} "
            f"(vocab_size={vocab_size}): encode the text with the tokenizer, or raise "
            "vocab_size"
        )


def _fingerprint(data: TextDataset) -> dict[str, Any]:
    """What identifies the training data in a checkpoint: its sizes and a hash of its ids."""
    digest = hashlib.sha256(data.mode.encode())
    for doc in data.documents:
        digest.update(doc.size.to_bytes(8, "little"))
        digest.update(doc.astype("<i4").tobytes())
    return {
        "mode": data.mode,
        "documents": len(data.documents),
        "tokens": data.num_tokens,
        "sha256": digest.hexdigest(),
    }


def _resume_position(path: Path, state: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The step and data sampler state a checkpoint's `train_state.json` records."""
    fix = "restore the file, or start a new run in another folder"
    for name in ("step", "data_rng"):
        if name not in state:
            raise CheckpointError(f"{path} has no {name!r} field: it is incomplete; {fix}")
    step = state["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{path}: 'step' must be a step number, got {step!r}; {fix}")
    data_rng = state["data_rng"]
    try:
        np.random.default_rng(0).bit_generator.state = data_rng
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(
            f"{path}: 'data_rng' is not a NumPy PCG64 state ({error!r}); {fix}"
        ) from None
    return step, data_rng


def _check_same_settings(
    out_dir: Path, state: dict[str, Any], config: TrainConfig, data: dict[str, Any]
) -> None:
    """Resuming with other training settings or data would not continue the saved run."""
    differ = []
    recorded = state.get("train_config")
    if isinstance(recorded, dict):
        for name, given in _jsonable(config).items():
            if name in RESUMABLE_CHANGES or name not in recorded or recorded[name] == given:
                continue
            if name == "warmup_steps" and _warmup_was_capped(recorded, given):
                continue
            differ.append(f"{name}: recorded {recorded[name]!r}, given {given!r}")
    recorded_data = state.get("train_data")
    if isinstance(recorded_data, dict) and recorded_data != data:

        def sizes(data: dict[str, Any]) -> str:
            return (
                f"{data.get('documents')} {data.get('mode')} documents of "
                f"{data.get('tokens')} tokens, sha256 {str(data.get('sha256'))[:12]}"
            )

        differ.append(f"train_data: recorded {sizes(recorded_data)}, given {sizes(data)}")
    if differ:
        raise ValueError(
            f"{out_dir} was trained with other settings ({'; '.join(differ)}): resume with "
            "the recorded values (only steps, eval_every, eval_batches, checkpoint_every and "
            "steps_per_call may change, and warmup_steps with steps when it was capped at "
            "steps), or start a new run in another folder"
        )


def _warmup_was_capped(recorded: dict[str, Any], given: Any) -> bool:
    """Whether the recorded run warmed up over all its steps and `given` warms up longer.

    A warmup capped at `steps` (as `--warmup` is on the command line) grows with `steps`
    when a resumed run asks for more, as the decay stretches with it.
    """
    warmup = recorded.get("warmup_steps")
    return isinstance(warmup, int) and warmup == recorded.get("steps") and given >= warmup


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


def _write_records(metrics: Any, records: list[dict[str, Any]]) -> None:
    metrics.write("".join(json.dumps(record) + "\n" for record in records))
    metrics.flush()


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop records past the checkpoint's step: a resumed run writes them again."""
    if path.exists():
        lines = _read_metrics(path)
        kept = [line for line, record in lines if record["step"] <= step]
        if len(kept) != len(lines) or not path.read_bytes().endswith(b"\n"):
            from ._checkpoint import atomic_write

            atomic_write(path, "".join(line + "\n" for line in kept).encode())


def _read_metrics(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The lines of a metrics file with their records.

    A last line that is not a record is dropped: it is what a crash in the middle of an append
    leaves, and it is past the last checkpoint, which is saved after its records.
    """
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    read = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not (
            isinstance(record, dict)
            and isinstance(record.get("step"), int)
            and isinstance(record.get("loss"), int | float)
        ):
            if number == len(lines):
                break
            raise ValueError(
                f"{path}, line {number}, is not a metrics record ({line[:60]!r}): "
                "delete that line, or the file"
            )
        read.append((line, record))
    return read


def _jsonable(config: TrainConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def _progress_bar(enabled: bool, start: int, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)


def plot_losses(metrics_path: Path, png_path: Path) -> None:
    """Draw the training and validation losses recorded in a metrics JSONL file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, losses, val_steps, val_losses = [], [], [], []
    if metrics_path.exists():
        for _, record in _read_metrics(metrics_path):
            steps.append(record["step"])
            losses.append(record["loss"])
            if "val_loss" in record:
                val_steps.append(record["step"])
                val_losses.append(record["val_loss"])
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(steps, losses, label="train", linewidth=0.8)
    if val_steps:
        axes.plot(val_steps, val_losses, "o-", label="validation")
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats per token)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
