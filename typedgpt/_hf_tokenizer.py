"""Hugging Face tokenizers: `HFTokenizer`, and reading one from a Hugging Face folder.

`HFTokenizer` puts a `tokenizers` tokenizer behind typedgpt's `Tokenizer` interface, with
GPT-2's `<|endoftext|>` as the id that opens and closes documents. Its `from_pretrained`
reads `tokenizer.json`, or `vocab.json` plus `merges.txt`, with the settings of
`tokenizer_config.json` that transformers applies.
"""

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self, SupportsIndex, final

import tokenizers

from ._hf_files import (
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    _json_bytes,
    _read_json,
    add_listed_tokens,
    added_tokens_decoder,
    resolve_pretrained,
    tokenizer_class,
)
from ._text import check_text
from ._tokenizer import Tokenizer

SPECIAL_TOKENS_FILE = "special_tokens_map.json"
VOCAB_FILE, MERGES_FILE = "vocab.json", "merges.txt"
END_OF_TEXT = "<|endoftext|>"
# tokenizer_config.json's names of transformers' GPT-2 tokenizer, which builds its own
# byte-level pre-tokenizer with add_prefix_space false unless the file says otherwise.
_GPT2_TOKENIZERS = ("GPT2Tokenizer", "GPT2TokenizerFast")


def _read_settings(path: Path) -> dict[str, Any]:
    """The JSON object of a tokenizer settings file, or `{}` when there is none."""
    data = _read_json(path) if path.is_file() else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object: it may be corrupt")
    return data


def _eos_token(path: Path, data: dict[str, Any] | None = None) -> str | None:
    """The `eos_token` a settings file names, or `None` when it names none (or is absent)."""
    token = (_read_settings(path) if data is None else data).get("eos_token")
    if isinstance(token, dict):  # an AddedToken, as older transformers saved them
        token = token.get("content")
    if token is not None and not isinstance(token, str):
        raise ValueError(f"{path}: eos_token is {token!r}, not a token's text")
    return token


def _unreadable(path: Path, error: Exception) -> str:
    """Why the `tokenizers` library could not read `path`, and the fix."""
    try:
        typedgpt_kind = json.loads(path.read_bytes()).get("kind")
    except Exception:
        typedgpt_kind = None
    if isinstance(typedgpt_kind, str):
        return (
            f"{path} is a typedgpt tokenizer (kind {typedgpt_kind!r}), as a checkpoint "
            f"holds it, not a Hugging Face one: read it with tg.load_tokenizer({str(path)!r})"
        )
    return (
        f"{path} is not a valid tokenizer file ({error}): it may be truncated or corrupt; "
        "download it again"
    )


@final
class HFTokenizer(Tokenizer):
    """A Hugging Face `tokenizers` tokenizer, such as GPT-2's byte-level BPE, behind
    typedgpt's `Tokenizer` interface.

    GPT-2 has no BOS of microgpt's kind: `<|endoftext|>` separates documents, so it is
    `bos_id` here (the id that opens and closes documents, and where sampling stops), and
    `decode` skips it. `encode` adds no special tokens.

    **Arguments:**

    - `tokenizer`: a `tokenizers.Tokenizer`.
    - `bos_token`: the token that separates documents, `<|endoftext|>` by default; it must
      be in the vocabulary, else `ValueError`. It is made a special token, as transformers
      makes it (of a copy of `tokenizer`, when it is not one yet): one id wherever it is in
      a text, here and once saved.

    Ids run from 0 to the largest id of the vocabulary (`vocab_size` is one more): an id
    that a vocabulary skips decodes as the `tokenizers` library decodes it, usually to `''`.
    A `tokenizer` that is not a `tokenizers.Tokenizer`, or a `bos_token` that is not a
    `str`, raises `TypeError`.
    """

    def __init__(self, tokenizer: tokenizers.Tokenizer, *, bos_token: str = END_OF_TEXT) -> None:
        if not isinstance(tokenizer, tokenizers.Tokenizer):
            raise TypeError(
                f"HFTokenizer wraps a tokenizers.Tokenizer, got {type(tokenizer).__qualname__}"
            )
        if not isinstance(bos_token, str):
            raise TypeError(
                f"bos_token must be the text of a token, such as '<|endoftext|>', got "
                f"{bos_token!r} ({type(bos_token).__qualname__}): pass the token, not its id"
            )
        bos_id = tokenizer.token_to_id(bos_token)
        if bos_id is None:
            raise ValueError(
                f"the tokenizer has no token {bos_token!r} to open and close documents: pass "
                "bos_token=<a token of its vocabulary>"
            )
        if bos_token not in {t.content for t in tokenizer.get_added_tokens_decoder().values()}:
            tokenizer = tokenizers.Tokenizer.from_str(tokenizer.to_str())
            tokenizer.add_special_tokens([tokenizers.AddedToken(bos_token, special=True)])
        self._tokenizer = tokenizer
        self._bos_token = bos_token
        self._bos_id: int = bos_id
        # vocab_size, and the count of tokens it was found for: reading the vocabulary takes
        # tens of milliseconds, so it is read again only once tokens have been added.
        self._size = (-1, 0)

    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | os.PathLike[str],
        *,
        revision: str = "main",
        bos_token: str | None = None,
    ) -> Self:
        """The tokenizer of a Hugging Face folder (or a name in the local cache, as
        `from_pretrained`): `tokenizer.json`, else GPT-2's `vocab.json` and `merges.txt`,
        with the settings of `tokenizer_config.json` that transformers applies to it.

        - With `vocab.json` and `merges.txt` it is built as transformers builds GPT-2's: a
          byte-level BPE, with the tokens of `added_tokens_decoder` in
          `tokenizer_config.json` (else of `added_tokens.json`) at their ids.
        - `add_prefix_space` from `tokenizer_config.json` is set on the byte-level
          pre-tokenizer; without it, false for GPT-2's class (`GPT2Tokenizer`, or no
          `tokenizer_class` and `model_type` `gpt2` in `config.json`), as in transformers.
        - The token that opens and closes documents (`bos_token` here) is the argument
          `bos_token`, else the `eos_token` of `special_tokens_map.json` (unless
          `tokenizer_config.json` has `added_tokens_decoder`, as transformers reads them),
          else that of `tokenizer_config.json`, else `<|endoftext|>`, made a special token.

        `revision` is as for `from_pretrained`. Raises `FileNotFoundError` for a missing
        folder or tokenizer, `ValueError` for unusable files or a `bos_token` not in it."""
        if bos_token is not None and not isinstance(bos_token, str):
            raise TypeError(
                f"bos_token must be the text of a token, such as '<|endoftext|>', got "
                f"{type(bos_token).__qualname__}"
            )
        folder = resolve_pretrained(path_or_name, revision=revision)
        settings = folder / TOKENIZER_CONFIG_FILE
        data = _read_settings(settings)
        if bos_token is None and "added_tokens_decoder" not in data:
            bos_token = _eos_token(folder / SPECIAL_TOKENS_FILE)
        if bos_token is None:
            bos_token = _eos_token(settings, data)
        if bos_token is None:
            bos_token = END_OF_TEXT
        prefix_space = data.get("add_prefix_space")
        if prefix_space is None and tokenizer_class(folder, data) in _GPT2_TOKENIZERS:
            prefix_space = False
        if prefix_space is not None and not isinstance(prefix_space, bool):
            raise ValueError(f"{settings}: add_prefix_space is {prefix_space!r}, not true or false")
        if (folder / TOKENIZER_FILE).is_file():
            try:
                tokenizer = tokenizers.Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            except Exception as error:
                raise ValueError(_unreadable(folder / TOKENIZER_FILE, error)) from None
        else:
            vocab, merges = folder / VOCAB_FILE, folder / MERGES_FILE
            if not (vocab.is_file() and merges.is_file()):
                raise FileNotFoundError(
                    f"{folder} has no tokenizer: expected {TOKENIZER_FILE}, or {VOCAB_FILE} "
                    f"and {MERGES_FILE}; download them into it"
                )
            try:
                bpe = tokenizers.models.BPE.from_file(str(vocab), str(merges))
            except Exception as error:
                raise ValueError(
                    f"{vocab} and {merges} are not a valid BPE vocabulary ({error}): they may "
                    "be truncated or corrupt; download them again"
                ) from None
            tokenizer = tokenizers.Tokenizer(bpe)
            tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel()
            tokenizer.decoder = tokenizers.decoders.ByteLevel()
            prefix_space = bool(prefix_space)
        byte_level = tokenizer.pre_tokenizer
        if prefix_space is not None and isinstance(byte_level, tokenizers.pre_tokenizers.ByteLevel):
            byte_level.add_prefix_space = prefix_space
        add_listed_tokens(tokenizer, folder, data)
        if tokenizer.token_to_id(bos_token) is None:
            raise ValueError(
                f"the tokenizer of {folder} has no token {bos_token!r} to open and close "
                "documents: pass bos_token=<a token of its vocabulary> to "
                "HFTokenizer.from_pretrained, or set eos_token in its tokenizer_config.json"
            )
        return cls(tokenizer, bos_token=bos_token)

    @property
    def tokenizer(self) -> tokenizers.Tokenizer:
        """The wrapped `tokenizers.Tokenizer`."""
        return self._tokenizer

    @property
    def bos_token(self) -> str:
        """The text of the token that opens and closes documents (`<|endoftext|>`)."""
        return self._bos_token

    @property
    def bos_id(self) -> int:
        """The id of `bos_token`, which opens and closes documents."""
        return self._bos_id

    @property
    def vocab_size(self) -> int:
        """One more than the largest id, added tokens (such as `<|endoftext|>`) included:
        how many ids there are, unless the vocabulary skips some (a model for it needs a
        row for every id up to its largest)."""
        count = self._tokenizer.get_vocab_size(with_added_tokens=True)
        if self._size[0] != count:
            ids = self._tokenizer.get_vocab(with_added_tokens=True).values()
            self._size = (count, max(ids, default=-1) + 1)
        return self._size[1]

    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without special tokens added (GPT-2 adds none).

        Raises `TypeError` for what is not a `str`, and `ValueError` for text holding a
        surrogate code point (which has no UTF-8 encoding), naming its position.
        """
        check_text(text)
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        """The text of `ids`, BOS ids skipped. Raises as `Tokenizer.decode` says."""
        bos = self._bos_id
        kept = [i for i in self._check_ids(ids) if i != bos]
        return self._tokenizer.decode(kept, skip_special_tokens=False)

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "hf", "bos_token": ..., "tokenizer": ...}`, the last the
        `tokenizers` library's own JSON."""
        return {
            "kind": "hf",
            "bos_token": self._bos_token,
            "tokenizer": json.loads(self._tokenizer.to_str()),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The tokenizer `to_json()` described; `ValueError` when a field is missing or
        invalid (a `bos_token` that is not a `str` included)."""
        try:
            tokenizer = tokenizers.Tokenizer.from_str(json.dumps(data["tokenizer"]))
            bos_token = data["bos_token"]
        except Exception as error:
            raise ValueError(
                f"an 'hf' tokenizer needs fields 'tokenizer' and 'bos_token' ({error!r})"
            ) from None
        if not isinstance(bos_token, str):
            raise ValueError(
                f"an 'hf' tokenizer's 'bos_token' must be the text of a token, such as "
                f"'<|endoftext|>', got {bos_token!r} ({type(bos_token).__qualname__}): "
                "it may be corrupt; write it with tokenizer.save(path) or tokenizer.to_json()"
            )
        return cls(tokenizer, bos_token=bos_token)

    def files(self, *, model_max_length: int) -> dict[str, bytes]:
        """`tokenizer.json` and `tokenizer_config.json`, as transformers reads them: the
        class is `PreTrainedTokenizerFast`, which takes `tokenizer.json` as it is (GPT-2's
        own class would rebuild it as a byte-level BPE and drop any other setting).
        `model_max_length` is the longest input transformers should allow (the model's
        `max_seq_len`). The added tokens are listed, so that transformers, as typedgpt, reads
        no `special_tokens_map.json` or `added_tokens.json` left in the folder.
        **Returns:** the bytes of each file, by file name."""
        settings = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self._bos_token,
            "eos_token": self._bos_token,
            "unk_token": getattr(self._tokenizer.model, "unk_token", None) or self._bos_token,
            "model_max_length": model_max_length,
            "added_tokens_decoder": added_tokens_decoder(self._tokenizer),
        }
        return {
            TOKENIZER_FILE: self._tokenizer.to_str(pretty=True).encode(),
            TOKENIZER_CONFIG_FILE: _json_bytes(settings),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HFTokenizer):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self._bos_token, self._tokenizer.to_str()))

    def __repr__(self) -> str:
        return f"HFTokenizer(vocab_size={self.vocab_size}, bos_token={self._bos_token!r})"
