"""`Softmax`: hand-computed values, a loop reference on every axis, float32 for bfloat16."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg


def softmax_reference(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax along `axis`, one row and one entry at a time, in float32."""
    moved = np.moveaxis(x.astype(np.float32), axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    out = np.zeros_like(rows)
    for r in range(rows.shape[0]):
        largest = rows[r, 0]
        for value in rows[r]:
            largest = max(largest, value)
        total = np.float32(0.0)
        for j in range(rows.shape[1]):
            out[r, j] = np.exp(rows[r, j] - largest)
            total += out[r, j]
        for j in range(rows.shape[1]):
            out[r, j] = out[r, j] / total
    return np.moveaxis(out.reshape(moved.shape), -1, axis)


def test_hand_computed_logs() -> None:
    # exp of [0, ln 2, ln 3] is [1, 2, 3], which sum to 6.
    x = jnp.array([0.0, math.log(2.0), math.log(3.0)])
    np.testing.assert_allclose(np.asarray(tg.Softmax()(x)), [1 / 6, 2 / 6, 3 / 6], rtol=1e-6)


def test_hand_computed_rows_of_a_matrix() -> None:
    # Row 0: exp [0, ln 3] = [1, 3] -> [1/4, 3/4]; row 1: equal entries -> [1/2, 1/2].
    x = jnp.array([[0.0, math.log(3.0)], [5.0, 5.0]])
    expected = [[0.25, 0.75], [0.5, 0.5]]
    np.testing.assert_allclose(np.asarray(tg.Softmax()(x)), expected, rtol=1e-6)


def test_hand_computed_columns_with_axis_0() -> None:
    # Column 0: exp [0, ln 4] = [1, 4] -> [1/5, 4/5]; column 1: exp [ln 2, 0] -> [2/3, 1/3].
    x = jnp.array([[0.0, math.log(2.0)], [math.log(4.0), 0.0]])
    expected = [[0.2, 2 / 3], [0.8, 1 / 3]]
    np.testing.assert_allclose(np.asarray(tg.Softmax(axis=0)(x)), expected, rtol=1e-6)


def test_large_logits_do_not_overflow() -> None:
    # exp(1000) overflows float32; subtracting the max first gives [1/2, 1/2, 0].
    y = tg.Softmax()(jnp.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(np.asarray(y), [0.5, 0.5, 0.0], rtol=1e-6, atol=1e-30)


def test_shift_invariance(key: jax.Array) -> None:
    x = jax.random.normal(key, (7,))
    softmax = tg.Softmax()
    np.testing.assert_allclose(
        np.asarray(softmax(x + 3.0)), np.asarray(softmax(x)), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_matches_loop_reference_on_each_axis(key: jax.Array, axis: int) -> None:
    x = 3.0 * jax.random.normal(key, (3, 5, 7))
    y = tg.Softmax(axis=axis)(x)
    assert y.shape == (3, 5, 7)
    assert y.dtype == jnp.float32
    expected = softmax_reference(np.asarray(x), axis)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(y.sum(axis=axis)), 1.0, rtol=1e-5)


def test_bfloat16_is_computed_in_float32(key: jax.Array) -> None:
    x = (3.0 * jax.random.normal(key, (13,))).astype(jnp.bfloat16)
    y = tg.Softmax()(x)
    assert y.dtype == jnp.bfloat16
    expected = jax.nn.softmax(x.astype(jnp.float32)).astype(jnp.bfloat16)
    np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(expected, np.float32))
    # Softmax done in bfloat16 itself rounds differently: the test above can tell them apart.
    in_bfloat16 = jax.nn.softmax(x)
    assert not np.array_equal(np.asarray(in_bfloat16, np.float32), np.asarray(y, np.float32))


@pytest.mark.parametrize("axis", [0, -1])
def test_derivative_equals_autodiff_and_keeps_only_the_output(key: jax.Array, axis: int) -> None:
    x = 3.0 * jax.random.normal(key, (5, 7))
    weights = jax.random.normal(jax.random.key(1), (5, 7))

    def plain(x: jax.Array) -> jax.Array:
        return jnp.sum(jax.nn.softmax(x, axis=axis) ** 2 * weights)

    def ours(x: jax.Array) -> jax.Array:
        return jnp.sum(tg.Softmax(axis=axis)(x) ** 2 * weights)

    np.testing.assert_allclose(jax.grad(ours)(x), jax.grad(plain)(x), rtol=1e-5, atol=1e-7)
    hessian = jax.hessian(ours)(x)
    np.testing.assert_allclose(hessian, jax.hessian(plain)(x), rtol=1e-4, atol=1e-6)
    _, linear = jax.linearize(tg.Softmax(axis=axis), x)
    assert [np.shape(c) for c in jax.make_jaxpr(linear)(x).consts] == [(5, 7)]
    # bfloat16 in, bfloat16 gradients out, from the float32 softmax.
    low = jax.grad(lambda x: jnp.sum(tg.Softmax(axis=axis)(x) * weights.astype(x.dtype)))
    assert low(x.astype(jnp.bfloat16)).dtype == jnp.bfloat16


def test_int_input_is_rejected() -> None:
    with pytest.raises(TypeCheckError) as excinfo:
        tg.Softmax()(jnp.arange(5))
    message = str(excinfo.value)
    assert (
        message == 'Softmax.__call__:\n  argument "x": expected a Float array, got int32[5]'
        ": cast it with .astype(jnp.float32)"
    )


def test_numpy_input_is_rejected() -> None:
    with pytest.raises(TypeCheckError, match=r'argument "x": expected a JAX array, got numpy'):
        tg.Softmax()(np.zeros(3, np.float32))  # type: ignore[arg-type]


@pytest.mark.parametrize(("axis", "shape", "needs"), [(-1, (), 1), (2, (3, 4), 3), (-3, (3, 4), 3)])
def test_axis_the_array_lacks(axis: int, shape: tuple[int, ...], needs: int) -> None:
    x = jnp.ones(shape)
    message = rf"Softmax\(axis={axis}\) needs an array with that axis, got {len(shape)} axes"
    with pytest.raises(ValueError, match=message + rf".*at least {needs} axes"):
        tg.Softmax(axis=axis)(x)


@pytest.mark.parametrize("axis", [1.0, True, None, "x"])
def test_axis_that_is_not_an_int(axis: object) -> None:
    """Before the fix: a float axis failed inside JAX, and True was taken as axis 1."""
    with pytest.raises(ValueError, match=r"Softmax: axis must be an int, got"):
        tg.Softmax(axis)  # type: ignore[arg-type]
    assert tg.Softmax(np.int64(0)).axis == 0  # type: ignore[arg-type]
