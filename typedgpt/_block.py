"""`Block`: one transformer layer, pre-norm attention then pre-norm MLP, each residual."""

from typing import Any, Generic

import jax
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._attention import CausalSelfAttention
from ._config import GPTConfig, check_key
from ._kv_cache import KVCache
from ._mlp import MLP
from ._norm import LayerNorm, RMSNorm
from ._rope import Rotary
from ._swiglu import SwiGLU
from ._typed import TypedModule


def make_norm(config: GPTConfig) -> RMSNorm | LayerNorm:
    """The normalisation a config asks for."""
    if config.norm == "rmsnorm":
        return RMSNorm(config.embed_dim, eps=config.norm_eps, use_weight=config.norm_has_params)
    has = config.norm_has_params
    return LayerNorm(config.embed_dim, eps=config.norm_eps, use_weight=has, use_bias=has)


def make_mlp(config: GPTConfig, *, key: PRNGKeyArray) -> MLP | SwiGLU:
    """The feed-forward network a config asks for."""
    if config.mlp == "swiglu":
        return SwiGLU(
            config.embed_dim,
            config.mlp_dim,
            use_bias=config.use_bias,
            init_std=config.init_std,
            key=key,
        )
    return MLP(
        config.embed_dim,
        config.mlp_dim,
        activation=config.activation,
        use_bias=config.use_bias,
        init_std=config.init_std,
        key=key,
    )


# `embed` and `mlp` as type parameters, as for `MLP`: `Block[Literal["embed"],
# Literal["mlp"]]` relates a block's layers to its calls for mypy with typedgpt.mypy_plugin.
Embed = TypeVar("Embed", default=Any)
Mlp = TypeVar("Mlp", default=Any)


class Block(TypedModule, Generic[Embed, Mlp]):
    """`x = x + attn(norm1(x))`, then `x = x + mlp(norm2(x))`.

    The attention is multi-head or grouped-query, with or without rotary embeddings, and
    the MLP standard or SwiGLU, as the config says.

    **Arguments:** `config`, a `GPTConfig` (anything else raises `TypeError`); `key`.
    """

    norm1: RMSNorm[Embed] | LayerNorm[Embed]
    attn: CausalSelfAttention[Embed]
    norm2: RMSNorm[Embed] | LayerNorm[Embed]
    mlp: MLP[Embed, Mlp] | SwiGLU[Embed, Mlp]

    def __init__(self, config: GPTConfig, *, key: PRNGKeyArray) -> None:
        if not isinstance(config, GPTConfig):
            raise TypeError(
                f"Block takes a tg.GPTConfig, got {type(config).__qualname__}: build one with "
                "tg.GPTConfig(...) or a preset such as tg.GPTConfig.microgpt(vocab_size)"
            )
        check_key(key, "Block")
        attn_key, mlp_key = jax.random.split(key)
        self.norm1 = make_norm(config)
        self.attn = CausalSelfAttention(
            config.embed_dim,
            config.num_heads,
            num_kv_heads=config.kv_heads,
            rotary=Rotary(config.rope_base) if config.position_encoding == "rope" else None,
            use_bias=config.use_bias,
            init_std=config.init_std,
            key=attn_key,
        )
        self.norm2 = make_norm(config)
        self.mlp = make_mlp(config, key=mlp_key)

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        """**Arguments:** `x`, one sequence. **Returns:** the same shape."""
        x = x + self.attn(jax.vmap(self.norm1)(x))
        return x + self.mlp(jax.vmap(self.norm2)(x))

    def decode(
        self, x: Float[Array, "seq embed"], cache: KVCache
    ) -> tuple[Float[Array, "seq embed"], KVCache]:
        """As `__call__`, attending also to this layer's `cache` (see
        `CausalSelfAttention.decode`). **Returns:** the output and the updated cache."""
        attended, cache = self.attn.decode(jax.vmap(self.norm1)(x), cache)
        x = x + attended
        return x + self.mlp(jax.vmap(self.norm2)(x)), cache
