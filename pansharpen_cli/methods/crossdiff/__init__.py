"""CrossDiff (Xing et al., 2024): frozen cross-predictive diffusion features and a fusion head trained
on each scene with the zero-shot method's losses and schedule.

:mod:`.config` the settings (the zero-shot ones plus the pretext adaptation), :mod:`.adapt` the
optional per-scene adaptation of the pretext UNets, :mod:`.method` the pipeline adapter. The network
is :mod:`pansharpen_cli.networks.crossdiff`; its pretraining :mod:`pansharpen_cli.priors.crossdiff`.
"""

from .config import CrossDiffConfig, from_zeroshot

__all__ = ["CrossDiffConfig", "from_zeroshot"]
