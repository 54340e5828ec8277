"""The zero-shot presets (``--preset``), defined without importing torch so the CLI's help stays fast.

Each preset is a multiplier of the default warm-up and stage II steps and an early-stopping patience
(hold-out evaluations without a better score before stage II stops; 0: never early).
:func:`pansharpen_cli.methods.zeroshot.config.preset_config` turns one into a config. Their measured
quality and time are in the README.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, float]] = {
    "fast": {"steps": 0.25, "patience": 1},
    "default": {"steps": 1.0, "patience": 2},
    "best": {"steps": 2.0, "patience": 0},
}

#: The preset ``pansharpen fuse`` uses unless told otherwise.
DEFAULT_PRESET = "default"
