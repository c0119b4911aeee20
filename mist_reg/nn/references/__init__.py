r"""Closed-form log density ratios fitted to data, the starting point of the default critic:
a Gaussian (:mod:`~mist_reg.nn.references.gaussian`), a Student-t copula
(:mod:`~mist_reg.nn.references.student_t`) and a Gaussian mixture
(:mod:`~mist_reg.nn.references.mixture`, fitted by :mod:`~mist_reg.nn.references.mixture_em`);
:mod:`~mist_reg.nn.references.held_out` is how they choose their own settings."""
