"""Shape bugs in NumPy code with jaxtyping dims, and in calls of shaped Callables."""

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def linear(x: Float[np.ndarray, " in"], w: Float[np.ndarray, "out in"]) -> Float[np.ndarray, " out"]:
    return w @ x


def logits(x: Float[np.ndarray, "seq embed"], table: Float[np.ndarray, "vocab embed"]) -> None:
    x @ table  # G: [shape] "@" contracts embed (the last dim of (seq, embed)) with vocab


def transposed(x: Float[np.ndarray, "seq embed"]) -> Float[np.ndarray, "seq embed"]:
    return x.T  # E: [return-value] expected "ndarray[tuple[Literal['seq'], Literal['embed']]


def added(x: Float[np.ndarray, "seq embed"], bias: Float[np.ndarray, " seq"]) -> None:
    x + bias  # E: [shape] "+" broadcasts (seq, embed) and (seq,): dim -1 is embed in one, seq


def reduced(x: Float[np.ndarray, "seq embed"]) -> Float[np.ndarray, " seq"]:
    return x.sum(axis=0)  # E: [return-value] got "ndarray[tuple[Literal['embed']], Any]"


def to_jax_transposed(x: Float[np.ndarray, "seq embed"], w: Float[np.ndarray, "embed vocab"]) -> None:
    jnp.asarray(x.T) @ w  # E: [shape] "@" contracts seq (the last dim of (embed, seq)) with embed


def row_lengths(x: Float[np.ndarray, "seq embed"]) -> Float[np.ndarray, " seq"]:
    return np.linalg.norm(x, axis=0)  # E: [return-value] got "ndarray[tuple[Literal['embed']], Any]"


def project(x: Float[np.ndarray, " embed"], w: Float[np.ndarray, "embed mlp"]) -> None:
    linear(x, w)  # E: [shape] linear: argument "w" has dims (embed, mlp) where (out, embed)


def rows(x: Float[np.ndarray, "seq embed"]) -> None:
    x.mean(axis=2)  # E: [shape] axis 2 is out of range for (seq, embed), which has 2 dims


def pair(
    f: Callable[[Float[Array, " n"], Float[Array, " n"]], Float[Array, " n"]],
    x: Float[Array, " seq"],
    y: Float[Array, " embed"],
) -> None:
    f(x, y)  # E: [shape] f: argument 2 has dims (embed,) where (seq,) is expected ("n" is seq


# NumPy's functions and ufuncs follow jax.numpy's function of the same name.
def numpy_functions(
    x: Float[np.ndarray, "seq embed"], b: Float[np.ndarray, " seq"], w: Float[np.ndarray, "vocab embed"]
) -> Float[np.ndarray, " seq"]:
    np.exp(x) + b  # E: [shape] "+" broadcasts (seq, embed) and (seq,): dim -1 is embed in one, seq
    np.maximum(x, b)  # E: [shape] "maximum" broadcasts (seq, embed) and (seq,): dim -1 is embed
    np.matmul(x, w)  # G: [shape] "@" contracts embed (the last dim of (seq, embed)) with vocab
    np.einsum("se,ev->sv", x, w)  # E: [shape] einsum "se,ev->sv": e is embed in operand 1 but
    np.concatenate([x, w], axis=1)  # E: [shape] concatenate along axis 1: dim 0 is seq in one
    np.mean(x, axis=2)  # E: [shape] mean: axis 2 is out of range for (seq, embed), which has 2
    return np.sum(x, axis=0)  # E: [return-value] got "ndarray[tuple[Literal['embed']], Any]"
