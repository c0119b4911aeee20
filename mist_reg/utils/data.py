r"""Seed import path: ``from mist_reg.utils.data import SampleDataset``."""

from mist_reg.data import SampleDataset

__all__ = ["SampleDataset"]
