"""Shared data of the priors tests: small synthetic training images and one tiny pretrained prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pansharpen_cli import priors

#: The network and schedule of the tiny pretraining runs (seconds on one CPU thread).
TINY = dict(config={"features": 8, "blocks": 1}, steps=4, batch=2, crop=24, ratios=(2, 4), seed=0)


def synthetic_images() -> list[np.ndarray]:
    """Two small synthetic images: an RGB-like (3, 96, 96) and a grey (96, 110) one."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :110]
    grey = np.sin(xx / 5.0) * np.cos(yy / 7.0) + 0.3 * rng.standard_normal((96, 110))
    rgb = np.stack([np.roll(grey, k, axis=1)[:, :96] * (1 + 0.2 * k) for k in range(3)])
    return [rgb.astype(np.float32), grey.astype(np.float32)]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A 4-step prior written with save_weights: ``(path, {"res", "manifest", "dir", "calls"})``;
    its run checkpointed every 2 steps to ``dir / "ck.pt"``."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("prior")
    calls: list[tuple] = []
    res = priors.pretrain(
        synthetic_images(),
        priors.PretrainConfig(**TINY, checkpoint_every=2),
        checkpoint=d / "ck.pt",
        progress=lambda *a: calls.append(a),
    )
    man = priors.save_weights(d / "w.pt", res["net"], res["manifest"])
    return d / "w.pt", {"res": res, "manifest": man, "dir": d, "calls": calls}
