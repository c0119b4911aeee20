"""Griffe extension used by the documentation build (see ``mkdocs.yml``).

The docstrings of mist_reg are Google style with two habits that griffe's Google parser
does not read as intended; this extension rewrites them before parsing:

* Sphinx cross-reference roles (``:func:`estimate_mi```, ``:class:`~mist_reg.functional.bounds.BoundTerms```)
  become inline code, linked to the API page of the target when it is documented there.
  Targets without a package prefix are read relative to the module of the docstring;
  targets that do not resolve (torch, numpy, ...) stay plain code.
* A section titled ``Example:`` (singular) is read as ``Examples:``, so that its doctest
  lines are rendered as Python console code rather than as an admonition of text.
* A reStructuredText literal block (a paragraph ending in ``::`` followed by an indented
  block) becomes a fenced code block after a paragraph ending in ``:``.
* A documentation page named as ``docs/error_bars.md`` becomes a link to that page of
  the site, shown with its title.
* A default value written as a module constant (``batch_size=DEFAULT_BATCH_SIZE``) is
  shown as the constant's value (``batch_size=64``) in signatures and parameter tables.
"""

from __future__ import annotations

import html
import importlib
import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`(~?)([\w.]+)`")
_EXAMPLE_SECTION = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
_UNLINKED_PACKAGES = {"torch", "numpy", "np", "zuko", "scipy", "math", "typing"}
_DOC_PAGE = re.compile(r"``docs/([\w-]+)\.md``")
_CONSTANT_NAME = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")


def _page_titles() -> dict[str, str]:
    """The nav titles of the top-level pages of mkdocs.yml (``error_bars`` -> ``Error bars``)."""
    titles = {}
    config = Path(__file__).resolve().parents[2] / "mkdocs.yml"
    for line in config.read_text().splitlines():
        match = re.match(r"^\s*-\s*([^:]+):\s*([\w-]+)\.md\s*$", line)
        if match:
            titles[match.group(2)] = match.group(1).strip()
    return titles


_TITLES = _page_titles()


def _doc_link(match: re.Match) -> str:
    # API pages live at api/<page>/, so the top-level pages are two folders up
    name = match.group(1)
    return f'<a href="../../{name}/">{html.escape(_TITLES.get(name, name))}</a>'


def _module_path(obj: griffe.Object) -> str:
    while not isinstance(obj, griffe.Module) and obj.parent is not None:
        obj = obj.parent
    return obj.path


def _literal_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and line.strip() != "::" and i + 2 < len(lines) and not lines[i + 1].strip():
            indent = len(line) - len(line.lstrip())
            j = i + 2
            block: list[str] = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
                j -= 1
            if block:
                depth = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                pad = " " * indent
                out += [line.rstrip()[:-1], "", pad + "```text", *(pad + b[depth:] for b in block), pad + "```"]
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(text: str, module_path: str) -> str:
    """Rewrites the Sphinx roles, singular ``Example:`` sections and literal blocks of one
    docstring."""

    def role(match: re.Match) -> str:
        short, target = match.group(1), match.group(2)
        shown = target.rsplit(".", 1)[-1] if short else target
        code = f"<code>{html.escape(shown)}</code>"
        package = target.split(".", 1)[0]
        if package in _UNLINKED_PACKAGES:
            return code
        identifier = target if package == "mist_reg" else f"{module_path}.{target}"
        return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'

    text = _DOC_PAGE.sub(_doc_link, text)
    return _literal_blocks(_EXAMPLE_SECTION.sub(r"\1Examples:", _ROLE.sub(role, text)))


def _with_constant_values(text: str, module_path: str) -> str:
    """``text`` with the module constants it names (``DEFAULT_BATCH_SIZE``,
    ``(DEFAULT_LABEL,)``) replaced by their values, where they are plain values."""
    try:
        module = importlib.import_module(module_path)
    except ImportError:
        return text

    def value(match: re.Match) -> str:
        constant = getattr(module, match.group(0), None)
        return repr(constant) if isinstance(constant, (int, float, str, tuple)) else match.group(0)

    return _CONSTANT_NAME.sub(value, text)


def _constant_defaults(function: griffe.Function) -> None:
    """Replaces module constants in default values by the constants' values."""
    for parameter in function.parameters:
        default = parameter.default
        if default is not None and _CONSTANT_NAME.search(str(default)):
            parameter.default = _with_constant_values(str(default), _module_path(function))


def _constant_field(attribute: griffe.Attribute) -> None:
    """Replaces module constants in the value of a class attribute (a dataclass field,
    from which the signature of the class is built) by the constants' values."""
    if isinstance(attribute.parent, griffe.Class) and attribute.value is not None:
        if _CONSTANT_NAME.search(str(attribute.value)):
            attribute.value = _with_constant_values(str(attribute.value), _module_path(attribute))


class DocstringMarkup(griffe.Extension):
    """Applies :func:`convert` to every docstring as objects are created."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value, _module_path(obj))
        if isinstance(obj, griffe.Function):
            _constant_defaults(obj)
        elif isinstance(obj, griffe.Attribute):
            _constant_field(obj)
