"""Training text: loading a UTF-8 text file, and a built-in corpus that needs no download.

`load_text` reads a text file with newlines normalised, and rejects one that is missing,
empty or binary. `builtin_corpus` is the docstrings of Python's own standard library, read
from the running interpreter's source files (parsed with `ast`, never imported), one
paragraph per line.
"""

import ast
import functools
import os
import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path

BUILTIN_CORPUS_MODULES: tuple[str, ...] = tuple(
    """
    _collections_abc _pydatetime _pydecimal _pyio argparse ast asyncio.base_events
    asyncio.events asyncio.futures asyncio.locks asyncio.queues asyncio.streams
    asyncio.subprocess asyncio.tasks base64 bdb bisect bz2 calendar cmd code codecs collections
    concurrent.futures._base configparser contextlib copy csv dataclasses datetime difflib dis
    doctest email._policybase email.feedparser email.header email.headerregistry email.message
    email.parser email.policy email.utils enum filecmp fileinput fnmatch fractions ftplib
    functools getopt gettext glob gzip hashlib heapq hmac html.parser http.client
    http.cookiejar http.cookies http.server imaplib inspect ipaddress json json.decoder
    json.encoder locale logging logging.config logging.handlers lzma mailbox mimetypes
    multiprocessing.connection multiprocessing.managers multiprocessing.pool
    multiprocessing.process numbers operator optparse os pathlib pathlib._abc pathlib._local pdb
    pickle pickletools pkgutil platform poplib pprint pydoc queue random re reprlib sched
    selectors shelve shlex shutil site smtplib socket socketserver ssl statistics string
    subprocess tarfile tempfile textwrap threading timeit tokenize traceback types typing
    unittest.case unittest.loader unittest.mock unittest.result urllib.parse urllib.request uuid
    warnings weakref xml.dom.minidom zipfile zipimport
    """.split()
)
"""The standard-library modules whose docstrings make `builtin_corpus()`, in that order."""

_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_STATEMENT_LISTS = ("body", "handlers", "cases", "orelse", "finalbody")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# Byte-order marks of the encodings a "Unicode" text file is often saved in, other than
# UTF-8 (Windows' Notepad and PowerShell's > write UTF-16): UTF-32 first, whose little-endian
# mark begins with UTF-16's.
_UNICODE_MARKS = (
    ("UTF-32", (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")),
    ("UTF-16", (b"\xff\xfe", b"\xfe\xff")),
)


def load_text(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file, with newlines normalised to `"\\n"` and a leading BOM dropped.

    A leading `~` in `path` is expanded to the home folder. Raises `FileNotFoundError` for a
    missing file, `IsADirectoryError` for a folder, and `ValueError` naming the path for an
    empty (or all-whitespace) file, for a UTF-16 or UTF-32 one (it starts with their
    byte-order mark), and for one that looks binary: it holds a NUL byte or is not valid
    UTF-8.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"no text file at {path}: check the path, or train on builtin_corpus()"
        )
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a text file: name a file in it")
    data = path.read_bytes()
    for encoding, marks in _UNICODE_MARKS:
        if data.startswith(marks):
            raise ValueError(
                f"{path} is {encoding} text (it starts with a {encoding} byte-order mark), not "
                f"UTF-8: convert it first (iconv -f {encoding} -t UTF-8 {path} > "
                f"{path.with_name(path.stem + '-utf8' + path.suffix)})"
            )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValueError(
            f"{path} looks binary (a NUL byte at offset {nul}): give a UTF-8 text file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} looks binary (not valid UTF-8 at byte {error.start}): give a UTF-8 text "
            "file, or convert it first (iconv -t UTF-8)"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(
            f"{path} is empty ({len(data)} bytes, no text): give a UTF-8 text file with one "
            "document per line, or train on builtin_corpus()"
        )
    return text


@functools.cache
def builtin_corpus() -> str:
    """A default English corpus that needs no download: the docstrings of Python's own
    standard library, read from the running interpreter's source files.

    Exactly what it is:

    1. The source of each module in `BUILTIN_CORPUS_MODULES` (`name.py` or
       `name/__init__.py`) in the folder `sysconfig.get_paths()["stdlib"]`, in that order;
       modules this Python does not have (the list spans several versions) are skipped.
       The files are parsed with `ast`, never imported.
    2. Every module, class and function docstring, in source order, dedented by
       `ast.get_docstring` and split into paragraphs at blank lines.
    3. Each paragraph's whitespace is collapsed to single spaces. Paragraphs are dropped if
       their first line was indented (code blocks), if they hold a doctest line (starting
       with `>>>` or `...`), if they use a character outside printable ASCII, or if they
       repeat an earlier paragraph exactly.
    4. The paragraphs are joined one per line, ending with a newline.

    The result is the same for one Python version (it is cached after the first call) and
    changes when the standard library's docstrings do: on CPython 3.11.7 it is 806,083
    characters in 7,426 lines (3.12.1: 809,978; 3.13.0: 831,415), always with at most 96
    distinct characters (printable ASCII and newline). It takes a second or two to build.
    The text is the Python Software Foundation's, under the PSF License. Raises
    `RuntimeError` when this Python ships without the standard library's `.py` files.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    paragraphs: list[str] = []
    for module in BUILTIN_CORPUS_MODULES:
        source = _module_source(stdlib, module)
        if source is None:
            continue
        for docstring in _docstrings(ast.parse(source.read_bytes(), filename=str(source))):
            for paragraph in _PARAGRAPH_BREAK.split(docstring.strip("\n")):
                lines = paragraph.split("\n")
                if not paragraph.strip() or lines[0][:1].isspace():
                    continue
                if any(line.lstrip().startswith((">>>", "...")) for line in lines):
                    continue
                text = " ".join(paragraph.split())
                if text.isascii() and text.isprintable() and text not in seen:
                    seen.add(text)
                    paragraphs.append(text)
    if not paragraphs:
        raise RuntimeError(
            f"found no standard-library sources under {stdlib}: this Python ships without "
            "its .py files; use load_text(path) with a text file instead"
        )
    return "\n".join(paragraphs) + "\n"


def _module_source(stdlib: Path, module: str) -> Path | None:
    base = stdlib.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _docstrings(node: ast.AST) -> Iterator[str]:
    """The docstrings of `node` and of the definitions inside it, in source order."""
    if isinstance(node, _DOCUMENTED):
        docstring = ast.get_docstring(node, clean=True)
        if docstring:
            yield docstring
    # Definitions live only in statement lists, so expressions need no visit.
    for name in _STATEMENT_LISTS:
        for child in getattr(node, name, ()):
            yield from _docstrings(child)
