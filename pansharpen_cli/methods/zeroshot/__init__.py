"""The zero-shot method (TRA-PAN style): a small band-agnostic network adapted to each scene.

:mod:`.config` settings, :mod:`.scene` normalisation/registration/pairs, :mod:`.response` the
spectral response, :mod:`.sampling` crops and hold-out, :mod:`.losses`, :mod:`.trainer` the steps,
:mod:`.fit` the stages, :mod:`.model` the fitted model, :mod:`.method` the pipeline adapter.
"""

from .config import ZeroShotConfig, scaled_steps
from .fit import fit
from .model import ZeroShotModel
from .response import SpectralResponse

__all__ = ["SpectralResponse", "ZeroShotConfig", "ZeroShotModel", "fit", "scaled_steps"]
