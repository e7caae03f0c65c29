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


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_property_against_annotations(use_bias: bool) -> None:
    check_layer(lambda dims, key: tg.SwiGLU(dims["embed"], dims["mlp"], use_bias=use_bias, key=key))
