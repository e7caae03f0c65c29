"""Correct GPT-style code: the plugin must report nothing here."""

import math
from typing import Any, Generic, Literal, assert_type

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray
from typing_extensions import TypeVar

import typedgpt as tg

Embed = Literal["embed"]
Mlp = Literal["mlp"]
E = TypeVar("E", default=Any)
H = TypeVar("H", default=Any)


def linear(x: Float[Array, " in"], w: Float[Array, "out in"]) -> Float[Array, " out"]:
    return w @ x


def gelu(x: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
    return jax.nn.gelu(x)


def attention(
    q: Float[Array, "seq heads head_dim"],
    k: Float[Array, "kv_seq heads head_dim"],
    v: Float[Array, "kv_seq heads head_dim"],
    mask: Bool[Array, "seq kv_seq"],
) -> Float[Array, "seq heads head_dim"]:
    scores = jnp.einsum("shd,Shd->hsS", q, k) / math.sqrt(q.shape[-1])
    scores = jnp.where(mask[None, :, :], scores, jnp.finfo(scores.dtype).min)  # type: ignore[no-untyped-call]
    weights = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum("hsS,Shd->shd", weights, v)


def split_heads(x: Float[Array, "seq embed"], heads: int) -> Float[Array, "seq heads head_dim"]:
    return x.reshape(x.shape[0], heads, -1)


def merge_heads(h: Float[Array, "seq heads head_dim"]) -> Float[Array, "seq embed"]:
    return h.reshape(h.shape[0], -1)


def embed(
    tokens: Int[Array, " seq"],
    wte: Float[Array, "vocab embed"],
    wpe: Float[Array, "positions embed"],
) -> Float[Array, "seq embed"]:
    return wte[tokens] + wpe[jnp.arange(tokens.shape[0])]


def logits(
    x: Float[Array, "seq embed"], wte: Float[Array, "vocab embed"]
) -> Float[Array, "seq vocab"]:
    return x @ wte.T


def loss(lg: Float[Array, "seq vocab"], targets: Int[Array, " seq"]) -> Float[Array, ""]:
    logp = jax.nn.log_softmax(lg, axis=-1)
    picked = jnp.take_along_axis(logp, targets[:, None], axis=-1)
    return -jnp.mean(picked)


def unit_rows(x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def row_lengths(x: Float[Array, "seq embed"]) -> Float[Array, " seq"]:
    return jnp.linalg.norm(x, axis=1)


def step(
    carry: Float[Array, " embed"], x: Float[Array, " embed"]
) -> tuple[Float[Array, " embed"], Float[Array, " embed"]]:
    return carry + x, carry


def scan_sum(
    init: Float[Array, " embed"], xs: Float[Array, "seq embed"]
) -> Float[Array, "seq embed"]:
    final, ys = jax.lax.scan(step, init, xs)
    del final
    return ys


def vmapped(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> Float[Array, "seq mlp"]:
    return jax.vmap(linear, in_axes=(0, None))(xs, w)


def untyped(x: jax.Array, w: jax.Array) -> jax.Array:
    return linear(x, w)  # plain arrays are shape-unknown: no error


class Block(eqx.Module, Generic[E, H]):
    norm: tg.RMSNorm
    up: tg.Linear[E, H]
    down: tg.Linear[H, E]

    def __init__(self, embed_dim: int, mlp_dim: int, *, key: PRNGKeyArray) -> None:
        up_key, down_key = jax.random.split(key)
        self.norm = tg.RMSNorm(embed_dim)
        self.up = tg.Linear(embed_dim, mlp_dim, key=up_key)
        self.down = tg.Linear(mlp_dim, embed_dim, key=down_key)

    def __call__(self, x: Float[Array, "seq e"]) -> Float[Array, "seq e"]:
        hidden: Float[Array, "seq h"] = jax.vmap(self.up)(jax.vmap(self.norm)(x))
        return x + jax.vmap(self.down)(gelu(hidden))


def run_block(block: Block[Embed, Mlp], x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
    return block(x)


class PreNormMLP(eqx.Module, Generic[E, H]):
    """typedgpt's generic modules inside a user's: the dims relate through E and H."""

    norm: tg.LayerNorm[E]
    mlp: tg.MLP[E, H]

    def __call__(self, x: Float[Array, "seq e"]) -> Float[Array, "seq e"]:
        hidden: Float[Array, "seq h"] = jax.vmap(self.mlp.up_proj)(jax.vmap(self.norm)(x))
        del hidden
        return x + self.mlp(jax.vmap(self.norm)(x))


def run_norm_and_mlp(
    norm: tg.RMSNorm[Embed], mlp: tg.MLP[Embed, Mlp], x: Float[Array, " embed"]
) -> tuple[Float[Array, " embed"], Float[Array, " mlp"]]:
    y: Float[Array, " embed"] = norm(x)
    return mlp(y[None, :])[0], mlp.up_proj(y)


def unparameterised(norm: tg.RMSNorm, mlp: tg.MLP, x: Float[Array, "seq embed"]) -> None:
    mlp(jax.vmap(norm)(x))  # a bare generic module has dims of unknown size: no error


def run_model(model: tg.GPT, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
    out, cache = model.decode(tokens, model.init_cache())
    del cache
    return out + model(tokens)


def batched(model: tg.GPT, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
    return jax.vmap(model)(tokens)


def run_generic_layers(
    attn: tg.CausalSelfAttention[Embed],
    swiglu: tg.SwiGLU[Embed, Mlp],
    block: tg.Block[Embed, Mlp],
    x: Float[Array, "seq embed"],
) -> tuple[Float[Array, "seq embed"], Float[Array, "seq mlp"]]:
    y = block(swiglu(attn(x)))
    return y, jax.vmap(block.mlp.up_proj)(y)


def fused_attention(
    q: Float[Array, "seq heads head_dim"],
    k: Float[Array, "kv_seq kv_heads head_dim"],
    v: Float[Array, "kv_seq kv_heads head_dim"],
) -> Float[Array, "seq heads head_dim"]:
    return jax.nn.dot_product_attention(q, k, v, is_causal=True)


def jitted_on_the_spot(x: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    def project(h: Float[Array, " in"], weight: Float[Array, "out in"]) -> Float[Array, " out"]:
        return weight @ h

    assert_type(eqx.filter_jit(project)(x[0], w), Float[Array, " mlp"])
    assert_type(eqx.filter_checkpoint(project)(x[0], w), Float[Array, " mlp"])


# A wrapped callable kept in a local name that its function sets once is checked as well.
def vmapped_then_called(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    batched = jax.vmap(linear, in_axes=(0, None))
    jitted = eqx.filter_jit(linear)
    assert_type(batched(xs, w), Float[Array, "seq mlp"])
    assert_type(jitted(xs[0], w), Float[Array, " mlp"])


def batched_projection(
    x: Float[Array, "batch seq embed"], w: Float[Array, "embed mlp"], v: Float[Array, " embed"]
) -> Float[Array, "batch seq"]:
    # `...` stands for the leading dims, whatever their number.
    hidden = jnp.einsum("...e,em->...m", x, w)
    assert_type(hidden, Float[Array, "batch seq mlp"])
    return jnp.einsum("...e,e->...", x, v)
