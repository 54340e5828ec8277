"""The zero-shot presets (``--preset``), defined without importing torch so the CLI's help stays fast.

Each preset is a multiplier of the default warm-up and stage II steps, an early-stopping patience
(hold-out evaluations without a better score before stage II stops; 0: never early), the scene
area under which the budget shrinks (0: never; see ``ZeroShotConfig.reference_pixels``), the
network it builds when the starting weights do not name one (``--weights default`` loads that
network's shipped prior; a weights file of the user's keeps its own network) and the test-time
augmentation of its inference (``tta``: forward passes averaged over flips) and of its training
(``augment``: each training crop moved by one of that many symmetries), and both where the fit
holds no window out (``small_flips``: a pair too small for a hold-out window runs its whole budget
anyway, so the flips cost it no fitting time).

Only ``fast`` shrinks the budget of small scenes: measured on the shared scenes under the
reduced-resolution protocol (whose pairs are 124^2 to 602x626 PAN pixels), shrinking below 512^2
cost up to 0.006 Q2n (wv3: 0.9697 against 0.9712). ``fast`` is the small ``bandwise-lite``
network (archives on the CPU); ``default`` the larger ``bandwise-resnet``, which on every scene of
the development bench (``bench/results/ladder/ladder.md``) is at or above the former lite default,
with no more at twice the budget; ``best`` fits the wider ``bandwise-resnet-wide`` (32 features,
its own prior) on training crops moved by random flips (``augment`` 4) and averages its inference
over the 4 flips (4 forward passes): mean Q2n 0.9352 against the default's 0.9342, at about twice
the time. ``default`` does so only where its fit holds no window out (``small_flips`` 4; 15 of the 19
bench scenes, where it is ``best`` to the last digit: mean 0.9296 against 0.9259 without): on a
scene with hold-out windows the flips cost the 1280^2 x 8 speed case its early stop (33.7-34.2 s
against the 30 s target), and at three quarters of the stage II budget they gained too little
(0.9266; osman-4band -0.0022) to ship (docs/methods.md).
``default``'s network is :data:`pansharpen_cli.networks.DEFAULT_ARCH` (a test holds them equal).
:func:`pansharpen_cli.methods.zeroshot.config.preset_config` turns one into a config. Their measured
quality and time are in docs/methods.md.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, float | str]] = {
    "fast": dict(
        steps=0.25, patience=1, reference_pixels=512 * 512, arch="bandwise-lite",
        tta=1, augment=1, small_flips=1,
    ),
    "default": dict(
        steps=1.0, patience=2, reference_pixels=0, arch="bandwise-resnet", tta=1, augment=1, small_flips=4,
    ),
    "best": dict(
        steps=1.0, patience=2, reference_pixels=0, arch="bandwise-resnet-wide",
        tta=4, augment=4, small_flips=4,
    ),
}

#: The preset ``pansharpen fuse`` uses unless told otherwise.
DEFAULT_PRESET = "default"

#: What the zero-shot ``align`` setting (``--align``) may be: the image whose geometry the fused
#: image keeps when the residual MS-PAN shift is removed (the first is the default).
ALIGN = ("pan", "ms")
