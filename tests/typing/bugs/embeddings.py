"""Seeded bugs: token and position embeddings, and the head."""

import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def embed(tokens: Int[Array, " seq"], table: Float[Array, "vocab embed"]) -> Float[Array, "seq embed"]:
    return table[tokens]


def embed_batch_of_tokens(tokens: Int[Array, "batch seq"], table: Float[Array, "vocab embed"]) -> None:
    embed(tokens, table)  # G: [shape] embed: argument "tokens" has dims (batch, seq) where (seq,) is expected


def lookup_in_the_transpose(tokens: Int[Array, " seq"], table: Float[Array, "vocab embed"]) -> Float[Array, "seq embed"]:
    return table.T[tokens]  # E: [return-value] got "Array[Literal['seq'], Literal['vocab']]"


def add_positions(
    tokens: Int[Array, " seq"], wte: Float[Array, "vocab embed"], wpe: Float[Array, "positions embed"]
) -> Float[Array, "seq embed"]:
    return wte[tokens] + wpe[jnp.arange(tokens.shape[0])]


def add_whole_position_table(
    tokens: Int[Array, " seq"], wte: Float[Array, "vocab embed"], wpe: Float[Array, "positions embed"]
) -> None:
    x = wte[tokens] + wpe  # E: [shape] "+" broadcasts (seq, embed) and (positions, embed): dim -2 is seq in one, positions in the other
    del x


def position_table_of_other_width(
    tokens: Int[Array, " seq"], wte: Float[Array, "vocab embed"], wpe: Float[Array, "positions head_dim"]
) -> None:
    add_positions(tokens, wte, wpe)  # E: [shape] add_positions: argument "wpe" has dims (positions, head_dim) where (positions, embed) is expected ("embed" is embed, from argument "wte")


def tied_head(x: Float[Array, "seq embed"], wte: Float[Array, "vocab embed"]) -> Float[Array, "seq vocab"]:
    return x @ wte.T


def tied_head_without_transpose(x: Float[Array, "seq embed"], wte: Float[Array, "vocab embed"]) -> None:
    logits = x @ wte  # E: [shape] "@" contracts embed (the last dim of (seq, embed)) with vocab
    del logits


def head_returns_embeddings(x: Float[Array, "seq embed"], wte: Float[Array, "vocab embed"]) -> Float[Array, "seq vocab"]:
    tied_head(x, wte)
    return x  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"
