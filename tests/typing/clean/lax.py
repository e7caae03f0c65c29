"""Correct uses of `jax.lax`'s functions: each result has the dims `assert_type` names.

jax.lax counts axes from 0 and takes shapes in full; a size, an axis or a shape that is not
a literal leaves the result's dims unknown (`Array`, or `_` for one dim), never wrong.
"""

import functools
from collections.abc import Sequence
from typing import assert_type

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int


def reshaped(x: Float[Array, "4 6"], y: Float[Array, "seq embed"], n: int) -> None:
    assert_type(lax.reshape(x, (3, 8)), Float[Array, "3 8"])
    assert_type(lax.reshape(x, [2, 3, 4]), Float[Array, "2 3 4"])
    assert_type(lax.reshape(x, (6, 4), (1, 0)), Float[Array, "6 4"])
    # With named dims a literal size is not a fact: `seq` may be 4.
    assert_type(lax.reshape(y, (4, n)), Float[Array, "_ _"])


def reshaped_to_sizes_in_a_variable(
    x: Float[Array, "a b"], sizes: tuple[int, int], shape: Sequence[int]
) -> Float[Array, " a"]:
    assert_type(lax.reshape(x, sizes), Float[Array, "_ _"])
    assert_type(lax.reshape(x, shape), Array)
    # A tuple of two sizes reshapes to two dims, with jnp too, so axis 1 exists.
    return jnp.sum(jnp.reshape(x, sizes), axis=1) + jnp.sum(x.reshape(sizes), axis=1)


def transposed(x: Float[Array, "seq heads head_dim"], axes: tuple[int, int, int]) -> None:
    assert_type(lax.transpose(x, (1, 0, 2)), Float[Array, "heads seq head_dim"])
    assert_type(lax.transpose(x, [2, 0, 1]), Float[Array, "head_dim seq heads"])
    assert_type(lax.transpose(x, axes), Array)


def concatenated(
    x: Float[Array, "seq 4"], y: Float[Array, "seq 8"], a: Float[Array, "a embed"]
) -> None:
    assert_type(lax.concatenate([x, y], 1), Float[Array, "seq 12"])
    assert_type(lax.concatenate((a, a, a), 0), Float[Array, "_ embed"])
    assert_type(lax.concatenate([x, y], dimension=1), Float[Array, "seq 12"])


def arg_extremes(logits: Float[Array, "batch seq vocab"], axis: int) -> None:
    assert_type(lax.argmax(logits, 2, jnp.int32), Int[Array, "batch seq"])
    assert_type(lax.argmin(logits, 0, jnp.int32), Int[Array, "seq vocab"])
    assert_type(lax.argmax(logits, axis, jnp.int32), Array)


def expanded(x: Float[Array, "seq embed"], batch: Float[Array, "*batch embed"]) -> None:
    assert_type(lax.expand_dims(x, (0,)), Float[Array, "_ seq embed"])
    assert_type(lax.expand_dims(x, (0, 2)), Float[Array, "_ seq _ embed"])
    assert_type(lax.expand_dims(x, (-1, 0)), Float[Array, "_ seq embed _"])
    assert_type(lax.expand_dims(x, ()), Float[Array, "seq embed"])
    assert_type(jnp.expand_dims(x, (1, 3)), Float[Array, "seq _ embed _"])
    assert_type(lax.expand_dims(batch, (0,)), Array)


def filled(x: Float[Array, "seq embed"], n: int) -> None:
    assert_type(lax.full_like(x, 0.0), Float[Array, "seq embed"])
    assert_type(lax.full_like(x, 1, jnp.int32), Int[Array, "seq embed"])
    assert_type(lax.full_like(x, 0.0, shape=(n,)), Array)


def cumulative(x: Float[Array, "seq embed"], batch: Float[Array, "*batch seq"]) -> None:
    assert_type(lax.cumsum(x), Float[Array, "seq embed"])
    assert_type(lax.cumsum(x, 1, reverse=True), Float[Array, "seq embed"])
    assert_type(lax.cumprod(x, axis=0), Float[Array, "seq embed"])
    assert_type(lax.cummax(x, 1), Float[Array, "seq embed"])
    assert_type(lax.cummin(x), Float[Array, "seq embed"])
    assert_type(lax.cumlogsumexp(x, 1), Float[Array, "seq embed"])
    assert_type(lax.cumsum(batch, 5), Float[Array, "*batch seq"])


def broadcast(
    bias: Float[Array, " out"], scale: Float[Array, " 3"], rows: int, cols: int
) -> Float[Array, "seq out"]:
    assert_type(lax.broadcast_in_dim(bias, (rows, cols), (1,)), Float[Array, "_ out"])
    assert_type(lax.broadcast_in_dim(scale, (2, 3), (1,)), Float[Array, "2 3"])
    assert_type(lax.broadcast_in_dim(1.0, (2, 3), ()), Float[Array, "2 3"])
    # A named dim placed at a literal size is that size, or 1: which is not known.
    assert_type(lax.broadcast_in_dim(bias, (4, 8), (1,)), Float[Array, "_ _"])
    return lax.broadcast_in_dim(bias, (rows, cols), (1,))


def squeezed(x: Float[Array, "1 seq 1"], kept: Float[Array, "seq _"]) -> None:
    assert_type(lax.squeeze(x, (0,)), Float[Array, "seq 1"])
    assert_type(lax.squeeze(x, (0, -1)), Float[Array, " seq"])
    assert_type(lax.squeeze(kept, (1,)), Float[Array, " seq"])


def contracted(
    x: Float[Array, " in"],
    w: Float[Array, "out in"],
    q: Float[Array, "heads seq head_dim"],
    k: Float[Array, "heads kv_seq head_dim"],
) -> None:
    assert_type(lax.dot_general(x, w, (((0,), (1,)), ((), ()))), Float[Array, " out"])
    assert_type(lax.dot_general(w, x, (((1,), (0,)), ((), ()))), Float[Array, " out"])
    assert_type(
        lax.dot_general(q, k, (((2,), (2,)), ((0,), (0,)))), Float[Array, "heads seq kv_seq"]
    )
    assert_type(lax.dot_general(w, w, (((), ()), ((), ()))), Float[Array, "out in out in"])


def reversed_(x: Float[Array, "seq embed"]) -> None:
    assert_type(lax.rev(x, (0,)), Float[Array, "seq embed"])
    assert_type(lax.rev(x, (0, 1)), Float[Array, "seq embed"])


def selected(
    keep: Bool[Array, "seq embed"], flag: Bool[Array, ""], x: Float[Array, "seq embed"]
) -> None:
    assert_type(lax.select(keep, x, jnp.zeros_like(x)), Float[Array, "seq embed"])
    assert_type(lax.select(flag, x, x), Float[Array, "seq embed"])
    assert_type(lax.select(True, x, x), Float[Array, "seq embed"])


def clamped(x: Float[Array, "seq embed"], low: Float[Array, "seq embed"]) -> None:
    assert_type(lax.clamp(0.0, x, 1.0), Float[Array, "seq embed"])
    assert_type(lax.clamp(low, x, jnp.float32(1)), Float[Array, "seq embed"])


def converted(x: Float[Array, "seq embed"]) -> None:
    assert_type(lax.convert_element_type(x, jnp.bfloat16), Float[Array, "seq embed"])
    assert_type(lax.integer_pow(x, 3), Float[Array, "seq embed"])


def sliced(
    x: Float[Array, "16 8"], cache: Float[Array, "kv_seq heads"], i: Int[Array, ""], n: int
) -> None:
    assert_type(lax.dynamic_slice(x, (i, 0), (4, 8)), Float[Array, "4 8"])
    assert_type(lax.dynamic_slice(x, (i, 0), (n, 8)), Float[Array, "_ 8"])
    assert_type(lax.dynamic_slice(cache, (i, 0), (1, 4)), Float[Array, "_ _"])
    assert_type(lax.dynamic_slice(x, jnp.array([i, i]), [2, 2]), Float[Array, "2 2"])
    assert_type(lax.slice(x, (0, 0), (4, 8)), Float[Array, "4 8"])
    assert_type(lax.slice(x, (1, 0), (16, 8), (3, 2)), Float[Array, "5 4"])
    assert_type(lax.slice(x, (0, 0), (n, 8)), Float[Array, "_ 8"])
    assert_type(lax.slice(cache, (0, 0), (4, 2)), Float[Array, "_ _"])


def stacked_layers(xs: Float[Array, "layers seq embed"]) -> Float[Array, "seq embed"]:
    last = lax.dynamic_slice(xs, (xs.shape[0] - 1, 0, 0), (1, xs.shape[1], xs.shape[2]))
    return lax.squeeze(last, (0,)) + jax.nn.relu(xs[0])


def vmapped_lambdas(
    xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]
) -> Float[Array, "seq mlp"]:
    # A lambda's dims are the enclosing function's: mlp here is w's, the mapped axis xs's.
    # (mypy --strict used to report these as calls of an untyped function.)
    hidden = jax.vmap(lambda x: _project(x, w))(xs)
    assert_type(hidden, Float[Array, "seq mlp"])
    return jax.vmap(lambda h: jax.nn.relu(h))(hidden)


def _project(x: Float[Array, " in"], w: Float[Array, "out in"]) -> Float[Array, " out"]:
    return w @ x


def _scaled_step(
    h: Float[Array, " embed"], x: Float[Array, " embed"], scale: float
) -> tuple[Float[Array, " embed"], None]:
    return h + x * scale, None


def scanned_partial_and_lambda(
    xs: Float[Array, "seq embed"], h: Float[Array, " embed"]
) -> Float[Array, " embed"]:
    # Steps whose dims the plugin cannot read keep the carry as init (scan requires it so).
    carry, _ = lax.scan(functools.partial(_scaled_step, scale=2.0), h, xs)
    assert_type(carry, Float[Array, " embed"])
    total, _ = lax.scan(lambda c, x: (c + x, None), carry, xs)
    return total
