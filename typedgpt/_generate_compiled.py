"""`compiled`: the jit-compiled program behind `generate`, and the token choice of each step.

One call is one program: prefill every prompt, then a `lax.while_loop` that feeds the last
token and samples the next, one position per step. Prompts arrive padded on the right to a
bucket length `L`.

After prefilling `L` positions of a prompt whose real length is `n`, the cache position is
set back to `n` and the logits of row `n - 1` give the first token. The padded slots `n ...
L - 1` hold stale keys and values, but the cache mask `key_pos <= query_pos` hides every
slot past the query, and the token at position `p` overwrites slot `p` before any query sees
it. A batch runs the same steps with `jax.vmap` over its sequences, each with its own cache,
position and length.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._gpt import GPT
from ._kv_cache import KVCache
from ._streaming import call_on_token

# step, last tokens, caches, done, new tokens, their logits: the carry of the decode loop.
_State = tuple[Any, Any, Any, Any, Any, Any]


@functools.partial(
    jax.jit,
    static_argnames=(
        "treedef",
        "cache_size",
        "top_k",
        "greedy",
        "nucleus",
        "streaming",
        "with_logits",
    ),
)
def compiled(
    leaves: list[Array],
    prompts: Int[Array, "batch bucket"],
    lengths: Int[Array, " batch"],
    max_new_tokens: Int[Array, ""],
    temperature: Float[Array, ""],
    top_p: Float[Array, ""],
    eos_id: Int[Array, ""],
    key: PRNGKeyArray,
    stream_id: Int[Array, ""],
    *,
    treedef: Any,
    cache_size: int,
    top_k: int | None,
    greedy: bool,
    nucleus: bool,
    streaming: bool,
    with_logits: bool,
) -> tuple[Int[Array, "batch kv_seq"], Float[Array, "batch kv_seq vocab"] | None]:
    """The whole generation: prefill, then one token per step in a `while_loop`.

    **Returns:** the new tokens of each sequence in a buffer of `max_seq_len` slots, `-1`
    past its end; and, when `with_logits`, the logits each step sampled from.
    """
    model: GPT = jax.tree.unflatten(treedef, leaves)
    batch = prompts.shape[0]
    limit, vocab = model.config.max_seq_len, model.config.vocab_size
    keys = jax.random.split(key, batch)
    empty = model.init_cache(size=cache_size)

    # The prompt runs through the stacked blocks (`lax.scan`); each new token runs through
    # blocks unstacked once, here, with one cache per layer, so that no step copies weights
    # or caches out of stacked arrays.
    blocks = model.unstacked_blocks()

    def prefill(
        prompt: Int[Array, " bucket"], length: Int[Array, ""]
    ) -> tuple[Float[Array, " vocab"], list[KVCache]]:
        logits, cache = model.forward_cached(prompt, empty)
        # Rewind past the padding: its slots are masked, then overwritten one by one.
        caches = [
            KVCache(keys=cache.keys[i], values=cache.values[i], position=length)
            for i in range(len(blocks))
        ]
        return logits[length - 1], caches

    def step_one(
        token: Int[Array, ""], caches: list[KVCache]
    ) -> tuple[Float[Array, " vocab"], list[KVCache]]:
        logits, caches = model.forward_cached_layers(blocks, token[None], caches)
        return logits[0], caches

    def step_all(
        tokens: Int[Array, " batch"], caches: list[KVCache]
    ) -> tuple[Float[Array, "batch vocab"], list[KVCache]]:
        if batch > 1:
            return jax.vmap(step_one)(tokens, caches)
        # One sequence: no vmap, whose batched cache position would turn each cache write
        # into a scatter over the whole cache; its caches travel without the batch axis.
        logits, caches = step_one(tokens[0], caches)
        return logits[None], caches

    def choose(logits: Float[Array, "batch vocab"], step: Int[Array, ""]) -> Int[Array, " batch"]:
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, step)
        sample = functools.partial(
            _sample,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            greedy=greedy,
            nucleus=nucleus,
        )
        return jax.vmap(sample)(logits, step_keys)

    def emit(tokens: Int[Array, " batch"]) -> None:
        if streaming:
            jax.debug.callback(call_on_token, stream_id, tokens, ordered=True)

    logits, caches = jax.vmap(prefill)(prompts, lengths)
    if batch == 1:
        caches = jax.tree.map(lambda a: a[0], caches)
    step = jnp.int32(0)
    tokens = choose(logits, step)
    emit(tokens)
    out = jnp.full((batch, limit), -1, jnp.int32).at[:, 0].set(tokens)
    out_logits = (
        jnp.zeros((batch, limit, vocab), jnp.float32).at[:, 0].set(logits.astype(jnp.float32))
        if with_logits
        else None
    )
    done = tokens == eos_id

    def more(state: _State) -> Array:
        step, _, _, done, _, _ = state
        going: Array = (step + 1 < max_new_tokens) & ~jnp.all(done)
        return going

    def advance(state: _State) -> _State:
        step, tokens, caches, done, out, out_logits = state
        step = step + 1
        # A stopped sequence keeps stepping (the batch moves together) on a valid id.
        logits, caches = step_all(jnp.maximum(tokens, 0), caches)
        tokens = jnp.where(done, -1, choose(logits, step))
        emit(tokens)
        out = out.at[:, step].set(tokens)
        if out_logits is not None:
            out_logits = out_logits.at[:, step].set(logits.astype(jnp.float32))
        return step, tokens, caches, done | (tokens == eos_id), out, out_logits

    state = (step, tokens, caches, done, out, out_logits)
    _, _, _, _, out, out_logits = jax.lax.while_loop(more, advance, state)
    return out, out_logits


def _sample(
    logits: Float[Array, " vocab"],
    key: PRNGKeyArray,
    *,
    temperature: Float[Array, ""],
    top_p: Float[Array, ""],
    top_k: int | None,
    greedy: bool,
    nucleus: bool,
) -> Int[Array, ""]:
    """One token from one row of logits: greedy, or temperature, top-k, top-p, then a draw."""
    logits = logits.astype(jnp.float32)
    if greedy:
        return jnp.argmax(logits).astype(jnp.int32)
    # Shifted so that the largest is 0: the others fall to -inf at worst, never to nan.
    shifted = logits - jnp.max(logits)
    # Top-k and the nucleus's order read the logits before the temperature, which keeps
    # their order: a huge one flushes every scaled logit to 0, and in that tie top-k kept
    # every token and the nucleus the first ids, not the most likely.
    # -inf, not finfo.min: a filtered token must have probability exactly zero.
    kept = jnp.ones(shifted.shape, bool)
    if top_k is not None:
        kept = shifted >= jax.lax.top_k(shifted, top_k)[0][-1]
    logits = jnp.where(kept, shifted / temperature, -jnp.inf)
    if nucleus:
        order = jnp.argsort(-shifted)  # what top-k kept comes first
        probs = jax.nn.softmax(logits[order])
        mass_before = jnp.cumsum(probs) - probs
        keep = jnp.zeros(logits.shape, bool).at[order].set(mass_before < top_p)
        logits = jnp.where(keep, logits, -jnp.inf)
    return jax.random.categorical(key, logits).astype(jnp.int32)
