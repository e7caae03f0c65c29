"""`SwiGLU`: the gated feed-forward network of PaLM and LLaMA."""

from typing import Any, Generic

import jax
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._linear import Linear
from ._typed import TypedModule

# `embed` and `mlp` as type parameters, as for `MLP`: `SwiGLU[Literal["embed"],
# Literal["mlp"]]` is checked statically by mypy with typedgpt.mypy_plugin.
Embed = TypeVar("Embed", default=Any)
Mlp = TypeVar("Mlp", default=Any)


class SwiGLU(TypedModule, Generic[Embed, Mlp]):
    """`y = W_down (silu(W_gate x) * (W_up x))` at each position (Shazeer, "GLU Variants
    Improve Transformer"), with `silu(z) = z sigmoid(z)`.

    The gate and the up projection both map `embed` to `mlp`; their product is mapped back
    to `embed`. Three matrices instead of the standard MLP's two: at equal parameter count,
    `mlp_dim` is usually two thirds of the standard MLP's.

    **Arguments:** `embed_dim`; `mlp_dim`, the hidden width; `use_bias`; `init_std`; `key`.
    """

    gate_proj: Linear[Embed, Mlp]
    up_proj: Linear[Embed, Mlp]
    down_proj: Linear[Mlp, Embed]

    def __init__(
        self,
        embed_dim: int,
        mlp_dim: int,
        *,
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        gate_key, up_key, down_key = jax.random.split(key, 3)
        self.gate_proj = Linear(
            embed_dim, mlp_dim, use_bias=use_bias, init_std=init_std, key=gate_key
        )
        self.up_proj = Linear(embed_dim, mlp_dim, use_bias=use_bias, init_std=init_std, key=up_key)
        self.down_proj = Linear(
            mlp_dim, embed_dim, use_bias=use_bias, init_std=init_std, key=down_key
        )

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        """**Arguments:** `x`, one sequence. **Returns:** the same shape."""
        gate: Float[Array, "seq mlp"] = jax.nn.silu(jax.vmap(self.gate_proj)(x))
        up: Float[Array, "seq mlp"] = jax.vmap(self.up_proj)(x)
        return jax.vmap(self.down_proj)(gate * up)
