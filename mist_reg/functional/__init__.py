r"""The functional core: pure functions of tensors, no parameters and no state.

* :mod:`~mist_reg.functional.bounds`: the MI bounds as functions of critic scores;
* :mod:`~mist_reg.functional.knn`: the KSG k-nearest-neighbour estimator.
"""
