"""recipes/benchmarks/sparse_tables.py: its truths are the exact ones, and its options are checked."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recipes.benchmarks import sparse_tables


def test_a_copy_of_every_code_has_the_entropy_of_the_codes_and_a_product_table_none():
    _, _, truth = sparse_tables.copy_draw(1.0, 8, np.random.default_rng(0))
    assert truth == pytest.approx(math.log(8))
    _, _, truth = sparse_tables.copy_draw(0.0, 8, np.random.default_rng(0))
    assert truth == pytest.approx(0.0, abs=1e-12)
    x, y, truth = sparse_tables.table_draw(5, 4, 1e6, False, np.random.default_rng(0))  # y | x nearly uniform
    assert 0 <= truth < 1e-5 and x.max() < 5 and y.max() < 4


def test_too_few_draws_are_refused(capsys):
    with pytest.raises(SystemExit):
        sparse_tables.main(["--draws", "0"])
    assert "--draws must be at least 1" in capsys.readouterr().err
