r"""Import paths of the torch_mist 0.1.5 API: ``mist_reg.utils.evaluate_mi``, ``mist_reg.utils.train``
and ``mist_reg.utils.data`` re-export :mod:`mist_reg.estimation.estimate`, :mod:`mist_reg.estimation.evaluation`,
:mod:`mist_reg.estimation.fitting` and :mod:`mist_reg.estimation.data`.

Compatibility aliases: the names mist_reg keeps so that code written for the torch_mist
0.1.5 API runs with the package name replaced (documented in one place, the section "The
``torch_mist`` API" of ``docs/getting-started.md``). Each is another name for a mist_reg
name, not a second implementation:

* ``estimate_mi(estimator_name=...)``: the ``estimator`` argument of
  :func:`mist_reg.estimate_mi`;
* ``mist_reg.estimators.MutualInformationEstimator``: :class:`mist_reg.MIEstimator`;
* ``mist_reg.utils.estimate_mi``, ``mist_reg.utils.evaluate_mi``,
  ``mist_reg.utils.train.train_mi_estimator``, ``mist_reg.utils.train.TrainingLog`` and
  ``mist_reg.utils.data.SampleDataset``: the functions and classes of
  :mod:`mist_reg.estimation.estimate`, :mod:`mist_reg.estimation.evaluation`, :mod:`mist_reg.estimation.fitting` and
  :mod:`mist_reg.estimation.data`;
* the ``Critic`` classes of :mod:`mist_reg.nn.critic` keep torch_mist's argument names
  (``JointCritic(joint_net=...)``), and the lower-case factories theirs
  (``hidden_dims``, ``neg_samples``, ``critic_type``).

Example:
    >>> import mist_reg.utils.train, mist_reg.utils.data
    >>> from mist_reg.estimators import MutualInformationEstimator
    >>> (MutualInformationEstimator is mist_reg.MIEstimator,
    ...  mist_reg.utils.train.train_mi_estimator is mist_reg.train_mi_estimator,
    ...  mist_reg.utils.data.SampleDataset is mist_reg.SampleDataset, mist_reg.utils.evaluate_mi is mist_reg.evaluate_mi)
    (True, True, True, True)
"""

from mist_reg.estimation.estimate import estimate_mi
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fitting import train_mi_estimator

__all__ = ["evaluate_mi", "train_mi_estimator", "estimate_mi"]
