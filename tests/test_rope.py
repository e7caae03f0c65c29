"""`Rotary`: hand-computed rotations, a loop reference, the relative-position property, the
offset that cached decoding uses, errors, and a property test against its annotations."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import strategies as st

import typedgpt as tg
from typedgpt.testing import check_layer

SEQ, HEADS, HEAD_DIM = 7, 3, 10  # distinct; head_dim even


def rope_reference(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """Rotate each pair of features `(i, i + head_dim / 2)` of every head, one pair at a
    time, by `position * base^(-2 i / head_dim)`; float32 storage, as the layer."""
    seq, heads, head_dim = x.shape
    half = head_dim // 2
    out = np.zeros_like(x, dtype=np.float32)
    for s in range(seq):
        for h in range(heads):
            for i in range(half):
                theta = np.float32(base) ** -(np.float32(i) * np.float32(2.0 / head_dim))
                angle = np.float32(positions[s]) * theta
                cos, sin = math.cos(angle), math.sin(angle)
                first, second = float(x[s, h, i]), float(x[s, h, i + half])
                out[s, h, i] = first * cos - second * sin
                out[s, h, i + half] = second * cos + first * sin
    return out


def _x(seq: int = SEQ, heads: int = HEADS, head_dim: int = HEAD_DIM, seed: int = 1) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (seq, heads, head_dim))


# Hand-computed values


def test_one_pair_turns_by_the_position() -> None:
    # head_dim 2: one pair, theta_0 = base^0 = 1, so position p turns (1, 0) by p radians.
    x = jnp.tile(jnp.array([1.0, 0.0]), (4, 1, 1))
    y = tg.Rotary()(x, jnp.arange(4))
    expected = [[[math.cos(p), math.sin(p)]] for p in range(4)]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6, atol=1e-6)


def test_second_pair_turns_slower() -> None:
    # head_dim 4, base 100: theta_1 = 100^(-2/4) = 0.1. Position 5: pair 0 by 5 radians,
    # pair 1 (features 1 and 3) by 0.5.
    x = jnp.array([[[0.0, 1.0, 0.0, 0.0]]])
    y = tg.Rotary(100.0)(x, jnp.array([5]))
    np.testing.assert_allclose(
        np.asarray(y), [[[0.0, math.cos(0.5), 0.0, math.sin(0.5)]]], rtol=1e-6, atol=1e-6
    )


def test_position_zero_is_the_identity() -> None:
    x = _x()
    y = tg.Rotary()(x, jnp.zeros(SEQ, jnp.int32))
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


# Against the loop reference, and properties


@pytest.mark.parametrize("base", [10000.0, 500.0])
def test_matches_loop_reference(base: float) -> None:
    x = _x()
    positions = np.array([0, 1, 2, 9, 10, 31, 100], np.int32)
    y = tg.Rotary(base)(x, jnp.asarray(positions))
    assert y.shape == (SEQ, HEADS, HEAD_DIM) and y.dtype == jnp.float32
    expected = rope_reference(np.asarray(x), positions, base)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-5)


def test_lengths_are_kept() -> None:
    x = _x()
    y = tg.Rotary()(x, jnp.arange(SEQ) * 3)
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(y), axis=-1), np.linalg.norm(np.asarray(x), axis=-1), rtol=1e-5
    )


def test_scores_depend_on_the_relative_position_only() -> None:
    # q at position m and k at position n: q.k after rotation depends only on m - n.
    rotary = tg.Rotary()
    q, k = _x(1, 1, HEAD_DIM, seed=2), _x(1, 1, HEAD_DIM, seed=3)

    def score(m: int, n: int) -> float:
        rotated_q = rotary(q, jnp.array([m]))
        rotated_k = rotary(k, jnp.array([n]))
        return float(jnp.sum(rotated_q * rotated_k))

    for shift in (1, 5, 17):
        assert score(3, 1) == pytest.approx(score(3 + shift, 1 + shift), rel=1e-5, abs=1e-5)
        assert score(1, 4) == pytest.approx(score(1 + shift, 4 + shift), rel=1e-5, abs=1e-5)
    assert score(3, 1) != pytest.approx(score(4, 1), rel=1e-3)  # but it does see m - n


def test_decoding_offset_equals_the_slice_of_the_full_sequence() -> None:
    # A cache at position p rotates the next tokens by p + arange(seq).
    x = _x()
    full = tg.Rotary()(x, jnp.arange(SEQ))
    for start in (0, 3, 6):
        part = tg.Rotary()(x[start:], start + jnp.arange(SEQ - start))
        np.testing.assert_allclose(np.asarray(part), np.asarray(full[start:]), rtol=1e-6)


def test_bfloat16_in_and_out() -> None:
    x = _x().astype(jnp.bfloat16)
    y = tg.Rotary()(x, jnp.arange(SEQ))
    assert y.dtype == jnp.bfloat16
    expected = rope_reference(np.asarray(x.astype(jnp.float32)), np.arange(SEQ), 10000.0)
    np.testing.assert_allclose(np.asarray(y.astype(jnp.float32)), expected, rtol=1e-2, atol=1e-2)


# Errors


def test_odd_head_dim() -> None:
    with pytest.raises(ValueError, match="head_dim must be even, got head_dim=5"):
        tg.Rotary()(_x(head_dim=5), jnp.arange(SEQ))


@pytest.mark.parametrize("base", [0.0, -1.0, True, float("inf"), float("nan")])
def test_bad_base(base: float) -> None:
    with pytest.raises(ValueError, match="Rotary base must be a positive finite number"):
        tg.Rotary(base)


def test_positions_of_another_length_are_rejected() -> None:
    with pytest.raises(TypeError, match="seq"):
        tg.Rotary()(_x(), jnp.arange(SEQ + 1))


# Against its own annotations


def test_property_against_annotations() -> None:
    check_layer(
        lambda dims, key: tg.Rotary(),
        dims={"head_dim": st.integers(1, 6).map(lambda n: 2 * n)},
    )


@pytest.mark.parametrize("base", [np.float32(500.0), np.int64(10000)])
def test_numpy_base(base: object) -> None:
    """Before the fix a NumPy number was refused as "not a positive finite number"."""
    assert tg.Rotary(base).base == float(base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Rotary base must be a positive finite number"):
        tg.Rotary(np.float32("nan"))  # type: ignore[arg-type]
