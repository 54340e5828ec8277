"""``pipeline.train.pretrain``: images from files, the weights file, its manifest and the loss log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pansharpen_cli import priors
from pansharpen_cli.base.errors import InputFileError, OutputError
from pansharpen_cli.pipeline.train import LOG_HEADER, pretrain
from tests.conftest import write_tif
from tests.priors.conftest import TINY, synthetic_images


def _tif(tmp_path: Path) -> Path:
    rgb = synthetic_images()[0]
    return write_tif(tmp_path / "img.tif", (rgb * 1000 + 2000).astype(np.uint16))


def test_pretrain_writes_weights_manifest_and_log(tmp_path: Path) -> None:
    tif, out, log = _tif(tmp_path), tmp_path / "prior.pt", tmp_path / "log.tsv"
    calls: list[tuple] = []
    cfg = priors.PretrainConfig(**TINY)
    res = pretrain([tif, synthetic_images()[1]], out, cfg, log=log, progress=lambda *a: calls.append(a))
    assert [c[1] for c in calls] == [0, 1, 2, 3, 4]  # the stage's opening call, then every step
    calls = calls[1:]
    man = json.loads(out.with_suffix(".json").read_text())
    assert man == res["manifest"] and man["sha256"] == priors.sha256_file(out)
    assert man["training"]["images"] == [str(tif), "array1[96, 110]"] and man["training"]["steps"] == 4
    w = priors.load_weights(out)
    assert w is not None and w.manifest["verified"]
    lines = log.read_text().splitlines()
    assert lines[0] + "\n" == LOG_HEADER and len(lines) == 5
    for line, (step, loss, ident), (_, _, _, info) in zip(lines[1:], res["losses"], calls, strict=True):
        assert line == f"{step}\t{loss:.6f}\t{ident:.6f}\t{info['lr']:.3g}\t{info['seconds']:.1f}"
    # the same run through the library directly gives the same network (files change nothing)
    direct = priors.pretrain(_sources(tif), cfg)
    assert direct["losses"] == res["losses"]


def _sources(tif: Path) -> list:
    from pansharpen_cli.io.sources import resolve_sources

    return resolve_sources([tif, synthetic_images()[1]])


def test_resume_appends_to_the_log(tmp_path: Path) -> None:
    log, ck = tmp_path / "log.tsv", tmp_path / "ck.pt"
    imgs = synthetic_images()
    pretrain(imgs, tmp_path / "a.pt", priors.PretrainConfig(**{**TINY, "steps": 2}), checkpoint=ck, log=log)
    assert len(log.read_text().splitlines()) == 3
    res = pretrain(imgs, tmp_path / "b.pt", priors.PretrainConfig(**TINY), resume=ck, checkpoint=ck, log=log)
    lines = log.read_text().splitlines()
    assert res["steps_done"] == 4 and lines.count(LOG_HEADER.strip()) == 1
    assert [int(x.split("\t")[0]) for x in lines[1:]] == [1, 2, 3, 4]
    # without --resume the log starts afresh
    pretrain(imgs, tmp_path / "c.pt", priors.PretrainConfig(**{**TINY, "steps": 1}), log=log)
    assert len(log.read_text().splitlines()) == 2


def test_output_and_input_checks(tmp_path: Path) -> None:
    imgs = synthetic_images()
    cfg = priors.PretrainConfig(**{**TINY, "steps": 1})
    out = tmp_path / "w.pt"
    out.write_bytes(b"old")
    with pytest.raises(OutputError, match="--overwrite"):
        pretrain(imgs, out, cfg)
    assert out.read_bytes() == b"old"
    pretrain(imgs, out, cfg, overwrite=True)
    assert priors.load_weights(out) is not None
    with pytest.raises(OutputError, match="does not exist"):
        pretrain(imgs, tmp_path / "no" / "w.pt", cfg)
    tif = _tif(tmp_path)
    with pytest.raises(OutputError, match="also an input"):
        pretrain([tmp_path], tif, cfg, overwrite=True)
    with pytest.raises(InputFileError, match="expected an existing"):
        pretrain([tmp_path / "missing.tif"], tmp_path / "x.pt", cfg)
    with pytest.raises(OutputError, match="--log .*does not exist"):  # before any step
        pretrain(imgs, tmp_path / "y.pt", cfg, log=tmp_path / "no" / "log.tsv")
