"""Tests for `CharTokenizer`, `ByteTokenizer` and their JSON files."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from typedgpt._tokenizer import (
    ByteTokenizer,
    CharTokenizer,
    Tokenizer,
    load_tokenizer,
    split_lines,
    tokenizer_from_json,
)


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
