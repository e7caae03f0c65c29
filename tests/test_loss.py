"""Tests for `head_cross_entropy` (typedgpt/_loss.py) and the training loss built on it.

The reference is written here: a float64 NumPy loop for the loss and its gradients, and
autodiff of the plain `log_softmax(h @ W.T)` formulation. Sizes are distinct primes, so a
swapped axis cannot pass, and the chunk sizes are chosen so that chunks do not divide the
positions (the last chunk is padded).
"""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg
from typedgpt._loss import head_cross_entropy
from typedgpt._train_step import batch_loss

BATCH, SEQ, EMBED, VOCAB = 3, 7, 5, 11


def inputs(seed: int = 0) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    rng = np.random.default_rng(seed)
    hidden = jnp.asarray(rng.standard_normal((BATCH, SEQ, EMBED)), jnp.float32)
    head = jnp.asarray(rng.standard_normal((VOCAB, EMBED)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, VOCAB, (BATCH, SEQ)), jnp.int32)
    weights = jnp.asarray(rng.random((BATCH, SEQ)), jnp.float32)
    return hidden, head, targets, weights


def numpy_reference(
    hidden: jax.Array, head: jax.Array, targets: jax.Array, weights: jax.Array
) -> tuple[float, np.ndarray, np.ndarray]:
    """The loss and its gradients in float64, one position at a time."""
    h, w_head = np.asarray(hidden, np.float64), np.asarray(head, np.float64)
    loss, d_hidden, d_head = 0.0, np.zeros_like(h), np.zeros_like(w_head)
    for b in range(h.shape[0]):
        for s in range(h.shape[1]):
            logits = w_head @ h[b, s]
            log_z = logits.max() + math.log(np.exp(logits - logits.max()).sum())
            target, weight = int(targets[b, s]), float(weights[b, s])
            loss += weight * (log_z - logits[target])
            g = np.exp(logits - log_z)
            g[target] -= 1.0
            g *= weight
            d_hidden[b, s] = w_head.T @ g
            d_head += np.outer(g, h[b, s])
    return loss, d_hidden, d_head


def autodiff_reference(
    hidden: jax.Array, head: jax.Array, targets: jax.Array, weights: jax.Array
) -> jax.Array:
    log_probs = jax.nn.log_softmax(hidden @ head.T, axis=-1)
    picked = jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return -jnp.sum(picked * weights)


@pytest.mark.parametrize("chunk_logits", [1, VOCAB * 4, VOCAB * 5, 10_000])
def test_loss_and_gradients_equal_a_numpy_loop(chunk_logits: int) -> None:
    # 21 positions: one per chunk, chunks of 4 (the last padded), of 5, and all at once.
    hidden, head, targets, weights = inputs()
    expected_loss, expected_hidden, expected_head = numpy_reference(hidden, head, targets, weights)

    def loss_of(h: jax.Array, w: jax.Array) -> jax.Array:
        return head_cross_entropy(h, w, targets, weights, chunk_logits=chunk_logits)

    loss, (d_hidden, d_head) = jax.jit(jax.value_and_grad(loss_of, argnums=(0, 1)))(hidden, head)
    assert loss.shape == () and loss.dtype == jnp.float32
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(d_hidden), expected_hidden, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(d_head), expected_head, rtol=1e-4, atol=1e-6)
    # Without a gradient only the loss is computed, and it is the same number.
    assert float(jax.jit(loss_of)(hidden, head)) == pytest.approx(float(loss), rel=1e-6)


def test_gradients_equal_autodiff_of_log_softmax_and_scale_with_the_cotangent() -> None:
    hidden, head, targets, weights = inputs(1)

    def ours(h: jax.Array, w: jax.Array) -> jax.Array:
        return 2.5 * head_cross_entropy(h, w, targets, weights, chunk_logits=VOCAB * 6)

    def theirs(h: jax.Array, w: jax.Array) -> jax.Array:
        return 2.5 * autodiff_reference(h, w, targets, weights)

    got = jax.grad(ours, argnums=(0, 1))(hidden, head)
    want = jax.grad(theirs, argnums=(0, 1))(hidden, head)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_zero_weights_give_zero_loss_and_gradients() -> None:
    hidden, head, targets, weights = inputs(2)
    zero = jnp.zeros_like(weights)
    loss, grads = jax.value_and_grad(
        lambda h, w: head_cross_entropy(h, w, targets, zero, chunk_logits=VOCAB * 4),
        argnums=(0, 1),
    )(hidden, head)
    assert float(loss) == 0.0
    assert all(not np.any(np.asarray(g)) for g in grads)


@pytest.mark.parametrize("padding", [-100, VOCAB])
def test_a_position_of_weight_0_adds_nothing_whatever_its_target(padding: int) -> None:
    # PyTorch pads targets with -100; an id out of range must not turn the loss into NaN.
    hidden, head, targets, weights = inputs(5)
    weights = weights.at[1, 2:].set(0.0)
    padded = targets.at[1, 2:].set(padding)
    expected_loss, expected_hidden, expected_head = numpy_reference(hidden, head, targets, weights)

    def loss_of(h: jax.Array, w: jax.Array) -> jax.Array:
        return head_cross_entropy(h, w, padded, weights, chunk_logits=VOCAB * 4)

    loss, (d_hidden, d_head) = jax.jit(jax.value_and_grad(loss_of, argnums=(0, 1)))(hidden, head)
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(d_hidden), expected_hidden, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(d_head), expected_head, rtol=1e-4, atol=1e-6)


def test_int16_targets_give_the_loss_of_int32_ones() -> None:
    # The tests' strict dtype promotion refuses int16 against int32 ids unless they are cast.
    hidden, head, targets, weights = inputs(6)
    narrow = head_cross_entropy(hidden, head, targets.astype(jnp.int16), weights)
    assert float(narrow) == float(head_cross_entropy(hidden, head, targets, weights))


def test_bfloat16_computes_in_float32_and_returns_gradients_in_bfloat16() -> None:
    hidden, head, targets, weights = inputs(3)
    low_hidden, low_head = hidden.astype(jnp.bfloat16), head.astype(jnp.bfloat16)
    loss, (d_hidden, d_head) = jax.value_and_grad(
        lambda h, w: head_cross_entropy(h, w, targets, weights), argnums=(0, 1)
    )(low_hidden, low_head)
    assert loss.dtype == jnp.float32
    assert d_hidden.dtype == d_head.dtype == jnp.bfloat16
    expected = numpy_reference(
        low_hidden.astype(jnp.float32), low_head.astype(jnp.float32), targets, weights
    )[0]
    np.testing.assert_allclose(float(loss), expected, rtol=1e-2)


def test_mismatched_embed_is_a_type_error_naming_the_dim() -> None:
    hidden, head, targets, weights = inputs()
    with pytest.raises(TypeCheckError, match="embed"):
        head_cross_entropy(hidden, head[:, :4], targets, weights)


def test_a_chunk_must_hold_a_logit() -> None:
    hidden, head, targets, weights = inputs()
    with pytest.raises(ValueError, match="chunk_logits must be at least 1, got 0"):
        head_cross_entropy(hidden, head, targets, weights, chunk_logits=0)


@pytest.mark.parametrize("tie_embeddings", [True, False])
def test_batch_loss_gradient_equals_autodiff_of_the_logits(
    key: jax.Array, tie_embeddings: bool
) -> None:
    config = tg.GPTConfig.gpt2(
        vocab_size=VOCAB,
        max_seq_len=SEQ,
        num_layers=2,
        num_heads=2,
        embed_dim=6,
        mlp_dim=13,
        tie_embeddings=tie_embeddings,
    )
    model = tg.GPT(config, key=key)
    rng = np.random.default_rng(4)
    tokens = jnp.asarray(rng.integers(0, VOCAB, (BATCH, SEQ)), jnp.int32)
    targets = jnp.asarray(rng.integers(0, VOCAB, (BATCH, SEQ)), jnp.int32)
    mask = jnp.asarray(rng.random((BATCH, SEQ)) < 0.7, jnp.float32)

    def plain(model: tg.GPT) -> jax.Array:
        logits = jax.vmap(model.forward)(tokens)
        log_probs = jax.nn.log_softmax(logits, axis=-1)
        picked = jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        return -jnp.sum(picked * mask) / jnp.sum(mask)

    ours: Callable[[tg.GPT], jax.Array] = lambda m: batch_loss(m, tokens, targets, mask)  # noqa: E731
    got_loss, got = jax.jit(jax.value_and_grad(ours))(model)
    want_loss, want = jax.jit(jax.value_and_grad(plain))(model)
    np.testing.assert_allclose(float(got_loss), float(want_loss), rtol=1e-6)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-7)
