r"""Building blocks with parameters: MLPs, critics, baselines, quantizers and the
closed-form reference log-ratios (:mod:`mist_reg.nn.references`) that critics start from."""
