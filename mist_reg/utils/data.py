r"""Import path of the torch_mist 0.1.5 API (a compatibility alias, see :mod:`mist_reg.utils`):
``from mist_reg.utils.data import SampleDataset``."""

from mist_reg.estimation.data import SampleDataset

__all__ = ["SampleDataset"]
