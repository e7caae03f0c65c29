"""Reading a tokenizer back: `tokenizer_from_json` builds the tokenizer that a `to_json()`
dict describes, chosen by its `"kind"` (`CharTokenizer`, `ByteTokenizer`, or a Hugging Face
`HFTokenizer`), and `load_tokenizer` reads the file that `Tokenizer.save` wrote."""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._tokenizer import ByteTokenizer, CharTokenizer

if TYPE_CHECKING:
    from ._hf_tokenizer import HFTokenizer

_FIX_JSON = "it may be corrupt; write it with tokenizer.save(path) or tokenizer.to_json()"


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
        from ._hf_tokenizer import HFTokenizer

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

    A leading `~` is expanded to the home folder, and a UTF-8 byte-order mark (an editor's)
    is skipped. Raises `FileNotFoundError` if `path` does not exist, `IsADirectoryError` if
    it is a folder, and `ValueError` naming `path` if it is not a tokenizer file (corrupt,
    truncated, or another kind of JSON, such as a Hugging Face `tokenizer.json`).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        inside = path / "tokenizer.json"
        fix = f"pass {inside}" if inside.is_file() else "name the tokenizer file in it"
        if inside.is_file() and _is_hugging_face(inside):
            fix = (
                "it holds a Hugging Face tokenizer: load it with "
                f"tg.HFTokenizer.from_pretrained({str(path)!r})"
            )
        raise IsADirectoryError(f"{path} is a folder, not a tokenizer file: {fix}")
    if not path.is_file():
        raise FileNotFoundError(
            f"no tokenizer file at {path}: check the path, or save one with tokenizer.save(path)"
        )
    try:  # from bytes, json reads UTF-8 with or without a byte-order mark (and UTF-16/32)
        data = json.loads(path.read_bytes())
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; RecursionError is deep nesting.
    except (ValueError, RecursionError) as error:
        raise ValueError(
            f"{path} is not a valid tokenizer file ({error}): it may be corrupt or truncated; "
            "save the tokenizer again"
        ) from error
    try:
        return tokenizer_from_json(data)
    except ValueError as error:
        raise ValueError(f"{path} is not a valid tokenizer file: {error}") from error


def _is_hugging_face(path: Path) -> bool:
    """Whether `path` holds a `tokenizers` tokenizer.json, not one `Tokenizer.save` wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "kind" not in data and "model" in data
