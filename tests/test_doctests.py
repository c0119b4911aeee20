"""Runs the doctest examples of every module of mist_reg (found with pkgutil), one test per
docstring, and requires zero failures."""

from __future__ import annotations

import copy
import doctest
import importlib
import io
import pkgutil

import pytest
import torch

import mist_reg

# Known failures in mist_reg, reported separately; strict, so fixing them turns these red.
KNOWN_FAILURES: dict[str, str] = {}


def module_names() -> list[str]:
    return ["mist_reg"] + sorted(m.name for m in pkgutil.walk_packages(mist_reg.__path__, "mist_reg."))


def collect_doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    tests = []
    for name in module_names():
        module = importlib.import_module(name)
        tests += [t for t in finder.find(module) if t.examples]
    return sorted(tests, key=lambda t: t.name)


DOCTESTS = collect_doctests()


def _param(test: doctest.DocTest):
    marks = []
    if test.name in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[test.name]))
    return pytest.param(test, id=test.name, marks=marks)


def test_every_module_is_walked():
    names = module_names()
    for expected in (
        "mist_reg.functional.bounds",
        "mist_reg.nn.critic",
        "mist_reg.nn.references.student_t",
        "mist_reg.estimators.discriminative",
    ):
        assert expected in names
    found = {t.name for t in DOCTESTS}
    assert "mist_reg.functional.bounds.logmeanexp" in found
    assert sum(len(t.examples) for t in DOCTESTS) > 50


@pytest.mark.parametrize("test", [_param(t) for t in DOCTESTS])
def test_doctest(test: doctest.DocTest):
    torch.manual_seed(0)  # several examples draw random data
    runner = doctest.DocTestRunner(verbose=False)
    output = io.StringIO()
    fresh = copy.copy(test)
    fresh.globs = dict(test.globs)  # the runner clears the globals it was given
    result = runner.run(fresh, out=output.write)
    assert result.failed == 0, output.getvalue()
    assert result.attempted == len(test.examples)
