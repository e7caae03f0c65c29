"""Seeded bugs: user-written typed layers, and typedgpt's own layers called wrongly."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

import typedgpt as tg


class Scale(tg.TypedModule):
    weight: Float[Array, " embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]


class ScaleWrongAxis(tg.TypedModule):
    weight: Float[Array, " embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[:, None]  # E: [shape] "*" broadcasts (seq, embed) and (embed, _): dim -2 is seq in one, embed in the other  # E: [no-any-return] Returning Any


class Gate(tg.TypedModule):
    proj: Float[Array, "mlp embed"]

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        gate = jax.nn.sigmoid(self.proj @ x)
        return x * gate  # E: [shape] "*" broadcasts (embed,) and (mlp,): dim -1 is embed in one, mlp in the other  # E: [no-any-return] Returning Any


class Pool(tg.TypedModule):
    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, " embed"]:
        return jnp.mean(x, axis=-1)  # E: [return-value] got "Array[Literal['seq']]", expected "Array[Literal['embed']]"


def scale_one_vector(layer: Scale, x: Float[Array, " embed"]) -> None:
    layer(x)  # E: [shape] Scale.__call__: argument "x" has dims (embed,) where (seq, embed) is expected


def norm_of_a_sequence(norm: tg.RMSNorm, x: Float[Array, "seq embed"]) -> None:
    norm(x)  # G: [shape] RMSNorm.__call__: argument "x" has dims (seq, embed) where (embed,) is expected


def block_of_one_vector(block: tg.Block, x: Float[Array, " embed"]) -> None:
    block(x)  # E: [shape] Block.__call__: argument "x" has dims (embed,) where (seq, embed) is expected


def gpt_of_a_batch(model: tg.GPT, tokens: Int[Array, "batch seq"]) -> None:
    model(tokens)  # G: [shape] GPT.__call__: argument "tokens" has dims (batch, seq) where (seq,) is expected


def gpt_logits_transposed(model: tg.GPT, tokens: Int[Array, " seq"]) -> Float[Array, "vocab seq"]:
    return model(tokens)  # E: [return-value] got "Array[Literal['seq'], Any]"


def mlp_of_a_vector(mlp: tg.MLP, x: Float[Array, " embed"]) -> None:
    mlp(x)  # E: [shape] MLP.__call__: argument "x" has dims (embed,) where (seq, embed) is expected
