"""`Linear`: hand-computed values, a loop reference, shapes, and the errors for bad inputs."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg
from tests.shape_errors import assert_shape_error

IN, OUT, SEQ = 5, 7, 11  # distinct primes: a swapped axis cannot pass


def linear_reference(weight: np.ndarray, bias: np.ndarray | None, x: np.ndarray) -> np.ndarray:
    """`y[o] = sum_i weight[o, i] x[i] + bias[o]`, one product at a time, in float32."""
    out_features, in_features = weight.shape
    y = np.zeros(out_features, np.float32)
    for o in range(out_features):
        total = np.float32(0.0)
        for i in range(in_features):
            total += weight[o, i] * x[i]
        y[o] = total if bias is None else total + bias[o]
    return y


def with_weights(layer: tg.Linear, weight: list[list[float]], bias: list[float]) -> tg.Linear:
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.asarray(weight, jnp.float32))
    updated: tg.Linear = eqx.tree_at(lambda m: m.bias, layer, jnp.asarray(bias, jnp.float32))
    return updated


def test_hand_computed_with_bias(key: jax.Array) -> None:
    # W x = [1*1 + 2*0 + 3*(-1), 4*1 + 5*0 + 6*(-1)] = [-2, -2]; plus b = [0.5, -1].
    layer = with_weights(tg.Linear(3, 2, key=key), [[1, 2, 3], [4, 5, 6]], [0.5, -1.0])
    y = layer(jnp.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(np.asarray(y), np.array([-1.5, -3.0], np.float32))


def test_hand_computed_without_bias(key: jax.Array) -> None:
    layer = tg.Linear(3, 2, use_bias=False, key=key)
    assert layer.bias is None
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    # [1*2 + 2*1 + 3*0, 4*2 + 5*1 + 6*0] = [4, 13]
    y = layer(jnp.array([2.0, 1.0, 0.0]))
    np.testing.assert_array_equal(np.asarray(y), np.array([4.0, 13.0], np.float32))


@pytest.mark.parametrize("use_bias", [True, False])
def test_matches_loop_reference(key: jax.Array, use_bias: bool) -> None:
    layer_key, bias_key, x_key = jax.random.split(key, 3)
    layer = tg.Linear(IN, OUT, use_bias=use_bias, init_std=0.5, key=layer_key)
    if use_bias:
        layer = eqx.tree_at(lambda m: m.bias, layer, jax.random.normal(bias_key, (OUT,)))
    x = jax.random.normal(x_key, (IN,))
    bias = None if layer.bias is None else np.asarray(layer.bias)
    expected = linear_reference(np.asarray(layer.weight), bias, np.asarray(x))
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6)


def test_shapes_and_vmap(key: jax.Array) -> None:
    layer = tg.Linear(IN, OUT, key=key)
    assert layer.weight.shape == (OUT, IN)
    assert layer.bias is not None and layer.bias.shape == (OUT,)
    x = jax.random.normal(key, (SEQ, IN))
    y = jax.vmap(layer)(x)
    assert y.shape == (SEQ, OUT)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y[3]), np.asarray(layer(x[3])), rtol=1e-6, atol=1e-7)


def test_init_is_scaled_normal_and_zero_bias(key: jax.Array) -> None:
    layer = tg.Linear(IN, OUT, init_std=0.25, key=key)
    expected = 0.25 * jax.random.normal(key, (OUT, IN))
    np.testing.assert_array_equal(np.asarray(layer.weight), np.asarray(expected))
    assert layer.bias is not None
    np.testing.assert_array_equal(np.asarray(layer.bias), np.zeros(OUT, np.float32))


def _layer() -> tg.Linear:
    return tg.Linear(IN, OUT, key=jax.random.key(0))


BAD_CALLS: list[tuple[str, Callable[[], object], list[str]]] = [
    (
        "wrong size",
        lambda: _layer()(jnp.ones(IN + 1)),
        [
            'axis "in" is 5 from field "weight" (float32[7, 5]) but 6 in argument "x" (float32[6])',
            'argument "x": expected (in,) = (5,), got float32[6]',
        ],
    ),
    (
        "wrong rank",
        lambda: _layer()(jnp.ones((SEQ, IN))),  # type: ignore[shape]
        ['argument "x": expected (in,) = (5,), got float32[11, 5] (2 axes, not 1)'],
    ),
    (
        "int into Float",
        lambda: _layer()(jnp.ones(IN, jnp.int32)),
        ['argument "x": expected a Float array, got int32[5]: cast it with .astype(jnp.float32)'],
    ),
    (
        "numpy array",
        lambda: _layer()(np.ones(IN, np.float32)),  # type: ignore[arg-type]
        ['argument "x": expected a JAX array, got numpy float32[5]', "jax.numpy.asarray"],
    ),
    (
        "bias of the wrong size",
        lambda: eqx.tree_at(lambda m: m.bias, _layer(), jnp.zeros(OUT + 1))(jnp.ones(IN)),
        [
            'axis "out" is 7 from field "weight" (float32[7, 5]) but 8 in field "bias"',
            'field "bias": expected (out,) = (7,), got float32[8]',
        ],
    ),
]


@pytest.mark.parametrize(
    ("call", "fragments"), [(c, f) for _, c, f in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
def test_bad_inputs_name_the_argument_and_axis(
    call: Callable[[], object], fragments: list[str]
) -> None:
    message = assert_shape_error(call, fragments)
    assert message.startswith("Linear.__call__:\n")  # a top-level call has no path to show


def test_bound_dims_are_listed(key: jax.Array) -> None:
    with pytest.raises(TypeCheckError, match=r"expected \(in,\) = \(5,\), got float32\[7\]"):
        tg.Linear(IN, OUT, key=key)(jnp.ones(IN + 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_features": 0}, "Linear: in_features must be a positive int, got 0"),
        ({"in_features": -1}, "Linear: in_features must be a positive int, got -1"),
        ({"out_features": 5.5}, "Linear: out_features must be a positive int, got 5.5"),
        ({"in_features": True}, "Linear: in_features must be a positive int, got True"),
        ({"init_std": -1.0}, r"Linear: init_std must be a finite number >= 0, got -1.0"),
        ({"init_std": float("nan")}, "Linear: init_std must be a finite number >= 0, got nan"),
        ({"use_bias": "no"}, "Linear: use_bias must be True or False, got 'no'"),
    ],
)
def test_bad_arguments_are_named(key: jax.Array, kwargs: dict[str, object], message: str) -> None:
    """Before the fix: a float or negative size failed inside JAX (MLIR, shape errors), and
    a bool size, a NaN or negative std or a truthy `use_bias` string were taken silently."""
    arguments: dict[str, object] = {"in_features": 3, "out_features": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        tg.Linear(**arguments, key=key)  # type: ignore[arg-type]


def test_sizes_from_numpy_and_zero_std(key: jax.Array) -> None:
    layer = tg.Linear(np.int64(3), np.int32(5), init_std=0, key=key)  # type: ignore[arg-type]
    assert layer.weight.shape == (5, 3)
    assert not np.asarray(layer.weight).any()


def test_key_that_is_not_a_key() -> None:
    with pytest.raises(TypeError, match=r"Linear: key must be a JAX PRNG key, got int 0"):
        tg.Linear(3, 5, key=0)  # type: ignore[arg-type]
