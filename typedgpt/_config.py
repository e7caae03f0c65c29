"""`GPTConfig`: every size and choice of a GPT, with presets."""

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, Literal, Self

import jax
import numpy as np

from ._text import is_int, is_real

Norm = Literal["rmsnorm", "layernorm"]
Activation = Literal["relu", "gelu_tanh"]
MLPKind = Literal["standard", "swiglu"]
PositionEncoding = Literal["learned", "rope"]

_NORMS = ("rmsnorm", "layernorm")
_ACTIVATIONS = ("relu", "gelu_tanh")
_MLPS = ("standard", "swiglu")
_POSITION_ENCODINGS = ("learned", "rope")


@dataclass(frozen=True, kw_only=True)
class GPTConfig:
    """The sizes and architectural choices of a GPT; frozen, keyword-only, checked.

    Read top to bottom:

    - `vocab_size`: number of token ids (`vocab`).
    - `max_seq_len`: the longest sequence, and the number of position embeddings.
    - `num_layers`, `num_heads`, `embed_dim`, `mlp_dim`: depth, heads per attention, the
      residual width (`embed`) and the MLP's hidden width (`mlp`).
    - `norm`: `"layernorm"` (GPT-2) or `"rmsnorm"` (microgpt); `norm_eps`; `norm_has_params`:
      whether norms carry a learned gain (and, for LayerNorm, a bias).
    - `embed_norm`: a norm right after the embeddings (microgpt); `final_norm`: a norm before
      the head (GPT-2).
    - `activation`: the standard MLP's, `"gelu_tanh"` (GPT-2) or `"relu"` (microgpt).
    - `mlp`: `"standard"`, `W_down act(W_up x)` (GPT-2, microgpt), or `"swiglu"`,
      `W_down (silu(W_gate x) * W_up x)` (PaLM, LLaMA; `activation` does not apply).
    - `position_encoding`: `"learned"` position embeddings added to the token embeddings
      (GPT-2), or `"rope"`, rotary embeddings of queries and keys in every attention layer
      (no position embeddings; `head_dim` must be even), with wavelength scale `rope_base`.
    - `num_kv_heads`: key/value heads of grouped-query attention, a divisor of `num_heads`
      (1 is multi-query attention); `None` means `num_heads`, multi-head attention. The KV
      cache holds `kv_heads` heads.
    - `use_bias`: biases in the linear layers.
    - `tie_embeddings`: the head reuses the token embedding (GPT-2) instead of its own
      `lm_head` weight (microgpt).
    - `init_std`: standard deviation of the normal draw for every weight matrix and
      embedding (biases start at zero, norm gains at one).

    Every field is checked at construction (and by `replace`): a bad value raises
    `ValueError` naming the field, the value and, where there is one, the fix.
    """

    vocab_size: int
    max_seq_len: int
    num_layers: int
    num_heads: int
    embed_dim: int
    mlp_dim: int
    norm: Norm = "layernorm"
    norm_eps: float = 1e-5
    norm_has_params: bool = True
    embed_norm: bool = False
    final_norm: bool = True
    activation: Activation = "gelu_tanh"
    mlp: MLPKind = "standard"
    position_encoding: PositionEncoding = "learned"
    rope_base: float = 10000.0
    num_kv_heads: int | None = None
    use_bias: bool = True
    tie_embeddings: bool = True
    init_std: float = 0.02

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, np.generic):
                # A NumPy number (`ids.max() + 1`) or bool is taken as the Python value it
                # holds, which config.json can record (a bool is still refused as a size).
                object.__setattr__(self, name, value.item())
        for name in (
            "vocab_size",
            "max_seq_len",
            "num_layers",
            "num_heads",
            "embed_dim",
            "mlp_dim",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.embed_dim % self.num_heads != 0:
            raise ValueError(
                f"GPTConfig.embed_dim={self.embed_dim} is not divisible by "
                f"num_heads={self.num_heads}: choose embed_dim as a multiple of num_heads"
            )
        if self.norm not in _NORMS:
            raise ValueError(f"GPTConfig.norm must be one of {_NORMS}, got {self.norm!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"GPTConfig.activation must be one of {_ACTIVATIONS}, got {self.activation!r}"
            )
        if self.mlp not in _MLPS:
            raise ValueError(f"GPTConfig.mlp must be one of {_MLPS}, got {self.mlp!r}")
        if self.position_encoding not in _POSITION_ENCODINGS:
            raise ValueError(
                f"GPTConfig.position_encoding must be one of {_POSITION_ENCODINGS}, "
                f"got {self.position_encoding!r}"
            )
        if self.position_encoding == "rope" and self.head_dim % 2 != 0:
            raise ValueError(
                f"GPTConfig.position_encoding='rope' rotates pairs of features, so head_dim "
                f"= embed_dim // num_heads must be even, got {self.embed_dim} // "
                f"{self.num_heads} = {self.head_dim}: choose embed_dim and num_heads with an "
                "even quotient"
            )
        kv_heads = self.num_kv_heads
        if kv_heads is not None:
            if not isinstance(kv_heads, int) or isinstance(kv_heads, bool) or kv_heads < 1:
                raise ValueError(
                    f"GPTConfig.num_kv_heads must be None or a positive int, got {kv_heads!r}"
                )
            if self.num_heads % kv_heads != 0:
                raise ValueError(
                    f"GPTConfig.num_kv_heads={kv_heads} does not divide num_heads="
                    f"{self.num_heads}: each key/value head serves an equal group of query "
                    "heads; choose a divisor of num_heads"
                )
        for name in ("norm_eps", "init_std", "rope_base"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not 0 < value < math.inf
            ):
                raise ValueError(
                    f"GPTConfig.{name} must be a positive finite number, got {value!r}"
                )
        for name in ("norm_has_params", "embed_norm", "final_norm", "use_bias", "tie_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}"
                )

    @property
    def head_dim(self) -> int:
        """The width of one attention head, `embed_dim // num_heads`."""
        return self.embed_dim // self.num_heads

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads: `num_kv_heads`, or `num_heads` when that is None."""
        return self.num_heads if self.num_kv_heads is None else self.num_kv_heads

    def replace(self, **changes: Any) -> Self:
        """A copy with the fields named in `changes` changed, checked again (`ValueError`
        for a bad value, `TypeError` for an unknown field name, naming the closest field;
        `head_dim` and `kv_heads` are computed, not fields)."""
        names = [field.name for field in dataclasses.fields(self)]
        for name in changes:
            if name not in names:
                derived = {"head_dim": "embed_dim // num_heads", "kv_heads": "num_kv_heads"}
                close = difflib.get_close_matches(name, names, n=1)
                hint = (
                    f"it is computed from {derived[name]}: change that instead"
                    if name in derived
                    else f"did you mean {close[0]!r}?"
                    if close
                    else f"the fields are {', '.join(names)}"
                )
                raise TypeError(f"GPTConfig has no field {name!r}: {hint}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def microgpt(cls, vocab_size: int, **changes: Any) -> Self:
        """microgpt: 1 layer, embed 16, 4 heads, MLP 64, 16 positions, gain-free rmsnorm
        after the embeddings and before each sublayer, no final norm, ReLU, no biases, an
        untied head, weights drawn with standard deviation 0.08. `vocab_size` is the
        tokenizer's; `changes` override any other field, as `replace` does."""
        preset = cls(
            vocab_size=vocab_size,
            max_seq_len=16,
            num_layers=1,
            num_heads=4,
            embed_dim=16,
            mlp_dim=64,
            norm="rmsnorm",
            norm_has_params=False,
            embed_norm=True,
            final_norm=False,
            activation="relu",
            use_bias=False,
            tie_embeddings=False,
            init_std=0.08,
        )
        return preset.replace(**changes)

    @classmethod
    def gpt2(cls, **changes: Any) -> Self:
        """GPT-2 small (124M): 12 layers, 12 heads, embed 768, vocab 50257, 1024 positions,
        MLP 3072, LayerNorm, GELU-tanh, biases, a final LayerNorm and a tied head;
        `changes` override any field, as `replace` does."""
        preset = cls(
            vocab_size=50257,
            max_seq_len=1024,
            num_layers=12,
            num_heads=12,
            embed_dim=768,
            mlp_dim=3072,
        )
        return preset.replace(**changes)

    @classmethod
    def gpt2_medium(cls, **changes: Any) -> Self:
        """GPT-2 medium (355M): 24 layers, 16 heads, embed 1024, MLP 4096."""
        return cls.gpt2(num_layers=24, num_heads=16, embed_dim=1024, mlp_dim=4096).replace(
            **changes
        )

    @classmethod
    def gpt2_large(cls, **changes: Any) -> Self:
        """GPT-2 large (774M): 36 layers, 20 heads, embed 1280, MLP 5120."""
        return cls.gpt2(num_layers=36, num_heads=20, embed_dim=1280, mlp_dim=5120).replace(
            **changes
        )

    @classmethod
    def gpt2_xl(cls, **changes: Any) -> Self:
        """GPT-2 XL (1.5B): 48 layers, 25 heads, embed 1600, MLP 6400."""
        return cls.gpt2(num_layers=48, num_heads=25, embed_dim=1600, mlp_dim=6400).replace(
            **changes
        )


# Checks of the layers' constructor arguments, shared by every layer: without them a bad size
# fails deep inside JAX (a float or negative shape), or is taken silently (a bool is an int,
# any object is truthy, a negative or NaN standard deviation draws NaN or flipped weights).


def check_size(value: Any, name: str, owner: str) -> int:
    """`value` as an int when it is a positive int (a NumPy integer is one), else a
    `ValueError` that names `owner`, `name` and the value."""
    if not is_int(value) or value < 1:
        raise ValueError(
            f"{owner}: {name} must be a positive int, got {value!r}: pass a whole number of "
            "at least 1 (a NumPy integer is fine; a float or a bool is not)"
        )
    return int(value)


def check_number(value: Any, name: str, owner: str) -> float:
    """`value` as a float when it is a finite number >= 0 (a NumPy number is one), else a
    `ValueError` that names `owner`, `name` and the value."""
    if not (is_real(value) and 0 <= value < math.inf):
        raise ValueError(
            f"{owner}: {name} must be a finite number >= 0, got {value!r}: pass a float "
            "such as the default"
        )
    return float(value)


def check_flag(value: Any, name: str, owner: str) -> bool:
    """`value` when it is True or False (NumPy's too), else a `ValueError`: any object is
    truthy, so `use_bias="no"` would silently mean yes."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_key(key: Any, owner: str) -> None:
    """A `TypeError` unless `key` is a JAX array (a PRNG key), as `jax.random` needs."""
    if not isinstance(key, jax.Array | np.ndarray):
        raise TypeError(
            f"{owner}: key must be a JAX PRNG key, got {type(key).__qualname__} {key!r}: "
            "pass jax.random.key(seed)"
        )
