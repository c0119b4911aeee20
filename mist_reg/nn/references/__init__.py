r"""Closed-form log density ratios fitted to data, the starting point of the default critic:
a Gaussian (:mod:`~mist_reg.nn.references.gaussian`) and a Student-t copula
(:mod:`~mist_reg.nn.references.student_t`)."""
