"""Correct code that the plugin once reported or lost: functions behind a decorator that makes
them an object (`@jax.custom_vjp`, `@functools.cache`), an overloaded function given to
`jax.vmap` or `eqx.filter_jit`, and `jnp.newaxis` in an index."""

import functools
from typing import Any, assert_type, overload

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float


# A call of a custom-derivative function binds its dims as a call of the function would.
@jax.custom_vjp
def clip_gradient(x: Float[Array, "n d"], scale: Float[Array, " d"]) -> Float[Array, "n d"]:
    return x * scale


def clip_forward(
    x: Float[Array, "n d"], scale: Float[Array, " d"]
) -> tuple[Float[Array, "n d"], Float[Array, " d"]]:
    return clip_gradient(x, scale), scale


def clip_backward(
    scale: Float[Array, " d"], g: Float[Array, "n d"]
) -> tuple[Float[Array, "n d"], Float[Array, " d"]]:
    return jnp.clip(g, -1.0, 1.0) * scale, jnp.zeros_like(scale)


clip_gradient.defvjp(clip_forward, clip_backward)


@jax.custom_jvp
def soft_relu(x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    return jax.nn.softplus(x)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def scaled(x: Float[Array, " n"], factor: float) -> Float[Array, " n"]:
    return x * factor


def custom_derivatives(h: Float[Array, "seq embed"], s: Float[Array, " embed"]) -> None:
    assert_type(clip_gradient(h, s), Float[Array, "seq embed"])
    assert_type(soft_relu(h), Float[Array, "seq embed"])
    assert_type(scaled(s, 2.0), Float[Array, " embed"])


# A cached function's own dims are unknown after the call, as for any function whose
# parameters do not mention them.
@functools.cache
def causal_mask(n: int) -> Bool[Array, "n n"]:
    return jnp.tril(jnp.ones((n, n), dtype=bool))


def cached(scores: Float[Array, "seq seq"]) -> Float[Array, "seq seq"]:
    mask: Bool[Array, "seq seq"] = causal_mask(scores.shape[0])
    return jnp.where(mask, scores, -jnp.inf)


# An overloaded function, wrapped: not modelled, its arrays of unknown dims.
@overload
def flipped(x: Float[Array, " n"]) -> Float[Array, " n"]: ...
@overload
def flipped(x: Float[Array, "n m"]) -> Float[Array, "n m"]: ...
def flipped(x: Any) -> Any:
    return jnp.flip(x, axis=0)


class Transpose:
    @overload
    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]: ...
    @overload
    def __call__(self, x: Float[Array, "n m"]) -> Float[Array, "m n"]: ...
    def __call__(self, x: Any) -> Any:
        return x.T


def overloads(
    xs: Float[Array, "batch seq embed"], t: Transpose
) -> tuple[Float[Array, "batch embed seq"], Float[Array, "seq batch embed"]]:
    assert_type(jax.vmap(flipped)(xs), Float[Array, "..."])
    return jax.vmap(t)(xs), eqx.filter_jit(flipped)(xs)


# `jnp.newaxis` and `np.newaxis` are `None`: a new axis.
def new_axes(x: Float[Array, "seq embed"]) -> None:
    assert_type(x[jnp.newaxis], Float[Array, "_ seq embed"])
    assert_type(x[:, np.newaxis], Float[Array, "seq _ embed"])
    assert_type(x[..., jnp.newaxis], Float[Array, "seq embed _"])
