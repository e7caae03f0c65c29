"""Run the code in the documentation: every ```python block of docs/*.md and README.md.

Each page runs as one script, in a fresh module of its own: its blocks run in order and may
use what earlier blocks of the same page defined. Tracebacks point at the page and the line
of the Markdown file.

A ```text block that follows a ```python block (with only blank lines between) shows the
error message that block produces: the block must store it in a variable `message`, and the
test checks that the text block holds exactly that string. When a message changes on
purpose, regenerate the text blocks from a real run with

    .venv/bin/python -m tests.test_docs --update

Fences are recognised at the start of a line only (not inside lists or admonitions).
"""

import argparse
import difflib
import functools
import itertools
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import typedgpt as tg

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
UPDATE_COMMAND = ".venv/bin/python -m tests.test_docs --update"


@dataclass(frozen=True)
class Fence:
    """One fenced code block: its language, its text, and where its text lies in the page."""

    language: str
    text: str
    first_line: int  # 0-based index of the first line inside the fence
    end_line: int  # 0-based index of the closing fence


@dataclass(frozen=True)
class Expected:
    """A ```text block checked against the `message` left by the ```python block before it."""

    python: Fence
    text: Fence


def fences(page: Path) -> list[Fence]:
    """The fenced code blocks of a page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("```"):
            index += 1
            continue
        words = line[3:].split()
        language = words[0] if words else ""
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{page.name}:{index + 1}: the ``` fence opened here is never closed")
        blocks.append(Fence(language, "\n".join(lines[index + 1 : end]), index + 1, end))
        index = end + 1
    return blocks


def expected_messages(page: Path) -> list[Expected]:
    """Each ```text block that directly follows a ```python block, with that block."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = fences(page)
    pairs = []
    for before, after in itertools.pairwise(blocks):
        between = lines[before.end_line + 1 : after.first_line - 1]
        if before.language == "python" and after.language == "text":
            if all(not line.strip() for line in between):
                pairs.append(Expected(before, after))
    return pairs


def run_page(page: Path) -> dict[Fence, str]:
    """Run a page's ```python blocks in order, in a fresh module; return the messages.

    The result maps each ```text block that follows a ```python block to the `message` that
    block left. Call-time checks are restored to their setting before the page ran.
    """
    checked = {pair.python: pair.text for pair in expected_messages(page)}
    name = "docs_" + "".join(c if c.isalnum() else "_" for c in page.stem)
    module = types.ModuleType(name)
    module.__file__ = str(page)
    namespace: dict[str, Any] = module.__dict__
    messages: dict[Fence, str] = {}
    previous = sys.modules.get(name)
    sys.modules[name] = module  # classes defined on the page resolve their module
    checks = tg.checks_enabled()
    try:
        for block in fences(page):
            if block.language != "python":
                continue
            namespace.pop("message", None)
            # Pad with blank lines so tracebacks give the line numbers of the Markdown file.
            source = "\n" * block.first_line + block.text
            exec(compile(source, str(page), "exec"), namespace)
            if block in checked:
                message = namespace.get("message")
                if not isinstance(message, str):
                    raise AssertionError(
                        f"{page.name}:{block.first_line + 1}: this ```python block is followed "
                        "by a ```text block, so it must set `message` to the text it shows "
                        f"(for example `message = str(error)`), but `message` is {message!r}"
                    )
                messages[checked[block]] = message
    finally:
        tg.set_checks(checks)
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
    return messages


@functools.cache
def _run_once(page: Path) -> dict[Fence, str]:
    """`run_page`, once per page per session: the two tests below share the run."""
    return run_page(page)


def _relative(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_relative)
def test_page_runs(page: Path) -> None:
    """Every ```python block of the page runs, in order, without an error or a warning."""
    _run_once(page)


@pytest.mark.parametrize("page", [p for p in PAGES if expected_messages(p)], ids=_relative)
def test_shown_messages_are_real(page: Path) -> None:
    """Every ```text block after a ```python block is exactly the message that block makes."""
    for text, message in _run_once(page).items():
        if text.text != message:
            diff = "\n".join(
                difflib.unified_diff(
                    text.text.splitlines(),
                    message.splitlines(),
                    "shown in the page",
                    "produced by the code",
                    lineterm="",
                )
            )
            pytest.fail(
                f"{_relative(page)}:{text.first_line + 1}: the ```text block no longer matches "
                f"the message the code above it produces:\n{diff}\n"
                f"If the new message is right, regenerate the page with `{UPDATE_COMMAND}`.",
                pytrace=False,
            )


def test_typed_layers_shows_a_real_error() -> None:
    """The "What a caught error looks like" section keeps its checked message."""
    page = ROOT / "docs" / "typed-layers.md"
    assert expected_messages(page), (
        f"{_relative(page)} should show a caught error as a ```python block that sets "
        "`message`, followed directly by a ```text block with that message"
    )


def update(pages: list[Path]) -> Iterator[str]:
    """Rewrite each checked ```text block with the message from a real run; yield changes."""
    for page in pages:
        messages = run_page(page)
        if all(text.text == message for text, message in messages.items()):
            continue
        lines = page.read_text(encoding="utf-8").splitlines()
        for text in sorted(messages, key=lambda fence: fence.first_line, reverse=True):
            lines[text.first_line : text.end_line] = messages[text].splitlines()
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")
        yield _relative(page)


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.test_docs --update`: regenerate the checked ```text blocks."""
    parser = argparse.ArgumentParser(prog="python -m tests.test_docs", description=__doc__)
    parser.add_argument(
        "--update",
        action="store_true",
        help="rewrite the ```text blocks with the messages the code produces now",
    )
    args = parser.parse_args(argv)
    if not args.update:
        parser.print_help()
        return 2
    import jax

    # The strict settings of tests/conftest.py, so the pages run as they do under pytest.
    with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion("strict"):
        changed = list(update(PAGES))
    for page in changed:
        print(f"updated {page}")
    if not changed:
        print("every ```text block already matches its message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
