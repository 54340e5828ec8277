"""The zero-shot presets (``--preset``), defined without importing torch so the CLI's help stays fast.

Each preset is a multiplier of the default warm-up and stage II steps, an early-stopping patience
(hold-out evaluations without a better score before stage II stops; 0: never early), the scene
area under which the budget shrinks (0: never; see ``ZeroShotConfig.reference_pixels``) and the
network it builds when the starting weights do not name one (``--weights default`` loads that
network's shipped prior; a weights file of the user's keeps its own network).

Only ``fast`` shrinks the budget of small scenes: measured on the shared scenes under the
reduced-resolution protocol (whose pairs are 124^2 to 602x626 PAN pixels), shrinking below 512^2
cost up to 0.006 Q2n (wv3: 0.9697 against 0.9712). ``best`` is the larger network at the default
budget: on every shared scene (``bench/results/ladder/ladder.md``) it gave 0.9257 mean Q2n, and no more at
twice the budget (0.9256), against 0.9230 for ``bandwise-lite`` at twice the budget (the former
``best``) and 0.9207 for the default.
:func:`pansharpen_cli.methods.zeroshot.config.preset_config` turns one into a config. Their measured
quality and time are in docs/methods.md.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, float | str]] = {
    "fast": {"steps": 0.25, "patience": 1, "reference_pixels": 512 * 512, "arch": "bandwise-lite", "tta": 1},
    "default": {"steps": 1.0, "patience": 2, "reference_pixels": 0, "arch": "bandwise-resnet", "tta": 1},
    "best": {"steps": 1.0, "patience": 2, "reference_pixels": 0, "arch": "bandwise-resnet", "tta": 4},
}

#: The preset ``pansharpen fuse`` uses unless told otherwise.
DEFAULT_PRESET = "default"

#: What the zero-shot ``align`` setting (``--align``) may be: the image whose geometry the fused
#: image keeps when the residual MS-PAN shift is removed (the first is the default).
ALIGN = ("pan", "ms")
