"""Weights files: save/load, the manifest and its checksum, the checks, the shipped prior."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import torch

from pansharpen_cli import networks, priors
from pansharpen_cli.base.errors import OptionError, WeightsError
from pansharpen_cli.priors import weights as weights_mod


def test_pretrain_writes_loadable_weights(trained) -> None:
    path, info = trained
    man = json.loads(path.with_suffix(".json").read_text())
    assert man == info["manifest"]
    assert man["sha256"] == priors.sha256_file(path) and man["benchmark"] is None and man["licence"] is None
    assert man["arch"] == networks.DEFAULT_ARCH and man["training"]["steps"] == 4
    assert man["bands"] == [3, 8] and man["ratios"] == [2, 4] and "generator" in man
    assert (
        man["format"] == priors.WEIGHTS_FORMAT
        and man["file"] == "w.pt"
        and man["bytes"] == path.stat().st_size
    )
    w = priors.load_weights(path)
    assert w is not None and w.manifest["verified"] and w.manifest["path"] == str(path)
    state, manifest = w
    net = networks.build(manifest["arch"], **manifest["config"])
    net.load_state_dict(state, strict=True)
    pan, ms_up = torch.randn(1, 1, 16, 16), torch.randn(1, 5, 16, 16)
    assert net(pan, ms_up).shape == (1, 5, 16, 16)
    net2, _ = priors.load_network(path)
    torch.testing.assert_close(net2(pan, ms_up), net.eval()(pan, ms_up))
    net3, _ = priors.load_network(path, device=torch.device("cpu"))
    assert not net3.training
    with pytest.raises(OptionError, match="torch.device"):
        priors.load_network(path, device="cpu")


def test_save_weights_errors(trained, tmp_path: Path) -> None:
    _, info = trained
    with pytest.raises(OptionError, match="existing directory"):
        priors.save_weights(tmp_path / "missing" / "w.pt", info["res"]["net"])
    with pytest.raises(OptionError, match=r"\.arch and \.config"):
        priors.save_weights(tmp_path / "w.pt", torch.nn.Linear(2, 2))


def test_user_file_without_manifest_loads_unverified(trained, tmp_path: Path) -> None:
    path, _ = trained
    p = tmp_path / "bare.pt"
    p.write_bytes(path.read_bytes())
    w = priors.load_weights(p, arch=networks.DEFAULT_ARCH.upper())
    assert w is not None and not w.manifest["verified"] and w.arch == networks.DEFAULT_ARCH


def test_none_gives_none() -> None:
    assert priors.load_weights("none") is None
    assert priors.load_weights("NONE") is None
    assert priors.load_weights(None) is None
    assert priors.load_network("none") is None


def test_corrupted_file_fails_checksum(trained, tmp_path: Path) -> None:
    path, _ = trained
    bad = tmp_path / "w.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "w.json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(WeightsError, match="corrupted.*sha256.*--weights none"):
        priors.load_weights(bad)


def test_missing_file_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="no such file"):
        priors.load_weights(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a readable torch weights file"):
        priors.load_weights(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": {}}, other)
    with pytest.raises(WeightsError, match="arch, config and state_dict"):
        priors.load_weights(other)
    torch.save({"arch": 3, "config": {}, "state_dict": {}}, other)
    with pytest.raises(WeightsError, match="malformed"):
        priors.load_weights(other)


def test_unknown_arch(trained, tmp_path: Path) -> None:
    path, _ = trained
    obj = torch.load(path, weights_only=True)
    obj["arch"] = "no-such-net"
    p = tmp_path / "u.pt"
    torch.save(obj, p)  # no manifest: allowed for a user file
    with pytest.raises(WeightsError, match="'no-such-net'.*does not know.*--weights none"):
        priors.load_weights(p)
    with pytest.raises(WeightsError, match="but --arch 'some-other-arch' was given: drop --arch"):
        priors.load_weights(path, arch="some-other-arch")


def test_state_dict_mismatch(trained, tmp_path: Path) -> None:
    path, _ = trained
    obj = torch.load(path, weights_only=True)
    obj["config"] = dict(obj["config"], features=obj["config"]["features"] + 4)  # shapes no longer fit
    p = tmp_path / "m.pt"
    torch.save(obj, p)
    with pytest.raises(WeightsError, match="does not fit network"):
        priors.load_weights(p)
    obj = torch.load(path, weights_only=True)
    obj["state_dict"].pop(next(iter(obj["state_dict"])))
    torch.save(obj, p)
    with pytest.raises(WeightsError, match="does not fit network.*pansharpen pretrain"):
        priors.load_weights(p)
    obj = torch.load(path, weights_only=True)
    obj["config"] = dict(obj["config"], no_such_option=1)
    torch.save(obj, p)
    with pytest.raises(WeightsError, match="does not accept"):
        priors.load_weights(p)


def test_manifest_problems(trained, tmp_path: Path) -> None:
    path, _ = trained
    p = tmp_path / "w.pt"
    p.write_bytes(path.read_bytes())
    (tmp_path / "w.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        priors.load_weights(p)
    (tmp_path / "w.json").write_text("[1, 2]")
    with pytest.raises(WeightsError, match="not a JSON object"):
        priors.load_weights(p)
    (tmp_path / "w.json").write_text(json.dumps({"arch": "bandwise-resnet"}))
    with pytest.raises(WeightsError, match="no sha256"):
        priors.load_weights(p)
    man = json.loads(path.with_suffix(".json").read_text())
    (tmp_path / "w.json").write_text(json.dumps(dict(man, arch="other-net")))
    with pytest.raises(WeightsError, match="its manifest says 'other-net'"):
        priors.load_weights(p)


# -- the shipped prior -------------------------------------------------------------------------------


def test_shipped_prior_is_found_in_the_weights_data_package() -> None:
    p = priors.default_weights_path()  # the default network's
    assert p.name == "prior-resnet.pt" and p.is_file()
    assert p == Path(str(resources.files("pansharpen_cli.weights") / "prior-resnet.pt"))
    assert priors.default_weights_path("prior.pt").is_file()  # bandwise-lite's


def test_default_weights_load_and_verify() -> None:
    p = priors.default_weights_path()
    man = json.loads(priors.default_manifest_path(p).read_text(encoding="utf-8"))
    w = priors.load_weights("default")
    assert w is not None and w.manifest["verified"] and w.manifest["path"] == str(p)
    assert w.manifest["sha256"] == man["sha256"] == priors.sha256_file(p)
    file_arch = torch.load(p, map_location="cpu", weights_only=True)["arch"]
    assert w.arch == man["arch"] == file_arch.lower() and w.arch in networks.available()
    assert w.config == man["config"]
    net = networks.build(w.arch, **w.config)
    net.load_state_dict(w.state_dict, strict=True)
    assert priors.load_weights(" Default ", arch=w.arch) is not None


def test_missing_shipped_prior_says_what_to_do(monkeypatch, tmp_path: Path) -> None:
    real = priors.default_weights_path()
    monkeypatch.setattr(weights_mod, "default_weights_path", lambda name=None: tmp_path / (name or real.name))
    with pytest.raises(WeightsError, match=r"missing from this installation: reinstall.*`python bench/pretrain.py`, or"):
        priors.load_weights("default")
    # another network's prior: the message names the options that re-create it
    with pytest.raises(WeightsError, match=r"bench/pretrain.py --arch bandwise-lite`"):
        priors.load_weights("default", arch="bandwise-lite")
    # the shipped prior without its manifest is refused too (it cannot be verified)
    (tmp_path / "prior-resnet.pt").write_bytes(real.read_bytes())
    with pytest.raises(WeightsError, match=r"manifest .*prior-resnet\.json.* is missing: reinstall pansharpen"):
        priors.load_weights("default")
