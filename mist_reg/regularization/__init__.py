r"""MI as a training loss: :class:`~mist_reg.regularization.loss.MILoss`, feature capture by module
name (:mod:`~mist_reg.regularization.hooks`), gathering across ranks
(:mod:`~mist_reg.regularization.distributed`), and what a fresh probe reads of an attribute
(:mod:`~mist_reg.regularization.leakage`), and a cheap reader to watch it during training
(:mod:`~mist_reg.regularization.monitor`)."""
