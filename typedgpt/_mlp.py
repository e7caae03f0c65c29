"""`MLP`: the position-wise feed-forward network of a transformer block."""

import functools
import math
from typing import Any, Generic

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._config import Activation, check_flag, check_key, check_number, check_size
from ._linear import Linear
from ._typed import TypedModule

# The dims `embed` and `mlp` (the hidden width) as type parameters, for static checking (see
# `Linear`): mypy with typedgpt.mypy_plugin reads `MLP[Literal["embed"], Literal["mlp"]]` as
# an MLP whose projections map embed to mlp and back.
Embed = TypeVar("Embed", default=Any)
Mlp = TypeVar("Mlp", default=Any)


class MLP(TypedModule, Generic[Embed, Mlp]):
    """`y = W_down act(W_up x + b_up) + b_down` at each position.

    `act` is ReLU (microgpt) or GELU with GPT-2's tanh approximation,
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

    **Arguments:** `embed_dim`; `mlp_dim`, the hidden width; `activation`, `"gelu_tanh"`
    (the default) or `"relu"`, any other raising `ValueError`; `use_bias`; `init_std`; `key`.
    Sizes, `use_bias` and `init_std` are checked as `Linear`'s are.
    """

    up_proj: Linear[Embed, Mlp]
    down_proj: Linear[Mlp, Embed]
    activation: Activation = eqx.field(static=True)

    def __init__(
        self,
        embed_dim: int,
        mlp_dim: int,
        *,
        activation: Activation = "gelu_tanh",
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        embed_dim = check_size(embed_dim, "embed_dim", "MLP")
        mlp_dim = check_size(mlp_dim, "mlp_dim", "MLP")
        use_bias = check_flag(use_bias, "use_bias", "MLP")
        init_std = check_number(init_std, "init_std", "MLP")
        check_key(key, "MLP")
        if activation not in ("relu", "gelu_tanh"):
            raise ValueError(f'activation must be "relu" or "gelu_tanh", got {activation!r}')
        up_key, down_key = jax.random.split(key)
        self.up_proj = Linear(embed_dim, mlp_dim, use_bias=use_bias, init_std=init_std, key=up_key)
        self.down_proj = Linear(
            mlp_dim, embed_dim, use_bias=use_bias, init_std=init_std, key=down_key
        )
        self.activation = activation

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        """**Arguments:** `x`, one sequence. **Returns:** the same shape."""
        hidden: Float[Array, "seq mlp"] = jax.vmap(self.up_proj)(x)
        if not isinstance(hidden, jax.core.Tracer):  # eager: nothing to differentiate
            return _activate_and_project(self.activation, hidden, self.down_proj)
        # A new partial per call: jax.checkpoint caches its trace by function, and a cached
        # trace would skip `down_proj`'s call-time check and its record in `tg.explain`.
        remade = jax.checkpoint(functools.partial(_activate_and_project, self.activation))
        out: Float[Array, "seq embed"] = remade(hidden, self.down_proj)
        return out


def _activate_and_project(
    activation: Activation, hidden: Float[Array, "seq mlp"], down_proj: Linear
) -> Float[Array, "seq embed"]:
    """`down_proj(act(hidden))`; `MLP` runs it under `jax.checkpoint` when traced.

    Autodiff would keep two `seq mlp` arrays for the backward pass, the activation's slope
    and its value (the input of `down_proj`, for that layer's weight gradient); under
    `jax.checkpoint` it keeps `hidden` alone and makes both again from it, which costs one
    more pass of the activation. Inside the scan over layers each kept array is a `layers
    batch seq mlp` array (302 MB at GPT-2 124M shapes, 8 x 256 tokens) of fresh memory every
    step.
    """
    if activation == "relu":
        return jax.vmap(down_proj)(jax.nn.relu(hidden))
    return jax.vmap(down_proj)(gelu_tanh(hidden))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@jax.custom_jvp
def gelu_tanh(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """GPT-2's GELU, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (`jax.nn.gelu` with
    `approximate=True`), with its derivative written out.

    Autodiff of the formula keeps several of its intermediate arrays for the backward pass;
    inside the scan over layers each is a `layers batch seq mlp` array. The derivative

    `0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)`, `t` the tanh above,

    made in the forward pass, is the only one kept.
    """
    return jax.nn.gelu(x, approximate=True)


@gelu_tanh.defjvp
def _gelu_tanh_jvp(
    primals: tuple[Float[Array, "..."]], tangents: tuple[Float[Array, "..."]]
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    (x,), (dx,) = primals, tangents
    # The tanh is made once for the value and the slope; `x * cdf` is `jax.nn.gelu`'s own
    # last step, so the value is the same to the bit.
    tanh = jnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
    cdf = 0.5 * (1.0 + tanh)
    slope = cdf + 0.5 * x * (1.0 - tanh * tanh) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    return x * cdf, slope * dx
