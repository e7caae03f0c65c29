"""`RMSNorm` and `LayerNorm`: hand-computed values, loop references, dtypes and errors."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg

EMBED = 13  # prime, unlike anything else in these tests


def rmsnorm_reference(x: np.ndarray, weight: np.ndarray | None, eps: float = 1e-5) -> np.ndarray:
    """`x / sqrt(mean(x^2) + eps) * weight`, one entry at a time, in float32."""
    total = np.float32(0.0)
    for value in x:
        total += value * value
    scale = np.float32(1.0) / np.sqrt(total / np.float32(len(x)) + np.float32(eps))
    y = np.zeros(len(x), np.float32)
    for i in range(len(x)):
        y[i] = x[i] * scale * (np.float32(1.0) if weight is None else weight[i])
    return y


def layernorm_reference(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float = 1e-5
) -> np.ndarray:
    """`(x - mean) / sqrt(var + eps) * weight + bias`, one entry at a time, in float32."""
    n = np.float32(len(x))
    total = np.float32(0.0)
    for value in x:
        total += value
    mean = total / n
    squares = np.float32(0.0)
    for value in x:
        squares += (value - mean) * (value - mean)
    scale = np.float32(1.0) / np.sqrt(squares / n + np.float32(eps))
    y = np.zeros(len(x), np.float32)
    for i in range(len(x)):
        y[i] = (x[i] - mean) * scale
        if weight is not None:
            y[i] = y[i] * weight[i]
        if bias is not None:
            y[i] = y[i] + bias[i]
    return y


# RMSNorm


def test_rmsnorm_hand_computed() -> None:
    # mean([9, 16]) = 12.5 and sqrt(12.5) = 5 / sqrt(2), so y = [3, 4] * sqrt(2) / 5.
    y = tg.RMSNorm(2, eps=0.0)(jnp.array([3.0, 4.0]))
    expected = [3 * math.sqrt(2) / 5, 4 * math.sqrt(2) / 5]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6)


def test_rmsnorm_hand_computed_with_gain() -> None:
    norm = eqx.tree_at(lambda m: m.weight, tg.RMSNorm(2, eps=0.0), jnp.array([2.0, -1.0]))
    y = norm(jnp.array([3.0, 4.0]))
    expected = [6 * math.sqrt(2) / 5, -4 * math.sqrt(2) / 5]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6)


def test_rmsnorm_eps_is_inside_the_root() -> None:
    # mean([1, 1, 1, 1]) = 1, so y = 1 / sqrt(1 + 3) = 0.5 everywhere.
    y = tg.RMSNorm(4, eps=3.0)(jnp.ones(4))
    np.testing.assert_allclose(np.asarray(y), [0.5] * 4, rtol=1e-6)


def test_rmsnorm_of_zeros_is_zeros() -> None:
    y = tg.RMSNorm(EMBED)(jnp.zeros(EMBED))
    np.testing.assert_array_equal(np.asarray(y), np.zeros(EMBED, np.float32))


@pytest.mark.parametrize("use_weight", [True, False])
def test_rmsnorm_matches_loop_reference(key: jax.Array, use_weight: bool) -> None:
    x_key, weight_key = jax.random.split(key)
    norm = tg.RMSNorm(EMBED, use_weight=use_weight)
    assert (norm.weight is None) is not use_weight
    if use_weight:
        norm = eqx.tree_at(lambda m: m.weight, norm, jax.random.normal(weight_key, (EMBED,)))
    x = 2.0 * jax.random.normal(x_key, (EMBED,)) + 0.5
    weight = None if norm.weight is None else np.asarray(norm.weight)
    expected = rmsnorm_reference(np.asarray(x), weight)
    y = norm(x)
    assert y.shape == (EMBED,) and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-6)


def test_rmsnorm_default_gain_is_ones() -> None:
    norm = tg.RMSNorm(EMBED)
    assert norm.weight is not None
    np.testing.assert_array_equal(np.asarray(norm.weight), np.ones(EMBED, np.float32))


# LayerNorm


def test_layernorm_hand_computed_pair() -> None:
    # mean 3.5, centred [-0.5, 0.5], variance 0.25, so y = [-1, 1].
    y = tg.LayerNorm(2, eps=0.0)(jnp.array([3.0, 4.0]))
    np.testing.assert_allclose(np.asarray(y), [-1.0, 1.0], rtol=1e-6)


def test_layernorm_hand_computed_with_gain_and_shift() -> None:
    # mean 2.5, centred [-1.5, -0.5, 0.5, 1.5], variance 1.25 = 5 / 4: y = centred * 2 / sqrt(5),
    # then times g = [1, 2, 0, -1] plus b = [0, 1, 2, 3].
    norm = tg.LayerNorm(4, eps=0.0)
    norm = eqx.tree_at(lambda m: m.weight, norm, jnp.array([1.0, 2.0, 0.0, -1.0]))
    norm = eqx.tree_at(lambda m: m.bias, norm, jnp.array([0.0, 1.0, 2.0, 3.0]))
    y = norm(jnp.array([1.0, 2.0, 3.0, 4.0]))
    r = 2 / math.sqrt(5)
    expected = [-1.5 * r, 1 - r, 2.0, 3 - 1.5 * r]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6)


def test_layernorm_of_a_constant_is_the_shift() -> None:
    norm = eqx.tree_at(lambda m: m.bias, tg.LayerNorm(3), jnp.array([1.0, -2.0, 0.5]))
    y = norm(jnp.full(3, 7.0))
    np.testing.assert_array_equal(np.asarray(y), np.array([1.0, -2.0, 0.5], np.float32))


@pytest.mark.parametrize(("use_weight", "use_bias"), [(True, True), (False, False), (True, False)])
def test_layernorm_matches_loop_reference(key: jax.Array, use_weight: bool, use_bias: bool) -> None:
    x_key, weight_key, bias_key = jax.random.split(key, 3)
    norm = tg.LayerNorm(EMBED, use_weight=use_weight, use_bias=use_bias)
    assert (norm.weight is None) is not use_weight
    assert (norm.bias is None) is not use_bias
    if use_weight:
        norm = eqx.tree_at(lambda m: m.weight, norm, jax.random.normal(weight_key, (EMBED,)))
    if use_bias:
        norm = eqx.tree_at(lambda m: m.bias, norm, jax.random.normal(bias_key, (EMBED,)))
    x = 2.0 * jax.random.normal(x_key, (EMBED,)) + 0.5
    weight = None if norm.weight is None else np.asarray(norm.weight)
    bias = None if norm.bias is None else np.asarray(norm.bias)
    expected = layernorm_reference(np.asarray(x), weight, bias)
    y = norm(x)
    assert y.shape == (EMBED,) and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-6)


def test_layernorm_defaults_are_ones_and_zeros() -> None:
    norm = tg.LayerNorm(EMBED)
    assert norm.weight is not None and norm.bias is not None
    np.testing.assert_array_equal(np.asarray(norm.weight), np.ones(EMBED, np.float32))
    np.testing.assert_array_equal(np.asarray(norm.bias), np.zeros(EMBED, np.float32))


# Both


def _rms_in_input_dtype(x: jax.Array) -> jax.Array:
    eps = jnp.asarray(1e-5, x.dtype)
    return x * jax.lax.rsqrt(jnp.mean(x * x) + eps)


def _layer_in_input_dtype(x: jax.Array) -> jax.Array:
    eps = jnp.asarray(1e-5, x.dtype)
    centred = x - jnp.mean(x)
    return centred * jax.lax.rsqrt(jnp.mean(centred * centred) + eps)


@pytest.mark.parametrize(
    ("norm", "in_input_dtype"),
    [(tg.RMSNorm(EMBED), _rms_in_input_dtype), (tg.LayerNorm(EMBED), _layer_in_input_dtype)],
    ids=["rms", "layer"],
)
def test_bfloat16_is_computed_in_float32(
    key: jax.Array,
    norm: tg.RMSNorm | tg.LayerNorm,
    in_input_dtype: Callable[[jax.Array], jax.Array],
) -> None:
    x = (3.0 * jax.random.normal(key, (EMBED,)) + 1.0).astype(jnp.bfloat16)
    y = norm(x)
    assert y.dtype == jnp.bfloat16
    expected = norm(x.astype(jnp.float32)).astype(jnp.bfloat16)
    np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(expected, np.float32))
    # The same formula in bfloat16 rounds differently: the test above can tell them apart.
    narrow = in_input_dtype(x)
    assert narrow.dtype == jnp.bfloat16
    assert not np.array_equal(np.asarray(narrow, np.float32), np.asarray(y, np.float32))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_low_precision_parameters_are_widened_too(key: jax.Array, kind: str, dtype: type) -> None:
    """A bfloat16 model's norms hold bfloat16 gains and shifts: they are widened with `x`,
    not mixed with float32 (which strict dtype promotion, as in these tests, refuses)."""
    x_key, weight_key, bias_key = jax.random.split(key, 3)
    x = (3.0 * jax.random.normal(x_key, (EMBED,)) + 1.0).astype(dtype)
    weight = (1.0 + 0.5 * jax.random.normal(weight_key, (EMBED,))).astype(dtype)
    bias = (0.5 * jax.random.normal(bias_key, (EMBED,))).astype(dtype)
    wide_x, wide_weight, wide_bias = (np.asarray(a, np.float32) for a in (x, weight, bias))
    norm: tg.RMSNorm | tg.LayerNorm
    if kind == "rms":
        norm = eqx.tree_at(lambda m: m.weight, tg.RMSNorm(EMBED), weight)
        expected = rmsnorm_reference(wide_x, wide_weight)
    else:
        norm = eqx.tree_at(lambda m: (m.weight, m.bias), tg.LayerNorm(EMBED), (weight, bias))
        expected = layernorm_reference(wide_x, wide_weight, wide_bias)
    y = norm(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(
        np.asarray(y, np.float32), expected.astype(dtype).astype(np.float32), rtol=1e-2, atol=1e-2
    )


@pytest.mark.parametrize("norm", [tg.RMSNorm(EMBED), tg.LayerNorm(EMBED)], ids=["rms", "layer"])
def test_vmap_over_positions(key: jax.Array, norm: tg.RMSNorm | tg.LayerNorm) -> None:
    x = jax.random.normal(key, (11, EMBED))
    y = jax.vmap(norm)(x)
    assert y.shape == (11, EMBED)
    np.testing.assert_allclose(np.asarray(y[4]), np.asarray(norm(x[4])), rtol=1e-6, atol=1e-7)


BAD_CALLS: list[tuple[str, Callable[[], object], list[str]]] = [
    (
        "rmsnorm wrong size",
        lambda: tg.RMSNorm(EMBED)(jnp.ones(11)),
        [
            "RMSNorm.__call__:\n",
            'axis "embed" is 13 from field "weight" (float32[13]) but 11 in argument "x"',
            'argument "x": expected (embed,) = (13,), got float32[11]',
        ],
    ),
    (
        "layernorm wrong size",
        lambda: tg.LayerNorm(EMBED)(jnp.ones(11)),
        [
            "LayerNorm.__call__:\n",
            'axis "embed" is 13 from field "weight" (float32[13]) but 11 in argument "x"',
            'argument "x": expected (embed,) = (13,), got float32[11]',
        ],
    ),
    (
        "layernorm bias only, wrong size",
        lambda: tg.LayerNorm(EMBED, use_weight=False)(jnp.ones(11)),
        ['axis "embed" is 13 from field "bias" (float32[13]) but 11 in argument "x"'],
    ),
    (
        "layernorm bias disagrees with weight",
        lambda: eqx.tree_at(lambda m: m.bias, tg.LayerNorm(EMBED), jnp.zeros(7))(jnp.ones(EMBED)),
        ['axis "embed" is 13 from field "weight" (float32[13]) but 7 in field "bias"'],
    ),
    (
        "rmsnorm wrong rank",
        lambda: tg.RMSNorm(EMBED)(jnp.ones((11, EMBED))),  # type: ignore[shape]
        ['argument "x": expected (embed,) = (13,), got float32[11, 13] (2 axes, not 1)'],
    ),
    (
        "layernorm int input",
        lambda: tg.LayerNorm(EMBED)(jnp.ones(EMBED, jnp.int32)),
        [
            'LayerNorm.__call__:\n  argument "x": expected a Float array, got int32[13]'
            ": cast it with .astype(jnp.float32)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("call", "fragments"), [(c, f) for _, c, f in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
def test_bad_inputs_name_the_argument_and_axis(
    call: Callable[[], object], fragments: list[str]
) -> None:
    with pytest.raises(TypeCheckError) as excinfo:
        call()
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


@pytest.mark.parametrize("norm", [tg.RMSNorm, tg.LayerNorm])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embed_dim": 0}, "embed_dim must be a positive int, got 0"),
        ({"embed_dim": 2.0}, "embed_dim must be a positive int, got 2.0"),
        ({"embed_dim": True}, "embed_dim must be a positive int, got True"),
        ({"eps": -1e-5}, "eps must be a finite number >= 0, got -1e-05"),
        ({"eps": float("nan")}, "eps must be a finite number >= 0, got nan"),
        ({"eps": "1e-5"}, "eps must be a finite number >= 0, got '1e-5'"),
        ({"use_weight": 1}, "use_weight must be True or False, got 1"),
    ],
)
def test_bad_arguments_are_named(
    norm: type[tg.RMSNorm | tg.LayerNorm], kwargs: dict[str, object], message: str
) -> None:
    """Before the fix a negative or NaN eps gave NaN outputs silently, and a bool size a
    one-wide norm."""
    arguments: dict[str, object] = {"embed_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=f"{norm.__name__}: {message}"):
        norm(**arguments)  # type: ignore[arg-type]
