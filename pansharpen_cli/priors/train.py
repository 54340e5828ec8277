"""Pretraining a registry network on simulated triplets (:class:`PretrainConfig`, :func:`pretrain`).

L1 between the network output and the reference, in the units of the per-sample normalisation the
zero-shot fit uses at inference (:func:`~pansharpen_cli.priors.batches.normalise`), after the
scene-statistics jitter; Adam, a cosine learning-rate schedule, resumable checkpoints. Every step's
batch is a pure function of ``(seed, step)``, so a resumed run continues exactly as an
uninterrupted one. No files but the checkpoints: the pipeline resolves the training images and
writes the weights file and the loss log.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__, networks
from ..base.errors import OptionError, WeightsError
from ..base.progress import Progress, no_progress
from ..physics.torch_ops import detail_inputs, upsample_t
from .batches import batch_for_step, normalise, scene_jitter
from .settings import SimSettings
from .simulate import Source, TripletSampler
from .weights import torch_device

logger = logging.getLogger(__name__)

__all__ = ["PRETRAIN_MS_GAIN", "PretrainConfig", "pretrain"]

#: Nyquist gain of the MS MTF assumed when the network's per-band PAN detail and detail gains are
#: made in pretraining (the generic MS gain, as ``fuse`` uses for an unknown sensor; the simulated
#: bands' true gains vary from 0.15 to 0.45, as a real sensor's differ from its nominal values).
PRETRAIN_MS_GAIN = 0.3

_CHECKPOINT_KIND = "pansharpen-pretrain-checkpoint"


@dataclass(frozen=True)
class PretrainConfig:
    """What a pretraining run is: the network, the schedule and the generator's settings.

    Attributes:
        arch: network architecture (lower-cased; default ``networks.DEFAULT_ARCH``).
        config: network constructor kwargs (None: its defaults).
        steps: total optimisation steps (including those of a resumed run), >= 0.
        batch: crops per step, >= 1.
        crop: fine-pixel crop side.
        ratios: PAN/MS ratios to train on.
        bands: (min, max) MS band counts to train on.
        lr: Adam learning rate, > 0 (peak; cosine decay to 10% when ``cosine``).
        cosine: cosine learning-rate decay over ``steps``.
        seed: seeds the network initialisation and every batch.
        settings: other :class:`~pansharpen_cli.priors.settings.SimSettings` fields.
        checkpoint_every: steps between checkpoints, >= 1.
        max_seconds: stop early (after a checkpoint) once this much time has passed in one call;
            None: no limit.

    Raises:
        OptionError: an unknown architecture, a value out of range, or invalid generator settings.
    """

    arch: str = networks.DEFAULT_ARCH
    config: dict[str, Any] | None = None
    steps: int = 1000
    batch: int = 8
    crop: int = 64
    ratios: tuple[int, ...] = (2, 3, 4)
    bands: tuple[int, int] = (3, 8)
    lr: float = 1e-3
    cosine: bool = True
    seed: int = 0
    settings: dict[str, Any] | None = field(default=None)
    checkpoint_every: int = 100
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        arch = (self.arch or networks.DEFAULT_ARCH).lower()
        if arch not in networks.available():
            raise OptionError(f"expected a network architecture among {networks.available()}, got {arch!r}")
        object.__setattr__(self, "arch", arch)
        object.__setattr__(self, "ratios", tuple(int(r) for r in self.ratios))
        object.__setattr__(self, "bands", tuple(int(b) for b in self.bands))
        if self.steps < 0 or self.batch < 1 or self.checkpoint_every < 1 or self.lr <= 0:
            raise OptionError(
                "expected steps >= 0, batch >= 1, checkpoint_every >= 1, lr > 0; got "
                f"{self.steps}, {self.batch}, {self.checkpoint_every}, {self.lr}"
            )
        if self.max_seconds is not None and self.max_seconds < 0:
            raise OptionError(f"expected max_seconds >= 0 or None, got {self.max_seconds}")
        self.sim_settings()  # invalid generator settings fail here, before any work

    def sim_settings(self) -> SimSettings:
        """The generator's settings: ``crop``, ``ratios``, ``bands`` and ``settings``.

        Raises:
            OptionError: invalid or unknown settings.
        """
        extra = dict(self.settings or {})
        clash = sorted({"crop", "ratios", "bands"} & set(extra))
        if clash:
            raise OptionError(f"expected {', '.join(clash)} as PretrainConfig fields, got them in settings")
        try:
            return SimSettings(crop=self.crop, ratios=self.ratios, bands=self.bands, **extra)
        except TypeError as e:
            raise OptionError(f"expected SimSettings fields in settings, got {sorted(extra)}: {e}") from e


def _build_net(cfg: PretrainConfig, init_state: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
    """The network, initialised from ``cfg.seed`` (the global torch RNG is left as it was), or
    from ``init_state`` when given."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        try:
            net = networks.build(cfg.arch, **(cfg.config or {}))
        except (TypeError, ValueError) as e:
            raise OptionError(
                f"expected valid settings for network {cfg.arch!r}, got {cfg.config}: {e}"
            ) from e
    if init_state is not None:
        net.load_state_dict(init_state)
    return net


def _identity(
    cfg: PretrainConfig, net: torch.nn.Module, sim: SimSettings, names: list[str]
) -> dict[str, Any]:
    """What a checkpoint must share with a run to resume it."""
    return {
        "arch": cfg.arch,
        "config": dict(net.config),
        "steps": int(cfg.steps),
        "batch": int(cfg.batch),
        "lr": float(cfg.lr),
        "cosine": bool(cfg.cosine),
        "seed": int(cfg.seed),
        "generator": sim.as_dict(),
        "images": names,
    }


def _write_checkpoint(path: str | os.PathLike, obj: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, p)


def _read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint written by :func:`pretrain`.

    Raises:
        WeightsError: missing, unreadable, or another kind of file.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"expected a pretraining checkpoint at {p}, got no such file")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many kinds)
        raise WeightsError(
            f"cannot read checkpoint {p} ({type(e).__name__}: {e}); start without --resume"
        ) from e
    if not isinstance(ck, dict) or ck.get("kind") != _CHECKPOINT_KIND:
        raise WeightsError(f"expected a pretraining checkpoint in {p}, got another kind of file")
    return ck


class _Run:
    """The mutable state of a run: network, optimiser, steps done, losses, time."""

    def __init__(self, net: torch.nn.Module, lr: float, identity: dict[str, Any]) -> None:
        self.net = net
        self.opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
        self.identity = identity
        self.step = 0
        self.losses: list[tuple[int, float, float]] = []
        self.seconds_before = 0.0
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        """Training time so far, including the resumed runs'."""
        return self.seconds_before + time.perf_counter() - self.t0

    def resume(self, path: str | os.PathLike) -> None:
        """Continue from a checkpoint of a run with the same identity.

        Raises:
            OptionError: the checkpoint was made with other settings.
            WeightsError: it cannot be read.
        """
        ck = _read_checkpoint(path)
        diff = [k for k in self.identity if k != "steps" and ck["identity"].get(k) != self.identity[k]]
        if diff:
            raise OptionError(
                f"expected the settings of checkpoint {path} to resume it, got different {', '.join(diff)}: "
                "pass the same settings or start without --resume"
            )
        self.net.load_state_dict(ck["state_dict"])
        self.opt.load_state_dict(ck["optimizer"])
        self.step = int(ck["step"])
        self.losses = [tuple(x) for x in ck["losses"]]
        self.seconds_before = float(ck.get("seconds", 0.0))

    def save(self, path: str | os.PathLike | None) -> None:
        """Write a checkpoint (atomically); None: nothing."""
        if path is None:
            return
        _write_checkpoint(
            path,
            {
                "kind": _CHECKPOINT_KIND,
                "identity": self.identity,
                "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "optimizer": self.opt.state_dict(),
                "step": self.step,
                "losses": self.losses,
                "seconds": self.seconds(),
            },
        )


def _lr_at(lr: float, step: int, steps: int, cosine: bool) -> float:
    """Learning rate of ``step``: cosine from ``lr`` down to 10% of it over ``steps`` (or constant)."""
    if not cosine or steps <= 1:
        return lr
    return lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * step / steps)))


def step_seed(seed: int, step: int) -> int:
    """The seed of the noise of ``step`` for networks with noisy inputs."""
    return int(np.random.SeedSequence((seed, step, 11)).generate_state(1)[0])


def _train_step(
    run: _Run, sampler: TripletSampler, cfg: PretrainConfig, dev: torch.device
) -> tuple[float, float, float]:
    """One optimisation step on the batch of ``run.step``.

    Returns:
        ``(loss, identity_loss, lr)``: the L1 of the network and of the upsampled MS against the
        normalised reference, and the learning rate used.
    """
    b = batch_for_step(sampler, cfg.seed, run.step, cfg.batch)
    pan_n, ms_n, ref_n, _, _ = normalise(b)
    rng = np.random.default_rng((cfg.seed, run.step, 7))
    pan_n, ms_n, ref_n = scene_jitter(pan_n, ms_n, ref_n, sampler.settings, rng)
    pan_n, ms_n, ref_n = pan_n.to(dev), ms_n.to(dev), ref_n.to(dev)
    reseed = getattr(run.net, "reseed", None)
    if reseed is not None:  # a network with noisy inputs: its noise, too, a function of (seed, step)
        reseed(step_seed(cfg.seed, run.step), dev)
    with torch.no_grad():
        ms_up = upsample_t(ms_n, b.ratio)
        ident = float((ms_up - ref_n).abs().mean())
        det, dg = detail_inputs(pan_n, ms_n, [PRETRAIN_MS_GAIN] * ms_n.shape[1], b.ratio)
    cur_lr = _lr_at(cfg.lr, run.step, cfg.steps, cfg.cosine)
    for g in run.opt.param_groups:
        g["lr"] = cur_lr
    out = run.net(pan_n, ms_up, det, dg)
    loss = (out - ref_n).abs().mean()
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    return float(loss.detach()), ident, cur_lr


def _loop(
    run: _Run,
    sampler: TripletSampler,
    cfg: PretrainConfig,
    dev: torch.device,
    checkpoint: str | os.PathLike | None,
    progress: Progress,
) -> None:
    """Train from ``run.step`` to ``cfg.steps`` (or ``cfg.max_seconds``), reporting every step and
    checkpointing every ``cfg.checkpoint_every`` steps and at the end."""
    run.t0 = time.perf_counter()
    progress("pretrain", run.step, cfg.steps, {})  # the stage starts (a resumed run: where it stopped)
    while run.step < cfg.steps:
        loss, ident, cur_lr = _train_step(run, sampler, cfg, dev)
        run.step += 1
        run.losses.append((run.step, loss, ident))
        elapsed = time.perf_counter() - run.t0
        info = {"loss": loss, "identity_loss": ident, "lr": cur_lr, "seconds": run.seconds_before + elapsed}
        progress("pretrain", run.step, cfg.steps, info)
        if run.step % cfg.checkpoint_every == 0 and run.step < cfg.steps:
            run.save(checkpoint)
        if cfg.max_seconds is not None and elapsed >= cfg.max_seconds:
            logger.info(
                "pretraining stopped at step %d of %d after %.0f s (max_seconds)",
                run.step,
                cfg.steps,
                elapsed,
            )
            break
    run.save(checkpoint)


def _manifest(
    cfg: PretrainConfig, sim: SimSettings, names: list[str], run: _Run, seconds: float, dev: torch.device
) -> dict[str, Any]:
    """The training facts recorded in the weights' manifest (see ``save_weights``)."""
    tail = run.losses[-min(len(run.losses), 50) :]
    return {
        "bands": list(sim.bands),
        "ratios": list(sim.ratios),
        "training": {
            "images": names,
            "steps": run.step,
            "steps_planned": int(cfg.steps),
            "batch": int(cfg.batch),
            "crop": int(cfg.crop),
            "lr": float(cfg.lr),
            "lr_schedule": "cosine to 10%" if cfg.cosine else "constant",
            "optimizer": "Adam",
            "loss": "L1 on the reference, normalised per sample (PAN mean/std, MS per-band mean/std)",
            "seed": int(cfg.seed),
            "seconds": round(seconds, 1),
            "device": str(dev),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "pansharpen": __version__,
            "final_loss_mean_last_50": float(np.mean([x[1] for x in tail])) if tail else None,
            "identity_loss_mean_last_50": float(np.mean([x[2] for x in tail])) if tail else None,
        },
        "generator": sim.as_dict(),
    }


def pretrain(
    sources: list[Source | np.ndarray],
    config: PretrainConfig,
    *,
    device: torch.device | None = None,
    resume: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: Progress = no_progress,
    init_state: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Pretrain a registry network on simulated triplets (L1 on the normalised reference, Adam).

    Every step's batch is drawn by a generator seeded with ``(seed, step)`` (one band count and one
    ratio per batch), so a run resumed from a checkpoint continues exactly as an uninterrupted one.

    Args:
        sources: training images: objects with ``.name`` and ``.load()`` (from
            :func:`pansharpen_cli.io.sources.resolve_sources`) or numpy arrays (C, H, W) / (H, W).
        config: the run's settings.
        device: where to train; None: the CPU.
        resume: a checkpoint written by a previous call with the same settings.
        checkpoint: where to write checkpoints (atomically) every ``config.checkpoint_every`` steps
            and at the end; None: no checkpoints.
        progress: called ``progress("pretrain", start, steps, {})`` when training starts (``start``
            0, or the resumed step), then ``progress("pretrain", step, steps, info)`` after every
            step (step counts from 1), ``info`` holding ``loss``, ``identity_loss`` (the upsampled MS against the
            reference: the untrained network's loss), ``lr`` and ``seconds`` (including resumed runs').
        init_state: the network's state to start from (CrossDiff: its pretext UNets, frozen).

    Returns:
        dict with ``net`` (the trained module, CPU, eval mode), ``arch``, ``config``, ``state_dict``,
        ``steps_done``, ``losses`` (list of ``(step, loss, identity_loss)``), ``seconds`` and
        ``manifest`` (training facts for :func:`~pansharpen_cli.priors.weights.save_weights`).

    Raises:
        OptionError: invalid sources (paths: resolve them first), a device that is not a
            torch.device, invalid network settings, or a resume checkpoint made with other settings.
        WeightsError: a resume checkpoint that cannot be read.
    """
    cfg = config
    sim = cfg.sim_settings()
    sampler = TripletSampler(sources, sim)
    dev = torch_device(device)
    net = _build_net(cfg, init_state)
    run = _Run(net.to(dev).train(), cfg.lr, _identity(cfg, net, sim, sampler.names))
    if resume is not None:
        run.resume(resume)
    _loop(run, sampler, cfg, dev, checkpoint, progress)
    net.cpu().eval()
    seconds = run.seconds()
    return {
        "net": net,
        "arch": cfg.arch,
        "config": dict(net.config),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "steps_done": run.step,
        "losses": run.losses,
        "seconds": seconds,
        "manifest": _manifest(cfg, sim, sampler.names, run, seconds, dev),
    }
