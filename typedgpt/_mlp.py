"""`MLP`: the position-wise feed-forward network of a transformer block."""

from typing import Any, Generic

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._config import Activation
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

    **Arguments:** `embed_dim`; `mlp_dim`, the hidden width; `activation`; `use_bias`;
    `init_std`; `key`.
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
        if self.activation == "relu":
            hidden = jax.nn.relu(hidden)
        else:
            hidden = jax.nn.gelu(hidden, approximate=True)
        return jax.vmap(self.down_proj)(hidden)
