"""Resuming a training run: what a checkpoint records of the run (its settings, the position
of its data sampler, a fingerprint of its training data), the checks that a resumed run
continues that run, or that a folder holds a model and no run to resume, and `restore`,
which reads the run back."""

import hashlib
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array
from safetensors import SafetensorError, safe_open

from ._checkpoint import COMMITTED_DIR, MODEL_FILE, STATE_FILE, CheckpointError
from ._checkpoint_load import load_checkpoint
from ._config import GPTConfig
from ._data import TextDataset
from ._gpt import GPT
from ._memory import abstract_model
from ._tokenizer import Tokenizer
from ._train_config import TrainConfig

# Settings a resumed run may change: they decide when to stop, evaluate and save, and how steps
# are grouped into calls, never what a step computes (`steps` also stretches the schedule).
RESUMABLE_CHANGES = frozenset(
    {"steps", "eval_every", "eval_batches", "checkpoint_every", "steps_per_call"}
)

MODEL_ONLY = "holds a model but no training state to resume: train into a new folder instead"


def holds_only_a_model(out_dir: Path) -> bool:
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


# The float dtypes of a safetensors file, by its name for them.
_FLOAT_DTYPES = {"F64": jnp.float64, "F32": jnp.float32, "BF16": jnp.bfloat16, "F16": jnp.float16}


def saved_shapes(out_dir: Path, model_config: GPTConfig) -> GPT | None:
    """The shapes and dtypes of the parameters that resuming the run in `out_dir` trains, as
    a `GPT` of `jax.ShapeDtypeStruct`s read from its `model.safetensors` header alone (a
    bfloat16 run resumes in bfloat16, in half the memory of float32), or `None` where the
    header cannot be read: resuming then names the problem."""
    committed = out_dir / COMMITTED_DIR
    folder = committed if (committed / STATE_FILE).exists() else out_dir
    try:
        with safe_open(folder / MODEL_FILE, framework="numpy") as file:
            names = {file.get_slice(key).get_dtype() for key in file.keys()}
    except (OSError, ValueError, SafetensorError):
        return None
    floats = [jnp.dtype(_FLOAT_DTYPES[name]) for name in names if name in _FLOAT_DTYPES]
    if not floats:
        return None
    dtype = max(floats, key=lambda d: d.itemsize)  # the widest: never under-counted

    def cast(leaf: Any) -> Any:
        inexact = jnp.issubdtype(leaf.dtype, jnp.inexact)
        return jax.ShapeDtypeStruct(leaf.shape, dtype) if inexact else leaf  # type: ignore[no-untyped-call]

    model: GPT = jax.tree.map(cast, abstract_model(model_config))
    return model


def fingerprint(data: TextDataset) -> dict[str, Any]:
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


def resume_position(path: Path, state: dict[str, Any]) -> tuple[int, dict[str, Any]]:
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


def check_same_settings(
    out_dir: Path,
    state: dict[str, Any],
    config: TrainConfig,
    data: dict[str, Any],
    max_seq_len: int,
) -> None:
    """Resuming with other training settings or data would not continue the saved run.
    `seq_len=None` means `max_seq_len`, on either side."""
    differ = []
    recorded = state.get("train_config")
    if isinstance(recorded, dict):
        for name, given in jsonable(config).items():
            if name in RESUMABLE_CHANGES or name not in recorded or recorded[name] == given:
                continue
            if name == "seq_len" and {recorded[name], given} <= {None, max_seq_len}:
                continue
            if name == "warmup_steps" and _warmup_was_capped(recorded, given):
                continue
            differ.append(f"{name}: recorded {recorded[name]!r}, given {given!r}")
    recorded_data = state.get("train_data")
    if isinstance(recorded_data, dict) and recorded_data != data:

        def sizes(data: dict[str, Any]) -> str:
            return (
                f"{data.get('documents')} documents ({data.get('mode')} mode) of "
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


def jsonable(config: TrainConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def restore(
    out_dir: Path,
    model_config: GPTConfig,
    tokenizer: Tokenizer,
    config: TrainConfig,
    optimizer: optax.GradientTransformation,
    data_fingerprint: dict[str, Any],
) -> tuple[int, list[Array], Any, Any, dict[str, Any]]:
    """The run in `out_dir` that `train(resume=True)` continues, checked against the
    arguments: its step, the model's leaves and their treedef, AdamW's state and the data
    sampler's state. Nothing is kept but what is returned: the checkpoint's NumPy copies of
    the optimizer state are dropped.
    """
    checkpoint = load_checkpoint(out_dir, expect_config=model_config)
    state = checkpoint.train_state
    if state is None or checkpoint.optimizer_arrays is None:
        raise ValueError(f"{out_dir} {MODEL_ONLY}")
    if checkpoint.tokenizer_json != tokenizer.to_json():
        raise CheckpointError(
            f"{out_dir} was trained with another tokenizer: resume with the tokenizer "
            "saved in its tokenizer.json"
        )
    start, saved_rng = resume_position(out_dir / STATE_FILE, state)
    # Before the settings: fewer steps can change a warmup capped at them.
    if start >= config.steps:
        raise ValueError(
            f"{out_dir} is already at step {start}, so steps={config.steps} leaves nothing "
            f"to train: set steps above {start} to resume"
        )
    check_same_settings(out_dir, state, config, data_fingerprint, model_config.max_seq_len)
    leaves, treedef = jax.tree.flatten(checkpoint.model)
    shapes = jax.eval_shape(optimizer.init, leaves)  # the state's structure, unallocated
    saved = [jnp.asarray(a) for a in checkpoint.optimizer_arrays]
    needed = len(jax.tree.leaves(shapes))
    if len(saved) != needed:
        raise ValueError(
            f"{out_dir}: the optimizer state has {len(saved)} arrays, this optimizer "
            f"needs {needed}: resume with the same training settings"
        )
    opt_state = jax.tree.unflatten(jax.tree.structure(shapes), saved)
    return start, leaves, treedef, opt_state, saved_rng
