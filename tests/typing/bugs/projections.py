"""Seeded bugs: linear projections and the MLP."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def linear(x: Float[Array, " in"], w: Float[Array, "out in"]) -> Float[Array, " out"]:
    return w @ x


def affine(
    x: Float[Array, " in"], w: Float[Array, "out in"], b: Float[Array, " out"]
) -> Float[Array, " out"]:
    return w @ x + b


def transposed_weight(x: Float[Array, " embed"], w: Float[Array, "embed mlp"]) -> None:
    linear(x, w)  # G: [shape] linear: argument "w" has dims (embed, mlp) where (out, embed) is expected


def wrong_bias(
    x: Float[Array, " embed"], w: Float[Array, "mlp embed"], b: Float[Array, " embed"]
) -> None:
    affine(x, w, b)  # E: [shape] affine: argument "b" has dims (embed,) where (mlp,) is expected ("out" is mlp, from argument "w")


def forgot_transpose(x: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    h = x @ w  # G: [shape] "@" contracts embed (the last dim of (seq, embed)) with mlp
    del h


def matmul_wrong_side(x: Float[Array, " embed"], w: Float[Array, "mlp embed"]) -> None:
    y = x @ w  # E: [shape] "@" contracts embed (the last dim of (embed,)) with mlp
    del y


def result_used_as_input(x: Float[Array, " embed"], w: Float[Array, "mlp embed"]) -> None:
    h = linear(x, w)
    linear(h, w)  # E: [shape] linear: argument "w" has dims (mlp, embed) where (out, mlp) is expected ("in" is mlp, from argument "x")


def annotated_result(x: Float[Array, " embed"], w: Float[Array, "mlp embed"]) -> None:
    h: Float[Array, " embed"] = linear(x, w)  # E: [assignment] expression has type "Array[Literal['mlp']]", variable has type "Array[Literal['embed']]"
    del h


def mlp(
    x: Float[Array, " embed"], up: Float[Array, "mlp embed"], down: Float[Array, "embed mlp"]
) -> Float[Array, " embed"]:
    hidden = jax.nn.gelu(linear(x, up))
    return linear(hidden, up)  # E: [shape] linear: argument "w" has dims (mlp, embed) where (out, mlp) is expected


def residual_of_hidden(x: Float[Array, " embed"], up: Float[Array, "mlp embed"]) -> None:
    y = x + jnp.tanh(linear(x, up))  # E: [shape] "+" broadcasts (embed,) and (mlp,): dim -1 is embed in one, mlp in the other
    del y


def fixed_width(x: Float[Array, " 64"]) -> Float[Array, " 64"]:
    return x


def wrong_width(x: Float[Array, " 32"]) -> None:
    fixed_width(x)  # E: [shape] fixed_width: argument "x" has dims (32,) where (64,) is expected


def clamp_to_the_wrong_floor(x: Float[Array, "seq embed"], floor: Float[Array, "seq mlp"]) -> None:
    jax.lax.max(x, floor)  # E: [shape] "max" broadcasts (seq, embed) and (seq, mlp): dim -1 is embed in one, mlp in the other


def summed(**parts: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
    return parts["a"]


def keyword_transposed(x: Float[Array, "seq embed"]) -> None:
    summed(a=x, z=x.T)  # E: [shape] summed: argument "z" has dims (embed, seq) where (seq, embed) is expected ("seq" is seq, from argument "a")
