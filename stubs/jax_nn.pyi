"""`jax.nn` and `jax.scipy.special`: what their functions do to the dims of arrays. See
`__init__.py`.
"""

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from jax.typing import ArrayLike
from jaxtyping import Array, Float, Shaped

from . import checks_axis, reduction

MODULES = ("jax.nn", "jax._src.nn", "jax.scipy.special", "jax._src.scipy.special")

Axis: TypeAlias = int | Sequence[int] | None

# Activations: elementwise, the result has the dims of `x`.

def relu(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def relu6(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def gelu(x: Shaped[Array, "*shape"], approximate: bool = True) -> Shaped[Array, "*shape"]: ...
def silu(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def swish(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def sigmoid(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def softplus(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def soft_sign(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def elu(x: Shaped[Array, "*shape"], alpha: ArrayLike = 1.0) -> Shaped[Array, "*shape"]: ...
def celu(x: Shaped[Array, "*shape"], alpha: ArrayLike = 1.0) -> Shaped[Array, "*shape"]: ...
def selu(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def leaky_relu(
    x: Shaped[Array, "*shape"], negative_slope: ArrayLike = 0.01
) -> Shaped[Array, "*shape"]: ...
def hard_tanh(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def hard_sigmoid(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def hard_silu(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def log_sigmoid(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def mish(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def tanh(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...  # jnp.tanh, re-exported
def erf(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...  # jax.scipy.special.erf

# Normalisations along `axis`: the dims of `x`, and the axis must exist.

@checks_axis
def softmax(
    x: Shaped[Array, "*shape"], axis: Axis = -1, where: ArrayLike | None = None
) -> Shaped[Array, "*shape"]: ...
@checks_axis
def log_softmax(
    x: Shaped[Array, "*shape"], axis: Axis = -1, where: ArrayLike | None = None
) -> Shaped[Array, "*shape"]: ...
@checks_axis
def standardize(
    x: Shaped[Array, "*shape"],
    axis: Axis = -1,
    mean: ArrayLike | None = None,
    variance: ArrayLike | None = None,
    epsilon: ArrayLike = 1e-05,
    where: ArrayLike | None = None,
    *,
    algorithm: str = "fast",
) -> Shaped[Array, "*shape"]: ...
@reduction
def logsumexp(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: Literal[False] = False,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...

# One-hot vectors: a new last axis of `num_classes` (a literal int gives its size).

def one_hot(
    x: Shaped[Array, "*shape"],
    num_classes: int,
    *,
    dtype: Any = None,
    axis: Literal[-1] = -1,
) -> Float[Array, "*shape num_classes"]: ...

# Attention, with any leading batch dims: the result has the query's dims. Its dims are bound
# afresh at each call, as every stub's are; `heads` need not be `kv_heads`.

def dot_product_attention(
    query: Shaped[Array, "*batch seq heads head_dim"],
    key: Shaped[Array, "*batch kv_seq kv_heads head_dim"],
    value: Shaped[Array, "*batch kv_seq kv_heads head_dim"],
    bias: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    *,
    scale: float | None = None,
    is_causal: bool = False,
    query_seq_lengths: ArrayLike | None = None,
    key_value_seq_lengths: ArrayLike | None = None,
    local_window_size: int | tuple[int, int] | None = None,
    implementation: Any = None,
    return_residual: Literal[False] = False,
) -> Float[Array, "*batch seq heads head_dim"]: ...
