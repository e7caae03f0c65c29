"""`generate`: sampling from a `GPT` in one jit-compiled loop over a fixed-size KV cache.

One call runs one compiled program: prefill every prompt, then a `lax.while_loop` that feeds
the last token and samples the next, one position per step, until `max_new_tokens` tokens
or every sequence has emitted `eos_id`. Shapes never change inside the loop, so nothing
compiles per token.

Prompts are padded on the right to a bucket length `L` (the next power of two, at least 8,
at most `max_seq_len`), so a new prompt length compiles only when it starts a new bucket.
After prefilling `L` positions of a prompt whose real length is `n`, the cache position is
set back to `n` and the logits of row `n - 1` give the first token. The padded slots `n ...
L - 1` hold stale keys and values, but the cache mask `key_pos <= query_pos` hides every
slot past the query, and the token at position `p` overwrites slot `p` before any query sees
it. A batch runs the same steps with `jax.vmap` over its sequences, each with its own cache,
position and length.

The cache holds `C` slots: the positions the longest prompt and its new tokens feed,
rounded up to a power of two (at least `L`, at most `max_seq_len`). Attention reads every
slot of the cache at each step, so a short generation does not pay for `max_seq_len` slots.

The length rule: the token at position `p` is fed at position `p`, and the last new token is
returned without being fed, so a prompt of `n` tokens and `max_new_tokens = m` feed
`n + m - 1` positions, which must be at most `max_seq_len`.
"""

import functools
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._gpt import GPT
from ._kv_cache import KVCache
from ._typed import describe

Prompt = Sequence[int] | Int[Array, " seq"] | Int[np.ndarray, " seq"]
OnToken = Callable[[Int[np.ndarray, " batch"]], object]

_MIN_BUCKET = 8
# Python floats: compared with a NumPy float32, 1e300 would be cast to it, and overflow.
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal number
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# step, last tokens, caches, done, new tokens, their logits: the carry of the decode loop.
_State = tuple[Any, Any, Any, Any, Any, Any]


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
    config, batch size, prompt bucket (lengths up to 8, 16, 32, ... share one), cache size
    (the prompt and new tokens, rounded up to a power of two), `top_k`, and for switching
    greedy, nucleus filtering or streaming on or off; `max_new_tokens` (within one cache
    size), `temperature`, `top_p` and `eos_id` are traced values.

    **Arguments:**

    - `model`: the `GPT` to sample from.
    - `prompt`: one prompt, a sequence of token ids or a 1-D integer array; or a batch, a
      list of such prompts whose lengths may differ.
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
      already stopped reports `-1`. An exception it raises is re-raised once the loop ends.

    **Returns:** the new tokens only, up to and including `eos_id`: a `list[int]` for one
    prompt, a `list[list[int]]` for a batch.

    **Raises:** `ValueError` for a prompt that is a string, empty, not integers, not 1-D or
    holds an id outside the vocabulary; for a prompt too long for `max_new_tokens` (the rule
    above); and for an option outside the ranges above. `TypeError` when `model` is not a
    `GPT`, `key` is not one PRNG key, `on_token` is not callable, or `generate` is called
    under `jax.jit` or `jax.vmap`.
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
    config = model.config
    vocab, limit = config.vocab_size, config.max_seq_len
    prompts, single = _prompts(prompt, vocab)
    # A 0-d array (`jnp.float32(0.8)`, a `jnp.argmax`) is read as the number it holds.
    max_new_tokens, temperature, top_k, top_p, eos_id = map(
        _scalar, (max_new_tokens, temperature, top_k, top_p, eos_id)
    )
    _check_options(max_new_tokens, temperature, top_k, top_p, eos_id, key, on_token, vocab)
    max_new_tokens = int(max_new_tokens)  # a NumPy integer has no bit_length
    greedy = _is_greedy(temperature)
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

    stream_id = next(_stream_ids) % 2**31  # it travels as an int32
    stream = _Stream(on_token) if on_token is not None else None
    if stream is not None:
        _streams[stream_id] = stream
    leaves, treedef = jax.tree.flatten(model)
    try:
        out, logits = _compiled(
            leaves,
            padded,
            lengths,
            np.int32(max_new_tokens),
            np.float32(1.0 if greedy else temperature),
            # At least float32's smallest normal number: a smaller top_p would round to 0,
            # and `mass_before < 0` would keep no token at all, not the most likely one.
            np.float32(1.0 if top_p is None else max(top_p, _FLOAT32_TINY)),
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
        _streams.pop(stream_id, None)
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
def _compiled(
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
            jax.debug.callback(_emit, stream_id, tokens, ordered=True)

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
    logits = (logits - jnp.max(logits)) / temperature
    # -inf, not finfo.min: a filtered token must have probability exactly zero.
    if top_k is not None:
        kth = jax.lax.top_k(logits, top_k)[0][-1]
        logits = jnp.where(logits >= kth, logits, -jnp.inf)
    if nucleus:
        order = jnp.argsort(-logits)
        probs = jax.nn.softmax(logits[order])
        mass_before = jnp.cumsum(probs) - probs
        keep = jnp.zeros(logits.shape, bool).at[order].set(mass_before < top_p)
        logits = jnp.where(keep, logits, -jnp.inf)
    return jax.random.categorical(key, logits).astype(jnp.int32)


@dataclass
class _Stream:
    """A caller's `on_token`, and the first exception it raised."""

    on_token: OnToken
    error: Exception | None = None


_streams: dict[int, _Stream] = {}
_stream_ids = itertools.count()


def _emit(stream_id: Array, tokens: Array) -> None:
    """The host side of `on_token`: one compiled program serves every callback, looked up
    by id, so passing a new callable does not compile again."""
    stream = _streams.get(int(stream_id))
    if stream is None or stream.error is not None:
        return
    try:
        stream.on_token(np.array(tokens, np.int32))
    except Exception as error:
        stream.error = error


def _is_greedy(temperature: float) -> bool:
    """Whether `temperature` (checked) samples greedily: 0, or too small for float32."""
    return bool(temperature < _FLOAT32_TINY)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_prompt_like(value: object) -> bool:
    if isinstance(value, str | bytes):
        return False
    if isinstance(value, jax.Array | np.ndarray):
        return value.ndim > 0  # a 0-d array is one id: `list(jnp.array(ids))` is one prompt
    return isinstance(value, Sequence)


def _scalar(value: Any) -> Any:
    """The Python number a concrete 0-d NumPy or JAX array holds; anything else as it is."""
    if (
        isinstance(value, jax.Array | np.ndarray)
        and value.ndim == 0
        and not isinstance(value, jax.core.Tracer)
        and not _is_key_array(value)
    ):
        return value.item()
    return value


def _prompts(prompt: Any, vocab: int) -> tuple[list[Int[np.ndarray, " seq"]], bool]:
    """The prompts as int32 arrays, and whether `prompt` was a single prompt.

    A batch is a non-empty sequence whose items are all sequences or arrays; anything else
    is read as one prompt.
    """
    if isinstance(prompt, jax.core.Tracer):
        raise TypeError(
            "generate got a traced prompt: it runs its own compiled loop and returns Python "
            "lists, so call it outside jax.jit and jax.vmap"
        )
    if isinstance(prompt, str | bytes):
        raise ValueError("prompt is a string: encode it into token ids with a tokenizer first")
    if isinstance(prompt, jax.Array | np.ndarray):
        if prompt.ndim != 1:
            raise ValueError(
                f"prompt is a {prompt.ndim}-D array ({describe(prompt)}): pass one prompt as "
                "a 1-D array of token ids, or a batch as a list of prompts (list(prompt))"
            )
        return [_ids(prompt, vocab, "prompt")], True
    if isinstance(prompt, Sequence) and len(prompt) and all(map(_is_prompt_like, prompt)):
        names = (f"prompt {index} of the batch" for index in range(len(prompt)))
        return [_ids(item, vocab, name) for item, name in zip(prompt, names, strict=True)], False
    return [_ids(prompt, vocab, "prompt")], True


def _ids(prompt: Any, vocab: int, name: str) -> Int[np.ndarray, " seq"]:
    """One prompt as an int32 array, every id checked against the vocabulary."""
    if isinstance(prompt, jax.Array | np.ndarray):
        if prompt.ndim != 1:
            raise ValueError(
                f"{name} is a {prompt.ndim}-D array ({describe(prompt)}): pass a 1-D array "
                "of token ids"
            )
        if not np.issubdtype(prompt.dtype, np.integer):
            raise ValueError(
                f"{name} has dtype {np.dtype(prompt.dtype).name}, not integers: pass token "
                "ids as an integer array"
            )
        ids = [int(item) for item in np.asarray(prompt)]
    elif _is_prompt_like(prompt):
        prompt = [_scalar(item) for item in prompt]
        for position, item in enumerate(prompt):
            if not _is_int(item):
                raise ValueError(
                    f"{name} is not integers: position {position} holds {item!r} "
                    f"({type(item).__qualname__}); pass token ids as ints"
                )
        ids = [int(item) for item in prompt]
    else:
        raise ValueError(
            f"{name} must be a sequence of token ids or a 1-D integer array, got "
            f"{describe(prompt)}: encode text into token ids with a tokenizer first"
        )
    if not ids:
        raise ValueError(f"{name} is empty: pass at least one token id")
    for position, token in enumerate(ids):
        if not 0 <= token < vocab:
            raise ValueError(
                f"{name} has token id {token} at position {position}, outside the vocabulary "
                f"[0, {vocab}): encode with a tokenizer whose vocabulary has at most "
                f"vocab_size={vocab} ids"
            )
    return np.array(ids, np.int32)


def _is_key_array(value: object) -> bool:
    """Whether `value` is an array of new-style keys (`jax.random.key`), of any shape."""
    return isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jax.dtypes.prng_key)


def _is_one_key(value: object) -> bool:
    """Whether `value` is one key: new-style of shape `()`, or legacy `uint32[2]`."""
    if not isinstance(value, jax.Array):
        return False
    if _is_key_array(value):
        return value.shape == ()
    return value.dtype == np.uint32 and value.shape == (2,)


def _check_options(
    max_new_tokens: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    eos_id: Any,
    key: Any,
    on_token: Any,
    vocab: int,
) -> None:
    """Reject each bad option with its value and the fix."""
    if not _is_int(max_new_tokens) or int(max_new_tokens) < 1:
        raise ValueError(
            f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}: ask for at least "
            "one new token"
        )
    if not _is_real(temperature) or not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"temperature must be a finite number >= 0, got {temperature!r}: pass 0 for greedy "
            "decoding or a positive temperature such as 0.8"
        )
    if temperature > _FLOAT32_MAX:
        raise ValueError(
            f"temperature {temperature!r} is larger than float32 holds ({_FLOAT32_MAX:.4g}), "
            "and sampling runs in float32: pass a smaller temperature (a very high one "
            "already samples every token almost equally)"
        )
    if top_k is not None and (not _is_int(top_k) or not 1 <= int(top_k) <= vocab):
        raise ValueError(
            f"top_k must be an int from 1 to vocab_size={vocab}, got {top_k!r}: pass None to "
            "keep every token, or a k in that range"
        )
    if top_p is not None and (not _is_real(top_p) or not 0 < top_p <= 1):
        raise ValueError(
            f"top_p must be a number in (0, 1], got {top_p!r}: pass None to keep every token, "
            "or a probability mass such as 0.9"
        )
    if eos_id is not None and not _is_int(eos_id):
        raise ValueError(
            f"eos_id must be one int token id or None, got {eos_id!r}: pass a single id in "
            f"[0, {vocab}) (generate stops at one id; to stop at several, map them to one)"
        )
    if eos_id is not None and not 0 <= int(eos_id) < vocab:
        raise ValueError(
            f"eos_id {eos_id!r} is outside the vocabulary [0, {vocab}): pass an id in that "
            "range, or None to stop only at max_new_tokens"
        )
    if not _is_one_key(key):
        # describe() reads dtypes with NumPy, which has no name for a key dtype.
        got = (
            f"{key.dtype}[{', '.join(map(str, key.shape))}]"
            if _is_key_array(key)
            else describe(key)
        )
        raise TypeError(
            f"key must be one PRNG key, got {got}: pass jax.random.key(seed), or one key of "
            "a split (keys[0])"
        )
    if on_token is not None and not callable(on_token):
        raise TypeError(f"on_token must be callable or None, got {describe(on_token)}")
