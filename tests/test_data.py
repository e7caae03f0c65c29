"""Tests for `load_text`, `builtin_corpus`, `TextDataset` and its batches."""

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import tokenizers

from typedgpt._corpus import BUILTIN_CORPUS_MODULES, builtin_corpus, load_text
from typedgpt._data import Batch, TextDataset
from typedgpt._hf_tokenizer import HFTokenizer
from typedgpt._tokenizer import ByteTokenizer, CharTokenizer, Tokenizer

NAMES = "\n".join(
    """
    emma olivia ava isabella sophia mia charlotte amelia harper evelyn abigail emily ella
    elizabeth camila luna sofia avery mila aria scarlett penelope layla chloe victoria madison
    """.split()
)


def lines_dataset() -> TextDataset:
    return TextDataset.from_text(NAMES, CharTokenizer.from_text(NAMES))


def stream_dataset(length: int = 101) -> TextDataset:
    tok = CharTokenizer.from_text(NAMES, mode="stream")
    text = (NAMES * (length // len(NAMES) + 1))[:length]
    return TextDataset.from_text(text, tok, mode="stream")


# load_text


def test_load_text_reads_utf8_and_normalises_newlines(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes("\ufeffemma\r\nzoë\rava\n".encode())
    assert load_text(path) == "emma\nzoë\nava\n"
    assert load_text(str(path)) == "emma\nzoë\nava\n"


def test_load_text_expands_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`~/names.txt` was "no text file at ~/names.txt", though from_pretrained expands `~`."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "my names.txt").write_text("ab\n")
    assert load_text("~/my names.txt") == "ab\n"


def test_load_text_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no text file at .*missing\.txt.*builtin_corpus"):
        load_text(tmp_path / "missing.txt")


def test_load_text_folder(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_text(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"], ids=["empty", "whitespace"])
def test_load_text_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"empty\.txt is empty"):
        load_text(path)


@pytest.mark.parametrize(
    ("content", "detail"),
    [(b"abc\x00def", "a NUL byte at offset 3"), (b"ab\xff\xfecd", "not valid UTF-8 at byte 2")],
    ids=["nul", "not-utf8"],
)
def test_load_text_binary_file(tmp_path: Path, content: bytes, detail: str) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"model\.bin looks binary \({detail}\)"):
        load_text(path)


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")],
    ids=["utf16-le", "utf16-be", "utf32"],
)
def test_load_text_utf16_or_utf32_file(tmp_path: Path, encoding: str, name: str) -> None:
    """Text saved as UTF-16 (Notepad's "Unicode", PowerShell's `>`) is text, not binary."""
    path = tmp_path / "names.txt"
    # Python's utf-16 and utf-32 codecs write a byte-order mark; utf-16-be writes none.
    mark = "\ufeff" if encoding.endswith("-be") else ""
    path.write_bytes(f"{mark}emma\nava\n".encode(encoding))
    expected = (
        f"{path} is {name} text (it starts with a {name} byte-order mark), not UTF-8: convert "
        f"it first (iconv -f {name} -t UTF-8 {path} > {tmp_path / 'names-utf8.txt'})"
    )
    with pytest.raises(ValueError) as excinfo:
        load_text(path)
    assert str(excinfo.value) == expected


# builtin_corpus


def test_builtin_corpus_is_large_clean_and_deterministic() -> None:
    corpus = builtin_corpus()
    assert 300_000 <= len(corpus) <= 3_000_000
    assert corpus.endswith("\n") and "\x00" not in corpus
    assert builtin_corpus() is corpus  # cached
    assert builtin_corpus.__wrapped__() == corpus  # computed afresh: the same text
    lines = corpus[:-1].split("\n")
    assert len(lines) > 1000
    assert len(set(lines)) == len(lines)
    assert all(line and line == " ".join(line.split()) for line in lines)
    assert set(corpus) <= {"\n", *map(chr, range(32, 127))}
    assert "Return" in corpus
    assert len(BUILTIN_CORPUS_MODULES) == len(set(BUILTIN_CORPUS_MODULES))
    tok = CharTokenizer.from_text(corpus)
    assert tok.vocab_size <= 96
    assert len(TextDataset.from_text(corpus, tok)) == len(lines)


# TextDataset construction


def test_lines_mode_brackets_each_document_with_bos() -> None:
    text = "ab\nba\n\n  c \n"
    tok = CharTokenizer.from_text(text)
    assert (tok.chars, tok.bos_id) == ("abc", 3)
    data = TextDataset.from_text(text, tok)
    assert data.mode == "lines"
    assert [doc.tolist() for doc in data.documents] == [[3, 0, 1, 3], [3, 1, 0, 3], [3, 2, 3]]
    assert all(doc.dtype == np.int32 for doc in data.documents)
    assert (len(data), data.num_tokens) == (3, 11)


def test_lines_mode_with_byte_tokenizer() -> None:
    data = TextDataset.from_text("é\n", ByteTokenizer())
    assert [doc.tolist() for doc in data.documents] == [[256, 195, 169, 256]]


def test_stream_mode_is_one_stream_with_newlines() -> None:
    text = "ab\nc"
    tok = CharTokenizer.from_text(text, mode="stream")
    data = TextDataset.from_text(text, tok, mode="stream")
    assert len(data) == 1
    assert data.documents[0].tolist() == [1, 2, 0, 3]
    assert data.documents[0].dtype == np.int32


def test_construction_errors() -> None:
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="no non-empty lines"):
        TextDataset.from_text(" \n\n", tok)
    with pytest.raises(ValueError, match="text is empty"):
        TextDataset.from_text("", tok, mode="stream")
    with pytest.raises(
        ValueError, match=r"^line 3 \(document 1, 'abd'\): character 'd' at position 2"
    ):
        TextDataset.from_text("ab\n\n  abd\n", tok)
    with pytest.raises(ValueError, match=r"'\\n' at position 1 .*mode='stream'"):
        TextDataset.from_text("a\nb", tok, mode="stream")
    with pytest.raises(ValueError, match="mode must be one of"):
        TextDataset.from_text("abc", tok, mode="words")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1-D int32"):
        TextDataset(tok, "lines", (np.zeros(3, dtype=np.int64),))
    with pytest.raises(ValueError, match="must be non-empty 1-D int32 arrays, got a list"):
        TextDataset(tok, "lines", ([3, 0, 3],))  # type: ignore[arg-type]


# split


def test_split_lines_mode_sizes_disjoint_and_deterministic() -> None:
    data = lines_dataset()
    train, val = data.split(val_fraction=0.25, seed=1)
    assert (len(train), len(val)) == (20, 6)  # round(0.25 * 26) = 6
    train_docs = {tuple(doc.tolist()) for doc in train.documents}
    val_docs = {tuple(doc.tolist()) for doc in val.documents}
    assert train_docs.isdisjoint(val_docs)
    assert train_docs | val_docs == {tuple(doc.tolist()) for doc in data.documents}
    assert train.tokenizer is data.tokenizer and val.mode == "lines"
    _, again_val = data.split(val_fraction=0.25, seed=1)
    assert [d.tolist() for d in again_val.documents] == [d.tolist() for d in val.documents]
    _, other_val = data.split(val_fraction=0.25, seed=2)
    assert [d.tolist() for d in other_val.documents] != [d.tolist() for d in val.documents]
    assert len(data.split()[1]) == 3  # the default 0.1 of 26, rounded


def test_split_stream_mode_takes_the_end() -> None:
    data = stream_dataset(length=101)
    train, val = data.split(val_fraction=0.1)
    stream = data.documents[0]
    assert train.documents[0].tolist() == stream[:91].tolist()
    assert val.documents[0].tolist() == stream[91:].tolist()
    assert val.mode == "stream"


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_fractions_outside_zero_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1"):
        lines_dataset().split(val_fraction=fraction)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None])
def test_split_rejects_a_seed_that_is_not_a_non_negative_int(seed: object) -> None:
    """Named here: -1 used to give NumPy's "expected non-negative integer", and 1.5 a
    SeedSequence TypeError, neither naming seed."""
    with pytest.raises(
        ValueError, match=rf"^seed must be a non-negative int, got {re.escape(repr(seed))}: pass"
    ):
        lines_dataset().split(val_fraction=0.25, seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fraction",
    [Decimal("0.25"), np.array(0.25), "0.25"],
    ids=["decimal", "0-d-array", "str"],
)
def test_split_names_a_val_fraction_that_is_not_a_float(fraction: object) -> None:
    """These used to get "must be between 0 and 1, got Decimal('0.25')", which it is."""
    with pytest.raises(
        ValueError,
        match=rf"^val_fraction must be a float between 0 and 1, got a {type(fraction).__name__} "
        r".*: pass float\(val_fraction\)$",
    ):
        lines_dataset().split(val_fraction=fraction)  # type: ignore[arg-type]


def test_split_takes_a_numpy_seed() -> None:
    data = lines_dataset()
    numpy_val = data.split(val_fraction=0.25, seed=np.int64(1))[1]  # type: ignore[arg-type]
    val = data.split(val_fraction=0.25, seed=1)[1]
    assert [d.tolist() for d in numpy_val.documents] == [d.tolist() for d in val.documents]


def test_split_rejects_an_empty_part() -> None:
    data = TextDataset.from_text("ab\nba\nab", CharTokenizer("ab"))
    with pytest.raises(ValueError, match="of 3 documents leaves no validation documents"):
        data.split(val_fraction=0.1)
    with pytest.raises(ValueError, match="of 3 documents leaves no training documents"):
        data.split(val_fraction=0.9)


# sample_batch


def test_lines_batch_hand_checked() -> None:
    data = TextDataset.from_text("ab", CharTokenizer("ab"))  # the document is [2, 0, 1, 2]
    rng = np.random.default_rng(0)
    padded = data.sample_batch(rng, batch_size=1, seq_len=5)
    assert padded.inputs.tolist() == [[2, 0, 1, 2, 2]]
    assert padded.targets.tolist() == [[0, 1, 2, 2, 2]]
    assert padded.mask.tolist() == [[1, 1, 1, 0, 0]]
    exact = data.sample_batch(rng, batch_size=1, seq_len=3)
    assert (exact.inputs.tolist(), exact.targets.tolist()) == ([[2, 0, 1]], [[0, 1, 2]])
    assert exact.mask.tolist() == [[1, 1, 1]]
    cut = data.sample_batch(rng, batch_size=2, seq_len=2)
    assert cut.inputs.tolist() == [[2, 0], [2, 0]]
    assert cut.targets.tolist() == [[0, 1], [0, 1]]
    assert cut.mask.tolist() == [[1, 1], [1, 1]]


def test_lines_batch_rows_are_padded_documents() -> None:
    data = lines_dataset()
    bos = data.tokenizer.bos_id
    batch_size, seq_len = 7, 5
    batch = data.sample_batch(np.random.default_rng(3), batch_size, seq_len)
    assert isinstance(batch, Batch)
    assert batch.inputs.shape == batch.targets.shape == batch.mask.shape == (7, 5)
    assert batch.inputs.dtype == batch.targets.dtype == np.int32
    assert batch.mask.dtype == np.float32
    docs = [doc.tolist() for doc in data.documents]
    for inputs, targets, mask in zip(batch.inputs, batch.targets, batch.mask, strict=True):
        row = [*inputs.tolist(), targets[-1]]
        assert row[0] == bos
        assert targets[:-1].tolist() == inputs[1:].tolist()
        matches = [doc for doc in docs if doc[: seq_len + 1] == row[: len(doc)]]
        assert matches, f"row {row} is no document's prefix"
        real = min(len(matches[0]), seq_len + 1) - 1  # targets that are document tokens
        assert mask.tolist() == [1.0] * real + [0.0] * (seq_len - real)
        assert row[real + 1 :] == [bos] * (seq_len - real)


def test_stream_batch_rows_are_windows() -> None:
    data = stream_dataset(length=50)
    stream = data.documents[0].tolist()
    batch = data.sample_batch(np.random.default_rng(5), batch_size=11, seq_len=7)
    assert batch.inputs.shape == batch.targets.shape == batch.mask.shape == (11, 7)
    assert batch.inputs.dtype == batch.targets.dtype == np.int32
    assert batch.mask.dtype == np.float32
    assert np.all(batch.mask == 1.0)
    windows = [stream[i : i + 8] for i in range(50 - 7)]
    for inputs, targets in zip(batch.inputs.tolist(), batch.targets.tolist(), strict=True):
        assert [*inputs, targets[-1]] in windows
        assert targets[:-1] == inputs[1:]
    whole = data.sample_batch(np.random.default_rng(0), batch_size=2, seq_len=49)
    assert whole.inputs.tolist() == [stream[:49]] * 2  # the only window


@pytest.mark.parametrize("make", [lines_dataset, stream_dataset], ids=["lines", "stream"])
def test_batches_are_deterministic_for_a_seed(make: object) -> None:
    data = make()  # type: ignore[operator]
    assert isinstance(data, TextDataset)

    def draw(seed: int) -> list[list[list[float]]]:
        batch = data.sample_batch(np.random.default_rng(seed), batch_size=5, seq_len=3)
        return [part.tolist() for part in batch]

    assert draw(0) == draw(0)
    assert draw(0) != draw(1)


def test_sample_batch_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"stream has 20 tokens but a window needs .* = 21"):
        stream_dataset(length=20).sample_batch(rng, batch_size=1, seq_len=20)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        lines_dataset().sample_batch(rng, batch_size=0, seq_len=4)
    with pytest.raises(ValueError, match="seq_len must be a positive int, got True"):
        lines_dataset().sample_batch(rng, batch_size=2, seq_len=True)
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        lines_dataset().sample_batch(0, batch_size=2, seq_len=4)  # type: ignore[arg-type]


# cut_fraction


def test_cut_fraction_hand_checked() -> None:
    """Documents [BOS a b BOS] (3 targets) and [BOS a b c d e BOS] (6): 9 targets."""
    data = TextDataset.from_text("ab\nabcde\n", CharTokenizer("abcde"))
    assert data.num_targets == 9
    assert data.cut_fraction(6) == 0.0  # every document fits in seq_len + 1 = 7 ids
    assert data.cut_fraction(4) == 2 / 9  # the second keeps 4 of its 6 targets
    assert data.cut_fraction(1) == (2 + 5) / 9
    stream = TextDataset.from_text("ab\nabcde\n", CharTokenizer("\nabcde"), mode="stream")
    assert stream.cut_fraction(1) == 0.0  # a window may start anywhere


def test_cut_fraction_is_what_batches_never_mask_in() -> None:
    """1 - cut_fraction is the share of targets that batch rows cover, document by document:
    a row drawn from a document always covers the same targets (its first)."""
    data = lines_dataset()
    seq_len = 5
    covered = 0
    for doc in data.documents:
        alone = TextDataset(data.tokenizer, "lines", (doc,))
        row = alone.sample_batch(np.random.default_rng(0), batch_size=1, seq_len=seq_len)
        covered += int(row.mask.sum())
    assert data.cut_fraction(seq_len) > 0
    assert data.cut_fraction(seq_len) == pytest.approx(1 - covered / data.num_targets, abs=0)


@pytest.mark.parametrize("seq_len", [0, -1, True, 2.0])
def test_cut_fraction_rejects_a_bad_seq_len(seq_len: object) -> None:
    with pytest.raises(ValueError, match="seq_len must be a positive int, got"):
        lines_dataset().cut_fraction(seq_len)  # type: ignore[arg-type]


def test_numpy_numbers_are_accepted() -> None:
    """NumPy scalars are numbers too: `np.float32(0.5)` is between 0 and 1."""
    data = lines_dataset()
    assert [len(part) for part in data.split(np.float32(0.2))] == [len(p) for p in data.split(0.2)]  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    batch = data.sample_batch(rng, batch_size=np.int64(3), seq_len=np.int32(4))  # type: ignore[arg-type]
    assert batch.inputs.shape == (3, 4)
    assert data.cut_fraction(np.int64(4)) == data.cut_fraction(4)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["lines", "stream"])
def test_from_text_rejects_bytes_and_a_non_tokenizer(mode: str) -> None:
    with pytest.raises(TypeError, match=r"text must be a str, got bytes: decode it first"):
        TextDataset.from_text(b"ab\nba", ByteTokenizer(), mode=mode)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"tokenizer must be a Tokenizer .*, got str"):
        TextDataset.from_text("ab\nba", "ab", mode=mode)  # type: ignore[arg-type]


def test_from_text_rejects_a_tokenizer_class() -> None:
    with pytest.raises(
        TypeError, match=r"got the class ByteTokenizer itself: pass an instance, such as Byte"
    ):
        TextDataset.from_text("ab", ByteTokenizer)  # type: ignore[arg-type]


def _word_level() -> HFTokenizer:
    vocab = {"<|endoftext|>": 0, "[UNK]": 1, "ab": 2}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return HFTokenizer(tokenizer)


@pytest.mark.parametrize("mode", ["lines", "stream"])
@pytest.mark.parametrize(
    "make", [ByteTokenizer, lambda: CharTokenizer("ab"), _word_level], ids=["byte", "char", "hf"]
)
def test_from_text_rejects_a_surrogate_with_every_tokenizer(
    make: Callable[[], Tokenizer], mode: str
) -> None:
    """Without the check: UnicodeEncodeError (bytes), "TextInputSequence must be str" (hf)."""
    message = r"surrogate code point '\\udcff' at position 5 \(line 2\).*surrogateescape"
    with pytest.raises(ValueError, match=message):
        TextDataset.from_text("ab\nab\udcff\n", make(), mode=mode)  # type: ignore[arg-type]


def test_constructor_rejects_lines_documents_without_bos() -> None:
    tok = CharTokenizer("ab")
    with pytest.raises(
        ValueError, match=r"documents\[0\] starts with id 0 and ends with id 2, but a lines-mode"
    ):
        TextDataset(tok, "lines", (np.array([0, 1, 2], np.int32),))
    TextDataset(tok, "lines", (np.array([2], np.int32),))  # a lone BOS: nothing to predict


def test_constructor_takes_documents_as_a_tuple_or_a_list() -> None:
    """A generator failed with "object of type 'generator' has no len()", and one array
    (in place of a tuple of them) with NumPy's "truth value of an array ... is ambiguous"."""
    tok = CharTokenizer("ab")
    doc = np.array([2, 0, 2], np.int32)
    listed = TextDataset(tok, "lines", [doc, doc])  # type: ignore[arg-type]
    assert isinstance(listed.documents, tuple) and len(listed) == 2
    with pytest.raises(TypeError, match=r"got a generator: pass tuple\(documents\)"):
        TextDataset(tok, "lines", (d for d in [doc]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got one array of shape \(3,\): pass \(ids,\)"):
        TextDataset(tok, "stream", doc)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"shape \(2, 3\): pass tuple\(ids\), a row each"):
        TextDataset(tok, "lines", np.stack([doc, doc]))  # type: ignore[arg-type]


def test_constructor_rejects_a_non_tokenizer() -> None:
    with pytest.raises(TypeError, match=r"tokenizer must be a Tokenizer .*, got str"):
        TextDataset("ab", "lines", (np.array([2, 0, 2], np.int32),))  # type: ignore[arg-type]


# ids outside the tokenizer's vocabulary


def _ids(*values: int) -> npt.NDArray[np.int32]:
    return np.array(values, dtype=np.int32)


@pytest.mark.parametrize(
    ("mode", "documents", "bad", "number", "position"),
    [
        ("lines", (_ids(2, 0, 2), _ids(2, 1, -1, 0, 2)), -1, 1, 2),  # negative
        ("lines", (_ids(2, 3, 2),), 3, 0, 1),  # vocab_size itself, the first id too many
        ("lines", (_ids(2, 0, 7),), 7, 0, 2),  # where a lines-mode document wants its BOS
        ("lines", (_ids(2, 0, 2), _ids(2), _ids(2, 1, 9, -4, 2), _ids(2, -5, 2)), 9, 2, 2),
        ("stream", (_ids(0, 1, 2, 1, 0, 2**31 - 1),), 2**31 - 1, 0, 5),
        ("stream", (_ids(-(2**31), 1),), -(2**31), 0, 0),
    ],
    ids=["negative", "vocab_size", "last", "first-of-several", "int32-max", "int32-min"],
)
def test_constructor_rejects_ids_outside_the_vocabulary(
    mode: str, documents: tuple[npt.NDArray[np.int32], ...], bad: int, number: int, position: int
) -> None:
    """A model's embedding lookup would clamp these ids to 0 .. 2 without a word."""
    with pytest.raises(
        ValueError,
        match=rf"^TextDataset\.documents\[{number}\] holds the token id {bad} at position "
        rf"{position}, outside its tokenizer's ids 0\.\.2 \(vocab_size=3\): encode the text "
        r"with this tokenizer \(TextDataset\.from_text\(text, tokenizer\)\)$",
    ):
        TextDataset(CharTokenizer("ab"), mode, documents)  # type: ignore[arg-type]


def test_constructor_accepts_every_id_of_the_vocabulary() -> None:
    byte = ByteTokenizer()
    stream = TextDataset(byte, "stream", (np.arange(257, dtype=np.int32),))
    assert stream.num_tokens == 257
    lines = TextDataset(byte, "lines", (_ids(256, 0, 255, 256), _ids(256)))
    assert lines.num_tokens == 5
    with pytest.raises(ValueError, match=r"the token id 257 at position 257, .* 0\.\.256 \("):
        TextDataset(byte, "stream", (np.arange(258, dtype=np.int32),))


def test_constructor_names_the_first_bad_id_among_many_documents() -> None:
    """Against a loop over the documents: the flat index maps back to document and position."""
    rng = np.random.default_rng(0)
    tok = CharTokenizer("abcdefg")  # ids 0 .. 7, BOS 7
    sizes = rng.integers(2, 40, size=2_000)
    for number in (0, 1, 999, 1_999):
        documents = [np.full(size, tok.bos_id, dtype=np.int32) for size in sizes]
        for doc in documents:
            doc[1:-1] = rng.integers(0, tok.vocab_size, size=doc.size - 2)
        position = int(rng.integers(0, sizes[number]))
        documents[number][position] = tok.vocab_size + number
        documents[-1][-1] = -1  # a later bad id is not the one named
        expected = next(
            (n, p) for n, doc in enumerate(documents) for p, i in enumerate(doc) if i >= 8 or i < 0
        )
        assert expected == (number, position)
        with pytest.raises(
            ValueError,
            match=rf"^TextDataset\.documents\[{number}\] holds the token id "
            rf"{tok.vocab_size + number} at position {position}, outside its tokenizer's ids "
            r"0\.\.7 \(vocab_size=8\)",
        ):
            TextDataset(tok, "lines", tuple(documents))


def test_constructor_checks_against_an_hf_tokenizers_vocabulary() -> None:
    tok = _word_level()  # ids 0 .. 2, <|endoftext|> is 0
    assert tok.vocab_size == 3
    TextDataset(tok, "lines", (_ids(0, 2, 1, 0),))
    with pytest.raises(ValueError, match=r"the token id 3 at position 1, .* 0\.\.2 \(vocab_size"):
        TextDataset(tok, "lines", (_ids(0, 3, 0),))


def test_sample_batch_only_sees_ids_of_the_vocabulary() -> None:
    data = lines_dataset()
    batch = data.sample_batch(np.random.default_rng(0), batch_size=64, seq_len=8)
    vocab_size = data.tokenizer.vocab_size
    assert 0 <= batch.inputs.min() and batch.inputs.max() < vocab_size
    assert 0 <= batch.targets.min() and batch.targets.max() < vocab_size
