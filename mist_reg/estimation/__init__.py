r"""The estimation pipeline: :func:`~mist_reg.estimation.estimate.estimate_mi` and the pieces it
is made of (input checks and batches, preprocessing, fitting with early stopping, the choice of
reference, held-out evaluation and the result with its error bar)."""
