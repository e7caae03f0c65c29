"""Tokenizers: characters or UTF-8 bytes to token ids, with a BOS id that brackets documents.

Both follow microgpt's scheme: the ordinary tokens take ids `0 .. n-1`, one more id `n` is
BOS (beginning of sequence), and `vocab_size` is `n + 1`. BOS opens and closes every document
(`[BOS] + encode(doc) + [BOS]`), so a model learns where documents start and end from the same
token, and `decode` skips it.

- `CharTokenizer`: the sorted set of characters of a training text. Small (27 ids for
  lowercase names), but it cannot encode a character it never saw.
- `ByteTokenizer`: the 256 byte values of UTF-8 and BOS = 256; encodes any text.

A tokenizer is saved as a small JSON file (`{"kind": "char", "chars": "abc"}` or
`{"kind": "byte"}`; a Hugging Face `HFTokenizer` as `{"kind": "hf", ...}`), written
atomically, and read back with `load_tokenizer`.
"""

import abc
import json
import operator
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, SupportsIndex, final

if TYPE_CHECKING:
    from ._hf import HFTokenizer

TextMode = Literal["lines", "stream"]
"""How a text becomes documents: `"lines"`, one document per non-empty line (stripped), or
`"stream"`, the whole text as one stream in which newline is an ordinary character."""

_MODES = ("lines", "stream")
_FIX_UNSEEN = (
    "the tokenizer was built from a corpus without it: use characters from the training "
    "text, or the byte-level tokenizer (ByteTokenizer)"
)


def split_lines(text: str) -> list[str]:
    """The documents of `"lines"` mode: every line stripped of surrounding whitespace (which
    also drops a Windows `"\\r"`), empty lines left out, in order (microgpt's rule)."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")


def check_text(text: object) -> None:
    """Reject what is not a `str`: bytes would iterate as ints, and fail far from here."""
    if not isinstance(text, str):
        raise TypeError(
            f"text must be a str, got {type(text).__qualname__}: decode it first "
            "(data.decode('utf-8')), or read a file with tg.load_text(path)"
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
        """The ids of `text`, without BOS. A `text` that is not a `str` raises `TypeError`."""

    @abc.abstractmethod
    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        """The text of `ids` (ints or NumPy integers); BOS ids are skipped.

        An id outside `0 .. vocab_size - 1` raises `ValueError`, a bool `TypeError`.
        """

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with a `"kind"` field; `tokenizer_from_json` reads it back."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `to_json()` to `path` atomically: a temp file in the same folder, flushed,
        fsynced, then renamed over `path`, so a crash never leaves a half-written file.
        Raises `FileNotFoundError` when the folder does not exist."""
        _write_text_atomic(Path(path), json.dumps(self.to_json(), indent=2) + "\n")

    def _check_ids(self, ids: Iterable[SupportsIndex]) -> list[int]:
        given = list(ids)
        for position, i in enumerate(given):
            if isinstance(i, bool):  # an index, to Python: True would decode as id 1
                raise TypeError(f"token id {i} at position {position} is a bool, not an int")
        out = [operator.index(i) for i in given]
        for position, i in enumerate(out):
            if not 0 <= i < self.vocab_size:
                raise ValueError(
                    f"token id {i} at position {position} is outside this tokenizer's ids "
                    f"0..{self.vocab_size - 1}: decode ids from a model whose vocab_size is "
                    f"the tokenizer's ({self.vocab_size})"
                )
        return out


@final
@dataclass(frozen=True)
class CharTokenizer(Tokenizer):
    """Characters to ids: `chars[i]` has id `i`, and BOS is `len(chars)`.

    **Arguments:**

    - `chars`: the distinct characters, sorted by code point (`from_text` builds them);
      an empty, unsorted or repeating string raises `ValueError`.

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
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str, *, mode: TextMode = "lines") -> Self:
        """The tokenizer of the characters in `text`'s documents.

        In `"lines"` mode newline separates documents, so it is not a token, and neither is
        the whitespace `split_lines` strips from the ends of lines; in `"stream"` mode every
        character of `text`, newline included, is a token. Raises `TypeError` when `text`
        is not a `str`, and `ValueError` for an unknown `mode` or a text with no characters
        to keep.
        """
        _check_mode(mode)
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
        return len(self.chars)

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1

    def encode(self, text: str) -> list[int]:
        """The ids of `text`'s characters, without BOS.

        A character the tokenizer never saw raises `ValueError` naming it and its position.
        """
        check_text(text)
        index = self._index
        try:
            return [index[c] for c in text]
        except KeyError:
            position, char = next((p, c) for p, c in enumerate(text) if c not in index)
            hint = " (build the tokenizer with mode='stream' to keep newlines)"
            raise ValueError(
                f"character {char!r} at position {position} is not one of the tokenizer's "
                f"{len(self.chars)} characters: {_FIX_UNSEEN}" + (hint if char == "\n" else "")
            ) from None

    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        bos = self.bos_id
        return "".join(self.chars[i] for i in self._check_ids(ids) if i != bos)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "char", "chars": self.chars}


@final
@dataclass(frozen=True)
class ByteTokenizer(Tokenizer):
    """UTF-8 bytes to ids: byte `b` has id `b` (0..255), BOS is 256, `vocab_size` is 257.

    Encodes any text. `decode` replaces bytes that are not valid UTF-8 (a model can emit a
    partial character) with U+FFFD.
    """

    @property
    def bos_id(self) -> int:
        return 256

    @property
    def vocab_size(self) -> int:
        return 257

    def encode(self, text: str) -> list[int]:
        check_text(text)
        return list(text.encode("utf-8"))

    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        data = bytes(i for i in self._check_ids(ids) if i != 256)
        return data.decode("utf-8", errors="replace")

    def to_json(self) -> dict[str, Any]:
        return {"kind": "byte"}


def tokenizer_from_json(data: Mapping[str, Any]) -> "CharTokenizer | ByteTokenizer | HFTokenizer":
    """The tokenizer that `to_json()` described, chosen by its `"kind"` field (`"char"`,
    `"byte"` or `"hf"`). Raises `ValueError` for data that is not such an object."""
    if not isinstance(data, Mapping):
        raise ValueError(f"tokenizer JSON must be an object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind == "byte":
        return ByteTokenizer()
    if kind == "hf":
        from ._hf import HFTokenizer

        return HFTokenizer.from_json(data)
    if kind == "char":
        chars = data.get("chars")
        if not isinstance(chars, str):
            raise ValueError(f"a char tokenizer needs a string field 'chars', got {chars!r}")
        return CharTokenizer(chars)
    raise ValueError(
        f"tokenizer JSON needs 'kind' to be 'char' or 'byte', got {kind!r} ('hf' is also "
        "accepted, for an HFTokenizer)"
    )


def load_tokenizer(path: str | os.PathLike[str]) -> "CharTokenizer | ByteTokenizer | HFTokenizer":
    """Read a tokenizer that `Tokenizer.save` wrote.

    Raises `FileNotFoundError` if `path` is not a file and `ValueError` naming `path` if it
    is not a tokenizer file (corrupt, truncated, or another kind of JSON).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no tokenizer file at {path}: check the path, or save one with tokenizer.save(path)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tokenizer_from_json(data)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(
            f"{path} is not a valid tokenizer file ({error}): it may be corrupt or truncated; "
            "save the tokenizer again"
        ) from error


def _write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a part."""
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as handle:
        temp = Path(handle.name)
        try:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    # Make the rename itself durable; directories cannot be opened this way on Windows.
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
