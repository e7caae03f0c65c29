"""`GPT`: token and position embeddings, a stack of blocks run by `lax.scan`, and a head."""

from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float, Int, PRNGKeyArray

from ._block import Block, make_norm
from ._config import GPTConfig, check_key
from ._frames import submodule
from ._gpt_checks import check_cache_layers, check_length, check_stacked, check_tokens
from ._kv_cache import KVCache
from ._norm import LayerNorm, RMSNorm
from ._state_dict import from_state_dict, state_dict
from ._text import is_int
from ._typed import TypedModule, is_recording


class GPT(TypedModule):
    """A GPT language model over one sequence of token ids; batch it with `jax.vmap`.

    `x = wte[tokens] + wpe[positions]`, an optional norm (microgpt), the blocks, an optional
    final norm (GPT-2), then `logits = W_head x` with `W_head` the token embedding when tied.
    With `position_encoding="rope"` there is no `wpe`: attention rotates queries and keys by
    their positions instead.

    The blocks are stacked: every array in `blocks` has a leading `layers` axis, and the
    forward pass runs them with `jax.lax.scan`, so compile time does not grow with depth.
    Calls are jit-compiled: `model(tokens)` compiles once per sequence length.

    **Arguments:** `config`, a `GPTConfig` (anything else raises `TypeError`); `key`, a
    `jax.random.key`, keyword-only.
    """

    token_embedding: Float[Array, "vocab embed"]
    position_embedding: Float[Array, "positions embed"] | None
    embed_norm: RMSNorm | LayerNorm | None
    blocks: Block
    final_norm: RMSNorm | LayerNorm | None
    lm_head: Float[Array, "vocab embed"] | None
    config: GPTConfig = eqx.field(static=True)

    def __init__(self, config: GPTConfig, *, key: PRNGKeyArray) -> None:
        if not isinstance(config, GPTConfig):
            raise TypeError(
                f"GPT takes a tg.GPTConfig, got {type(config).__qualname__}: build one with "
                "tg.GPTConfig(...) or a preset such as tg.GPTConfig.microgpt(vocab_size)"
            )
        check_key(key, "GPT")
        token_key, position_key, blocks_key, head_key = jax.random.split(key, 4)
        std = config.init_std
        self.token_embedding = std * jax.random.normal(
            token_key, (config.vocab_size, config.embed_dim)
        )
        self.position_embedding = (
            std * jax.random.normal(position_key, (config.max_seq_len, config.embed_dim))
            if config.position_encoding == "learned"
            else None
        )
        self.embed_norm = make_norm(config) if config.embed_norm else None
        layer_keys = jax.random.split(blocks_key, config.num_layers)
        self.blocks = eqx.filter_vmap(lambda k: Block(config, key=k))(layer_keys)
        self.final_norm = make_norm(config) if config.final_norm else None
        self.lm_head = (
            None
            if config.tie_embeddings
            else std * jax.random.normal(head_key, (config.vocab_size, config.embed_dim))
        )
        self.config = config

    def __call__(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        """**Arguments:** `tokens`, ids in `[0, vocab_size)`, from 1 to `max_seq_len` of them.

        **Returns:** the logits of the next token at every position.

        An empty or too long `tokens`, or an id outside the vocabulary, raises `ValueError`.
        Traced under your own `jax.jit`, where ids are not known, an id outside the
        vocabulary raises at run time instead (`equinox.EquinoxRuntimeError`, or JAX's
        runtime error under a plain `jax.jit`).
        """
        check_tokens(self.config, tokens, start=0)
        logits: Float[Array, "seq vocab"] = _compiled(self, "forward", tokens)
        return logits

    def decode(
        self, tokens: Int[Array, " seq"], cache: KVCache
    ) -> tuple[Float[Array, "seq vocab"], KVCache]:
        """Run `tokens` at positions `cache.position ...`, attending to the cache.

        Prefill a prompt with it, then feed one token at a time: the logits equal those of
        the full forward pass.

        **Arguments:** `tokens`, the ids of the next positions; `cache`, from `init_cache()`
        or the last `decode`. **Returns:** the logits of those positions and the cache with
        their keys and values written and its position advanced.

        Raises `ValueError` for empty `tokens`, an id outside the vocabulary, a cache made
        for another model (another depth, or more slots than `max_seq_len`), a position that
        is not one scalar, a negative position, an array of `blocks` without `num_layers` on
        its first axis, or more tokens than the cache or `max_seq_len` has room for. Traced
        under `jax.jit`, where ids and the position are not known, a bad id, a negative
        position or an overfull cache raises at run time instead, as in `__call__`.
        """
        check_cache_layers(self.config, cache)
        check_tokens(self.config, tokens, start=cache.position, capacity=cache.keys.shape[-3])
        out: tuple[Float[Array, "seq vocab"], KVCache] = _compiled(
            self, "forward_cached", tokens, cache
        )
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters as NumPy arrays under Hugging Face GPT-2's names and layouts.

        Names are `GPT2Model`'s without the `transformer.` prefix (`wte.weight`,
        `h.0.attn.c_attn.weight`, ...), linear weights in Conv1D layout `(in, out)`, and
        `lm_head.weight` `(vocab, embed)` only when the head is untied. The arrays are
        read-only: copy one (`np.array(a)`) to modify it.
        """
        return state_dict(self)

    @classmethod
    def from_state_dict(cls, config: GPTConfig, tensors: Mapping[str, Any]) -> "GPT":
        """Build a model of `config` from `state_dict()`-style arrays (NumPy, JAX or PyTorch, in
        the dtype they have); every name and shape is checked first.

        Raises `KeyError` for a missing or unexpected name (`lm_head.weight` with a tied
        head; the `transformer.` prefix), `ValueError` for a wrong shape (naming the
        parameter, its dims and the shape received), and `TypeError` for a non-mapping, a
        non-string name or a value that is not a floating-point array.
        """
        return from_state_dict(config, tensors)

    def init_cache(self, dtype: DTypeLike | None = None, *, size: int | None = None) -> KVCache:
        """An empty `KVCache` with room for `size` positions (default `max_seq_len`) of
        `kv_heads` heads in every layer, its keys and values in `dtype` (float32, bfloat16 or
        float16; default the dtype of the model's token embedding, as the keys and values it
        computes have). A narrower cache than the model (bfloat16 for a float32 model) takes
        half the memory and rounds each key and value it stores.

        Attention reads every slot of the cache at each step, so a cache sized to what a
        generation needs decodes faster than one of `max_seq_len` slots. A `size` that is
        not an int (a NumPy integer is one) from 1 to `max_seq_len`, or a `dtype` typedgpt
        does not compute in, raises `ValueError`. An abstract model (of
        `jax.ShapeDtypeStruct`s, as `tg.explain` takes) gets an abstract cache.
        """
        config = self.config
        if size is None:
            size = config.max_seq_len
        if not is_int(size) or not 1 <= size <= config.max_seq_len:
            raise ValueError(
                f"size must be an int from 1 to max_seq_len={config.max_seq_len}, got {size!r}: "
                "pass the number of positions the cache must hold"
            )

        def empty() -> KVCache:
            return KVCache.empty(
                num_layers=config.num_layers,
                max_seq_len=int(size),
                num_kv_heads=config.kv_heads,
                head_dim=config.head_dim,
                dtype=self.token_embedding.dtype if dtype is None else dtype,
            )

        if isinstance(self.token_embedding, jax.ShapeDtypeStruct):  # for tg.explain
            return eqx.filter_eval_shape(empty)  # type: ignore[no-any-return]
        return empty()

    def forward(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        """The forward pass itself, not jit-compiled: `__call__` compiles and runs it."""
        return self._logits(self.hidden(tokens))

    def hidden(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq embed"]:
        """The last hidden states, after the final norm: the head's input (not jit-compiled).

        `forward(tokens)` is `hidden(tokens) @ head_weight.T`. `train` feeds them to the
        head and the loss together, in chunks, so the `seq vocab` logits are never whole.
        Empty `tokens`, or more than `max_seq_len`, raise `ValueError`, under `jax.jit` too.
        """
        check_stacked(self.config, self.blocks)
        x = self._embed(tokens, jnp.arange(tokens.shape[0]))
        params, static = eqx.partition(self.blocks, eqx.is_array)

        def layer(x: Float[Array, "seq embed"], block_params: Block) -> tuple[Any, None]:
            with submodule("blocks[*]", scan_length=self.config.num_layers):
                return eqx.combine(block_params, static)(x), None

        x, _ = jax.lax.scan(layer, x, params)
        return x if self.final_norm is None else jax.vmap(self.final_norm)(x)

    @property
    def head_weight(self) -> Float[Array, "vocab embed"]:
        """The head's weight: `lm_head`, or the token embedding when they are tied."""
        return self.token_embedding if self.lm_head is None else self.lm_head

    def forward_cached(
        self, tokens: Int[Array, " seq"], cache: KVCache
    ) -> tuple[Float[Array, "seq vocab"], KVCache]:
        """The cached forward pass itself, not jit-compiled: `decode` compiles and runs it."""
        check_cache_layers(self.config, cache)
        check_stacked(self.config, self.blocks)
        position = cache.position
        x = self._embed(tokens, position + jnp.arange(tokens.shape[0]))
        params, static = eqx.partition(self.blocks, eqx.is_array)

        def layer(x: Float[Array, "seq embed"], xs: tuple[Block, Any, Any]) -> tuple[Any, Any]:
            block_params, keys, values = xs
            layer_cache = KVCache(keys=keys, values=values, position=position)
            with submodule("blocks[*]", scan_length=self.config.num_layers):
                x, layer_cache = eqx.combine(block_params, static).decode(x, layer_cache)
            return x, (layer_cache.keys, layer_cache.values)

        x, (keys, values) = jax.lax.scan(layer, x, (params, cache.keys, cache.values))
        new_cache = KVCache(keys=keys, values=values, position=position + tokens.shape[0])
        return self._head(x), new_cache

    def unstacked_blocks(self) -> list[Block]:
        """The blocks as a list of separate modules, one per layer (copies of the weights).

        Decoding one token reads every weight once; taking a layer's weights out of the
        stacked arrays inside the loop would copy them at every token, so `tg.generate`
        unstacks them once, before its loop, and runs `forward_cached_layers`.
        """
        check_stacked(self.config, self.blocks)
        params, static = eqx.partition(self.blocks, eqx.is_array)
        return [
            eqx.combine(jax.tree.map(lambda a, i=i: a[i], params), static)
            for i in range(self.config.num_layers)
        ]

    def forward_cached_layers(
        self, blocks: Sequence[Block], tokens: Int[Array, " seq"], caches: Sequence[KVCache]
    ) -> tuple[Float[Array, "seq vocab"], list[KVCache]]:
        """`forward_cached` over `unstacked_blocks()`, unrolled, with one `KVCache` per
        layer (keys and values `(kv_seq, kv_heads, head_dim)`, all at the same position).

        **Returns:** the logits and the updated caches, one per layer. Unequal numbers of
        blocks and caches raise `ValueError`.
        """
        if len(blocks) != len(caches):
            raise ValueError(f"{len(blocks)} blocks but {len(caches)} caches: give one per layer")
        position = caches[0].position
        x = self._embed(tokens, position + jnp.arange(tokens.shape[0]))
        new_caches = []
        for index, (block, cache) in enumerate(zip(blocks, caches, strict=True)):
            with submodule(f"blocks[{index}]"):
                x, cache = block.decode(x, cache)
            new_caches.append(cache)
        return self._head(x), new_caches

    def _embed(
        self, tokens: Int[Array, " seq"], positions: Int[Array, " seq"]
    ) -> Float[Array, "seq embed"]:
        check_length(self.config, tokens)
        vocab = self.config.vocab_size
        tokens = eqx.error_if(
            tokens,
            (tokens < 0) | (tokens >= vocab),
            f"a token id is outside the vocabulary [0, {vocab}): "
            f"encode with a tokenizer whose vocabulary has at most vocab_size={vocab} ids",
        )
        x = self.token_embedding[tokens]
        if self.position_embedding is not None:
            x = x + self.position_embedding[positions]
        if self.embed_norm is not None:
            x = jax.vmap(self.embed_norm)(x)
        return x

    def _head(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq vocab"]:
        if self.final_norm is not None:
            x = jax.vmap(self.final_norm)(x)
        return self._logits(x)

    def _logits(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq vocab"]:
        head = self.head_weight
        if x.shape[0] == 1:  # a decoding step: a matrix-vector product
            return (head @ x[0])[None, :]
        return x @ head.T


def _compiled(model: GPT, method: str, *args: Any) -> Any:
    """`model.method(*args)`, compiled; while `explain` records, run as Python (see
    `is_recording`)."""
    if is_recording():
        return getattr(model, method)(*args)
    leaves, treedef = jax.tree.flatten(model)
    return _run(treedef, method, leaves, *args)


@jax.jit(static_argnums=(0, 1))
def _run(treedef: Any, method: str, leaves: list[Array], *args: Any) -> Any:
    """Compile and run one of the model's methods; the model travels as its leaves."""
    model = jax.tree.unflatten(treedef, leaves)
    return getattr(model, method)(*args)
