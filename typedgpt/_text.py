"""Checks on the text and token ids that tokenizers and datasets take, and atomic text files.

Text is a `str` of Unicode characters; `check_text` refuses anything else, and a surrogate
code point (U+D800..U+DFFF), which is not a character and has no UTF-8 bytes, with an error
that names it and its position. `"lines"` mode splits a text into documents with
`split_lines`; `check_token_ids` is what every tokenizer's `decode` accepts; and
`write_text_atomic` writes a file (a saved tokenizer) that is never seen half-written.
"""

import numbers
import operator
import os
import re
import reprlib
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, SupportsIndex

import numpy as np

TextMode = Literal["lines", "stream"]
"""How a text becomes documents: `"lines"`, one document per non-empty line (stripped), or
`"stream"`, the whole text as one stream in which newline is an ordinary character."""

_MODES = ("lines", "stream")
SURROGATE = re.compile("[\ud800-\udfff]")
"""Matches a surrogate code point (U+D800..U+DFFF), which has no UTF-8 encoding."""


def split_lines(text: str) -> list[str]:
    """The documents of `"lines"` mode: every line stripped of surrounding whitespace (which
    also drops a Windows `"\\r"`), empty lines left out, in order (microgpt's rule)."""
    return [line for _, line in numbered_lines(text)]


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """`split_lines(text)`, each with its line number in `text` (from 1), for errors."""
    stripped = (line.strip() for line in text.split("\n"))
    return [(number, line) for number, line in enumerate(stripped, 1) if line]


def check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")


def check_text(text: object) -> None:
    """Reject what is not a `str` (`TypeError`) or holds a surrogate code point
    (`ValueError`, see `surrogate_error`). Bytes would iterate as ints, and fail far from here.
    """
    if not isinstance(text, str):
        raise not_a_str(text)
    if not text.isascii():  # ASCII, the common case, is checked in constant time
        match = SURROGATE.search(text)
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


def is_int(value: object) -> bool:
    """An int or a NumPy integer, not a bool: a size, a seed or a token id."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_real(value: object) -> bool:
    """A real number (an int, a float, a NumPy number), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def check_token_ids(ids: Iterable[SupportsIndex], vocab_size: int) -> list[int]:
    """`ids` as a list of ints in `0 .. vocab_size - 1`, or the error `Tokenizer.decode`
    documents."""
    if isinstance(ids, str | bytes | bytearray):
        raise TypeError(
            f"decode takes token ids, got a {type(ids).__name__}: turn text into ids with encode"
        )
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
        example = f", e.g. [{reprlib.repr(ids)}]" if _as_index(ids) is not None else ""
        raise TypeError(
            f"ids must be an iterable of int token ids, got {type(ids).__qualname__} "
            f"{reprlib.repr(ids)}: pass a list of ids{example}"
        )
    out = []
    for position, i in enumerate(given):
        # bool is an index to Python: True would decode as id 1.
        index = None if isinstance(i, bool | np.bool_) else _as_index(i)
        if index is None:
            fix = (
                "decode a batch row by row ([tokenizer.decode(row) for row in ids])"
                if isinstance(i, Iterable) and not isinstance(i, str) and getattr(i, "ndim", 1) != 0
                else "pass the int ids a model or encode produced"
            )
            on_device = hasattr(i, "dtype") and not isinstance(i, np.generic)  # JAX, 0-d
            raise TypeError(
                f"token id {reprlib.repr(i)} at position {position} is a "
                f"{f'{i.dtype} array' if on_device else type(i).__qualname__}, not an int: {fix}"
            )
        if not 0 <= index < vocab_size:
            raise ValueError(
                f"token id {index} at position {position} is outside this tokenizer's ids "
                f"0..{vocab_size - 1}: decode ids from a model whose vocab_size is "
                f"the tokenizer's ({vocab_size})"
            )
        out.append(index)
    return out


def _as_index(value: object) -> int | None:
    """`value` as an int if Python treats it as an index (int, NumPy integer), else None."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path`, UTF-8, as `write_atomic` does, into a folder that exists."""
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot write {path}: it is a folder; name a file in it, such as "
            f"{path / 'tokenizer.json'}"
        )
    write_atomic(path, text.encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part.

    The data goes to a new file beside `path`, made as `open()` makes one (mode 0o666 less
    the umask, where `tempfile` would make it private), then renamed over `path`; the
    rename is made durable where the folder can be opened (not on Windows). A symbolic link
    is followed: the file it names is replaced, the link kept. A path that is something else
    than a file (a device such as /dev/null, a pipe) raises `ValueError`: a rename would
    replace it with a file.
    """
    path = path.resolve() if path.is_symlink() else path
    if path.exists() and not path.is_file() and not path.is_dir():  # a folder: the rename's error
        raise ValueError(
            f"cannot write {path}: it is not a regular file (a device, pipe or socket), which "
            "replacing it with a file would destroy; name a file"
        )
    temp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
