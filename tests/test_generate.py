"""Tests for `generate`: cached == uncached, greedy == a naive loop, sampling, EOS, batches,
bucketing without recompiling, streaming, and the error for each bad input.

Compiling the loop takes seconds on a small CPU, so the tests share a few compiled variants:
the gpt2-style model greedy at batch 1 and 3 (bucket 8), sampling at batch 1 (top-k 1, and
nucleus), and with per-step logits at batch 3 (bucket 16); microgpt greedy at batch 1.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float, Int

import typedgpt as tg
from typedgpt._generate import _generate, generate
from typedgpt._generate_compiled import _sample

# Fixed tolerance for cached against uncached logits, both float32.
ATOL = RTOL = 1e-5


@pytest.fixture(scope="module")
def model() -> tg.GPT:
    config = tg.GPTConfig.gpt2(
        vocab_size=13, num_layers=2, num_heads=2, embed_dim=16, mlp_dim=32, max_seq_len=32
    )
    return tg.GPT(config, key=jax.random.key(1))


def full_logits(model: tg.GPT, tokens: list[int]) -> Float[np.ndarray, "seq vocab"]:
    """The uncached forward pass over `tokens`: row `p` is the logits after token `p`.

    The sequence is padded on the right to `max_seq_len` so that one compilation serves every
    length; the forward pass is causal, so the padding does not touch rows `< len(tokens)`.
    """
    padded = np.zeros(model.config.max_seq_len, np.int32)
    padded[: len(tokens)] = tokens
    return np.asarray(model(jnp.asarray(padded)))[: len(tokens)]


def naive_greedy(
    model: tg.GPT, prompt: list[int], max_new_tokens: int, eos_id: int | None = None
) -> list[int]:
    """Greedy decoding with the full forward pass over the whole prefix at every step."""
    tokens = list(prompt)
    for _ in range(max_new_tokens):
        tokens.append(int(np.argmax(full_logits(model, tokens)[-1])))
        if tokens[-1] == eos_id:
            break
    return tokens[len(prompt) :]


def greedy(model: tg.GPT, prompt: Any, max_new_tokens: int, **options: Any) -> list[int]:
    out = generate(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=0,
        key=jax.random.key(0),
        **options,
    )
    assert isinstance(out, list)
    return out


# Cached == uncached ----------------------------------------------------------------------


def test_step_logits_equal_full_forward(model: tg.GPT) -> None:
    """Sampled continuations of a batch of three lengths, one of them up to the last position
    the cache holds (11 + 22 - 1 = 32 = max_seq_len): every step's logits equal the full
    forward pass's at that position."""
    prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11], [12, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]
    tokens, single, step_logits = _generate(
        model,
        prompts,
        max_new_tokens=22,
        temperature=1.0,
        top_k=None,
        top_p=None,
        eos_id=None,
        key=jax.random.key(3),
        on_token=None,
        with_logits=True,
    )
    assert not single
    for prompt, new, logits in zip(prompts, tokens, step_logits, strict=True):
        assert len(new) == 22
        expected = full_logits(model, prompt + new[:-1])[len(prompt) - 1 :]
        np.testing.assert_allclose(logits, expected, atol=ATOL, rtol=RTOL)


def test_greedy_equals_naive_loop(model: tg.GPT) -> None:
    for prompt in ([5], [1, 2, 3], [3, 1, 4, 1, 5, 9, 2, 6]):  # 8: a full bucket
        expected = naive_greedy(model, prompt, 12)
        assert greedy(model, prompt, 12) == expected
        assert greedy(model, prompt, 12) == expected  # deterministic


def test_greedy_microgpt_and_no_recompile(monkeypatch: pytest.MonkeyPatch) -> None:
    """microgpt's architecture through the loop; and the loop traces the model once per
    bucket, not per token, prompt length, max_new_tokens or key."""
    # max_seq_len=12: a config no other test uses, so the first call here must trace.
    config = tg.GPTConfig.microgpt(vocab_size=11, max_seq_len=12)
    microgpt = tg.GPT(config, key=jax.random.key(2))
    traced: list[tuple[int, ...]] = []
    forward_cached = tg.GPT.forward_cached

    def counting(self: tg.GPT, tokens: Int[Array, " seq"], cache: tg.KVCache) -> Any:
        traced.append(tokens.shape)
        return forward_cached(self, tokens, cache)

    forward_cached_layers = tg.GPT.forward_cached_layers

    def counting_layers(self: tg.GPT, blocks: Any, tokens: Int[Array, " seq"], caches: Any) -> Any:
        traced.append(tokens.shape)
        return forward_cached_layers(self, blocks, tokens, caches)

    monkeypatch.setattr(tg.GPT, "forward_cached", counting)
    monkeypatch.setattr(tg.GPT, "forward_cached_layers", counting_layers)
    first = greedy(microgpt, [1, 2, 3], 10)
    assert traced == [(8,), (1,)]  # the prefill of bucket 8 (scan), one loop body (unrolled)
    second = greedy(microgpt, [4, 5, 6, 7, 8], 7)  # another length in bucket 8
    generate(microgpt, [0], max_new_tokens=12, temperature=0, key=jax.random.key(9))
    assert traced == [(8,), (1,)]
    monkeypatch.undo()
    assert first == naive_greedy(microgpt, [1, 2, 3], 10)
    assert second == naive_greedy(microgpt, [4, 5, 6, 7, 8], 7)


def test_prompt_forms_agree(model: tg.GPT) -> None:
    prompt = [3, 1, 4, 1, 5]
    expected = greedy(model, prompt, 6)
    assert all(type(token) is int for token in expected)
    for form in (tuple(prompt), np.array(prompt), np.array(prompt, np.int64), jnp.array(prompt)):
        assert greedy(model, form, 6) == expected
    assert greedy(model, [np.int32(t) for t in prompt], 6) == expected
    # A list of 0-d arrays (iterating a JAX array gives them) is one prompt, not a batch.
    assert greedy(model, list(jnp.array(prompt)), 6) == expected
    batch = generate(
        model, [list(jnp.array(prompt))], max_new_tokens=6, temperature=0, key=jax.random.key(0)
    )
    assert batch == [expected]


def test_prompt_and_options_as_torch_tensors(model: tg.GPT) -> None:
    """PyTorch CPU tensors, as a Hugging Face tokenizer returns them, are arrays: a 1-D
    tensor used to be refused as "not a sequence of token ids ... encode text into token
    ids with a tokenizer first", and a 0-d one as an option was "not a finite number"."""
    torch = pytest.importorskip("torch")
    prompt = [3, 1, 4, 1, 5]
    expected = greedy(model, prompt, 6)
    assert greedy(model, torch.tensor(prompt), 6) == expected
    assert greedy(model, list(torch.tensor(prompt)), 6) == expected  # 0-d tensors
    batch = [torch.tensor(prompt), torch.tensor(prompt, dtype=torch.int32)]
    assert generate(model, batch, max_new_tokens=6, temperature=0, key=jax.random.key(0)) == [
        expected,
        expected,
    ]
    options = {"temperature": torch.tensor(0.0), "max_new_tokens": torch.tensor(6)}
    assert generate(model, prompt, key=jax.random.key(0), **options) == expected
    # One that requires grad (a learned temperature) raised torch's "Can't call numpy()".
    options["temperature"] = torch.tensor(0.0, requires_grad=True)
    assert generate(model, prompt, key=jax.random.key(0), **options) == expected
    with pytest.raises(ValueError, match=r"prompt is a 2-D array \(torch int64\[1, 5\]\): pass"):
        greedy(model, torch.tensor([prompt]), 6)


def test_legacy_key_of_the_rbg_implementation(model: tg.GPT) -> None:
    """Under `jax_default_prng_impl="rbg"`, `jax.random.PRNGKey` makes `uint32[4]` keys,
    which were refused as "not one PRNG key" (only threefry's `uint32[2]` passed)."""
    with jax.default_prng_impl("rbg"):
        legacy = jax.random.PRNGKey(0)
        assert legacy.shape == (4,)
        out = generate(model, [1, 2], max_new_tokens=3, temperature=0, key=legacy)
        with pytest.raises(TypeError, match=r"key must be one PRNG key, got uint32\[2\]"):
            generate(model, [1, 2], max_new_tokens=3, key=legacy[:2])
    assert out == greedy(model, [1, 2], 3)


# Sampling --------------------------------------------------------------------------------


def test_top_k_1_and_tiny_top_p_equal_greedy(model: tg.GPT) -> None:
    prompt = [2, 7, 1, 8]
    expected = greedy(model, prompt, 10)
    # 1e-50 rounds to 0 in float32, where no token has mass before it below top_p: the most
    # likely token must still be kept.
    for options in ({"top_k": 1}, {"top_p": 1e-6}, {"top_p": 1e-50}):
        for seed in (0, 1):
            out = generate(
                model,
                prompt,
                max_new_tokens=10,
                temperature=1.5,
                key=jax.random.key(seed),
                **options,
            )
            assert out == expected


def test_tiny_temperature_is_greedy(model: tg.GPT) -> None:
    """Below float32's smallest normal number a temperature samples greedily, as 0 does: not
    the garbage of dividing by a temperature that float32 flushes to 0."""
    prompt = [2, 7, 1, 8]
    expected = greedy(model, prompt, 10)
    for temperature in (1e-40, 1e-50, np.float64(1e-45)):
        out = generate(
            model, prompt, max_new_tokens=10, temperature=temperature, key=jax.random.key(0)
        )
        assert out == expected


def test_numpy_max_new_tokens(model: tg.GPT) -> None:
    prompt = [2, 7, 1, 8]
    assert greedy(model, prompt, np.int64(10)) == greedy(model, prompt, 10)  # type: ignore[arg-type]


def test_options_as_0d_arrays(model: tg.GPT) -> None:
    """Options given as 0-d JAX or NumPy arrays are the numbers they hold."""
    prompt = [2, 7, 1, 8]
    expected = greedy(model, prompt, 10)
    eos = expected[-1]
    options: dict[str, Any] = {
        "max_new_tokens": jnp.int32(10),
        "temperature": jnp.float32(1.5),
        "top_k": np.array(1),
        "eos_id": jnp.int32(eos),
        "key": jax.random.key(0),
    }
    assert generate(model, prompt, **options) == expected[: expected.index(eos) + 1]
    greedy_options: dict[str, Any] = {"max_new_tokens": 10, "key": jax.random.key(0)}
    assert generate(model, prompt, temperature=jnp.float32(0), **greedy_options) == expected


def test_same_key_same_tokens(model: tg.GPT) -> None:
    def sample(seed: int) -> list[int]:
        return generate(
            model, [1, 2], max_new_tokens=20, temperature=2.0, top_p=0.95, key=jax.random.key(seed)
        )

    assert sample(0) == sample(0)
    assert sample(0) != sample(1)  # 13 ids, 20 draws at high temperature: a clash is ~1e-20


def draws(logits: list[float], count: int, **options: Any) -> Int[np.ndarray, " count"]:
    """`count` tokens drawn by `_sample` from one row of logits."""
    settings: dict[str, Any] = {
        "temperature": jnp.float32(options.get("temperature", 1.0)),
        "top_p": jnp.float32(options.get("top_p", 1.0)),
        "top_k": options.get("top_k"),
        "greedy": False,
        "nucleus": "top_p" in options,
    }
    keys = jax.random.split(jax.random.key(0), count)
    row = jnp.array(logits, jnp.float32)
    draw: Callable[[Array], Array] = jax.vmap(lambda k: _sample(row, k, **settings))
    return np.asarray(draw(keys))


def test_sample_filters_and_frequencies() -> None:
    """softmax([0, 1, 2, 3]) = [0.032, 0.087, 0.237, 0.644]."""
    logits = [0.0, 1.0, 2.0, 3.0]
    probs = np.exp(logits) / np.exp(logits).sum()
    frequencies = np.bincount(draws(logits, 4000), minlength=4) / 4000
    np.testing.assert_allclose(frequencies, probs, atol=0.03)  # about 4 standard errors
    assert set(draws(logits, 500, top_k=2).tolist()) == {2, 3}
    assert set(draws(logits, 500, top_p=0.6).tolist()) == {3}  # 0.644 >= 0.6 alone
    assert set(draws(logits, 500, top_p=0.7).tolist()) == {2, 3}  # 0.644 < 0.7 <= 0.881
    assert set(draws(logits, 500, top_k=3, top_p=0.99).tolist()) == {1, 2, 3}
    # A low temperature sharpens: 3 of every draw at temperature 0.05 (odds e^-20 per draw).
    assert set(draws(logits, 500, temperature=0.05).tolist()) == {3}


def test_sample_tiny_normal_temperature_does_not_overflow() -> None:
    """50 / 1e-37 overflows float32: unshifted, three logits become inf and the draw is
    garbage; shifted by the largest, they fall to -inf and 150 always wins."""
    logits = [0.0, 50.0, 100.0, 150.0]
    assert set(draws(logits, 100, temperature=1e-37).tolist()) == {3}
    assert set(draws(logits, 100, temperature=1e-37, top_k=2).tolist()) == {3}
    assert set(draws(logits, 100, temperature=1e-37, top_p=0.9).tolist()) == {3}


def test_sample_filters_at_the_largest_temperature() -> None:
    """Top-k and top-p keep the most likely tokens at any allowed temperature: at 3e38 every
    scaled logit used to flush to 0, so top-k's tie with the k-th kept every token (top_k=1
    drew all four), and the nucleus kept the first ids, here the least likely."""
    logits = [0.0, 1.0, 2.0, 3.0]
    assert set(draws(logits, 200, temperature=3e38, top_k=1).tolist()) == {3}
    assert set(draws(logits, 200, temperature=3e38, top_k=2).tolist()) == {2, 3}
    # Almost uniform: the most likely token holds just over 1/4, so 0.3 needs two.
    assert set(draws(logits, 200, temperature=3e38, top_p=0.3).tolist()) == {2, 3}


# EOS, batches, streaming ----------------------------------------------------------------


def test_eos_stops_after_emitting_it(model: tg.GPT) -> None:
    prompt = [3, 1, 4, 1, 5, 9, 2]
    full = greedy(model, prompt, 12)
    eos = full[2]
    stop = full.index(eos) + 1
    out = greedy(model, prompt, 12, eos_id=eos)
    assert out == full[:stop] == naive_greedy(model, prompt, 12, eos_id=eos)
    assert out[-1] == eos and len(out) < len(full)


def test_batch_equals_each_alone_and_streams(model: tg.GPT) -> None:
    prompts: list[list[int]] = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11], [7]]
    alone = [greedy(model, p, 12) for p in prompts]
    eos = alone[1][1]  # stops prompt 1 early; the others may stop too, or run to the end
    alone_eos = [greedy(model, p, 12, eos_id=eos) for p in prompts]
    assert alone_eos[1] == alone[1][: alone[1].index(eos) + 1]

    streamed: list[Int[np.ndarray, " batch"]] = []
    batch = generate(
        model,
        prompts,
        max_new_tokens=12,
        temperature=0,
        eos_id=eos,
        key=jax.random.key(0),
        on_token=streamed.append,
    )
    assert batch == alone_eos
    as_arrays = [jnp.array(p) for p in prompts]
    # The same compiled variant (streaming on), with prompts as arrays and no EOS.
    again = generate(
        model, as_arrays, max_new_tokens=12, temperature=0, key=jax.random.key(0), on_token=len
    )
    assert again == alone
    steps = max(len(out) for out in batch)
    assert len(streamed) == steps
    assert all(t.shape == (3,) and t.dtype == np.int32 for t in streamed)
    columns = np.stack(streamed, axis=1)
    for out, column in zip(batch, columns, strict=True):
        assert column.tolist() == out + [-1] * (steps - len(out))


@pytest.mark.parametrize("error", [KeyError, KeyboardInterrupt, SystemExit])
def test_on_token_error_is_raised_after_the_loop(model: tg.GPT, error: type[BaseException]) -> None:
    """Ctrl-C in `on_token` (or `sys.exit`) reaches the caller as itself too: it used to
    escape the callback and come back as JAX's "INTERNAL: CpuCallback error"."""
    seen: list[int] = []

    def on_token(tokens: Int[np.ndarray, " batch"]) -> None:
        seen.append(int(tokens[0]))
        if len(seen) == 2:
            raise error("stop")

    with pytest.raises(error, match="stop"):
        generate(
            model,
            [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11], [7]],
            max_new_tokens=5,
            temperature=0,
            key=jax.random.key(0),
            on_token=on_token,
        )
    assert len(seen) == 2  # not called again after it raised


# Bad input -------------------------------------------------------------------------------


def call(model: tg.GPT, prompt: Any = (1, 2), **changes: Any) -> Any:
    options: dict[str, Any] = {"max_new_tokens": 3, "key": jax.random.key(0), **changes}
    return generate(model, prompt, **options)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ([], "prompt is empty: pass at least one token id"),
        (np.zeros(0, np.int32), "prompt is empty"),
        ([[1, 2], []], "prompt 1 of the batch is empty"),
        ([1, 13], r"prompt has token id 13 at position 1, outside the vocabulary \[0, 13\)"),
        ([-1], "prompt has token id -1 at position 0"),
        ([[1], [2, 3, 99]], "prompt 1 of the batch has token id 99 at position 2"),
        ([1, 2.0], r"prompt is not integers: position 1 holds 2.0 \(float\)"),
        ([True, 1], "prompt is not integers: position 0 holds True"),
        (np.array([1.0, 2.0]), "prompt has dtype float64, not integers"),
        (jnp.zeros((2, 3), jnp.int32), r"prompt is a 2-D array \(int32\[2, 3\]\)"),
        ("hello", "prompt is a string: encode it into token ids with a tokenizer first"),
        (3, "prompt must be a sequence of token ids or a 1-D integer array, got int"),
        ([jnp.int32(1), jnp.float32(2)], r"prompt is not integers: position 1 holds 2.0 \(float\)"),
    ],
)
def test_bad_prompt(model: tg.GPT, prompt: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(model, prompt)


def test_too_long(model: tg.GPT) -> None:
    message = re.escape(
        "prompt has 40 tokens and max_new_tokens is 10, but max_seq_len is 32: generating feeds "
        "the prompt and every new token but the last, 40 + 10 - 1 = 49 positions; shorten the "
        "prompt or max_new_tokens"
    )
    with pytest.raises(ValueError, match=message):
        call(model, [1] * 40, max_new_tokens=10)
    with pytest.raises(ValueError, match=r"prompt has 11 tokens .* 11 \+ 23 - 1 = 33 positions"):
        call(model, [1] * 11, max_new_tokens=23)  # one past the rule; 22 fits (tested above)
    with pytest.raises(ValueError, match="prompt 1 of the batch has 30 tokens"):
        call(model, [[1], [1] * 30], max_new_tokens=4)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens must be an int >= 1, got 0"),
        ({"max_new_tokens": 2.0}, "max_new_tokens must be an int >= 1, got 2.0"),
        ({"temperature": -0.5}, "temperature must be a finite number >= 0, got -0.5"),
        ({"temperature": float("nan")}, "temperature must be a finite number >= 0, got nan"),
        (
            {"temperature": 1e300},
            r"temperature 1e\+300 is larger than float32 holds \(3.403e\+38\)",
        ),
        ({"top_k": 0}, "top_k must be an int from 1 to vocab_size=13, got 0"),
        ({"top_k": 14}, "top_k must be an int from 1 to vocab_size=13, got 14"),
        ({"top_p": 0.0}, r"top_p must be a number in \(0, 1\], got 0.0"),
        ({"top_p": 1.5}, r"top_p must be a number in \(0, 1\], got 1.5"),
        ({"eos_id": 13}, r"eos_id 13 is outside the vocabulary \[0, 13\)"),
        ({"eos_id": -1}, r"eos_id -1 is outside the vocabulary \[0, 13\)"),
        (
            {"eos_id": [1, 2]},
            r"eos_id must be one int token id or None, got \[1, 2\]: pass a single id in "
            r"\[0, 13\)",
        ),
        ({"eos_id": 2.0}, "eos_id must be one int token id or None, got 2.0"),
        ({"eos_id": True}, "eos_id must be one int token id or None, got True"),
        # math.isfinite(10**400) used to raise a bare OverflowError.
        ({"temperature": 10**400}, r"temperature 10{400} is larger than float32 holds"),
        (
            {"prompt": {"input_ids": [1, 2], "attention_mask": [1, 1]}},
            r"prompt is a mapping with keys \['attention_mask', 'input_ids'\], as a tokenizer's "
            r"output is: pass its token ids \(prompt\['input_ids'\]\)",
        ),
    ],
)
def test_bad_option(model: tg.GPT, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(model, **changes)


def test_bad_types(model: tg.GPT) -> None:
    with pytest.raises(TypeError, match=r"key must be one PRNG key, got uint32\[2, 2\]"):
        call(model, key=jax.random.split(jax.random.PRNGKey(0)))
    with pytest.raises(TypeError, match=r"key must be one PRNG key, got key<fry>\[2\]: pass"):
        call(model, key=jax.random.split(jax.random.key(0)))
    with pytest.raises(TypeError, match=r"key must be one PRNG key, got key<fry>\[1\]: pass"):
        call(model, key=jax.random.key(0)[None])
    with pytest.raises(TypeError, match="on_token must be callable or None, got int"):
        call(model, on_token=3)
    with pytest.raises(TypeError, match="generate expects a GPT model, got str"):
        generate("gpt", [1], max_new_tokens=1, key=jax.random.key(0))  # type: ignore[call-overload]


# Under jax.jit and jax.vmap ---------------------------------------------------------------

TRACED = "it runs its own compiled loop and returns Python lists, so call it outside jax.jit"


def _jit_option(name: str, value: Any) -> Callable[[tg.GPT], object]:
    """`generate` under `jax.jit` with the option `name` traced."""
    return lambda model: jax.jit(lambda traced: call(model, **{name: traced}))(value)


@pytest.mark.parametrize(
    ("run", "got"),
    [
        (_jit_option("key", jax.random.key(0)), r"key \(key<fry>\[\]\)"),
        (_jit_option("key", jax.random.PRNGKey(0)), r"key \(uint32\[2\]\)"),
        (_jit_option("temperature", 0.5), r"temperature \(float32\[\]\)"),
        (_jit_option("max_new_tokens", 3), r"max_new_tokens \(int32\[\]\)"),
        (_jit_option("top_k", 2), r"top_k \(int32\[\]\)"),
        (_jit_option("top_p", 0.9), r"top_p \(float32\[\]\)"),
        (_jit_option("eos_id", 1), r"eos_id \(int32\[\]\)"),
        (
            lambda model: jax.jit(lambda m, k: call(m, key=k))(model, jax.random.key(0)),
            r"model \(model\.token_embedding, float32\[13, 16\]\)",
        ),
        (
            lambda model: jax.jit(lambda p: call(model, p))(jnp.array([1, 2])),
            r"prompt \(int32\[2\]\)",
        ),
        (
            lambda model: jax.jit(lambda p: call(model, [[1], p]))(jnp.array([1, 2])),
            r"prompt \(prompt\[1\], int32\[2\]\)",
        ),
        (
            lambda model: jax.vmap(lambda k: jnp.array(call(model, key=k)))(
                jax.random.split(jax.random.key(0), 2)
            ),
            r"key \(key<fry>\[\]\)",
        ),
    ],
    ids=[
        "jit-key",
        "jit-legacy-key",
        "jit-temperature",
        "jit-max_new_tokens",
        "jit-top_k",
        "jit-top_p",
        "jit-eos_id",
        "jit-model",
        "jit-prompt",
        "jit-batch-prompt",
        "vmap-key",
    ],
)
def test_traced_argument(model: tg.GPT, run: Callable[[tg.GPT], object], got: str) -> None:
    """Under jax.jit or jax.vmap any traced argument, not only the prompt, gets the
    documented TypeError: a traced key or model used to fail deep in JAX, with a
    TracerArrayConversionError, and a traced temperature was "not a finite number"."""
    with pytest.raises(TypeError, match=rf"^generate got a traced {got}: {TRACED}"):
        run(model)


# typedgpt sample ---------------------------------------------------------------------------


def test_sample_checkpoint_that_is_a_hugging_face_folder(
    model: tg.GPT, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mirror of `--model <checkpoint>`: a Hugging Face folder passed as --checkpoint
    used to fail on its config.json with "unknown GPTConfig fields ['activation_function',
    ...]", the whole list of GPT-2's fields, and no word of --model."""
    from typedgpt import cli

    folder = tg.save_pretrained(model, tmp_path / "gpt2")
    assert cli.main(["sample", f"--checkpoint={folder}"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"typedgpt sample: error: --checkpoint {folder} is a Hugging Face folder (its "
        f"config.json has model_type 'gpt2'), not a checkpoint of typedgpt train: pass it as "
        f"--model {folder}\n",
    )


# Samples with a tokenizer whose streaming callback blocks for a minute, as a slow model's
# step does: the computation waits on it, and with it the main thread, inside JAX.
BLOCKED_SAMPLE = """
import argparse, sys, time
import jax
import typedgpt as tg
from typedgpt._cli_sample import _stop_on_interrupt, _stream_samples

class BlockingTokenizer:
    vocab_size, bos_id = 11, 10
    def decode(self, ids):
        print("blocked", file=sys.stderr, flush=True)
        time.sleep(60)
        return ""

model = tg.GPT(tg.GPTConfig.microgpt(vocab_size=11), key=jax.random.key(0))
args = argparse.Namespace(
    command="sample", seed=0, max_new_tokens=3, temperature=0.8, top_k=None, top_p=None,
    num_samples=1, prompt="",
)
_stop_on_interrupt("sample")
_stream_samples(model, BlockingTokenizer(), [10], args, start=True)
"""


def test_ctrl_c_while_a_sample_computes_exits_at_once() -> None:
    """Ctrl-C stops `typedgpt sample` at once, as documented: its handler used to run only
    once the main thread left JAX, after the whole sample (here more than a minute)."""
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-c", BLOCKED_SAMPLE]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        try:
            assert process.stderr.readline() == "blocked\n"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=20) == 130
            assert process.stderr.read() == "typedgpt sample: interrupted\n"
        finally:
            process.kill()
