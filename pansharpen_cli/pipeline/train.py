"""``pretrain``: training images from files, pretraining a prior, the weights file and the loss log.

The join of :mod:`pansharpen_cli.io.sources` (which reads the images) and
:mod:`pansharpen_cli.priors` (which simulates, trains and writes the weights): the priors see source
objects, never paths.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from ..base.errors import OutputError
from ..base.progress import Progress, no_progress
from ..io.sources import ImageSource, resolve_sources
from ..priors import PretrainConfig, save_weights
from ..priors import pretrain as pretrain_prior
from ..priors.crossdiff import pretrain_crossdiff
from .preflight import check_pretrain

__all__ = ["LOG_HEADER", "LossLog", "only", "pretrain", "tee"]

#: First line of the loss log; then one line per step.
LOG_HEADER = "step\tloss\tidentity_loss\tlr\tseconds\n"


class LossLog:
    """The TSV loss log of a pretraining run, written from its ``progress`` calls.

    One line per step after :data:`LOG_HEADER`: step, loss, identity loss (the upsampled MS against
    the reference, the untrained network's loss), learning rate, seconds. Use it as a context
    manager and as (part of) the progress callback of :func:`pansharpen_cli.priors.pretrain`.

    Args:
        path: the .tsv file.
        resume: appended to when True and the file exists; else started afresh with the header.

    Raises:
        OutputError: the file cannot be written.
    """

    def __init__(self, path: str | os.PathLike, *, resume: bool = False) -> None:
        new = not resume or not Path(path).exists()
        try:
            self._f: IO[str] = open(path, "w" if new else "a", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            raise OutputError(
                f"cannot write the loss log {str(path)!r} ({e.strerror or e}): choose another --log path"
            ) from e
        if new:
            self._f.write(LOG_HEADER)
            self._f.flush()

    def __call__(self, task: str, step: int, total: int, info: dict) -> None:
        """Write the line of ``step`` (a :data:`~pansharpen_cli.base.progress.Progress` callback);
        the stage's opening call (no step done, no figures) writes nothing."""
        if "loss" not in info:
            return
        self._f.write(
            f"{step}\t{info['loss']:.6f}\t{info['identity_loss']:.6f}\t{info['lr']:.3g}\t{info['seconds']:.1f}\n"
        )
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> LossLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tee(*callbacks: Progress) -> Progress:
    """One progress callback that calls each of ``callbacks`` in turn."""

    def report(task: str, completed: int, total: int, info: dict) -> None:
        for cb in callbacks:
            cb(task, completed, total, info)

    return report


def only(task: str, cb: Progress) -> Progress:
    """``cb`` called for ``task``'s steps only."""

    def report(t: str, completed: int, total: int, info: dict) -> None:
        if t == task:
            cb(t, completed, total, info)

    return report


def _file_inputs(images: Iterable[Any]) -> list[Path]:
    """The files among the image specifications, folders' included (the output must replace none)."""
    out: list[Path] = []
    for s in images:
        if isinstance(s, (str, os.PathLike)):
            p = Path(s)
            if p.is_dir():
                out.extend(q for q in sorted(p.iterdir()) if q.is_file())
            elif p.is_file():
                out.append(p)
    return out


def pretrain(
    images: Iterable[str | os.PathLike | np.ndarray | ImageSource],
    out_path: str | os.PathLike,
    config: PretrainConfig,
    *,
    device: torch.device | None = None,
    resume: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    log: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: Progress = no_progress,
    pretext_steps: int | None = None,
) -> dict[str, Any]:
    """Pretrain a prior on training images and write it as a weights file (+ ``NAME.json``).

    Args:
        images: folders, image or raster files, ``skimage:NAME`` (``skimage``: all samples), arrays
            (C, H, W) or (H, W), or ImageSources; see :func:`pansharpen_cli.io.sources.resolve_sources`.
        out_path: the .pt weights file to write; its manifest goes beside it.
        config: the pretraining run's settings.
        device: where to train; None: the CPU.
        resume: a checkpoint of an interrupted run with the same settings.
        checkpoint: where to write checkpoints; None: none.
        log: a TSV loss log, one line per step after the header ``step, loss, identity_loss, lr,
            seconds``; appended to when resuming into an existing log. None: no log.
        overwrite: replace an existing ``out_path``.
        progress: called ``progress("pretrain", step, steps, info)`` after every step (see
            :func:`pansharpen_cli.priors.pretrain`); CrossDiff's stage 1 reports ``"pretext"`` steps.
        pretext_steps: CrossDiff (``config.arch`` ``crossdiff``): the steps of stage 1, the pretext
            UNets (:func:`pansharpen_cli.priors.crossdiff.pretrain_crossdiff`), before
            ``config.steps`` steps of the head; None: an ordinary prior. The log has stage 2's steps.

    Returns:
        The result of :func:`pansharpen_cli.priors.pretrain` (``net``, ``manifest``, ``losses``,
        ``steps_done``, ``seconds``, ...); ``manifest`` is the one written beside the weights.

    Raises:
        InputFileError: a training image is missing, or a folder holds none.
        OutputPathError: ``out_path``, its manifest, ``checkpoint`` or ``log`` is a training image,
            the resumed checkpoint (``checkpoint`` may be) or another of them, in a missing folder,
            or ``out_path`` exists without ``overwrite`` (checked before anything is read).
        OutputError: a folder that cannot be written to.
        OptionError: invalid settings, or a resume checkpoint made with other settings.
        WeightsError: a resume checkpoint that cannot be read.
    """
    images = list(images)
    paths = {"checkpoint": checkpoint, "log": log, "resume": resume}
    out = check_pretrain(_file_inputs(images), out_path, overwrite, **paths)  # before anything is read
    sources = resolve_sources(images)
    with contextlib.ExitStack() as stack:
        callbacks = [progress]
        if log is not None:
            callbacks.insert(0, only("pretrain", stack.enter_context(LossLog(log, resume=resume is not None))))
        common = {"device": device, "resume": resume, "checkpoint": checkpoint, "progress": tee(*callbacks)}
        if pretext_steps is None:
            res = pretrain_prior(sources, config, **common)
        else:
            res = pretrain_crossdiff(sources, config, pretext_steps, **common)
    res["manifest"] = save_weights(out, res["net"], res["manifest"])
    return res
