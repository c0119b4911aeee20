"""Runs every fenced ``python`` code block of README.md and docs/**/*.md.

One test per block, with the id ``file:line`` (the line of the opening fence). The blocks
of one page run in order in one shared namespace, as a reader would paste them into one
session, so a block may use what an earlier block of the same page defined; running a
single block (``-k``) first runs the blocks before it on its page. Each page runs in its
own temporary working directory, with torch on one thread and the global seed set to 0
at the start of the page.

A block is not collected when the line right before its opening fence is
``<!-- no-test -->`` (for code that needs a GPU, several processes, a download or a long
run). Examples should stay small (``max_iterations`` of a few hundred at most): the whole
file is meant to run in well under a minute on a CPU.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SKIP_MARKER = "<!-- no-test -->"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)")


@dataclass(frozen=True)
class CodeBlock:
    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    source: str

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


def extract_blocks(text: str, path: str) -> list[CodeBlock]:
    """The ``python`` blocks of one Markdown text, without those marked ``no-test``.

    Fences may be indented (inside lists; the indentation is removed) and nested fences
    of other languages are skipped whole, so a Python block shown inside a Markdown
    example is not collected.
    """
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"]
            ):
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        skipped = i > 0 and lines[i - 1].strip() == SKIP_MARKER
        if info in ("python", "py", "python3") and not skipped:
            blocks.append(CodeBlock(path, i + 1, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def collect() -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    for file in markdown_files():
        blocks += extract_blocks(file.read_text(encoding="utf-8"), file.relative_to(ROOT).as_posix())
    return blocks


BLOCKS = collect()


@dataclass
class PageRun:
    """The state of one page: its namespace, working directory and progress."""

    workdir: Path
    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "__main__"})
    done: int = 0  # the number of its blocks run so far
    failed: str | None = None


_PAGES: dict[str, PageRun] = {}


def _run(block: CodeBlock, page: PageRun) -> None:
    # pad with newlines so that tracebacks point at the line in the Markdown file
    code = compile("\n" * block.line + block.source, str(ROOT / block.path), "exec")
    cwd = os.getcwd()
    os.chdir(page.workdir)
    try:
        exec(code, page.namespace)
    finally:
        os.chdir(cwd)


def test_blocks_are_collected():
    ids = [b.id for b in BLOCKS]
    assert len(ids) == len(set(ids))
    assert any(i.startswith("README.md:") for i in ids)
    assert any(i.startswith("docs/getting-started.md:") for i in ids)


def test_extract_blocks_rules():
    text = "\n".join(
        [
            "```python",
            "a = 1",
            "```",  # collected, line 1
            "<!-- no-test -->",
            "```python",
            "b = 2",
            "```",  # skipped
            "````markdown",
            "```python",
            "c = 3",
            "```",
            "````",  # nested in another fence
            "1. item",
            "",
            "   ```python",
            "   d = 4",
            "   ```",  # indented, line 15
            "```bash",
            "echo 1",
            "```",
        ]
    )
    blocks = extract_blocks(text, "page.md")
    assert [(b.line, b.source) for b in blocks] == [(1, "a = 1\n"), (15, "d = 4\n")]


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_docs_example(block: CodeBlock, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        page_blocks = [b for b in BLOCKS if b.path == block.path]
        index = page_blocks.index(block)
        page = _PAGES.get(block.path)
        if page is None or page.done > index:  # a fresh page, or a block run again
            page = _PAGES[block.path] = PageRun(tmp_path_factory.mktemp("docs-example"))
            torch.manual_seed(0)
        for earlier in page_blocks[page.done : index]:  # when blocks run out of order (-k)
            if page.failed is not None:
                break
            try:
                _run(earlier, page)
            except BaseException as error:  # noqa: BLE001 - reported below
                page.failed = f"{earlier.id} ({type(error).__name__}: {error})"
            page.done += 1
        if page.failed is not None:
            pytest.fail(f"an earlier block of this page failed: {page.failed}", pytrace=False)
        try:
            _run(block, page)
        except BaseException:
            page.failed = block.id
            raise
        finally:
            page.done = index + 1
    finally:
        torch.set_num_threads(threads)
