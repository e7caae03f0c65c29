"""The memory a training run needs, checked against what is available before anything is
allocated."""

import math
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._config import GPTConfig
from ._gpt import GPT
from ._train_config import TrainConfig

# Where Linux says how much memory a new allocation can take without swapping.
MEMINFO = Path("/proc/meminfo")
# The low end of the activation estimate, which is within about 20% of XLA's own count.
ACTIVATIONS_LOW = 0.8


def count_parameters(model: Any) -> int:
    """The number of parameters of `model`, a `GPT` or one made by `abstract_model`."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(model))


def abstract_model(model_config: GPTConfig) -> GPT:
    """A `GPT` of `model_config` whose leaves are shapes and dtypes only: nothing is
    allocated, so it sizes even a model far too large to build."""
    model: GPT = eqx.filter_eval_shape(GPT, model_config, key=jax.random.key(0))
    return model


def check_memory(
    model_config: GPTConfig,
    config: TrainConfig,
    *,
    init: GPT | None = None,
    validation: bool = True,
) -> None:
    """Refuse, before anything is allocated, a run that needs more memory than is available.

    Training holds six copies of the parameters, in their dtype: the parameters and AdamW's
    two moments, before and after a step (a step's inputs are kept until it has finished, so
    that Ctrl-C can save the last finished step). The step's working memory, the gradients
    and the activations that the backward pass keeps, is estimated per position of each
    layer as `8 embed_dim + 2 mlp_dim` values (the norms' inputs and outputs, queries, keys,
    values, the attention's output and the MLP's hidden layer), `3 mlp_dim` with SwiGLU,
    which keeps its gate and its up projection, plus the float32 attention scores and
    weights, `2 num_heads seq_len`. XLA's own count for the compiled step (its arguments,
    results and working memory) was within about 16% of the whole estimate on 4 configs, so
    a run is refused only when the parameters' copies and 80% of the activation estimate do
    not fit: an estimate must not stop a run that would fit.
    The batches held at once, the `eval_batches` validation ones (with `validation`) and a
    call's `steps_per_call` (at most `steps`), are refused when the model fits but they do
    not, beside the parameters' copies: a mistyped `eval_batches=10**8` would draw batches for
    minutes before running out of memory.
    The memory available is the accelerator's (its limit less what is in use) or, on the
    CPU, MemAvailable of /proc/meminfo; where it cannot be read, nothing is checked.
    """
    available = _available_memory()
    if available is None:
        return
    free, where = available
    model = abstract_model(model_config) if init is None else init
    leaves = jax.tree.leaves(model)
    parameters = count_parameters(model)
    itemsize = max(jnp.dtype(leaf.dtype).itemsize for leaf in leaves)
    dtype = jnp.dtype(leaves[0].dtype).name
    state = 6 * sum(math.prod(leaf.shape) * jnp.dtype(leaf.dtype).itemsize for leaf in leaves)
    seq_len = config.seq_len or model_config.max_seq_len
    mlp_arrays = 3 if model_config.mlp == "swiglu" else 2
    per_position = (
        8 * model_config.embed_dim + mlp_arrays * model_config.mlp_dim
    ) * itemsize + 2 * model_config.num_heads * seq_len * 4
    activations = config.batch_size * seq_len * model_config.num_layers * per_position
    if state + ACTIVATIONS_LOW * activations <= free:
        _check_batches(config, seq_len, free - state, where, validation=validation)
        return
    if state > free:
        fix = "choose a smaller model: lower embed_dim or num_layers"
    else:
        fix = "lower batch_size or seq_len, or embed_dim or num_layers"
    raise ValueError(
        f"the model has {parameters:,} parameters: training needs about "
        f"{_bytes(state + activations)} ({_bytes(state)} for the {dtype} parameters and "
        f"AdamW's two moments, before and after a step, and an estimated {_bytes(activations)} of "
        f"activations for batch_size={config.batch_size} rows of seq_len={seq_len} tokens) "
        f"but {_bytes(free)} of {where} is available: {fix}"
    )


def _check_batches(
    config: TrainConfig, seq_len: int, free: int, where: str, *, validation: bool
) -> None:
    """Refuse more batches than fit in `free` bytes (inputs, targets and mask: 12 bytes a
    position)."""
    val = config.eval_batches if validation else 0
    count = val + min(config.steps_per_call, config.steps)
    held = count * config.batch_size * seq_len * 12
    if held <= free:
        return
    raise ValueError(
        f"training would hold {count:,} batches of batch_size={config.batch_size} rows of "
        f"seq_len={seq_len} tokens at once ({val:,} for validation, eval_batches, and "
        f"{count - val:,} for one compiled call, steps_per_call), {_bytes(held)}, but "
        f"{_bytes(max(free, 0))} of {where} is left beside the parameters' copies: lower "
        "eval_batches or steps_per_call"
    )


def _bytes(size: int) -> str:
    """`size` bytes in GB, MB or kB: to one decimal below 10, else whole."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        value = size / scale
        text = f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
        if float(text.replace(",", "")) >= 1:  # 999.9 MB is 1.0 GB, not 1,000 MB
            return f"{text} {unit}"
    return f"{size} bytes"


def _available_memory() -> tuple[int, str] | None:
    """The bytes that training can allocate, and where (`"memory"`, `"GPU memory"`); None
    where that cannot be read."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        free = _meminfo_available(MEMINFO)
        return None if free is None else (free, "memory")
    stats = device.memory_stats()
    if not stats or "bytes_limit" not in stats:
        return None
    return stats["bytes_limit"] - stats.get("bytes_in_use", 0), f"{device.platform.upper()} memory"


def _meminfo_available(path: Path) -> int | None:
    """MemAvailable of a /proc/meminfo file, in bytes; None where it cannot be read."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, ValueError):
        return None
    for line in lines:
        name, _, value = line.partition(":")
        words = value.split()
        if name == "MemAvailable" and len(words) == 2 and words[0].isdigit() and words[1] == "kB":
            return int(words[0]) * 1024  # /proc/meminfo's kB are KiB
    return None
