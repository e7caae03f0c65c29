"""The checks `generate` runs on its arguments before anything compiles: each prompt read
as int32 token ids inside the vocabulary, and each option, with its value and the fix. A
0-d array is read as the number it holds, and an array that NumPy converts (a PyTorch CPU
tensor) as a NumPy array."""

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Int

from ._mismatch import describe
from ._text import is_int, is_real

# Python floats: compared with a NumPy float32, 1e300 would be cast to it, and overflow.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal number
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def is_greedy(temperature: float) -> bool:
    """Whether `temperature` (checked) samples greedily: 0, or too small for float32."""
    return bool(temperature < FLOAT32_TINY)


def _array_like(value: Any) -> Any:
    """`value` as a NumPy array when it is an array that is neither NumPy's nor JAX's but
    converts to one (a PyTorch CPU tensor, as `tokenizer(text, return_tensors="pt")`
    gives); anything else as it is."""
    if isinstance(value, jax.Array | np.ndarray | str | bytes) or not hasattr(value, "__array__"):
        return value
    detach = getattr(value, "detach", None)  # a tensor that requires grad refuses __array__
    return np.asarray(detach() if callable(detach) else value)


def _is_prompt_like(value: object) -> bool:
    if isinstance(value, str | bytes):
        return False
    if isinstance(value, jax.Array | np.ndarray):
        return value.ndim > 0  # a 0-d array is one id: `list(jnp.array(ids))` is one prompt
    return isinstance(value, Sequence)


def scalar(value: Any) -> Any:
    """The Python number a concrete 0-d NumPy or JAX array (or PyTorch tensor) holds;
    anything else as it is."""
    if not isinstance(value, jax.Array) and hasattr(value, "__array__"):
        value = _array_like(value)
    if (
        isinstance(value, jax.Array | np.ndarray)
        and value.ndim == 0
        and not isinstance(value, jax.core.Tracer)
        and not _is_key_array(value)
    ):
        return value.item()
    return value


def check_untraced(arguments: dict[str, Any]) -> None:
    """Reject an argument holding a tracer: under `jax.jit` or `jax.vmap` the arguments of
    `generate` (the model's arrays, the key, the prompt, an option) are tracers, which
    neither its own compiled loop nor its Python lists can take. Checked before anything
    else, which would misreport a tracer (a traced temperature is not "a finite number")."""
    for name, value in arguments.items():
        if not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value)):
            continue
        path, leaf = next(
            (path, leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(value)
            if isinstance(leaf, jax.core.Tracer)
        )
        # describe() reads dtypes with NumPy, which has no name for a key dtype.
        got = f"{leaf.dtype}[{', '.join(map(str, leaf.shape))}]"
        if path:  # the leaf of a model or a batch of prompts that is traced
            got = f"{name}{jax.tree_util.keystr(path)}, {got}"
        raise TypeError(
            f"generate got a traced {name} ({got}): it runs its own "
            "compiled loop and returns Python lists, so call it outside jax.jit and jax.vmap, "
            "with concrete arrays and numbers"
        )


def check_prompts(prompt: Any, vocab: int) -> tuple[list[Int[np.ndarray, " seq"]], bool]:
    """The prompts as int32 arrays, and whether `prompt` was a single prompt.

    A batch is a non-empty sequence whose items are all sequences or arrays; anything else
    is read as one prompt.
    """
    if isinstance(prompt, str | bytes):
        raise ValueError("prompt is a string: encode it into token ids with a tokenizer first")
    if isinstance(prompt, Mapping):
        raise ValueError(
            f"prompt is a mapping with keys {sorted(map(str, prompt))}, as a tokenizer's output "
            "is: pass its token ids (prompt['input_ids'])"
        )
    shown = describe(prompt)  # before a PyTorch tensor is read as NumPy
    prompt = _array_like(prompt)
    if isinstance(prompt, jax.Array | np.ndarray):
        if prompt.ndim != 1:
            raise ValueError(
                f"prompt is a {prompt.ndim}-D array ({shown}): pass one prompt as "
                "a 1-D array of token ids, or a batch as a list of prompts (list(prompt))"
            )
        return [_ids(prompt, vocab, "prompt")], True
    items = [_array_like(item) for item in prompt] if isinstance(prompt, Sequence) else []
    if items and all(map(_is_prompt_like, items)):
        names = (f"prompt {index} of the batch" for index in range(len(items)))
        return [_ids(item, vocab, name) for item, name in zip(items, names, strict=True)], False
    return [_ids(prompt, vocab, "prompt")], True


def _ids(prompt: Any, vocab: int, name: str) -> Int[np.ndarray, " seq"]:
    """One prompt as an int32 array, every id checked against the vocabulary."""
    if isinstance(prompt, jax.Array | np.ndarray):
        if prompt.ndim != 1:
            raise ValueError(
                f"{name} is a {prompt.ndim}-D array ({describe(prompt)}): pass a 1-D array "
                "of token ids"
            )
        if not np.issubdtype(prompt.dtype, np.integer):
            raise ValueError(
                f"{name} has dtype {np.dtype(prompt.dtype).name}, not integers: pass token "
                "ids as an integer array"
            )
        ids = [int(item) for item in np.asarray(prompt)]
    elif _is_prompt_like(prompt):
        prompt = [scalar(item) for item in prompt]
        for position, item in enumerate(prompt):
            if not is_int(item):
                raise ValueError(
                    f"{name} is not integers: position {position} holds {item!r} "
                    f"({type(item).__qualname__}); pass token ids as ints"
                )
        ids = [int(item) for item in prompt]
    else:
        raise ValueError(
            f"{name} must be a sequence of token ids or a 1-D integer array, got "
            f"{describe(prompt)}: encode text into token ids with a tokenizer first"
        )
    if not ids:
        raise ValueError(f"{name} is empty: pass at least one token id")
    for position, token in enumerate(ids):
        if not 0 <= token < vocab:
            raise ValueError(
                f"{name} has token id {token} at position {position}, outside the vocabulary "
                f"[0, {vocab}): encode with a tokenizer whose vocabulary has at most "
                f"vocab_size={vocab} ids"
            )
    return np.array(ids, np.int32)


def _is_key_array(value: object) -> bool:
    """Whether `value` is an array of new-style keys (`jax.random.key`), of any shape."""
    return isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jax.dtypes.prng_key)


def _is_one_key(value: object) -> bool:
    """Whether `value` is one key: new-style of shape `()`, or legacy raw `uint32` data of
    the default implementation's width (`uint32[2]` for threefry, `uint32[4]` for rbg, as
    `jax.random.PRNGKey` makes under `jax_default_prng_impl="rbg"`)."""
    if not isinstance(value, jax.Array):
        return False
    if _is_key_array(value):
        return value.shape == ()
    legacy = jax.eval_shape(jax.random.PRNGKey, 0)
    return value.dtype == np.uint32 and value.shape == legacy.shape


def check_options(
    max_new_tokens: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    eos_id: Any,
    key: Any,
    on_token: Any,
    vocab: int,
) -> None:
    """Reject each bad option with its value and the fix."""
    if not is_int(max_new_tokens) or int(max_new_tokens) < 1:
        raise ValueError(
            f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}: ask for at least "
            "one new token"
        )
    # An int is finite, however large: math.isfinite(10**400) would raise OverflowError.
    if not is_real(temperature) or not (
        (isinstance(temperature, numbers.Integral) or math.isfinite(temperature))
        and temperature >= 0
    ):
        raise ValueError(
            f"temperature must be a finite number >= 0, got {temperature!r}: pass 0 for greedy "
            "decoding or a positive temperature such as 0.8"
        )
    if temperature > _FLOAT32_MAX:
        raise ValueError(
            f"temperature {temperature!r} is larger than float32 holds ({_FLOAT32_MAX:.4g}), "
            "and sampling runs in float32: pass a smaller temperature (a very high one "
            "already samples every token almost equally)"
        )
    if top_k is not None and (not is_int(top_k) or not 1 <= int(top_k) <= vocab):
        raise ValueError(
            f"top_k must be an int from 1 to vocab_size={vocab}, got {top_k!r}: pass None to "
            "keep every token, or a k in that range"
        )
    if top_p is not None and (not is_real(top_p) or not 0 < top_p <= 1):
        raise ValueError(
            f"top_p must be a number in (0, 1], got {top_p!r}: pass None to keep every token, "
            "or a probability mass such as 0.9"
        )
    if eos_id is not None and not is_int(eos_id):
        raise ValueError(
            f"eos_id must be one int token id or None, got {eos_id!r}: pass a single id in "
            f"[0, {vocab}) (generate stops at one id; to stop at several, map them to one)"
        )
    if eos_id is not None and not 0 <= int(eos_id) < vocab:
        raise ValueError(
            f"eos_id {eos_id!r} is outside the vocabulary [0, {vocab}): pass an id in that "
            "range, or None to stop only at max_new_tokens"
        )
    if not _is_one_key(key):
        # describe() reads dtypes with NumPy, which has no name for a key dtype.
        got = (
            f"{key.dtype}[{', '.join(map(str, key.shape))}]"
            if _is_key_array(key)
            else describe(key)
        )
        raise TypeError(
            f"key must be one PRNG key, got {got}: pass jax.random.key(seed), or one key of "
            "a split (keys[0])"
        )
    if on_token is not None and not callable(on_token):
        raise TypeError(f"on_token must be callable or None, got {describe(on_token)}")
