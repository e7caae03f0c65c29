"""`generate`: sampling from a `GPT` in one jit-compiled loop over a fixed-size KV cache.

One call runs one compiled program: prefill every prompt, then a `lax.while_loop` that feeds
the last token and samples the next, one position per step, until `max_new_tokens` tokens
or every sequence has emitted `eos_id`. Shapes never change inside the loop, so nothing
compiles per token.

Prompts are padded on the right to a bucket length `L` (the next power of two, at least 8,
at most `max_seq_len`), so a new prompt length compiles only when it starts a new bucket.
The compiled program itself (`_generate_compiled`) rewinds each cache past the padding.

The cache holds `C` slots: the positions the longest prompt and its new tokens feed,
rounded up to a power of two (at least `L`, at most `max_seq_len`). Attention reads every
slot of the cache at each step, so a short generation does not pay for `max_seq_len` slots.

The length rule: the token at position `p` is fed at position `p`, and the last new token is
returned without being fed, so a prompt of `n` tokens and `max_new_tokens = m` feed
`n + m - 1` positions, which must be at most `max_seq_len`.
"""

from collections.abc import Sequence
from typing import Any, overload

import jax
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._generate_checks import (
    FLOAT32_TINY,
    check_options,
    check_prompts,
    check_untraced,
    is_greedy,
    scalar,
)
from ._generate_compiled import compiled
from ._gpt import GPT
from ._streaming import OnToken, Stream, stream_ids, streams

Prompt = Sequence[int] | Int[Array, " seq"] | Int[np.ndarray, " seq"]

_MIN_BUCKET = 8


@overload
def generate(
    model: GPT,
    prompt: Prompt,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    key: PRNGKeyArray,
    on_token: OnToken | None = None,
) -> list[int]: ...


@overload
def generate(
    model: GPT,
    prompt: Sequence[Prompt],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    key: PRNGKeyArray,
    on_token: OnToken | None = None,
) -> list[list[int]]: ...


def generate(
    model: GPT,
    prompt: Prompt | Sequence[Prompt],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    key: PRNGKeyArray,
    on_token: OnToken | None = None,
) -> list[int] | list[list[int]]:
    """Continue a prompt, or a batch of prompts, with tokens sampled from `model`.

    Each step turns the logits `z` of the last position (in float32) into the next token:
    with `temperature == 0`, `argmax z`; otherwise `(z - max z) / temperature` (the shift
    keeps a tiny temperature from overflowing float32 and changes no probability), then
    top-k (keep the `top_k` largest logits, and any tied with the `k`-th), then nucleus
    filtering (keep the smallest set of most likely tokens whose probability reaches
    `top_p`, the most likely token always), then a draw from `softmax` of what is kept.
    Sampling runs in float32: a temperature below its smallest normal number, `1.2e-38`,
    is greedy as `0` is (the limit of ever lower temperatures), and one above its largest,
    `3.4e38`, is an error.

    The whole loop is one jit-compiled program. It compiles again only for a new model
    config or parameter dtype, batch size, prompt bucket (lengths up to 8, 16, 32, ... share
    one), cache size (the prompt and new tokens, rounded up to a power of two), `top_k`, kind
    of key (`jax.random.key` or a legacy `PRNGKey`), and for switching greedy, nucleus
    filtering or streaming on or off; `max_new_tokens` (within one cache size),
    `temperature`, `top_p` and `eos_id` are traced values.

    **Arguments:**

    - `model`: the `GPT` to sample from.
    - `prompt`: one prompt, a sequence of token ids or a 1-D integer array (NumPy, JAX, or
      what NumPy converts, such as a PyTorch CPU tensor); or a batch, a list of such
      prompts whose lengths may differ.
    - `max_new_tokens`: the most tokens to generate per prompt, at least 1. A prompt of `n`
      tokens needs `n + max_new_tokens - 1 <= max_seq_len` (the last new token is not fed
      back to the model).
    - `temperature`: `0` for greedy decoding, else the softmax temperature, at most `3.4e38`.
    - `top_k`: keep only the `k` most likely tokens, `1 <= k <= vocab_size`; `None` keeps all.
    - `top_p`: nucleus filtering, `0 < top_p <= 1`; `None` keeps all.
    - `eos_id`: a sequence stops after emitting this id, which is kept in its output.
    - `key`: a `jax.random.key`; each sequence of a batch draws from its own split of it.
    - `on_token`: called after each step, in order, with that step's new token ids, an int32
      NumPy array of shape `(batch,)` (`(1,)` for a single prompt); a sequence that has
      already stopped reports `-1`. An exception it raises (`KeyboardInterrupt` and
      `SystemExit` included) is re-raised once the loop ends.

    **Returns:** the new tokens only, up to and including `eos_id`: a `list[int]` for one
    prompt, a `list[list[int]]` for a batch.

    **Raises:** `ValueError` for a prompt that is a string, a mapping (a tokenizer's output),
    empty, not integers, not 1-D or holds an id outside the vocabulary; for a prompt too
    long for `max_new_tokens` (the rule above); and for an option outside the ranges above.
    `TypeError` when `model` is not a `GPT`, `key` is not one PRNG key, `on_token` is not
    callable, or `generate` is called under `jax.jit` or `jax.vmap` (the model's arrays,
    `prompt`, `key` or an option is a tracer).
    """
    tokens, single, _ = _generate(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        eos_id=eos_id,
        key=key,
        on_token=on_token,
        with_logits=False,
    )
    return tokens[0] if single else tokens


def _generate(
    model: GPT,
    prompt: Any,
    *,
    max_new_tokens: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    eos_id: Any,
    key: Any,
    on_token: Any,
    with_logits: bool,
) -> tuple[list[list[int]], bool, list[Float[np.ndarray, "new vocab"]]]:
    """`generate`, also returning whether `prompt` was a single prompt and, when
    `with_logits`, the raw logits each step sampled from (one array per prompt)."""
    if not isinstance(model, GPT):
        raise TypeError(f"generate expects a GPT model, got {type(model).__qualname__}")
    check_untraced(
        {
            "model": model,
            "prompt": prompt,
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "eos_id": eos_id,
            "key": key,
        }
    )
    config = model.config
    vocab, limit = config.vocab_size, config.max_seq_len
    prompts, single = check_prompts(prompt, vocab)
    # A 0-d array (`jnp.float32(0.8)`, a `jnp.argmax`) is read as the number it holds.
    max_new_tokens, temperature, top_k, top_p, eos_id = map(
        scalar, (max_new_tokens, temperature, top_k, top_p, eos_id)
    )
    check_options(max_new_tokens, temperature, top_k, top_p, eos_id, key, on_token, vocab)
    max_new_tokens = int(max_new_tokens)  # a NumPy integer has no bit_length
    greedy = is_greedy(temperature)
    for index, ids in enumerate(prompts):
        if ids.shape[0] + max_new_tokens - 1 > limit:
            name = "prompt" if single else f"prompt {index} of the batch"
            raise ValueError(
                f"{name} has {ids.shape[0]} tokens and max_new_tokens is {max_new_tokens}, "
                f"but max_seq_len is {limit}: generating feeds the prompt and every new token "
                f"but the last, {ids.shape[0]} + {max_new_tokens} - 1 = "
                f"{ids.shape[0] + max_new_tokens - 1} positions; "
                "shorten the prompt or max_new_tokens"
            )

    lengths = np.array([ids.shape[0] for ids in prompts], np.int32)
    bucket = min(max(_MIN_BUCKET, 1 << (int(lengths.max()) - 1).bit_length()), limit)
    padded = np.zeros((len(prompts), bucket), np.int32)
    for row, ids in zip(padded, prompts, strict=True):
        row[: ids.shape[0]] = ids

    # The cache holds what the longest prompt and its new tokens feed, rounded up to a
    # power of two: attention reads every slot at each step.
    needed = int(lengths.max()) + max_new_tokens - 1
    cache_size = min(max(bucket, 1 << (needed - 1).bit_length()), limit)

    stream_id = next(stream_ids) % 2**31  # it travels as an int32
    stream = Stream(on_token) if on_token is not None else None
    if stream is not None:
        streams[stream_id] = stream
    leaves, treedef = jax.tree.flatten(model)
    try:
        out, logits = compiled(
            leaves,
            padded,
            lengths,
            np.int32(max_new_tokens),
            np.float32(1.0 if greedy else temperature),
            # At least float32's smallest normal number: a smaller top_p would round to 0,
            # and `mass_before < 0` would keep no token at all, not the most likely one.
            np.float32(1.0 if top_p is None else max(top_p, FLOAT32_TINY)),
            np.int32(-1 if eos_id is None else eos_id),
            key,
            np.int32(stream_id),
            treedef=treedef,
            cache_size=cache_size,
            top_k=None if top_k is None or top_k == vocab else int(top_k),
            greedy=greedy,
            nucleus=bool(top_p is not None and top_p < 1),
            streaming=stream is not None,
            with_logits=with_logits,
        )
        out = np.asarray(out)
        if stream is not None:
            jax.effects_barrier()  # type: ignore[no-untyped-call]  # every callback has run
    finally:
        streams.pop(stream_id, None)
    if stream is not None and stream.error is not None:
        raise stream.error

    counts = (out >= 0).sum(axis=1)
    tokens = [row[:count].tolist() for row, count in zip(out, counts, strict=True)]
    step_logits = (
        []
        if logits is None
        else [row[:count] for row, count in zip(np.asarray(logits), counts, strict=True)]
    )
    return tokens, single, step_logits
