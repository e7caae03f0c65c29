"""typedgpt: shape-typed GPT models on JAX, Equinox, jaxtyping and beartype.

Dimension vocabulary, used by every annotation in the package:

- `seq`: query positions, the tokens of the sequence being processed.
- `kv_seq`: key and value positions, the length of the KV cache.
- `embed`: the residual width (`GPTConfig.embed_dim`).
- `heads`, `head_dim`: attention heads and the width of one head.
- `kv_heads`: key and value heads (grouped-query attention).
- `mlp`: the hidden width of the MLP (`GPTConfig.mlp_dim`).
- `vocab`: the number of token ids.
- `positions`: the number of position embeddings (`GPTConfig.max_seq_len`).
- `layers`: the stacked blocks of a model.
- `batch`: independent sequences (layers act on one sequence; batch with `jax.vmap`).

Generic leaf layers use local names: `Linear` maps `in` to `out`.
"""

from importlib import import_module
from typing import TYPE_CHECKING

# The names below are imported on first use, not with the package: `import typedgpt.cli`
# (the `typedgpt` command, before it parses its arguments) and `import typedgpt.mypy_plugin`
# (mypy) then load no JAX. mypy and the API docs read the same names from this block.
if TYPE_CHECKING:
    from ._attention import CausalSelfAttention as CausalSelfAttention
    from ._block import Block as Block
    from ._checkpoint import CheckpointError as CheckpointError
    from ._checkpoint import save_checkpoint as save_checkpoint
    from ._checkpoint_load import load_checkpoint as load_checkpoint
    from ._config import GPTConfig as GPTConfig
    from ._corpus import builtin_corpus as builtin_corpus
    from ._corpus import load_text as load_text
    from ._data import Batch as Batch
    from ._data import TextDataset as TextDataset
    from ._explain import Explanation as Explanation
    from ._explain import LayerCall as LayerCall
    from ._explain import explain as explain
    from ._generate import generate as generate
    from ._gpt import GPT as GPT
    from ._hf import from_pretrained as from_pretrained
    from ._hf import save_pretrained as save_pretrained
    from ._hf_tokenizer import HFTokenizer as HFTokenizer
    from ._kv_cache import KVCache as KVCache
    from ._linear import Linear as Linear
    from ._mlp import MLP as MLP
    from ._norm import LayerNorm as LayerNorm
    from ._norm import RMSNorm as RMSNorm
    from ._rope import Rotary as Rotary
    from ._shape_error import ShapeError as ShapeError
    from ._softmax import Softmax as Softmax
    from ._swiglu import SwiGLU as SwiGLU
    from ._tokenizer import ByteTokenizer as ByteTokenizer
    from ._tokenizer import CharTokenizer as CharTokenizer
    from ._tokenizer import Tokenizer as Tokenizer
    from ._tokenizer_load import load_tokenizer as load_tokenizer
    from ._tokenizer_load import tokenizer_from_json as tokenizer_from_json
    from ._train import train as train
    from ._train_config import TrainConfig as TrainConfig
    from ._train_config import TrainingDiverged as TrainingDiverged
    from ._train_config import TrainResult as TrainResult
    from ._typed import TypedModule as TypedModule
    from ._typed import checks_enabled as checks_enabled
    from ._typed import set_checks as set_checks

# Where each name above lives.
_EXPORTS = {
    "CausalSelfAttention": "._attention",
    "Block": "._block",
    "CheckpointError": "._checkpoint",
    "save_checkpoint": "._checkpoint",
    "load_checkpoint": "._checkpoint_load",
    "GPTConfig": "._config",
    "builtin_corpus": "._corpus",
    "load_text": "._corpus",
    "Batch": "._data",
    "TextDataset": "._data",
    "Explanation": "._explain",
    "LayerCall": "._explain",
    "explain": "._explain",
    "generate": "._generate",
    "GPT": "._gpt",
    "from_pretrained": "._hf",
    "save_pretrained": "._hf",
    "HFTokenizer": "._hf_tokenizer",
    "KVCache": "._kv_cache",
    "Linear": "._linear",
    "MLP": "._mlp",
    "LayerNorm": "._norm",
    "RMSNorm": "._norm",
    "Rotary": "._rope",
    "ShapeError": "._shape_error",
    "Softmax": "._softmax",
    "SwiGLU": "._swiglu",
    "ByteTokenizer": "._tokenizer",
    "CharTokenizer": "._tokenizer",
    "Tokenizer": "._tokenizer",
    "load_tokenizer": "._tokenizer_load",
    "tokenizer_from_json": "._tokenizer_load",
    "train": "._train",
    "TrainConfig": "._train_config",
    "TrainingDiverged": "._train_config",
    "TrainResult": "._train_config",
    "TypedModule": "._typed",
    "checks_enabled": "._typed",
    "set_checks": "._typed",
}

__all__ = [*_EXPORTS, "__version__"]
__version__ = "0.1.0"


if not TYPE_CHECKING:  # to mypy, a module-level __getattr__ would make any name valid

    def __getattr__(name: str) -> object:
        """A name of `_EXPORTS`, imported from its module on first use (PEP 562)."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module, __name__), name)
        globals()[name] = value  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_EXPORTS})
