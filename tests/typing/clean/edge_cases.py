"""Correct code that the plugin once reported: a name, a dim string or an index that only
looks like a shape rule. The plugin must report nothing here."""

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar, assert_type, overload

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

import typedgpt as tg

N = TypeVar("N")


# A function's own type variable is not a dim: only a class's type parameters are.
def pick(items: Sequence[N], weights: Float[Array, " n"]) -> N:
    return items[int(weights.argmax())]


def pick_a_name(names: list[str], scores: Float[Array, " vocab"]) -> str:
    return pick(names, scores)


# `jax.lax.max` is elementwise; `jnp.max` reduces. A stub is matched by module and name.
def relu_lax(x: Int[Array, " n"]) -> Int[Array, " n"]:
    return jax.lax.max(x, 0)


def clamp_lax(x: Float[Array, "a b"]) -> Float[Array, "a b"]:
    return jax.lax.min(x, 1.0)


def top(x: Float[Array, "a b"]) -> Float[Array, " b"]:
    return jnp.max(x, 0)


# A boolean mask keeps an unknown number of entries: shape-unknown, never a gather.
def kept(x: Float[Array, " seq"], keep: Bool[Array, " seq"]) -> Float[Array, " kept"]:
    return x[keep]


def kept_rows(
    x: Float[Array, "seq embed"], keep: Bool[Array, " seq"]
) -> Float[Array, "kept embed"]:
    return x[keep]


def positives(x: Float[Array, " seq"]) -> Float[Array, " kept"]:
    return x[x > 0]


def kept_cells(x: Float[Array, "seq embed"]) -> Float[Array, " kept"]:
    return x[x > 0]


# An overload by rank: each call binds the item whose ranks fit (it used to bind the last).
@overload
def transposed(x: Float[Array, " n"]) -> Float[Array, " n"]: ...
@overload
def transposed(x: Float[Array, "n m"]) -> Float[Array, "m n"]: ...
def transposed(x: Any) -> Any:
    return x.T


def transposed_both(v: Float[Array, " seq"], m: Float[Array, "seq embed"]) -> None:
    assert_type(transposed(v), Float[Array, " seq"])
    assert_type(transposed(m), Float[Array, "embed seq"])


class HeadOut(NamedTuple):
    logits: Float[Array, "seq vocab"]
    hidden: Float[Array, "seq embed"]


# A NamedTuple that is not generic has its fields' dims: made from them, it is the class.
def head(logits: Float[Array, "seq vocab"], hidden: Float[Array, "seq embed"]) -> HeadOut:
    out = HeadOut(logits, hidden=hidden)
    return out._replace(hidden=out.hidden + 1.0)


def head_of_unknown(logits: jax.Array, hidden: Float[Array, "seq embed"]) -> HeadOut:
    return HeadOut(logits, hidden)


# A bare `tg.Linear` is `tg.Linear[Any, Any]`: its weight's dims are of unknown size.
def bare_linear(lin: tg.Linear, x: Float[Array, " in"]) -> Float[Array, " in"]:
    return lin.weight @ x
