"""`SwiGLU`: hand-computed values, a loop reference, and a property test against its
annotations."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg
from typedgpt.testing import check_layer

SEQ, EMBED, MLP_DIM = 7, 5, 11  # distinct primes


def silu(x: float) -> float:
    return x / (1.0 + math.exp(-x))


def swiglu_reference(layer: tg.SwiGLU, x: np.ndarray) -> np.ndarray:
    """`down(silu(gate(x)) * up(x))` at every position, one unit at a time, in float32."""

    def linear(linear: tg.Linear, row: np.ndarray) -> np.ndarray:
        weight = np.asarray(linear.weight)
        bias = None if linear.bias is None else np.asarray(linear.bias)
        out = np.zeros(weight.shape[0], np.float32)
        for o in range(weight.shape[0]):
            total = np.float32(0.0) if bias is None else bias[o]
            for i in range(weight.shape[1]):
                total += weight[o, i] * row[i]
            out[o] = total
        return out

    rows = []
    for row in x:
        gate, up = linear(layer.gate_proj, row), linear(layer.up_proj, row)
        hidden = np.array([silu(float(g)) * u for g, u in zip(gate, up, strict=True)], np.float32)
        rows.append(linear(layer.down_proj, hidden))
    return np.stack(rows)


def _random(key: jax.Array, use_bias: bool = True) -> tg.SwiGLU:
    layer = tg.SwiGLU(EMBED, MLP_DIM, use_bias=use_bias, init_std=0.5, key=key)
    leaves, treedef = jax.tree.flatten(layer)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    new = [0.5 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves, strict=True)]
    randomised: tg.SwiGLU = jax.tree.unflatten(treedef, new)
    return randomised


def test_hand_computed(key: jax.Array) -> None:
    # embed 1, mlp 2: gate = (x, -x), up = (1, 2) x, down sums the two hidden units.
    # x = 2: silu(2) * 2 + silu(-2) * 4 = 1.7616 * 2 - 0.2384 * 4.
    layer = tg.SwiGLU(1, 2, use_bias=False, key=key)
    layer = eqx.tree_at(
        lambda m: (m.gate_proj.weight, m.up_proj.weight, m.down_proj.weight),
        layer,
        (jnp.array([[1.0], [-1.0]]), jnp.array([[1.0], [2.0]]), jnp.array([[1.0, 1.0]])),
    )
    y = layer(jnp.array([[2.0], [0.0]]))
    expected = [[silu(2.0) * 2.0 + silu(-2.0) * 4.0], [0.0]]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_matches_loop_reference(key: jax.Array, use_bias: bool) -> None:
    layer = _random(key, use_bias)
    x = jax.random.normal(jax.random.key(2), (SEQ, EMBED))
    y = layer(x)
    assert y.shape == (SEQ, EMBED) and y.dtype == jnp.float32
    np.testing.assert_allclose(
        np.asarray(y), swiglu_reference(layer, np.asarray(x)), rtol=1e-5, atol=1e-6
    )


def test_shapes(key: jax.Array) -> None:
    layer = tg.SwiGLU(EMBED, MLP_DIM, key=key)
    assert layer.gate_proj.weight.shape == (MLP_DIM, EMBED)
    assert layer.up_proj.weight.shape == (MLP_DIM, EMBED)
    assert layer.down_proj.weight.shape == (EMBED, MLP_DIM)
    assert layer.down_proj.bias is not None and layer.down_proj.bias.shape == (EMBED,)


def test_wrong_width_is_rejected(key: jax.Array) -> None:
    layer = tg.SwiGLU(EMBED, MLP_DIM, key=key)
    with pytest.raises(TypeCheckError, match="Linear"):
        layer(jnp.ones((SEQ, EMBED + 1)))


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "jit"])
def test_up_proj_wider_than_gate_proj_names_the_axis(key: jax.Array, traced: bool) -> None:
    layer = tg.SwiGLU(EMBED, MLP_DIM, key=key)
    wider = eqx.tree_at(lambda m: m.up_proj, layer, tg.Linear(EMBED, MLP_DIM + 2, key=key))
    call = eqx.filter_jit(wider) if traced else wider
    with pytest.raises(TypeCheckError) as excinfo:
        call(jnp.ones((SEQ, EMBED)))
    assert str(excinfo.value) == (
        "SwiGLU._gate_and_project:\n"
        '  axis "mlp" is 11 from argument "gate" (float32[7, 11]) '
        'but 13 in argument "up" (float32[7, 13])\n'
        '  argument "up": expected (seq, mlp) = (7, 11), got float32[7, 13]'
    )


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_property_against_annotations(use_bias: bool) -> None:
    check_layer(lambda dims, key: tg.SwiGLU(dims["embed"], dims["mlp"], use_bias=use_bias, key=key))


def test_keeps_gate_and_up_for_the_backward_pass(key: jax.Array) -> None:
    """Differentiated in its weights and input, SwiGLU keeps two `seq mlp` arrays, the gate
    and up projections, and remakes the gating from them in the backward pass. (Plain
    autodiff keeps four more: the sigmoid, `silu(gate)` and the product among them.)"""
    layer = _random(key)
    inputs = jax.random.normal(key, (SEQ, EMBED))
    params, static = eqx.partition(layer, eqx.is_array)
    _, linear = jax.linearize(lambda p, x: eqx.combine(p, static)(x), params, inputs)
    consts = jax.make_jaxpr(linear)(params, inputs).consts
    kept = [np.asarray(c) for c in consts if jnp.shape(c) == (SEQ, MLP_DIM)]
    gate, up = jax.vmap(layer.gate_proj)(inputs), jax.vmap(layer.up_proj)(inputs)
    assert len(kept) == 2
    assert any(np.array_equal(k, gate) for k in kept)
    assert any(np.array_equal(k, up) for k in kept)


def test_gradients_equal_plain_autodiff(key: jax.Array) -> None:
    """Remaking the gating in the backward pass changes no gradient, and the traced value
    equals the eager one."""
    layer = _random(key)
    inputs = jax.random.normal(key, (SEQ, EMBED))

    def plain(m: tg.SwiGLU, x: jax.Array) -> jax.Array:
        hidden = jax.nn.silu(jax.vmap(m.gate_proj)(x)) * jax.vmap(m.up_proj)(x)
        return jnp.sum(jnp.sin(jax.vmap(m.down_proj)(hidden)))

    ours = jax.grad(lambda m, x: jnp.sum(jnp.sin(m(x))), argnums=(0, 1))(layer, inputs)
    theirs = jax.grad(plain, argnums=(0, 1))(layer, inputs)
    for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(eqx.filter_jit(layer)(inputs), layer(inputs), rtol=1e-6)


def test_traced_calls_check_down_proj_every_time(key: jax.Array) -> None:
    """jax.checkpoint caches traces by function: each traced call still checks `down_proj`
    and is recorded by `tg.explain`."""
    layer = tg.SwiGLU(EMBED, MLP_DIM, key=key)
    x = jnp.ones((SEQ, EMBED))
    first = str(tg.explain(layer, x))
    assert "down_proj: Linear(x: float32[in=11]) -> float32[out=5]" in first
    assert str(tg.explain(layer, x)) == first
    wrong = eqx.tree_at(lambda m: m.down_proj.weight, layer, jnp.ones((EMBED, MLP_DIM + 2)))
    for _ in range(2):
        with pytest.raises(TypeCheckError, match="down_proj"):
            eqx.filter_jit(wrong)(x)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0, 8), {}, "SwiGLU: embed_dim must be a positive int, got 0"),
        ((4, True), {}, "SwiGLU: mlp_dim must be a positive int, got True"),
        ((4, 8), {"init_std": float("inf")}, "SwiGLU: init_std must be a finite number >= 0"),
        ((4, 8), {"use_bias": "yes"}, "SwiGLU: use_bias must be True or False, got 'yes'"),
    ],
)
def test_bad_arguments_are_named(
    key: jax.Array, args: tuple[object, object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tg.SwiGLU(*args, **kwargs, key=key)  # type: ignore[arg-type]
