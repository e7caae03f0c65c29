"""`MLP`: hand-computed values for ReLU and GELU-tanh, a loop reference, and errors."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg

SEQ, EMBED, MLP_DIM = 11, 5, 7  # distinct primes


def gelu_tanh(x: float) -> float:
    """GPT-2's GELU: `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`."""
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def relu(x: float) -> float:
    return max(x, 0.0)


def mlp_reference(
    x: np.ndarray,
    up_weight: np.ndarray,
    up_bias: np.ndarray | None,
    down_weight: np.ndarray,
    down_bias: np.ndarray | None,
    activation: Callable[[float], float],
) -> np.ndarray:
    """`down(act(up(x)))` at every position, one unit at a time, stored in float32."""
    seq, embed = x.shape
    hidden_size = up_weight.shape[0]
    y = np.zeros((seq, embed), np.float32)
    for s in range(seq):
        hidden = np.zeros(hidden_size, np.float32)
        for h in range(hidden_size):
            total = np.float32(0.0) if up_bias is None else up_bias[h]
            for e in range(embed):
                total += up_weight[h, e] * x[s, e]
            hidden[h] = activation(float(total))
        for e in range(embed):
            total = np.float32(0.0) if down_bias is None else down_bias[e]
            for h in range(hidden_size):
                total += down_weight[e, h] * hidden[h]
            y[s, e] = total
    return y


def _hand_mlp(activation: str, key: jax.Array) -> tg.MLP:
    mlp = tg.MLP(2, 3, activation=activation, key=key)  # type: ignore[arg-type]
    mlp = eqx.tree_at(
        lambda m: m.up_proj.weight, mlp, jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    )
    mlp = eqx.tree_at(lambda m: m.up_proj.bias, mlp, jnp.zeros(3))
    mlp = eqx.tree_at(
        lambda m: m.down_proj.weight, mlp, jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    )
    updated: tg.MLP = eqx.tree_at(lambda m: m.down_proj.bias, mlp, jnp.array([0.5, -0.5]))
    return updated


def test_relu_hand_computed(key: jax.Array) -> None:
    # up: [1, -1] -> [1, -1, 0]; relu -> [1, 0, 0]; down: [1 + 0.5, 4 - 0.5] = [1.5, 3.5].
    y = _hand_mlp("relu", key)(jnp.array([[1.0, -1.0]]))
    np.testing.assert_array_equal(np.asarray(y), np.array([[1.5, 3.5]], np.float32))


def test_gelu_tanh_hand_computed(key: jax.Array) -> None:
    # up: [1, -1] -> [1, -1, 0]; gelu_tanh(1) = 0.8411920, gelu_tanh(-1) = -0.1588080,
    # gelu_tanh(0) = 0; down: [g1 + 2 g-1 + 0.5, 4 g1 + 5 g-1 - 0.5] = [1.0235760, 2.0707279].
    y = _hand_mlp("gelu_tanh", key)(jnp.array([[1.0, -1.0]]))
    np.testing.assert_allclose(np.asarray(y), [[1.0235760, 2.0707279]], rtol=1e-6)


def test_gelu_tanh_closed_form_values() -> None:
    assert gelu_tanh(1.0) == pytest.approx(0.8411920, abs=1e-7)
    assert gelu_tanh(-1.0) == pytest.approx(-0.1588080, abs=1e-7)
    assert gelu_tanh(0.0) == 0.0


def test_gelu_tanh_derivative_equals_finite_differences() -> None:
    """The written-out derivative of `MLP`'s GELU, against float64 central differences of the
    formula, and its second derivative against autodiff of `jax.nn.gelu`'s; its values are
    `jax.nn.gelu`'s exactly."""
    from typedgpt._mlp import gelu_tanh as typed_gelu

    points = np.linspace(-8.0, 8.0, 321)
    step = 1e-5
    expected = [(gelu_tanh(p + step) - gelu_tanh(p - step)) / (2 * step) for p in points]
    x = jnp.asarray(points, jnp.float32)
    np.testing.assert_array_equal(typed_gelu(x), jax.nn.gelu(x, approximate=True))
    for dtype in (jnp.float32, jnp.bfloat16):
        low = x.astype(dtype)
        value, _ = jax.jvp(typed_gelu, (low,), (jnp.ones_like(low),))
        np.testing.assert_array_equal(value, jax.nn.gelu(low, approximate=True))
    # Float32 cancels in 1 + tanh near x = -5, where the slope is about -2e-5.
    np.testing.assert_allclose(jax.vmap(jax.grad(typed_gelu))(x), expected, atol=5e-6)
    second = jax.vmap(jax.grad(jax.grad(typed_gelu)))(x)
    reference = jax.vmap(jax.grad(jax.grad(lambda v: jax.nn.gelu(v, approximate=True))))(x)
    np.testing.assert_allclose(second, reference, atol=1e-5)
    bf16 = jax.vmap(jax.grad(typed_gelu))(x.astype(jnp.bfloat16))
    assert bf16.dtype == jnp.bfloat16


def test_gelu_tanh_keeps_one_array_for_the_backward_pass() -> None:
    """Between the passes the GELU keeps only its derivative (autodiff of the formula keeps
    five arrays of its input's shape)."""
    from typedgpt._mlp import gelu_tanh as typed_gelu

    x = jnp.linspace(-3.0, 3.0, MLP_DIM)
    _, linear = jax.linearize(typed_gelu, x)
    assert [jnp.shape(c) for c in jax.make_jaxpr(linear)(x).consts] == [(MLP_DIM,)]


@pytest.mark.parametrize("activation", ["relu", "gelu_tanh"])
def test_mlp_keeps_one_hidden_array_for_the_backward_pass(key: jax.Array, activation: str) -> None:
    """Differentiated in its weights and input, the MLP keeps one `seq mlp` array, the
    hidden layer before the activation, and remakes the activation from it in the backward
    pass: inside the scan over layers each kept array is a `layers batch seq mlp` array.
    (Plain autodiff keeps two: the activation's slope, or ReLU's mask, and its value.)"""
    mlp = tg.MLP(EMBED, MLP_DIM, activation=activation, key=key)  # type: ignore[arg-type]
    inputs = jax.random.normal(key, (SEQ, EMBED))
    params, static = eqx.partition(mlp, eqx.is_array)
    _, linear = jax.linearize(lambda p, x: eqx.combine(p, static)(x), params, inputs)
    consts = jax.make_jaxpr(linear)(params, inputs).consts
    kept = [c for c in consts if jnp.shape(c) == (SEQ, MLP_DIM)]
    assert len(kept) == 1
    hidden = jax.vmap(mlp.up_proj)(inputs)
    np.testing.assert_array_equal(kept[0], hidden)


@pytest.mark.parametrize("activation", ["relu", "gelu_tanh"])
def test_mlp_gradients_equal_plain_autodiff(key: jax.Array, activation: str) -> None:
    """Remaking the activation in the backward pass changes no gradient."""
    mlp = tg.MLP(EMBED, MLP_DIM, activation=activation, key=key)  # type: ignore[arg-type]
    inputs = jax.random.normal(key, (SEQ, EMBED))
    act = jax.nn.relu if activation == "relu" else lambda h: jax.nn.gelu(h, approximate=True)

    def plain(m: tg.MLP, x: jax.Array) -> jax.Array:
        y = jax.vmap(m.down_proj)(act(jax.vmap(m.up_proj)(x)))
        return jnp.sum(jnp.sin(y))

    ours = jax.grad(lambda m, x: jnp.sum(jnp.sin(m(x))), argnums=(0, 1))(mlp, inputs)
    theirs = jax.grad(plain, argnums=(0, 1))(mlp, inputs)
    for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("activation", "function"), [("relu", relu), ("gelu_tanh", gelu_tanh)], ids=["relu", "gelu"]
)
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_matches_loop_reference(
    key: jax.Array, activation: str, function: Callable[[float], float], use_bias: bool
) -> None:
    mlp_key, up_key, down_key, x_key = jax.random.split(key, 4)
    mlp = tg.MLP(
        EMBED,
        MLP_DIM,
        activation=activation,  # type: ignore[arg-type]
        use_bias=use_bias,
        init_std=0.5,
        key=mlp_key,
    )
    if use_bias:
        mlp = eqx.tree_at(lambda m: m.up_proj.bias, mlp, jax.random.normal(up_key, (MLP_DIM,)))
        mlp = eqx.tree_at(lambda m: m.down_proj.bias, mlp, jax.random.normal(down_key, (EMBED,)))
    else:
        assert mlp.up_proj.bias is None and mlp.down_proj.bias is None
    x = jax.random.normal(x_key, (SEQ, EMBED))

    def array(a: jax.Array | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)

    expected = mlp_reference(
        np.asarray(x),
        np.asarray(mlp.up_proj.weight),
        array(mlp.up_proj.bias),
        np.asarray(mlp.down_proj.weight),
        array(mlp.down_proj.bias),
        function,
    )
    y = mlp(x)
    assert y.shape == (SEQ, EMBED) and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-6)


def test_shapes(key: jax.Array) -> None:
    mlp = tg.MLP(EMBED, MLP_DIM, key=key)
    assert mlp.up_proj.weight.shape == (MLP_DIM, EMBED)
    assert mlp.down_proj.weight.shape == (EMBED, MLP_DIM)
    assert mlp.activation == "gelu_tanh"


def test_positions_are_independent(key: jax.Array) -> None:
    mlp = tg.MLP(EMBED, MLP_DIM, init_std=0.5, key=key)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    changed = x.at[4].set(10.0)
    y, y_changed = mlp(x), mlp(changed)
    np.testing.assert_array_equal(np.asarray(y[:4]), np.asarray(y_changed[:4]))
    np.testing.assert_array_equal(np.asarray(y[5:]), np.asarray(y_changed[5:]))
    assert not np.allclose(np.asarray(y[4]), np.asarray(y_changed[4]))


def test_unknown_activation_is_rejected(key: jax.Array) -> None:
    with pytest.raises(ValueError, match=r'activation must be "relu" or "gelu_tanh", got .gelu.'):
        tg.MLP(EMBED, MLP_DIM, activation="gelu", key=key)  # type: ignore[arg-type]


def _mlp() -> tg.MLP:
    return tg.MLP(EMBED, MLP_DIM, key=jax.random.key(0))


BAD_CALLS: list[tuple[str, Callable[[], object], list[str]]] = [
    (
        "wrong embed",
        lambda: _mlp()(jnp.ones((SEQ, EMBED + 2))),
        [
            "Linear.__call__ at MLP.up_proj:\n",
            'axis "in" is 5 from field "weight" (float32[7, 5]) but 7 in argument "x"',
            'argument "x": expected (in,) = (5,), got float32[7]',
        ],
    ),
    (
        "one position, not a sequence",
        lambda: _mlp()(jnp.ones(EMBED)),  # type: ignore[shape]
        ['MLP.__call__:\n  argument "x": expected (seq, embed), got float32[5] (1 axis, not 2)'],
    ),
    (
        "int input",
        lambda: _mlp()(jnp.ones((SEQ, EMBED), jnp.int32)),
        [
            'MLP.__call__:\n  argument "x": expected a Float array, got int32[11, 5]'
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


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0, 8), {}, "MLP: embed_dim must be a positive int, got 0"),
        ((4, -8), {}, "MLP: mlp_dim must be a positive int, got -8"),
        ((4.0, 8), {}, "MLP: embed_dim must be a positive int, got 4.0"),
        ((4, 8), {"init_std": -0.02}, "MLP: init_std must be a finite number >= 0, got -0.02"),
        ((4, 8), {"use_bias": None}, "MLP: use_bias must be True or False, got None"),
    ],
)
def test_bad_arguments_are_named(
    key: jax.Array, args: tuple[object, object], kwargs: dict[str, object], message: str
) -> None:
    """Before the fix: MLP(0, 8) built an empty layer, MLP(4, -8) failed in MLIR."""
    with pytest.raises(ValueError, match=message):
        tg.MLP(*args, **kwargs, key=key)  # type: ignore[arg-type]
