"""Seeded bugs: NamedTuples of arrays, and the array fields of typedgpt's layers."""

from typing import Literal, NamedTuple

from jaxtyping import Array, Float

import typedgpt as tg

Embed = Literal["embed"]
Mlp = Literal["mlp"]


class HeadOut(NamedTuple):
    logits: Float[Array, "seq vocab"]
    hidden: Float[Array, "seq embed"]


def head_swapped(logits: Float[Array, "seq vocab"], hidden: Float[Array, "seq embed"]) -> HeadOut:
    return HeadOut(hidden, logits)  # G: [shape] HeadOut: argument "logits" has dims (seq, embed) where (seq, vocab) is expected  # E: [shape] HeadOut: argument "hidden" has dims (seq, vocab) where (seq, embed) is expected


def head_by_keyword(logits: Float[Array, "seq vocab"], hidden: Float[Array, "seq embed"]) -> None:
    HeadOut(hidden=hidden, logits=hidden)  # E: [shape] HeadOut: argument "logits" has dims (seq, embed) where (seq, vocab) is expected


def head_replaced(out: HeadOut) -> HeadOut:
    return out._replace(logits=out.hidden)  # E: [shape] _replace: argument "logits" has dims (seq, embed) where (seq, vocab) is expected


def take(out: HeadOut) -> None: ...


def head_passed(logits: Float[Array, "seq vocab"], hidden: Float[Array, "seq embed"]) -> None:
    take(HeadOut(logits, logits))  # E: [shape] HeadOut: argument "hidden" has dims (seq, vocab) where (seq, embed) is expected


# The fields of typedgpt's generic layers have the dims of their type arguments.
def linear_weight(up: tg.Linear[Embed, Mlp], x: Float[Array, " embed"]) -> Float[Array, " embed"]:
    return up.weight @ x  # E: [return-value] got "Array[Literal['mlp']]", expected "Array[Literal['embed']]"


def linear_weight_transposed(up: tg.Linear[Embed, Mlp], x: Float[Array, " mlp"]) -> None:
    up.weight @ x  # E: [shape] "@" contracts embed (the last dim of (mlp, embed)) with mlp (the only dim of (mlp,))


def mlp_bias(mlp: tg.MLP[Embed, Mlp]) -> Float[Array, " embed"] | None:
    return mlp.up_proj.bias  # E: [return-value] got "Array[Literal['mlp']] | None", expected "Array[Literal['embed']] | None"
