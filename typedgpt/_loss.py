"""`head_cross_entropy`: the next-token loss of a linear head, computed in chunks of
positions, with its gradient made in the same pass.

For hidden states `h_t`, a head `W` (`vocab embed`), targets `y_t` and weights `w_t`:

`loss = sum_t w_t (logsumexp(W h_t) - (W h_t)[y_t])`

and, with `p_t = softmax(W h_t)` and `g_t = w_t (p_t - onehot(y_t))`,

`dloss/dh_t = W^T g_t`, `dloss/dW = sum_t g_t h_t^T`.

Autodiff of `log_softmax(h @ W.T)` keeps the logits and their gradient, `batch seq vocab`
float32 arrays (412 MB each for 8 x 256 tokens of GPT-2's 50,257 ids), and XLA on the CPU
transposes the gradient in memory before the weight-gradient product: at GPT-2 shapes on 2
cores the head and its loss took about 10 s of a training step, about 4 s this way. Here the
positions go through in chunks whose logits fit in `chunk_logits` elements; each chunk's
logits, softmax and `g` are made and used at once, and the two gradient products accumulate
as the chunks pass. The loss is a scalar, so its gradients are these times its cotangent:
the forward pass (under `jax.grad`) computes them, and the backward pass only scales them,
so no logits are recomputed. Without `jax.grad` only the loss is computed, chunk by chunk.

Logits, softmax and `g` are float32 whatever the dtype of `h` and `W`; the gradient products
run in that dtype, as autodiff's would.
"""

import math

import jax
import jax.numpy as jnp
from beartype import beartype
from jaxtyping import Array, Float, Int, jaxtyped

# Logits per chunk: 2**25 float32 are 128 MiB, four chunks of 512 positions for 8 x 256
# tokens of GPT-2's vocabulary, which measured fastest on 2 cores (the whole batch at once,
# and chunks of 128 positions, were slower).
CHUNK_LOGITS = 2**25

# `tokens` are the positions of a whole batch, flattened; `chunks` of them at a time.
_Hidden = Float[Array, "tokens embed"]
_Head = Float[Array, "vocab embed"]


@jaxtyped(typechecker=beartype)
def head_cross_entropy(
    hidden: Float[Array, "batch seq embed"],
    head: Float[Array, "vocab embed"],
    targets: Int[Array, "batch seq"],
    weights: Float[Array, "batch seq"],
    *,
    chunk_logits: int = CHUNK_LOGITS,
) -> Float[Array, ""]:
    """`sum_t w_t (logsumexp(W h_t) - (W h_t)[y_t])` over every position `t`, in float32.

    **Arguments:**

    - `hidden`: the final hidden states `h` (after the final norm).
    - `head`: the output projection `W`, `vocab embed` (the token embedding when tied).
    - `targets`: the next token ids `y`, in `[0, vocab)` where the weight is not 0: a
      position of weight 0 adds nothing to the loss or its gradients, whatever its id.
    - `weights`: `w`, the weight of each position (a mask divided by its count gives the
      masked mean).
    - `chunk_logits`: the most logits one chunk of positions may hold.

    **Returns:** the weighted sum, a float32 scalar; differentiable in `hidden` and `head`.
    """
    if chunk_logits < 1:
        raise ValueError(f"chunk_logits must be at least 1, got {chunk_logits}")
    batch, seq, embed = hidden.shape
    tokens = batch * seq
    vocab = head.shape[0]
    chunks = max(1, math.ceil(tokens * vocab / chunk_logits))
    chunk = math.ceil(tokens / chunks)
    pad = chunks * chunk - tokens
    # Padded positions have weight 0, so they add nothing to the loss or the gradients.
    flat_hidden = jnp.pad(hidden.reshape(tokens, embed), ((0, pad), (0, 0)))
    flat_targets = jnp.pad(targets.reshape(tokens).astype(jnp.int32), (0, pad))
    flat_weights = jnp.pad(weights.reshape(tokens).astype(jnp.float32), (0, pad))
    loss: Float[Array, ""] = _chunked(
        flat_hidden.reshape(chunks, chunk, embed),
        head,
        flat_targets.reshape(chunks, chunk),
        flat_weights.reshape(chunks, chunk),
    )
    return loss


def _chunk_loss(
    hidden: _Hidden, head: _Head, targets: Int[Array, " tokens"], weights: Float[Array, " tokens"]
) -> tuple[Float[Array, ""], Float[Array, "tokens vocab"]]:
    """One chunk's weighted loss, and `g = w (softmax - onehot)` for its gradients."""
    logits = (hidden @ head.T).astype(jnp.float32)
    top = jnp.max(logits, axis=-1, keepdims=True)
    exp = jnp.exp(logits - top)
    total = jnp.sum(exp, axis=-1, keepdims=True)
    log_z = top[:, 0] + jnp.log(total[:, 0])
    picked = jnp.take_along_axis(logits, targets[:, None], axis=-1)[:, 0]
    # A position of weight 0 adds nothing whatever its target: an id out of range (padding
    # of -100, as in PyTorch) picks NaN, and 0 * NaN would be NaN.
    loss = jnp.sum(jnp.where(weights == 0, 0.0, weights * (log_z - picked)))
    onehot = jnp.arange(logits.shape[1])[None, :] == targets[:, None]
    grad = (exp / total - onehot.astype(jnp.float32)) * weights[:, None]
    return loss, grad


@jax.custom_vjp
def _chunked(
    hidden: Float[Array, "chunks tokens embed"],
    head: _Head,
    targets: Int[Array, "chunks tokens"],
    weights: Float[Array, "chunks tokens"],
) -> Float[Array, ""]:
    """The loss alone (no gradient wanted): chunk by chunk."""

    def add(total: Float[Array, ""], xs: tuple[Array, Array, Array]) -> tuple[Array, None]:
        loss, _ = _chunk_loss(xs[0], head, xs[1], xs[2])
        return total + loss, None

    total, _ = jax.lax.scan(add, jnp.float32(0), (hidden, targets, weights))
    return total


def _chunked_forward(
    hidden: Float[Array, "chunks tokens embed"],
    head: _Head,
    targets: Int[Array, "chunks tokens"],
    weights: Float[Array, "chunks tokens"],
) -> tuple[Float[Array, ""], tuple[Array, Array]]:
    """The loss and both gradients, in one pass over the chunks."""

    def add(
        carry: tuple[Array, Array], xs: tuple[Array, Array, Array]
    ) -> tuple[tuple[Array, Array], Array]:
        total, head_grad = carry
        chunk_hidden, chunk_targets, chunk_weights = xs
        loss, grad = _chunk_loss(chunk_hidden, head, chunk_targets, chunk_weights)
        grad = grad.astype(head.dtype)
        head_grad = head_grad + jnp.matmul(grad.T, chunk_hidden, preferred_element_type=jnp.float32)
        return (total + loss, head_grad), grad @ head

    init = (jnp.float32(0), jnp.zeros(head.shape, jnp.float32))
    (total, head_grad), hidden_grad = jax.lax.scan(add, init, (hidden, targets, weights))
    return total, (hidden_grad, head_grad.astype(head.dtype))


def _chunked_backward(
    residuals: tuple[Array, Array], cotangent: Float[Array, ""]
) -> tuple[Array, Array, None, None]:
    hidden_grad, head_grad = residuals
    return (
        (cotangent * hidden_grad.astype(jnp.float32)).astype(hidden_grad.dtype),
        (cotangent * head_grad.astype(jnp.float32)).astype(head_grad.dtype),
        None,
        None,
    )


_chunked.defvjp(_chunked_forward, _chunked_backward)
