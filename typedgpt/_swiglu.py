"""`SwiGLU`: the gated feed-forward network of PaLM and LLaMA."""

import functools
from typing import Any, Generic

import jax
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._config import check_flag, check_key, check_number, check_size
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

    **Arguments:** `embed_dim`; `mlp_dim`, the hidden width; `use_bias`; `init_std`; `key`,
    checked as `Linear`'s are.
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
        embed_dim = check_size(embed_dim, "embed_dim", "SwiGLU")
        mlp_dim = check_size(mlp_dim, "mlp_dim", "SwiGLU")
        use_bias = check_flag(use_bias, "use_bias", "SwiGLU")
        init_std = check_number(init_std, "init_std", "SwiGLU")
        check_key(key, "SwiGLU")
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
        gate: Float[Array, "seq mlp"] = jax.vmap(self.gate_proj)(x)
        up: Float[Array, "seq mlp"] = jax.vmap(self.up_proj)(x)
        if not isinstance(gate, jax.core.Tracer):  # eager: nothing to differentiate
            return self._gate_and_project(gate, up, self.down_proj)
        # A new partial per call, as in `MLP`: jax.checkpoint caches its trace by function,
        # and a cached trace would skip `down_proj`'s call-time check and its `tg.explain`
        # record.
        remade = jax.checkpoint(functools.partial(self._gate_and_project))
        out: Float[Array, "seq embed"] = remade(gate, up, self.down_proj)
        return out

    @staticmethod
    def _gate_and_project(
        gate: Float[Array, "seq mlp"], up: Float[Array, "seq mlp"], down_proj: Linear
    ) -> Float[Array, "seq embed"]:
        """`down_proj(silu(gate) * up)`; `SwiGLU` runs it under `jax.checkpoint` when traced.

        Autodiff would keep more `seq mlp` arrays for the backward pass besides `gate` and
        `up`, the sigmoid, `silu(gate)` and the product (the input of `down_proj`, for that
        layer's weight gradient) among them; under `jax.checkpoint` it keeps `gate` and `up`
        alone and makes the rest again from them, which costs one more pass of the gating.
        Inside the scan over layers each kept array is a `layers batch seq mlp` array of fresh
        memory every step. A static method, so that its annotations check that `gate_proj` and
        `up_proj` agree on `mlp` (one swapped in with `eqx.tree_at` may not) before the product.
        """
        return jax.vmap(down_proj)(jax.nn.silu(gate) * up)
