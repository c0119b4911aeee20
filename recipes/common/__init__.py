r"""Infrastructure shared by the recipes, one concept per module.

* :mod:`.config`: typed settings, config files and command-line overrides;
* :mod:`.validation`: checks of settings (ranges, weights, names, devices, run folders);
* :mod:`.data`: in-memory image datasets and the batches of each step;
* :mod:`.attributes`: a sensitive attribute made visible in images (a colour tint);
* :mod:`.adult`: UCI Adult (shipped compressed, checksum-verified) as tensors;
* :mod:`.adversary`, :mod:`.confusion`, :mod:`.mmd`: fairness baselines (gradient
  reversal, the confusion loss, an MMD penalty between groups);
* :mod:`.augment`: batched augmentations on the training device;
* :mod:`.models`: encoders by name (built in, timm, torchvision) and heads;
* :mod:`.device`: device choice, bf16 autocast and channels-last on CUDA;
* :mod:`.distributed`: ``torchrun`` process groups and DDP;
* :mod:`.optim`: AdamW with warm-up and cosine decay;
* :mod:`.checkpoint`: atomic checkpoints that load with ``weights_only=True``;
* :mod:`.run`: the run folder (config, metrics log, checkpoints, plots, summary);
* :mod:`.loop`: the training loop with logging, checkpoints and resumption;
* :mod:`.sweep`: one run per penalty weight, and their summaries side by side;
* :mod:`.probes`: linear and k-NN probes, ROC AUC, probe-based MI lower bounds;
* :mod:`.plots`: PNG training curves and trade-off curves.

The recipes import it as ``recipes.common`` (they run as ``python -m recipes.NAME`` from
the repository root).
"""
