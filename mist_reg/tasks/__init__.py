r"""Benchmark tasks: samplers of (x, y) pairs with exactly known mutual information.

Every task is a :class:`Task` exposing ``dim_x``, ``dim_y``, the exact mutual
information ``mutual_information`` (in nats) and a reproducible
:meth:`Task.sample`. Tasks are built by composition: Gaussian and Student-t
distributions with a given joint (scale) matrix, optionally passed through
invertible maps, which leave the mutual information unchanged; and families beyond
copulas (class labels with smooth or step posteriors, discrete and mixed columns, periodic,
sharp-noise, outlier, clustered and two-view tasks; ``FAMILY_TASKS`` splits them into tuning,
reporting and unseen parameters). A discrete side is int64. Named tasks are built with :func:`get_task`
(see :func:`list_tasks` and ``BENCHMARK_SUITE``).

Example:
    >>> task = get_task("gaussian-5x5")
    >>> task
    GaussianTask(name='gaussian-5x5', dim_x=5, dim_y=5, mutual_information=1.000000)
    >>> x, y = task.sample(100, seed=0)
    >>> x.shape, y.shape
    (torch.Size([100, 5]), torch.Size([100, 5]))
"""

from mist_reg.tasks.base import Task
from mist_reg.tasks.catalogue import BENCHMARK_SUITE, TASKS, get_task, independent, list_tasks, staircase
from mist_reg.tasks.discrete import DiscretePairTask, discrete_pair, table_mutual_information
from mist_reg.tasks.families import FAMILY_TASKS, family_of, family_tasks
from mist_reg.tasks.gaussian import (
    GaussianTask,
    StudentTTask,
    dense_covariance,
    dense_gaussian,
    gaussian_mutual_information,
    sparse_covariance,
    sparse_gaussian,
    student_t_correction,
)
from mist_reg.tasks.labels import BentLabelTask, GaussianMixtureLabelTask, StepLabelTask
from mist_reg.tasks.mixed import MixedColumnsTask
from mist_reg.tasks.mixtures import ClusteredMixtureTask
from mist_reg.tasks.structured import AdditiveUniformTask, PeriodicTask, SparseSignalTask, two_views
from mist_reg.tasks.transforms import Transform, TransformedTask, cube, half_cube, normal_cdf, spiral

__all__ = [
    "Task",
    "GaussianTask",
    "StudentTTask",
    "TransformedTask",
    "Transform",
    "normal_cdf",
    "half_cube",
    "cube",
    "spiral",
    "dense_covariance",
    "sparse_covariance",
    "dense_gaussian",
    "sparse_gaussian",
    "gaussian_mutual_information",
    "student_t_correction",
    "staircase",
    "independent",
    "TASKS",
    "BENCHMARK_SUITE",
    "get_task",
    "list_tasks",
    "GaussianMixtureLabelTask",
    "StepLabelTask",
    "BentLabelTask",
    "DiscretePairTask",
    "discrete_pair",
    "table_mutual_information",
    "MixedColumnsTask",
    "PeriodicTask",
    "AdditiveUniformTask",
    "SparseSignalTask",
    "two_views",
    "ClusteredMixtureTask",
    "FAMILY_TASKS",
    "family_tasks",
    "family_of",
]
