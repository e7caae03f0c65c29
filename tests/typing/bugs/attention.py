"""Seeded bugs: head split and merge, attention scores."""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float


def scores(
    q: Float[Array, "seq head_dim"], k: Float[Array, "kv_seq head_dim"]
) -> Float[Array, "seq kv_seq"]:
    return q @ k.T / math.sqrt(q.shape[-1])


def no_transpose(q: Float[Array, "seq head_dim"], k: Float[Array, "kv_seq head_dim"]) -> None:
    s = q @ k  # G: [shape] "@" contracts head_dim (the last dim of (seq, head_dim)) with kv_seq
    del s


def keys_for_queries(q: Float[Array, "seq head_dim"], k: Float[Array, "kv_seq head_dim"]) -> None:
    scores(q, k.T)  # E: [shape] scores: argument "k" has dims (head_dim, kv_seq) where (kv_seq, head_dim) is expected ("head_dim" is head_dim, from argument "q")


def softmax_wrong_axis(s: Float[Array, "seq kv_seq"]) -> None:
    w = jax.nn.softmax(s, axis=2)  # G: [shape] softmax: axis 2 is out of range for (seq, kv_seq), which has 2 dims
    del w


def weights_times_queries(
    s: Float[Array, "seq kv_seq"], q: Float[Array, "seq head_dim"]
) -> Float[Array, "seq head_dim"]:
    return jax.nn.softmax(s, axis=-1) @ q  # E: [shape] "@" contracts kv_seq (the last dim of (seq, kv_seq)) with seq  # E: [no-any-return] Returning Any


def mask_transposed(s: Float[Array, "seq kv_seq"], mask: Bool[Array, "kv_seq seq"]) -> None:
    out = jnp.where(mask, s, -1e9)  # E: [shape] "where" broadcasts (kv_seq, seq) and (seq, kv_seq) and (): dim -1 is seq in one, kv_seq in the other
    del out


def heads_einsum(
    q: Float[Array, "seq heads head_dim"], k: Float[Array, "kv_seq heads head_dim"]
) -> Float[Array, "heads seq kv_seq"]:
    return jnp.einsum("shd,Shd->hsS", q, k)


def einsum_swapped_operand(
    q: Float[Array, "seq heads head_dim"], k: Float[Array, "kv_seq head_dim heads"]
) -> None:
    s = jnp.einsum("shd,Shd->hsS", q, k)  # G: [shape] einsum "shd,Shd->hsS": h is heads in operand 1 but head_dim in operand 2
    del s


def einsum_wrong_rank(q: Float[Array, "seq heads head_dim"], k: Float[Array, "kv_seq embed"]) -> None:
    s = jnp.einsum("shd,Shd->hsS", q, k)  # E: [shape] einsum "shd,Shd->hsS": operand 2 is (kv_seq, embed), 2 dims, but "Shd" names 3
    del s


def einsum_diagonal_of_two_dims(x: Float[Array, "seq embed"]) -> None:
    jnp.einsum("ii->i", x)  # E: [shape] einsum "ii->i": i names axis 0 (seq) and axis 1 (embed) of operand 1: a letter repeated in one operand takes a diagonal


def einsum_two_arrows(x: Float[Array, "seq embed"]) -> None:
    jnp.einsum("ij->j->i", x)  # E: [shape] einsum "ij->j->i" has 2 "->": a spec has one


def einsum_two_outputs(q: Float[Array, " seq"], k: Float[Array, " kv_seq"]) -> None:
    jnp.einsum("i,j->ij,", q, k)  # E: [shape] einsum "i,j->ij,": the output "ij," has a ",": einsum makes one array


def einsum_output_letter_twice(x: Float[Array, "seq embed"]) -> None:
    jnp.einsum("ij->ii", x)  # E: [shape] einsum "ij->ii": output letter i is repeated: each axis of the output needs a letter of its own


def einsum_result_order(
    w: Float[Array, "heads seq kv_seq"], v: Float[Array, "kv_seq heads head_dim"]
) -> Float[Array, "seq heads head_dim"]:
    return jnp.einsum("hsS,Shd->hsd", w, v)  # E: [return-value] got "Array[Literal['heads'], Literal['seq'], Literal['head_dim']]"


def split_heads(x: Float[Array, "seq embed"]) -> Float[Array, "seq heads head_dim"]:
    return x.reshape(x.shape[0], 4, 8)


def split_heads_extra_axis(x: Float[Array, "16 32"]) -> Float[Array, "16 4 8"]:
    return x.reshape(16, 4, 8, 1)  # E: [return-value] got "Array[Literal[16], Literal[4], Literal[8], Literal[1]]"


def split_heads_wrong_size(x: Float[Array, "16 32"]) -> None:
    y = x.reshape(16, 4, 4)  # G: [shape] reshape of (16, 32) (512 elements) to (16, 4, 4) (256 elements)
    del y


def merge_heads(h: Float[Array, "seq heads head_dim"]) -> Float[Array, "seq embed"]:
    return h.reshape(h.shape[0], -1)


def merge_heads_keeps_rank(h: Float[Array, "seq heads head_dim"]) -> Float[Array, "seq embed"]:
    return jnp.transpose(h, (1, 0, 2))  # E: [return-value] got "Array[Literal['heads'], Literal['seq'], Literal['head_dim']]"


def causal_mask(s: Float[Array, "seq seq"]) -> Float[Array, "seq seq"]:
    return jnp.where(jnp.tril(jnp.ones_like(s)) > 0, s, -1e9)


def mask_with_wrong_rank(s: Float[Array, "seq kv_seq"], mask: Bool[Array, "heads seq kv_seq"]) -> Float[Array, "seq kv_seq"]:
    return jnp.where(mask, s, -1e9)  # E: [return-value] got "Array[Literal['heads'], Literal['seq'], Literal['kv_seq']]"


def fused_attention_of_unsplit_heads(
    q: Float[Array, "seq heads head_dim"], k: Float[Array, "kv_seq embed"], v: Float[Array, "kv_seq kv_heads head_dim"]
) -> None:
    y = jax.nn.dot_product_attention(q, k, v)  # E: [shape] dot_product_attention: argument "key" has dims (kv_seq, embed) where (kv_seq, kv_heads, head_dim) is expected
    del y


def einsum_ellipsis_contracts_the_wrong_dim(
    x: Float[Array, "batch seq embed"], w: Float[Array, "mlp embed"]
) -> None:
    jnp.einsum("...e,em->...m", x, w)  # E: [shape] einsum "...e,em->...m": e is embed in operand 1 but mlp in operand 2
