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
import operator
import os
import re
import reprlib
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, SupportsIndex, final

import numpy as np

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
_FIX_JSON = "it may be corrupt; write it with tokenizer.save(path) or tokenizer.to_json()"
_SURROGATE = re.compile("[\ud800-\udfff]")


def split_lines(text: str) -> list[str]:
    """The documents of `"lines"` mode: every line stripped of surrounding whitespace (which
    also drops a Windows `"\\r"`), empty lines left out, in order (microgpt's rule)."""
    return [line for _, line in numbered_lines(text)]


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """`split_lines(text)`, each with its line number in `text` (from 1), for errors."""
    stripped = (line.strip() for line in text.split("\n"))
    return [(number, line) for number, line in enumerate(stripped, 1) if line]


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")


def check_text(text: object) -> None:
    """Reject what is not a `str` (`TypeError`) or holds a surrogate code point
    (`ValueError`, see `surrogate_error`). Bytes would iterate as ints, and fail far from here.
    """
    if not isinstance(text, str):
        raise not_a_str(text)
    if not text.isascii():  # ASCII, the common case, is checked in constant time
        match = _SURROGATE.search(text)
        if match is not None:
            raise surrogate_error(text, match.start())


def not_a_str(text: object) -> TypeError:
    """The error for a `text` that is not a `str`, with the fix that fits what it is."""
    if isinstance(text, bytes | bytearray):
        fix = "decode it first (data.decode('utf-8')), or read a file with tg.load_text(path)"
    elif isinstance(text, list | tuple) and text and all(isinstance(t, str) for t in text):
        fix = "encode one text at a time ([tokenizer.encode(t) for t in texts])"
    else:
        fix = "pass a str, or read a file with tg.load_text(path)"
    return TypeError(f"text must be a str, got {type(text).__qualname__}: {fix}")


def surrogate_error(text: str, position: int) -> ValueError:
    """The error for the surrogate code point at `text[position]`, which UTF-8 cannot encode."""
    line = text.count("\n", 0, position) + 1
    return ValueError(
        f"text has a surrogate code point {text[position]!r} at position {position} (line "
        f"{line}), which is not a character and has no UTF-8 encoding; it usually comes from "
        "bytes that are not valid UTF-8, read with errors='surrogateescape': read the file "
        "as UTF-8 without surrogateescape (tg.load_text(path) names the bad byte), or "
        "replace the character (text.encode('utf-8', 'replace').decode('utf-8'))"
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
        Raises `FileNotFoundError` when the folder does not exist, and `IsADirectoryError`
        when `path` is a folder."""
        _write_text_atomic(Path(path), json.dumps(self.to_json(), indent=2) + "\n")

    def _check_ids(self, ids: Iterable[SupportsIndex]) -> list[int]:
        """`ids` as a list of ints in `0 .. vocab_size - 1`, or the error `decode` documents."""
        if isinstance(ids, str):
            raise TypeError("decode takes token ids, got a str: turn text into ids with encode")
        if hasattr(ids, "__array__"):  # NumPy, JAX: one transfer, not a device read per id
            array = np.asarray(ids)
            if array.ndim != 1:
                fix = (
                    "pass [int(ids)] for one id"
                    if array.ndim == 0
                    else "decode a batch row by row ([tokenizer.decode(row) for row in ids])"
                )
                raise ValueError(
                    f"ids must be one sequence of token ids (a 1-D array), got an array of "
                    f"shape {array.shape}: {fix}"
                )
            if array.size and array.dtype.kind not in "iu":
                raise TypeError(
                    f"token ids must be integers, got an array of dtype {array.dtype}: pass "
                    "the ids the model produced, or ids.astype(np.int32) for whole numbers"
                )
            given: list[Any] = array.tolist()
        elif isinstance(ids, Iterable):
            given = list(ids)
        else:
            raise TypeError(
                f"ids must be an iterable of int token ids, got {type(ids).__qualname__} "
                f"{reprlib.repr(ids)}: pass a list of ids, e.g. [{reprlib.repr(ids)}]"
            )
        out = []
        for position, i in enumerate(given):
            # bool is an index to Python: True would decode as id 1.
            index = None if isinstance(i, bool | np.bool_) else _as_index(i)
            if index is None:
                fix = (
                    "decode a batch row by row ([tokenizer.decode(row) for row in ids])"
                    if isinstance(i, Iterable) and not isinstance(i, str)
                    else "pass the int ids a model or encode produced"
                )
                raise TypeError(
                    f"token id {reprlib.repr(i)} at position {position} is a "
                    f"{type(i).__qualname__}, not an int: {fix}"
                )
            if not 0 <= index < self.vocab_size:
                raise ValueError(
                    f"token id {index} at position {position} is outside this tokenizer's ids "
                    f"0..{self.vocab_size - 1}: decode ids from a model whose vocab_size is "
                    f"the tokenizer's ({self.vocab_size})"
                )
            out.append(index)
        return out


def _as_index(value: object) -> int | None:
    """`value` as an int if Python treats it as an index (int, NumPy integer), else None."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


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
            if _SURROGATE.match(char):
                raise surrogate_error(text, position) from None
            hint = " (build the tokenizer with mode='stream' to keep newlines)"
            raise ValueError(
                f"character {char!r} at position {position} is not one of the tokenizer's "
                f"{len(self.chars)} characters: {_FIX_UNSEEN}" + (hint if char == "\n" else "")
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


def tokenizer_from_json(data: Mapping[str, Any]) -> "CharTokenizer | ByteTokenizer | HFTokenizer":
    """The tokenizer that `to_json()` described, chosen by its `"kind"` field (`"char"`,
    `"byte"` or `"hf"`). Raises `ValueError` for data that is not such an object."""
    if not isinstance(data, Mapping):
        raise ValueError(
            f"tokenizer JSON must be an object, got {type(data).__name__}: {_FIX_JSON}"
        )
    kind = data.get("kind")
    if kind == "byte":
        return ByteTokenizer()
    if kind == "hf":
        from ._hf import HFTokenizer

        return HFTokenizer.from_json(data)
    if kind == "char":
        chars = data.get("chars")
        if not isinstance(chars, str):
            raise ValueError(
                f"a char tokenizer needs a string field 'chars', got {chars!r}: {_FIX_JSON}"
            )
        return CharTokenizer(chars)
    if kind is None and "model" in data:  # the keys of a `tokenizers` tokenizer.json
        raise ValueError(
            "this is a Hugging Face tokenizer.json (it has a 'model' and no 'kind'): load it "
            "with tg.HFTokenizer.from_pretrained(folder), or "
            "tg.HFTokenizer(tokenizers.Tokenizer.from_file(path))"
        )
    raise ValueError(
        f"tokenizer JSON needs 'kind' to be 'char' or 'byte', got {kind!r} ('hf' is also "
        f"accepted, for an HFTokenizer): {_FIX_JSON}"
    )


def load_tokenizer(path: str | os.PathLike[str]) -> "CharTokenizer | ByteTokenizer | HFTokenizer":
    """Read a tokenizer that `Tokenizer.save` wrote.

    Raises `FileNotFoundError` if `path` does not exist, `IsADirectoryError` if it is a
    folder, and `ValueError` naming `path` if it is not a tokenizer file (corrupt,
    truncated, or another kind of JSON, such as a Hugging Face `tokenizer.json`).
    """
    path = Path(path)
    if path.is_dir():
        inside = path / "tokenizer.json"
        fix = f"pass {inside}" if inside.is_file() else "name the tokenizer file in it"
        raise IsADirectoryError(f"{path} is a folder, not a tokenizer file: {fix}")
    if not path.is_file():
        raise FileNotFoundError(
            f"no tokenizer file at {path}: check the path, or save one with tokenizer.save(path)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(
            f"{path} is not a valid tokenizer file ({error}): it may be corrupt or truncated; "
            "save the tokenizer again"
        ) from error
    try:
        return tokenizer_from_json(data)
    except ValueError as error:
        raise ValueError(f"{path} is not a valid tokenizer file: {error}") from error


def _write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a part."""
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot write {path}: it is a folder; name a file in it, such as "
            f"{path / 'tokenizer.json'}"
        )
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
