"""Seeded bugs: modules generic over their dims (typedgpt's Linear, and user modules)."""

from typing import Any, Generic, Literal, overload

import equinox as eqx
import jax
from jaxtyping import Array, Float
from typing_extensions import TypeVar

import typedgpt as tg

Embed = Literal["embed"]
Mlp = Literal["mlp"]
E = TypeVar("E", default=Any)
H = TypeVar("H", default=Any)


def project(up: tg.Linear[Embed, Mlp], x: Float[Array, " embed"], h: Float[Array, " mlp"]) -> None:
    up(h)  # G: [shape] Linear.__call__: argument "x" has dims (mlp,) where (embed,) is expected ("In" is embed, from Linear[embed, mlp])
    y: Float[Array, " embed"] = up(x)  # E: [assignment] expression has type "Array[Literal['mlp']]", variable has type "Array[Literal['embed']]"
    del y


def project_sequence(up: tg.Linear[Embed, Mlp], xs: Float[Array, "seq mlp"]) -> None:
    jax.vmap(up)(xs)  # E: [shape] vmap(Linear): argument "x" has dims (seq, mlp) where (vmapped axis, embed) is expected


class Block(eqx.Module, Generic[E, H]):
    up: tg.Linear[E, H]
    down: tg.Linear[H, E]

    def __call__(self, x: Float[Array, " e"]) -> Float[Array, " e"]:
        return self.down(self.up(x))


class SwappedBlock(eqx.Module, Generic[E, H]):
    up: tg.Linear[E, H]
    down: tg.Linear[E, H]  # the bug: should map H back to E

    def __call__(self, x: Float[Array, " e"]) -> Float[Array, " e"]:
        return self.down(self.up(x))  # E: [shape] Linear.__call__: argument "x" has dims (h,) where (e,) is expected  # E: [return-value] got "Array[H]", expected "Array[E]"


class Residual(eqx.Module, Generic[E, H]):
    up: tg.Linear[E, H]

    def __call__(self, x: Float[Array, " e"]) -> Float[Array, " e"]:
        return x + self.up(x)  # E: [shape] "+" broadcasts (e,) and (h,): dim -1 is e in one, h in the other  # E: [no-any-return] Returning Any


def use_block(block: Block[Embed, Mlp], h: Float[Array, " mlp"]) -> None:
    block(h)  # E: [shape] Block.__call__: argument "x" has dims (mlp,) where (embed,) is expected ("E" is embed, from Block[embed, mlp])


# typedgpt's norms and MLP are generic over their dims too: RMSNorm[Embed], MLP[Embed, Mlp].


def normalise_hidden(norm: tg.RMSNorm[Embed], h: Float[Array, " mlp"]) -> None:
    norm(h)  # E: [shape] RMSNorm.__call__: argument "x" has dims (mlp,) where (embed,) is expected ("Embed" is embed, from RMSNorm[embed])


def layer_norm_result(norm: tg.LayerNorm[Embed], x: Float[Array, " embed"]) -> Float[Array, " mlp"]:
    return norm(x)  # E: [return-value] got "Array[Literal['embed']]", expected "Array[Literal['mlp']]"


def mlp_of_hidden(mlp: tg.MLP[Embed, Mlp], h: Float[Array, "seq mlp"]) -> None:
    mlp(h)  # G: [shape] MLP.__call__: argument "x" has dims (seq, mlp) where (seq, embed) is expected ("Embed" is embed, from MLP[embed, mlp])


def mlp_up_projection(mlp: tg.MLP[Embed, Mlp], x: Float[Array, " embed"]) -> Float[Array, " embed"]:
    return mlp.up_proj(x)  # E: [return-value] got "Array[Literal['mlp']]", expected "Array[Literal['embed']]"


def mlp_down_projection_of_embed(mlp: tg.MLP[Embed, Mlp], x: Float[Array, " embed"]) -> None:
    mlp.down_proj(x)  # E: [shape] Linear.__call__: argument "x" has dims (embed,) where (mlp,) is expected ("In" is mlp, from Linear[mlp, embed])


class PreNormMLP(eqx.Module, Generic[E, H]):
    norm: tg.RMSNorm[H]  # the bug: normalises the hidden dim, not the model dim
    mlp: tg.MLP[E, H]

    def __call__(self, x: Float[Array, "seq e"]) -> Float[Array, "seq e"]:
        return x + self.mlp(jax.vmap(self.norm)(x))  # E: [shape] vmap(RMSNorm): argument "x" has dims (seq, e) where (vmapped axis, h) is expected


# Attention, SwiGLU and Block are generic too: CausalSelfAttention[Embed], SwiGLU[Embed, Mlp],
# Block[Embed, Mlp].


def attend_to_hidden(attn: tg.CausalSelfAttention[Embed], h: Float[Array, "seq mlp"]) -> None:
    attn(h)  # E: [shape] CausalSelfAttention.__call__: argument "x" has dims (seq, mlp) where (seq, embed) is expected


def swiglu_of_hidden(mlp: tg.SwiGLU[Embed, Mlp], h: Float[Array, "seq mlp"]) -> None:
    mlp(h)  # E: [shape] SwiGLU.__call__: argument "x" has dims (seq, mlp) where (seq, embed) is expected


def block_gate_is_hidden(block: tg.Block[Embed, Mlp], x: Float[Array, " embed"]) -> Float[Array, " embed"]:
    return block.mlp.up_proj(x)  # E: [return-value] got "Array[Literal['mlp']]", expected "Array[Literal['embed']]"


@overload
def summed(x: Float[Array, "n m"]) -> Float[Array, " m"]: ...
@overload
def summed(x: Float[Array, "b n m"]) -> Float[Array, "b m"]: ...
def summed(x: Any) -> Any:
    return x.sum(-2)


def overload_by_rank(x: Float[Array, "batch seq embed"]) -> Float[Array, " embed"]:
    return summed(x)  # E: [return-value] got "Array[Literal['batch'], Literal['embed']]"
