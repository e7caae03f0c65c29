"""Seeded bugs: jax.lax's functions, which count axes from 0 and take shapes in full."""

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int


def reshape_result(x: Float[Array, "4 6"]) -> Float[Array, "3 8"]:
    return lax.reshape(x, (8, 3))  # E: [return-value] got "Array[Literal[8], Literal[3]]", expected "Array[Literal[3], Literal[8]]"


def reshape_inferring_a_size(x: Float[Array, "4 6"]) -> None:
    lax.reshape(x, (3, -1))  # E: [shape] reshape: new_sizes has -1: jax.lax infers no size (jnp.reshape does); give every size


def reshape_losing_elements(x: Float[Array, "4 6"]) -> None:
    lax.reshape(x, (5, 5))  # E: [shape] reshape of (4, 6) (24 elements) to (5, 5) (25 elements)


def transpose_result(x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
    return lax.transpose(x, (1, 0))  # E: [return-value] got "Array[Literal['embed'], Literal['seq']]"


def transpose_from_the_end(x: Float[Array, "seq embed"]) -> None:
    lax.transpose(x, (-1, 0))  # E: [shape] transpose: axis -1 is negative: jax.lax counts axes from 0; write 1


def transpose_of_some_axes(x: Float[Array, "seq heads head_dim"]) -> None:
    lax.transpose(x, (1, 0))  # E: [shape] transpose axes (1, 0) are not a permutation of (seq, heads, head_dim)


def concatenate_result(x: Float[Array, "seq 4"], y: Float[Array, "seq 8"]) -> Float[Array, "seq 8"]:
    return lax.concatenate([x, y], 1)  # E: [return-value] got "Array[Literal['seq'], Literal[12]]"


def concatenate_along_the_wrong_axis(x: Float[Array, "seq embed"], y: Float[Array, "seq mlp"]) -> None:
    lax.concatenate([x, y], 0)  # E: [shape] concatenate along axis 0: dim 1 is embed in one array and mlp in another


def concatenate_from_the_end(x: Float[Array, "seq embed"]) -> None:
    lax.concatenate([x, x], -1)  # E: [shape] concatenate: dimension -1 is negative


def argmax_result(logits: Float[Array, "seq vocab"]) -> Int[Array, " vocab"]:
    return lax.argmax(logits, 1, jnp.int32)  # E: [return-value] got "Array[Literal['seq']]", expected "Array[Literal['vocab']]"


def argmin_from_the_end(logits: Float[Array, "seq vocab"]) -> None:
    lax.argmin(logits, -1, jnp.int32)  # E: [shape] argmin: axis -1 is negative: jax.lax counts axes from 0; write 1


def argmax_past_the_last_axis(logits: Float[Array, "seq vocab"]) -> None:
    lax.argmax(logits, 2, jnp.int32)  # E: [shape] argmax: axis 2 is out of range for (seq, vocab), which has 2 dims


def expand_dims_result(x: Float[Array, "seq embed"]) -> Float[Array, "1 embed 1 seq"]:
    return lax.expand_dims(x, (0, 2))  # E: [return-value] got "Array[Any, Literal['seq'], Any, Literal['embed']]"


def expand_dims_twice_at_one_axis(x: Float[Array, "seq embed"]) -> None:
    lax.expand_dims(x, (0, -4))  # E: [shape] expand_dims: axes (0, -4) name one axis of the result twice


def full_like_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.full_like(x, 0.0)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def cumsum_result(x: Float[Array, "seq embed"]) -> Float[Array, " seq"]:
    return lax.cumsum(x, 1)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]", expected "Array[Literal['seq']]"


def cumsum_from_the_end(x: Float[Array, "seq embed"]) -> None:
    lax.cumsum(x, -1)  # E: [shape] cumsum: axis -1 is negative: jax.lax counts axes from 0; write 1


def cumprod_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.cumprod(x)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def cummax_of_a_scalar(x: Float[Array, ""]) -> None:
    lax.cummax(x)  # E: [shape] cummax: axis 0 is out of range for (), which has 0 dims


def cummin_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.cummin(x, axis=1)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def broadcast_in_dim_result(bias: Float[Array, " out"], rows: int, cols: int) -> Float[Array, "seq embed"]:
    return lax.broadcast_in_dim(bias, (rows, cols), (1,))  # E: [return-value] got "Array[Any, Literal['out']]"


def broadcast_in_dim_to_another_size(scale: Float[Array, " 3"]) -> None:
    lax.broadcast_in_dim(scale, (2, 4), (1,))  # E: [shape] broadcast_in_dim: operand dim 3 goes to axis 1 of the result, of size 4


def broadcast_in_dim_missing_a_dim(x: Float[Array, "seq embed"], rows: int) -> None:
    lax.broadcast_in_dim(x, (rows, rows, rows), (1,))  # E: [shape] broadcast_in_dim: broadcast_dimensions (1,) place 1 dim, but the operand (seq, embed) has 2


def broadcast_in_dim_past_the_shape(x: Float[Array, "seq embed"]) -> None:
    lax.broadcast_in_dim(x, (2,), (0, 1))  # E: [shape] broadcast_in_dim: broadcast dimension 1 is out of range for (2,), which has 1 dim


def squeeze_result(x: Float[Array, "1 seq embed"]) -> Float[Array, "embed seq"]:
    return lax.squeeze(x, (0,))  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def squeeze_of_a_wide_axis(x: Float[Array, "seq 3"]) -> None:
    lax.squeeze(x, (1,))  # E: [shape] squeeze: axis 1 of (seq, 3) has size 3: only a dim of size 1 is squeezed


def dot_general_result(x: Float[Array, " in"], w: Float[Array, "out in"]) -> Float[Array, " in"]:
    return lax.dot_general(x, w, (((0,), (1,)), ((), ())))  # E: [return-value] got "Array[Literal['out']]", expected "Array[Literal['in']]"


def dot_general_contracting_the_wrong_dim(x: Float[Array, " in"], w: Float[Array, "out in"]) -> None:
    lax.dot_general(x, w, (((0,), (0,)), ((), ())))  # E: [shape] dot_general contracts in (dim 0 of (in,)) with out (dim 0 of (out, in))


def dot_general_batch_result(q: Float[Array, "heads seq head_dim"], k: Float[Array, "heads kv_seq head_dim"]) -> Float[Array, "heads kv_seq seq"]:
    return lax.dot_general(q, k, (((2,), (2,)), ((0,), (0,))))  # E: [return-value] got "Array[Literal['heads'], Literal['seq'], Literal['kv_seq']]"


def dot_general_batching_the_wrong_dim(q: Float[Array, "heads seq head_dim"], k: Float[Array, "kv_seq heads head_dim"]) -> None:
    lax.dot_general(q, k, (((2,), (2,)), ((0,), (0,))))  # E: [shape] dot_general batches heads (dim 0 of (heads, seq, head_dim)) with kv_seq (dim 0 of (kv_seq, heads, head_dim))


def rev_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.rev(x, (0,))  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def rev_from_the_end(x: Float[Array, "seq embed"]) -> None:
    lax.rev(x, (-1,))  # E: [shape] rev: axis -1 is negative


def select_result(keep: Bool[Array, "seq embed"], x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.select(keep, x, x)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def select_between_other_shapes(keep: Bool[Array, "seq embed"], x: Float[Array, "seq embed"], y: Float[Array, " embed"]) -> None:
    lax.select(keep, x, y)  # E: [shape] select: argument "on_false" has dims (embed,) where (seq, embed) is expected


def select_with_a_row_of_flags(keep: Bool[Array, " embed"], x: Float[Array, "seq embed"]) -> None:
    lax.select(keep, x, x)  # E: [shape] select: argument "pred" has dims (embed,): it must be a scalar or have the dims (seq, embed)


def clamp_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.clamp(0.0, x, 1.0)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def clamp_to_a_row(low: Float[Array, " embed"], x: Float[Array, "seq embed"]) -> None:
    lax.clamp(low, x, 1.0)  # E: [shape] clamp: argument "min" has dims (embed,): it must be a scalar or have the dims (seq, embed)


def convert_element_type_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.convert_element_type(x, jnp.bfloat16)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def integer_pow_result(x: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    return lax.integer_pow(x, 2)  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]"


def dynamic_slice_result(x: Float[Array, "16 8"], i: Int[Array, ""]) -> Float[Array, "4 4"]:
    return lax.dynamic_slice(x, (i, 0), (4, 8))  # E: [return-value] got "Array[Literal[4], Literal[8]]"


def dynamic_slice_of_one_axis(x: Float[Array, "16 8"], i: Int[Array, ""]) -> None:
    lax.dynamic_slice(x, (i,), (4, 8))  # E: [shape] dynamic_slice: 1 start_indices for (16, 8), which has 2 dims: give one per dim


def dynamic_slice_past_the_end(x: Float[Array, "16 8"], i: Int[Array, ""]) -> None:
    lax.dynamic_slice(x, (i, 0), (4, 9))  # E: [shape] dynamic_slice: slice size 9 is larger than dim 1 of (16, 8)


def slice_result(x: Float[Array, "16 8"]) -> Float[Array, "16 8"]:
    return lax.slice(x, (0, 0), (16, 8), (2, 1))  # E: [return-value] got "Array[Literal[8], Literal[8]]"


def slice_backwards(x: Float[Array, "16 8"]) -> None:
    lax.slice(x, (4, 0), (2, 8))  # E: [shape] slice: limit 2 is before start 4 on axis 0


def slice_past_the_end(x: Float[Array, "4 8"]) -> None:
    lax.slice(x, (0, 0), (9, 9))  # E: [shape] slice: limit 9 is past the end of axis 0 of (4, 8), which has size 4: give a limit of at most 4
