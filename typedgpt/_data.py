"""Training text as token ids: a `TextDataset`, and batches of token ids drawn from it.

A `TextDataset` holds token ids as NumPy int32 arrays, in one of two modes:

- `"lines"` (microgpt): one document per non-empty line, each stored as
  `[BOS] + ids + [BOS]`. A batch row is one random document, cut to `seq_len + 1` tokens and
  right-padded with BOS, with a mask that is 0 over the padding. The rest of a longer
  document is never trained on: `cut_fraction(seq_len)` says how much of the data that is.
- `"stream"`: the whole text as one stream of ids, newlines included, no BOS. A batch row is a
  random window of `seq_len + 1` ids.

Either way `targets` are `inputs` shifted left by one, as a next-token loss wants them. Batches
are NumPy arrays drawn from a `numpy.random.Generator`, so the same seed gives the same batches.
"""

from dataclasses import dataclass
from typing import NamedTuple, Self, final

import numpy as np
import numpy.typing as npt

from ._text import TextMode, check_mode, check_text, is_int, is_real, numbered_lines
from ._tokenizer import Tokenizer


class Batch(NamedTuple):
    """One batch of next-token training data, all with shape `(batch, seq)`.

    - `inputs`: int32 token ids fed to the model.
    - `targets`: int32 ids to predict, `inputs` shifted left by one position.
    - `mask`: float32, 1 where the target is real text and 0 where it is padding.
    """

    inputs: npt.NDArray[np.int32]
    targets: npt.NDArray[np.int32]
    mask: npt.NDArray[np.float32]


@final
@dataclass(frozen=True, eq=False)
class TextDataset:
    """Token ids of a text, ready for batches; build it with `TextDataset.from_text`.

    **Fields:**

    - `tokenizer`: the tokenizer that made the ids (its `bos_id` brackets and pads).
    - `mode`: `"lines"` (microgpt): one document per non-empty line, and a batch row is one
      document cut to `seq_len + 1` ids and right-padded with BOS; or `"stream"`: the whole
      text, newlines included and no BOS, and a batch row is a random window of it.
    - `documents`: non-empty int32 arrays of shape `(tokens,)`. In `"lines"` mode one per
      document, each `[BOS] + ids + [BOS]` (a lone `[BOS]` is a document with nothing to
      predict); in `"stream"` mode exactly one, the whole stream. Every id is one of the
      tokenizer's, `0 .. vocab_size - 1`. Fields that break these rules raise `ValueError`;
      a `tokenizer` that is not a `Tokenizer`, or `documents` that are not a tuple (or
      list, kept as a tuple) of arrays, `TypeError`.
    """

    tokenizer: Tokenizer
    mode: TextMode
    documents: tuple[npt.NDArray[np.int32], ...]

    def __post_init__(self) -> None:
        _check_tokenizer(self.tokenizer)
        check_mode(self.mode)
        documents: object = self.documents
        if isinstance(documents, np.ndarray):
            raise TypeError(
                "TextDataset.documents must be a tuple of 1-D int32 arrays, got one array of "
                f"shape {documents.shape}: pass "
                + ("(ids,) for one document" if documents.ndim < 2 else "tuple(ids), a row each")
            )
        if not isinstance(documents, tuple | list):
            raise TypeError(
                "TextDataset.documents must be a tuple of 1-D int32 arrays, got a "
                f"{type(documents).__qualname__}: pass tuple(documents)"
            )
        object.__setattr__(self, "documents", tuple(documents))
        if not self.documents:
            raise ValueError("a TextDataset needs at least one document, got none")
        if self.mode == "stream" and len(self.documents) != 1:
            raise ValueError(
                f"a stream-mode TextDataset holds exactly one array, got {len(self.documents)}"
            )
        for doc in self.documents:
            if not isinstance(doc, np.ndarray):
                raise ValueError(
                    "TextDataset.documents must be non-empty 1-D int32 arrays, got a "
                    f"{type(doc).__qualname__}: pass np.asarray(ids, dtype=np.int32)"
                )
            if doc.dtype != np.int32 or doc.ndim != 1 or doc.size == 0:
                raise ValueError(
                    "TextDataset.documents must be non-empty 1-D int32 arrays, got "
                    f"{doc.dtype} with shape {doc.shape}"
                )
        _check_vocabulary(self.documents, self.tokenizer.vocab_size)
        if self.mode == "lines":
            bos = self.tokenizer.bos_id
            for number, doc in enumerate(self.documents):
                if not doc[0] == doc[-1] == bos:
                    raise ValueError(
                        f"TextDataset.documents[{number}] starts with id {doc[0]} and ends "
                        f"with id {doc[-1]}, but a lines-mode document is [BOS] + ids + [BOS] "
                        f"(BOS is {bos}): add the BOS ids, or build it with "
                        "TextDataset.from_text"
                    )

    @classmethod
    def from_text(cls, text: str, tokenizer: Tokenizer, *, mode: TextMode = "lines") -> Self:
        """Encode `text` with `tokenizer`: one document per non-empty line, each stripped of
        surrounding whitespace (`"lines"`), or one stream (`"stream"`).

        Raises `TypeError` when `text` is not a `str` or `tokenizer` not a `Tokenizer`, and
        `ValueError` for an unknown `mode`, a text with no document, a surrogate code point
        (naming its position and line), or a character the tokenizer cannot encode (in
        `"lines"` mode, naming the line of `text` and the document).
        """
        check_mode(mode)
        check_text(text)
        _check_tokenizer(tokenizer)
        if mode == "stream":
            if not text:
                raise ValueError("text is empty: a stream-mode TextDataset needs some text")
            return cls(tokenizer, mode, (np.asarray(tokenizer.encode(text), dtype=np.int32),))
        lines = numbered_lines(text)
        if not lines:
            raise ValueError("text has no non-empty lines: lines mode makes one document per line")
        bos = tokenizer.bos_id
        documents = []
        for number, (line_number, line) in enumerate(lines):
            try:
                ids = tokenizer.encode(line)
            except ValueError as error:
                raise ValueError(
                    f"line {line_number} (document {number}, {line[:40]!r}): {error}"
                ) from None
            documents.append(np.asarray([bos, *ids, bos], dtype=np.int32))
        return cls(tokenizer, mode, tuple(documents))

    def __len__(self) -> int:
        """The number of documents (1 in `"stream"` mode)."""
        return len(self.documents)

    @property
    def num_tokens(self) -> int:
        """The number of token ids held, BOS included."""
        return sum(doc.size for doc in self.documents)

    @property
    def num_targets(self) -> int:
        """The number of next-token targets: every id but the first of each document."""
        return self.num_tokens - len(self.documents)

    def cut_fraction(self, seq_len: int) -> float:
        """The fraction of `num_targets` that batches of `seq_len` positions never train on.

        In `"lines"` mode a batch row holds a document's first `seq_len + 1` ids, so a
        document of `n` ids loses its last `max(0, n - 1 - seq_len)` targets; in `"stream"`
        mode a window can start anywhere, so nothing is cut and this is 0. A `seq_len` that
        is not a positive int raises `ValueError`.
        """
        if not is_int(seq_len) or seq_len < 1:
            raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
        seq_len = int(seq_len)
        if self.mode == "stream" or self.num_targets == 0:
            return 0.0
        cut = sum(max(0, doc.size - 1 - seq_len) for doc in self.documents)
        return cut / self.num_targets

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple[Self, Self]:
        """`(train, val)`: in `"lines"` mode the documents shuffled with `seed` and the first
        `round(val_fraction * len(self))` taken for validation; in `"stream"` mode the last
        `round(val_fraction * num_tokens)` ids of the stream (`seed` is unused).

        `val_fraction` must be strictly between 0 and 1, both parts non-empty, and `seed` a
        non-negative int (as `numpy.random.default_rng` takes), else `ValueError`.
        """
        if not is_real(val_fraction):
            raise ValueError(
                f"val_fraction must be a float between 0 and 1, got a "
                f"{type(val_fraction).__qualname__} {val_fraction!r}: pass float(val_fraction)"
            )
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
        if not is_int(seed) or seed < 0:
            raise ValueError(
                f"seed must be a non-negative int, got {seed!r}: pass a seed such as 0 "
                "(numpy.random.default_rng takes no other)"
            )
        if self.mode == "lines":
            total, what = len(self.documents), "documents"
        else:
            total, what = self.documents[0].size, "tokens"
        num_val = round(val_fraction * total)
        if not 0 < num_val < total:
            raise ValueError(
                f"val_fraction={val_fraction} of {total} {what} leaves "
                f"{'no validation' if num_val == 0 else 'no training'} {what}: both parts "
                "need at least one; use more text or another val_fraction"
            )
        if self.mode == "stream":
            stream = self.documents[0]
            cut = total - num_val
            return self._with((stream[:cut],)), self._with((stream[cut:],))
        order = np.random.default_rng(int(seed)).permutation(total)
        val = tuple(self.documents[i] for i in order[:num_val])
        train = tuple(self.documents[i] for i in order[num_val:])
        return self._with(train), self._with(val)

    def sample_batch(self, rng: np.random.Generator, batch_size: int, seq_len: int) -> Batch:
        """A batch of `batch_size` rows of `seq_len` positions drawn with `rng`.

        `"stream"` mode: random windows of `seq_len + 1` ids; the mask is all ones.
        `"lines"` mode: one random document per row, cut to its first `seq_len + 1` ids and
        right-padded with BOS; the mask is 0 where the target is padding. With
        `batch_size=1` this is microgpt's one name per step.

        **Returns:** a `Batch` of `(batch_size, seq_len)` arrays. Raises `TypeError` when
        `rng` is not a `numpy.random.Generator`, and `ValueError` for a size that is not a
        positive int or a stream shorter than `seq_len + 1` ids.
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(rng).__name__}"
            )
        for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        batch_size, seq_len = int(batch_size), int(seq_len)
        width = seq_len + 1
        if self.mode == "stream":
            stream = self.documents[0]
            if stream.size < width:
                raise ValueError(
                    f"the stream has {stream.size} tokens but a window needs seq_len + 1 = "
                    f"{width}: lower seq_len or use more text"
                )
            starts = rng.integers(0, stream.size - seq_len, size=batch_size)
            rows = stream[starts[:, None] + np.arange(width)]  # (batch, seq + 1)
            mask = np.ones((batch_size, seq_len), dtype=np.float32)
        else:
            picks = rng.integers(0, len(self.documents), size=batch_size)
            rows = np.full((batch_size, width), self.tokenizer.bos_id, dtype=np.int32)
            mask = np.zeros((batch_size, seq_len), dtype=np.float32)
            for row, pick in enumerate(picks):
                doc = self.documents[pick][:width]
                rows[row, : doc.size] = doc
                mask[row, : doc.size - 1] = 1.0  # targets 0 .. size - 2 are the document's
        inputs = np.ascontiguousarray(rows[:, :-1])
        targets = np.ascontiguousarray(rows[:, 1:])
        return Batch(inputs=inputs, targets=targets, mask=mask)

    def _with(self, documents: tuple[npt.NDArray[np.int32], ...]) -> Self:
        return type(self)(self.tokenizer, self.mode, documents)


def _check_tokenizer(tokenizer: object) -> None:
    if isinstance(tokenizer, Tokenizer):
        return
    if isinstance(tokenizer, type) and issubclass(tokenizer, Tokenizer):
        raise TypeError(
            f"tokenizer must be a Tokenizer, got the class {tokenizer.__name__} itself: pass an "
            "instance, such as ByteTokenizer() or CharTokenizer.from_text(text)"
        )
    raise TypeError(
        f"tokenizer must be a Tokenizer (CharTokenizer, ByteTokenizer, HFTokenizer), got "
        f"{type(tokenizer).__qualname__}: build one with CharTokenizer.from_text(text)"
    )


def _check_vocabulary(documents: tuple[npt.NDArray[np.int32], ...], vocab_size: int) -> None:
    """Every id of `documents` is in `0 .. vocab_size - 1`, else `ValueError` naming the first
    that is not. A model's embedding lookup would clamp such an id silently, so it is caught
    here, in whole-array passes: the documents can hold millions of ids."""
    ids = documents[0] if len(documents) == 1 else np.concatenate(documents)
    if ids.min() >= 0 and ids.max() < vocab_size:
        return
    first = int(np.flatnonzero((ids < 0) | (ids >= vocab_size))[0])
    ends = np.cumsum([doc.size for doc in documents])  # ends[n]: one past documents[n]'s last id
    number = int(np.searchsorted(ends, first, side="right"))
    position = first - (int(ends[number - 1]) if number else 0)
    raise ValueError(
        f"TextDataset.documents[{number}] holds the token id {int(ids[first])} at position "
        f"{position}, outside its tokenizer's ids 0..{vocab_size - 1} (vocab_size="
        f"{vocab_size}): encode the text with this tokenizer (TextDataset.from_text(text, "
        "tokenizer))"
    )
