"""NumPy arrays with jaxtyping dims: operators, methods and `.T` follow jax.Array's rules, and
NumPy's own shapes (`np.zeros((3, 4))`, `np.arange(n)`) are of unknown size, never a name."""

from collections.abc import Callable
from typing import assert_type

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int


def logits(
    x: Float[np.ndarray, "seq embed"], table: Float[np.ndarray, "vocab embed"]
) -> Float[np.ndarray, "seq vocab"]:
    return x @ table.T


def linear(
    x: Float[np.ndarray, " in"], w: Float[np.ndarray, "out in"]
) -> Float[np.ndarray, " out"]:
    return w @ x


def project(
    x: Float[np.ndarray, " embed"], w: Float[np.ndarray, "mlp embed"]
) -> Float[np.ndarray, " mlp"]:
    return linear(x, w)


def normalise(x: Float[np.ndarray, "*batch embed"]) -> Float[np.ndarray, "*batch embed"]:
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-5)


def scaled(
    x: Float[np.ndarray, "seq embed"], gain: Float[np.ndarray, " embed"]
) -> Float[np.ndarray, "seq embed"]:
    return 2.0 * x * gain + 1


def column_totals(x: Float[np.ndarray, "rows cols"]) -> Float[np.ndarray, " cols"]:
    return x.sum(axis=0)


def unit_rows(x: Float[np.ndarray, "rows cols"]) -> Float[np.ndarray, "rows cols"]:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def first_row(x: Float[np.ndarray, "rows cols"]) -> Float[np.ndarray, " cols"]:
    return x[0]


def flat(x: Float[np.ndarray, "rows cols"]) -> Float[np.ndarray, " n"]:
    return x.ravel()


def made_by_numpy(n: int) -> tuple[Float[np.ndarray, " n"], Float[np.ndarray, "rows cols"]]:
    return np.arange(float(n)), np.zeros((3, 4))


def sizes(x: Float[np.ndarray, "rows 3"]) -> int:
    rows, three = x.shape
    return rows * three if x.shape[0] == 4 else rows


def best(x: Float[np.ndarray, "seq vocab"]) -> Int[np.ndarray, " seq"]:
    return x.argmax(axis=-1)


def to_jax(
    x: Float[np.ndarray, "seq embed"], w: Float[Array, "embed vocab"]
) -> Float[Array, "seq vocab"]:
    return jnp.asarray(x) @ w


# `jnp.asarray` and `jnp.array`, and NumPy's, keep the dims of an array given.
def converted(x: Float[np.ndarray, "seq embed"], y: Float[Array, "seq embed"]) -> None:
    assert_type(jnp.asarray(x), Float[Array, "seq embed"])
    assert_type(jnp.array(y, dtype=jnp.float32), Float[Array, "seq embed"])
    assert_type(jnp.asarray(np.asarray(y)), Float[Array, "seq embed"])
    assert_type(jnp.asarray([1.0, 2.0]), Array)
    assert_type(jnp.array(y, ndmin=3), Array)


def mixed(
    x: Float[Array, "seq embed"], w: Float[np.ndarray, "embed vocab"]
) -> Float[Array, "seq vocab"]:
    return x @ w


def totals(x: Float[np.ndarray, "seq embed"]) -> Float[Array, " seq"]:
    return jnp.sum(x, axis=-1)


# A shaped Callable's dims are bound at each call, as a function's are.
def apply_twice(
    f: Callable[[Float[Array, " n"]], Float[Array, " n"]], x: Float[Array, " seq"]
) -> Float[Array, " seq"]:
    return f(f(x))


def sampled(
    seed: int, x: Float[Array, "seq embed"]
) -> tuple[Float[np.ndarray, "seq embed"], Float[np.ndarray, "a b"]]:
    rng = np.random.default_rng(seed)
    return np.asarray(x), rng.normal(size=(3, 4))


# NumPy's functions and ufuncs have the dims of jax.numpy's function of the same name; others,
# and calls on values without dims, are NumPy's own.
def softmax(x: Float[np.ndarray, "seq vocab"]) -> Float[np.ndarray, "seq vocab"]:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)


def attention(
    q: Float[np.ndarray, "seq dim"], k: Float[np.ndarray, "kv_seq dim"]
) -> Float[np.ndarray, "seq kv_seq"]:
    scores = np.einsum("sd,td->st", q, k) * 0.125
    return np.where(scores > 0, scores, np.tanh(scores))


def pooled(
    x: Float[np.ndarray, "seq embed"], y: Float[np.ndarray, "seq embed"]
) -> tuple[
    Float[np.ndarray, "2 seq embed"], Float[np.ndarray, " embed"], Float[np.ndarray, "embed seq"]
]:
    return np.stack([x, y]), np.mean(np.maximum(x, 0.0), axis=0), np.transpose(np.add(x, y))


def numpy_own(x: Float[np.ndarray, "seq embed"]) -> tuple[float, Float[np.ndarray, "a b"]]:
    return float(np.sum(x)), np.exp(np.ones((2, 3))) + np.linalg.norm(x)


# Without `axis`, cumsum flattens the array first: its result is of unknown dims.
def running(
    x: Float[np.ndarray, "seq embed"], y: Float[Array, "seq embed"]
) -> tuple[Float[np.ndarray, " n"], Float[np.ndarray, "seq embed"], Float[Array, " n"]]:
    return np.cumsum(x), np.cumsum(x, axis=0), jnp.cumsum(y)


# A jax array given to NumPy comes back as a NumPy array of its dims.
def back_to_numpy(x: Float[Array, "seq embed"]) -> Float[np.ndarray, "seq embed"]:
    return np.tanh(np.maximum(x, 0.0))
