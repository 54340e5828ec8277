"""Pretraining: the config, progress reports, checkpoints and exact resumption, the device rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import networks, priors
from pansharpen_cli.base.errors import OptionError, WeightsError
from tests.priors.conftest import TINY
from tests.priors.conftest import synthetic_images as _images


def test_progress_reports_every_step_through_the_progress_type(trained) -> None:
    _, info = trained
    calls, res = info["calls"], info["res"]
    assert [c[:3] for c in calls] == [("pretrain", s, 4) for s in (0, 1, 2, 3, 4)]  # opening call, steps
    calls = calls[1:]
    for (_, step, _, inf), (s, loss, ident) in zip(calls, res["losses"], strict=True):
        assert step == s and inf["loss"] == loss and inf["identity_loss"] == ident
        assert set(inf) == {"loss", "identity_loss", "lr", "seconds"} and inf["seconds"] >= 0
        assert np.isfinite(loss) and 0 < inf["lr"] <= 1e-3
    assert calls[0][3]["lr"] == 1e-3 and calls[-1][3]["lr"] < calls[0][3]["lr"]  # cosine schedule
    assert res["steps_done"] == 4 and res["arch"] == networks.DEFAULT_ARCH
    assert not res["net"].training and next(res["net"].parameters()).device.type == "cpu"
    man = res["manifest"]
    assert man["training"]["steps"] == 4 and man["training"]["device"] == "cpu"
    assert man["training"]["images"] == ["array0[3, 96, 96]", "array1[96, 110]"]
    assert man["bands"] == [3, 8] and man["ratios"] == [2, 4] and man["generator"]["crop"] == 24


def test_same_seed_same_weights(trained) -> None:
    _, info = trained
    again = priors.pretrain(_images(), priors.PretrainConfig(**TINY))
    assert again["losses"] == info["res"]["losses"]
    for k, v in info["res"]["state_dict"].items():
        assert torch.equal(again["state_dict"][k], v), k


def test_pretrain_resume_is_exact(trained, tmp_path) -> None:
    _, info = trained
    full = info["res"]
    # a run stopped after its first step and continued to step 4 gives the uninterrupted run's network
    part = priors.pretrain(
        _images(), priors.PretrainConfig(**TINY, max_seconds=0.0), checkpoint=tmp_path / "ck2.pt"
    )
    assert part["steps_done"] == 1
    rest = priors.pretrain(_images(), priors.PretrainConfig(**TINY), resume=tmp_path / "ck2.pt")
    assert rest["steps_done"] == 4 and len(rest["losses"]) == 4
    for k, v in full["state_dict"].items():
        torch.testing.assert_close(rest["state_dict"][k], v)
    # the checkpoint of the fixture's run (step 4) resumes to nothing more
    done = priors.pretrain(_images(), priors.PretrainConfig(**TINY), resume=info["dir"] / "ck.pt")
    assert done["steps_done"] == 4 and done["losses"] == full["losses"]
    with pytest.raises(OptionError, match="settings of checkpoint.*seed"):
        priors.pretrain(_images(), priors.PretrainConfig(**{**TINY, "seed": 1}), resume=tmp_path / "ck2.pt")


def test_bad_checkpoints_are_weights_errors(tmp_path) -> None:
    with pytest.raises(WeightsError, match="no such file"):
        priors.pretrain(_images(), priors.PretrainConfig(**TINY), resume=tmp_path / "nope.pt")
    torch.save({"kind": "something else"}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="another kind of file"):
        priors.pretrain(_images(), priors.PretrainConfig(**TINY), resume=tmp_path / "other.pt")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"arch": "no-such-net"}, "network architecture among"),
        ({"steps": -1}, "steps >= 0"),
        ({"batch": 0}, "batch >= 1"),
        ({"lr": 0.0}, "lr > 0"),
        ({"checkpoint_every": 0}, "checkpoint_every >= 1"),
        ({"max_seconds": -1.0}, "max_seconds >= 0"),
        ({"ratios": (1,)}, "ratios >= 2"),
        ({"settings": {"no_such_field": 1}}, "SimSettings fields"),
        ({"settings": {"crop": 32}}, "crop as PretrainConfig fields"),
    ],
)
def test_config_errors_say_what_to_change(kw, match) -> None:
    with pytest.raises(OptionError, match=match):
        priors.PretrainConfig(**kw)


def test_config_normalises_its_fields() -> None:
    cfg = priors.PretrainConfig(arch="Bandwise-ResNet", ratios=[2, 3], bands=[4, 6])
    assert cfg.arch == "bandwise-resnet" and cfg.ratios == (2, 3) and cfg.bands == (4, 6)
    sim = cfg.sim_settings()
    assert sim.ratios == (2, 3) and sim.bands == (4, 6) and sim.crop == cfg.crop


def test_no_device_strings_and_no_paths() -> None:
    cfg = priors.PretrainConfig(**{**TINY, "steps": 0})
    with pytest.raises(OptionError, match="torch.device.*resolve_device"):
        priors.pretrain(_images(), cfg, device="cpu")
    with pytest.raises(OptionError, match="resolve_sources"):
        priors.pretrain(["skimage:camera"], cfg)
    res = priors.pretrain(_images(), cfg, device=torch.device("cpu"))
    assert res["steps_done"] == 0 and res["losses"] == []
    assert res["manifest"]["training"]["final_loss_mean_last_50"] is None
