"""Tokenizers: characters or UTF-8 bytes to token ids, with a BOS id that brackets documents.

Both follow microgpt's scheme: the ordinary tokens take ids `0 .. n-1`, one more id `n` is
BOS (beginning of sequence), and `vocab_size` is `n + 1`. BOS opens and closes every document
(`[BOS] + encode(doc) + [BOS]`), so a model learns where documents start and end from the same
token, and `decode` skips it.

- `CharTokenizer`: the sorted set of characters of a training text. Small (27 ids for
  lowercase names), but it cannot encode a character it never saw.
- `ByteTokenizer`: the 256 byte values of UTF-8 and BOS = 256; encodes any text.

Text is a `str` of Unicode characters. A surrogate code point (U+D800..U+DFFF) is not a
character and has no UTF-8 bytes: Python makes one from each bad byte of a file or command-line
argument read with `errors="surrogateescape"`. Every tokenizer rejects it with the same
`ValueError`, naming it and its position, rather than learning or emitting it.

A tokenizer is saved as a small JSON file (`{"kind": "char", "chars": "abc"}` or
`{"kind": "byte"}`; a Hugging Face `HFTokenizer` as `{"kind": "hf", ...}`), written
atomically, and read back with `load_tokenizer`.
"""

import abc
import json
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, SupportsIndex, final

from ._text import (
    SURROGATE,
    TextMode,
    check_mode,
    check_text,
    check_token_ids,
    not_a_str,
    split_lines,
    surrogate_error,
    write_text_atomic,
)

_FIX_UNSEEN = (
    "the tokenizer was built from a corpus without it: use characters from the training "
    "text, or the byte-level tokenizer (ByteTokenizer)"
)


class Tokenizer(abc.ABC):
    """What every tokenizer provides: `encode`, `decode`, `bos_id`, `vocab_size`, and JSON.

    Ids are ints in `0 .. vocab_size - 1`; `bos_id` is the last of them in typedgpt's own
    tokenizers, and wherever the vocabulary puts it in an `HFTokenizer`.
    """

    @property
    @abc.abstractmethod
    def bos_id(self) -> int:
        """The id that opens and closes every document."""

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """The number of ids, BOS included (`vocab` in the dimension vocabulary)."""

    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without BOS.

        A `text` that is not a `str` raises `TypeError`; one with a surrogate code point
        (see the module docstring) `ValueError` naming it and its position.
        """

    @abc.abstractmethod
    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        """The text of `ids`; BOS ids are skipped.

        **Arguments:**

        - `ids`: one sequence of ids: ints, NumPy integers, or a 1-D integer NumPy or JAX
          array (read in one transfer, not id by id).

        Raises `ValueError` for an id outside `0 .. vocab_size - 1` (naming it and its
        position) or an array that is not 1-D (a batch: decode it row by row), and
        `TypeError` for a `str`, a bool, a float, or anything else that is not an int id.
        """

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with a `"kind"` field; `tokenizer_from_json` reads it back."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `to_json()` to `path` atomically: a temp file in the same folder, flushed,
        fsynced, then renamed over `path`, so a crash never leaves a half-written file.
        A leading `~` is expanded to the home folder. Raises `FileNotFoundError` when the
        folder does not exist, and `IsADirectoryError` when `path` is a folder."""
        write_text_atomic(Path(path).expanduser(), json.dumps(self.to_json(), indent=2) + "\n")

    def _check_ids(self, ids: Iterable[SupportsIndex]) -> list[int]:
        """`ids` as a list of ints in `0 .. vocab_size - 1`, or the error `decode` documents."""
        return check_token_ids(ids, self.vocab_size)


@final
@dataclass(frozen=True)
class CharTokenizer(Tokenizer):
    """Characters to ids: `chars[i]` has id `i`, and BOS is `len(chars)`.

    **Arguments:**

    - `chars`: the distinct characters, sorted by code point (`from_text` builds them);
      an empty, unsorted or repeating string, or one with a surrogate code point, raises
      `ValueError`.

    `CharTokenizer.from_text("abca")` has `chars == "abc"`, ids a=0, b=1, c=2, `bos_id == 3`
    and `vocab_size == 4`.
    """

    chars: str
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.chars, str) or not self.chars:
            raise ValueError(
                f"CharTokenizer.chars must be a non-empty string, got {self.chars!r}: "
                "build it with CharTokenizer.from_text(text)"
            )
        if list(self.chars) != sorted(set(self.chars)):
            raise ValueError(
                f"CharTokenizer.chars must be distinct and sorted by code point, got "
                f"{self.chars!r}: pass ''.join(sorted(set(chars)))"
            )
        check_text(self.chars)
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str, *, mode: TextMode = "lines") -> Self:
        """The tokenizer of the characters in `text`'s documents.

        In `"lines"` mode newline separates documents, so it is not a token, and neither is
        the whitespace `split_lines` strips from the ends of lines; in `"stream"` mode every
        character of `text`, newline included, is a token. Raises `TypeError` when `text`
        is not a `str`, and `ValueError` for an unknown `mode`, a text with no characters
        to keep, or a surrogate code point (naming it and its position).
        """
        check_mode(mode)
        check_text(text)
        chars = set("".join(split_lines(text))) if mode == "lines" else set(text)
        if not chars:
            raise ValueError(
                f"text has no characters to build a tokenizer from (mode={mode!r}, "
                f"{len(text)} characters, all whitespace or empty): give a non-empty text"
            )
        return cls("".join(sorted(chars)))

    @property
    def bos_id(self) -> int:
        """`len(chars)`, the id after the characters'."""
        return len(self.chars)

    @property
    def vocab_size(self) -> int:
        """`len(chars) + 1`: the characters and BOS."""
        return len(self.chars) + 1

    def encode(self, text: str) -> list[int]:
        """The ids of `text`'s characters, without BOS.

        Raises `TypeError` when `text` is not a `str`, and `ValueError` naming the character
        and its position for one the tokenizer never saw (or a surrogate code point).
        """
        if not isinstance(text, str):
            raise not_a_str(text)
        index = self._index
        try:
            return [index[c] for c in text]
        except KeyError:
            position, char = next((p, c) for p, c in enumerate(text) if c not in index)
            if SURROGATE.match(char):
                raise surrogate_error(text, position) from None
            hint = " (build the tokenizer with mode='stream' to keep newlines)"
            # A combining mark prints on the quote before it: name its code point. A text
            # in NFD ("e" + U+0301) misses the composed characters of an NFC corpus ("é").
            mark = f" (U+{ord(char):04X}, a combining mark)" if _is_mark(char) else ""
            fix = _FIX_UNSEEN + (hint if char == "\n" else "")
            if any(_is_mark(c) for c in text[position : position + 2]):
                fix += "; or compose accents first: unicodedata.normalize('NFC', text)"
            raise ValueError(
                f"character {char!r}{mark} at position {position} is not one of the tokenizer's "
                f"{len(self.chars)} characters: {fix}"
            ) from None

    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        """The characters of `ids`, BOS ids skipped. Raises as `Tokenizer.decode` says."""
        bos = self.bos_id
        return "".join(self.chars[i] for i in self._check_ids(ids) if i != bos)

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "char", "chars": chars}`."""
        return {"kind": "char", "chars": self.chars}


@final
@dataclass(frozen=True)
class ByteTokenizer(Tokenizer):
    """UTF-8 bytes to ids: byte `b` has id `b` (0..255), BOS is 256, `vocab_size` is 257.

    Encodes any text but a surrogate code point (which has no UTF-8 bytes). `decode`
    replaces bytes that are not valid UTF-8 (a model can emit a partial character) with
    U+FFFD, so it always returns text.
    """

    @property
    def bos_id(self) -> int:
        """256, the id after the bytes'."""
        return 256

    @property
    def vocab_size(self) -> int:
        """257: the 256 byte values and BOS."""
        return 257

    def encode(self, text: str) -> list[int]:
        """The UTF-8 bytes of `text`, without BOS: `list(text.encode("utf-8"))`.

        Raises `TypeError` when `text` is not a `str`, and `ValueError` naming a surrogate
        code point and its position (it has no UTF-8 bytes).
        """
        if not isinstance(text, str):
            raise not_a_str(text)
        try:
            return list(text.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise surrogate_error(text, error.start) from None

    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        """The UTF-8 text of `ids`, BOS ids skipped, with each byte that is not valid UTF-8
        (a cut-off or malformed character) replaced by U+FFFD, as
        `bytes(ids).decode("utf-8", errors="replace")` does. Raises as `Tokenizer.decode`
        says."""
        data = bytes(i for i in self._check_ids(ids) if i != 256)
        return data.decode("utf-8", errors="replace")

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "byte"}`."""
        return {"kind": "byte"}


def _is_mark(char: str) -> bool:
    """Whether `char` is a combining mark (Unicode category M), such as U+0301, the acute
    accent of a decomposed "é" (NFD), which a text in NFC does not hold."""
    return unicodedata.category(char).startswith("M")
