"""Tests for `CharTokenizer`, `ByteTokenizer` and their JSON files."""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import tokenizers
from hypothesis import given
from hypothesis import strategies as st

import typedgpt as tg
from typedgpt._text import split_lines
from typedgpt._tokenizer import ByteTokenizer, CharTokenizer, Tokenizer
from typedgpt._tokenizer_load import load_tokenizer, tokenizer_from_json


def test_char_tokenizer_hand_checked() -> None:
    tok = CharTokenizer.from_text("abca")
    assert tok.chars == "abc"
    assert tok.bos_id == 3
    assert tok.vocab_size == 4
    assert tok.encode("cab") == [2, 0, 1]
    assert tok.encode("") == []
    assert tok.decode([3, 2, 0, 1, 3]) == "cab"
    assert isinstance(tok, Tokenizer)


def test_char_tokenizer_ids_follow_code_points() -> None:
    tok = CharTokenizer.from_text("zZ a1")
    assert tok.chars == " 1Zaz"
    assert tok.encode("a Z") == [3, 0, 2]


def test_lines_mode_leaves_out_newline_and_stripped_whitespace() -> None:
    text = "emma\r\n  olivia \n\nava\n"
    assert split_lines(text) == ["emma", "olivia", "ava"]
    assert CharTokenizer.from_text(text).chars == "aeilmov"
    assert CharTokenizer.from_text(text, mode="lines").bos_id == 7


def test_stream_mode_keeps_every_character() -> None:
    tok = CharTokenizer.from_text("ab\nb a", mode="stream")
    assert tok.chars == "\n ab"
    assert tok.encode("a\nb") == [2, 0, 3]
    assert tok.vocab_size == 5


def test_from_text_rejects_a_text_without_characters() -> None:
    with pytest.raises(ValueError, match="no characters"):
        CharTokenizer.from_text(" \n\n \t")
    with pytest.raises(ValueError, match="mode must be one of"):
        CharTokenizer.from_text("abc", mode="words")  # type: ignore[arg-type]


def test_constructor_checks_chars() -> None:
    assert CharTokenizer("abc") == CharTokenizer.from_text("cba")
    with pytest.raises(ValueError, match="distinct and sorted"):
        CharTokenizer("ba")
    with pytest.raises(ValueError, match="distinct and sorted"):
        CharTokenizer("aab")
    with pytest.raises(ValueError, match="non-empty string"):
        CharTokenizer("")


def test_unseen_character_names_it_its_position_and_the_fix() -> None:
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError) as info:
        tok.encode("abzc")
    message = str(info.value)
    assert "'z' at position 2" in message
    assert "use characters from the training text, or the byte-level tokenizer" in message
    with pytest.raises(ValueError, match=r"'\\n' at position 1 .*mode='stream'"):
        tok.encode("a\nb")


def test_unseen_character_of_a_decomposed_text_gives_nfc() -> None:
    """A text in NFD ("e" + U+0301) against an NFC corpus ("é"): the mark printed on its
    quote ("character '\u0301'" read as an accented quote) and nothing said why."""
    tok = CharTokenizer.from_text("café")
    with pytest.raises(ValueError, match=r"'e' at position 3 .*normalize\('NFC', text\)$"):
        tok.encode("cafe\u0301")
    with pytest.raises(ValueError, match=r"\(U\+0301, a combining mark\) at position 2 .*NFC"):
        tok.encode("ca\u0301")
    with pytest.raises(ValueError) as info:
        tok.encode("cx")
    assert "NFC" not in str(info.value) and "U+" not in str(info.value)


def test_decode_skips_bos_and_accepts_numpy_ids() -> None:
    tok = CharTokenizer.from_text("abc")
    assert tok.decode(np.array([3, 0, 3, 1, 2, 3], dtype=np.int32)) == "abc"
    assert tok.decode([]) == ""


def test_decode_rejects_ids_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match=r"token id 4 at position 1 .* 0\.\.3"):
        CharTokenizer.from_text("abc").decode([0, 4])
    with pytest.raises(ValueError, match="token id -1 at position 0"):
        CharTokenizer.from_text("abc").decode([-1])
    with pytest.raises(ValueError, match=r"token id 257 .* 0\.\.256"):
        ByteTokenizer().decode([257])


def test_byte_tokenizer_hand_checked() -> None:
    tok = ByteTokenizer()
    assert tok.bos_id == 256
    assert tok.vocab_size == 257
    assert tok.encode("aé") == [97, 195, 169]
    assert tok.decode([256, 97, 195, 169, 256]) == "aé"
    assert tok.decode([97, 195]) == "a\ufffd"  # a cut-off character becomes U+FFFD
    assert isinstance(tok, Tokenizer)


@given(st.text())
def test_byte_tokenizer_round_trips_any_text(text: str) -> None:
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids)
    assert tok.decode([tok.bos_id, *ids, tok.bos_id]) == text


@given(st.text(min_size=1))
def test_char_tokenizer_round_trips_its_own_text(text: str) -> None:
    tok = CharTokenizer.from_text(text, mode="stream")
    ids = tok.encode(text)
    assert all(0 <= i < tok.bos_id for i in ids)
    assert tok.decode(ids) == text
    assert tokenizer_from_json(json.loads(json.dumps(tok.to_json()))) == tok


def test_json_round_trip() -> None:
    char = CharTokenizer.from_text("hello world", mode="stream")
    assert char.to_json() == {"kind": "char", "chars": " dehlorw"}
    assert tokenizer_from_json(char.to_json()) == char
    assert ByteTokenizer().to_json() == {"kind": "byte"}
    assert tokenizer_from_json({"kind": "byte"}) == ByteTokenizer()


def test_from_json_rejects_bad_data() -> None:
    with pytest.raises(ValueError, match="'kind' to be 'char' or 'byte', got 'word'"):
        tokenizer_from_json({"kind": "word"})
    with pytest.raises(ValueError, match="string field 'chars'"):
        tokenizer_from_json({"kind": "char", "chars": 3})
    with pytest.raises(ValueError, match="distinct and sorted"):
        tokenizer_from_json({"kind": "char", "chars": "ba"})


@pytest.mark.parametrize("tok", [CharTokenizer.from_text("é\nab", mode="stream"), ByteTokenizer()])
def test_save_and_load_round_trip_without_temp_files(tmp_path: Path, tok: Tokenizer) -> None:
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    assert load_tokenizer(path) == tok
    assert load_tokenizer(str(path)) == tok
    assert os.listdir(tmp_path) == ["tokenizer.json"]
    tok.save(str(path))  # overwriting goes through a temp file too
    assert load_tokenizer(path) == tok
    assert os.listdir(tmp_path) == ["tokenizer.json"]


def test_failed_save_keeps_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokenizer.json"
    CharTokenizer("ab").save(path)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        CharTokenizer("xyz").save(path)
    monkeypatch.undo()
    assert load_tokenizer(path) == CharTokenizer("ab")
    assert os.listdir(tmp_path) == ["tokenizer.json"]


def test_save_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"the folder .*absent does not exist"):
        ByteTokenizer().save(tmp_path / "absent" / "tokenizer.json")


def test_save_and_load_expand_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`~` was taken as a folder named "~": "cannot write ~/tok.json: the folder ~ does not
    exist", though from_pretrained expands it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    CharTokenizer("ab").save("~/my tokenizer.json")
    assert (tmp_path / "my tokenizer.json").is_file()
    assert load_tokenizer("~/my tokenizer.json") == CharTokenizer("ab")


def test_load_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A tokenizer.json edited in Notepad starts with a UTF-8 BOM, which load_text drops;
    load_tokenizer called it corrupt."""
    path = tmp_path / "tokenizer.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(CharTokenizer("ab").to_json()).encode())
    assert load_tokenizer(path) == CharTokenizer("ab")


def test_load_deeply_nested_json_names_the_path(tmp_path: Path) -> None:
    """It raised a bare RecursionError from inside json."""
    path = tmp_path / "tokenizer.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError, match=r"tokenizer\.json is not a valid tokenizer file"):
        load_tokenizer(path)


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match=r"no tokenizer file at .*nope\.json"):
        load_tokenizer(path)


@pytest.mark.parametrize(
    "content",
    [b'{"kind": "char", "cha', b"", b"\xff\xfe\x00", b"[1, 2]", b'{"kind": "bpe"}'],
    ids=["truncated", "empty", "binary", "not-an-object", "unknown-kind"],
)
def test_load_corrupt_file_names_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"tokenizer\.json is not a valid tokenizer file"):
        load_tokenizer(path)


def test_bytes_are_not_text() -> None:
    """Bytes would iterate as ints: `character 97 is not one of the tokenizer's characters`."""
    message = r"text must be a str, got bytes: decode it first \(data\.decode\('utf-8'\)\)"
    with pytest.raises(TypeError, match=message):
        CharTokenizer.from_text(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=message):
        CharTokenizer("abc").encode(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=message):
        ByteTokenizer().encode(b"abc")  # type: ignore[arg-type]


def test_decode_rejects_bools() -> None:
    with pytest.raises(TypeError, match="token id True at position 1 is a bool, not an int"):
        CharTokenizer("abc").decode([0, True])


SURROGATE = (
    r"surrogate code point '\\udcff' at position {} \(line {}\), which is not a character .*"
    r"read the file as UTF-8 without surrogateescape .* or replace the character"
)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ByteTokenizer().encode("ab\n\udcff"),
        lambda: CharTokenizer("\nab").encode("ab\n\udcff"),
        lambda: CharTokenizer.from_text("ab\n\udcff", mode="stream"),
        lambda: CharTokenizer.from_text("ab\n\udcff"),
    ],
    ids=["byte-encode", "char-encode", "char-from-text-stream", "char-from-text-lines"],
)
def test_surrogate_names_it_its_position_and_the_fix(call: Callable[[], object]) -> None:
    """Without the check: UnicodeEncodeError (bytes), a tokenizer that learns it (chars)."""
    with pytest.raises(ValueError, match=SURROGATE.format(3, 2)):
        call()


def test_a_tokenizer_never_holds_a_surrogate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=SURROGATE.format(1, 1)):
        CharTokenizer("a\udcff")
    path = tmp_path / "tokenizer.json"
    path.write_text('{"kind": "char", "chars": "a\\udcff"}')  # valid JSON escapes
    with pytest.raises(ValueError, match=r"not a valid tokenizer file: text has a surrogate"):
        load_tokenizer(path)


def test_a_file_read_with_surrogateescape(tmp_path: Path) -> None:
    """The bad byte becomes a surrogate; `load_text` names the byte instead."""
    path = tmp_path / "names.txt"
    path.write_bytes(b"emma\nzo\xff\n")  # Latin-1 "zoÿ": 0xff is never UTF-8
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    with pytest.raises(ValueError, match=SURROGATE.format(7, 2)):
        ByteTokenizer().encode(text)
    with pytest.raises(ValueError, match="not valid UTF-8 at byte 7"):
        tg.load_text(path)


def test_byte_decode_replaces_invalid_utf8() -> None:
    tok = ByteTokenizer()
    assert tok.decode([0xFF, 97, 0x80, 98]) == "\ufffda\ufffdb"  # invalid and stray bytes
    assert tok.decode([0xE6, 0x97, 97]) == "\ufffda"  # a cut-off 3-byte character


class _NoIteration:
    """An array-like whose `__iter__` fails: decode must read it with one `np.asarray`."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return np.array(self.ids)

    def __iter__(self) -> Iterator[int]:
        raise AssertionError("decode iterated the array id by id")


def test_decode_reads_arrays_in_one_transfer() -> None:
    """Iterating a JAX array reads the device once per id: 1000 ids took over a second."""
    tok = ByteTokenizer()
    assert tok.decode(jnp.array([104, 105, 256], dtype=jnp.int32)) == "hi"
    assert tok.decode(np.array([104, 105], dtype=np.uint8)) == "hi"
    assert tok.decode(_NoIteration([104, 105])) == "hi"
    assert tok.decode(np.array([])) == ""  # float64, but empty


@pytest.mark.parametrize(
    ("ids", "error", "message"),
    [
        (
            np.array([[97, 98]]),
            ValueError,
            r"1-D array\), got an array of shape \(1, 2\): decode a batch row by row",
        ),
        (jnp.array([[97, 98]]), ValueError, r"shape \(1, 2\): decode a batch row by row"),
        (np.array(97), ValueError, r"got an array of shape \(\): pass \[int\(ids\)\]"),
        (np.array([97.0]), TypeError, "got an array of dtype float64: pass the ids"),
        (np.array([True]), TypeError, "got an array of dtype bool"),
        (
            [[97, 98]],
            TypeError,
            r"token id \[97, 98\] at position 0 is a list, not an int: decode a batch",
        ),
        (
            [97, 98.0],
            TypeError,
            "token id 98.0 at position 1 is a float, not an int: pass the int ids",
        ),
        ([np.True_], TypeError, "at position 0 is a bool, not an int"),
        ("ab", TypeError, "decode takes token ids, got a str: turn text into ids with encode"),
        (b"ab", TypeError, "decode takes token ids, got a bytes: turn text into ids with "),
        (97, TypeError, r"must be an iterable of int token ids, got int 97: .* \[97\]"),
        (None, TypeError, r"got NoneType None: pass a list of ids$"),
        (
            [97, jnp.float32(98.0)],
            TypeError,
            r"token id .* at position 1 is a float32 array, not an int: pass the int ids",
        ),
    ],
    ids=[
        "2d",
        "2d-jax",
        "0d",
        "float-array",
        "bool-array",
        "nested",
        "float",
        "np-bool",
        "str",
        "bytes",
        "int",
        "none",
        "0d-float-item",
    ],
)
def test_decode_rejects_what_is_not_one_sequence_of_int_ids(
    ids: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ByteTokenizer().decode(ids)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        (None, r"got NoneType: pass a str, or read a file with tg\.load_text"),
        (["ab", "ba"], r"got list: encode one text at a time \(\[tokenizer\.encode\(t\) for t"),
        (bytearray(b"ab"), r"got bytearray: decode it first"),
    ],
    ids=["none", "list", "bytearray"],
)
def test_encode_error_gives_the_fix_for_what_was_passed(text: object, fix: str) -> None:
    for tok in (ByteTokenizer(), CharTokenizer("ab")):
        with pytest.raises(TypeError, match=f"text must be a str, {fix}"):
            tok.encode(text)  # type: ignore[arg-type]


def test_save_to_a_folder(tmp_path: Path) -> None:
    with pytest.raises(
        IsADirectoryError, match=r"it is a folder; name a file in it, such as .*tokenizer\.json"
    ):
        ByteTokenizer().save(tmp_path)
    assert os.listdir(tmp_path) == []


def test_load_a_folder(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a folder, not a tokenizer file: name the"):
        load_tokenizer(tmp_path)
    ByteTokenizer().save(tmp_path / "tokenizer.json")  # a run's out_dir holds one
    with pytest.raises(
        IsADirectoryError, match=r"is a folder, not a tokenizer file: pass .*tokenizer\.json"
    ):
        load_tokenizer(tmp_path)


def test_load_a_hugging_face_tokenizer_json(tmp_path: Path) -> None:
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0}, unk_token="a"))
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(
        ValueError, match=r"Hugging Face tokenizer\.json .*HFTokenizer\.from_pretrained"
    ):
        load_tokenizer(tmp_path / "tokenizer.json")
    # The folder itself: not "pass FOLDER/tokenizer.json", which is refused as above.
    with pytest.raises(IsADirectoryError) as info:
        load_tokenizer(tmp_path)
    assert str(info.value).endswith(
        f"holds a Hugging Face tokenizer: load it with tg.HFTokenizer.from_pretrained("
        f"{str(tmp_path)!r})"
    )
