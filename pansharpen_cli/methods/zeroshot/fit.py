"""Zero-shot pansharpening: optimise a small band-agnostic network on the scene itself.

No I/O, no printing, no device choice: the caller passes arrays, a :class:`ZeroShotConfig` and a
``torch.device``, and gets a :class:`ZeroShotModel` that fuses tiles (DESIGN.md section 4).

Stage I
    1. Normalise: per-band MS mean/std and PAN mean/std over valid pixels. Register: measure the
       residual MS-PAN shift (:mod:`~pansharpen_cli.physics.registration`) and move the PAN onto
       the MS by it for the fit (:mod:`.scene`); for inference the model removes it either way
       (``align``: by default the MS moves onto the PAN, so the fused image lines up with the PAN;
       ``"ms"`` moves the PAN onto the MS); ``register=False`` moves neither.
    2. Spectral response PAN ~ f(MS) at MS scale (PAN MTF-degraded to the MS grid): a linear fit
       with bias and a tiny per-pixel MLP; the one with the lower error on held-out pixels is kept
       (:mod:`.response`).
    3. Warm-up on the reduced-resolution (Wald) pair: PAN and MS degraded by the ratio with their
       MTFs, the degraded MS upsampled; the network learns to give back the original MS (L1).
Stage II
    Each iteration is, with probability ``p_full``, a full-resolution step (spectral: the MTF-degraded
    output vs the MS; spatial: the spectral response of the output vs the PAN; local correlation),
    else a reduced-resolution step (:mod:`.trainer`). Held-out reduced-resolution windows are scored
    every ``eval_every`` steps and the best network state is kept (the reduced-resolution pair is
    small: over-fitting is real).

All crops are sampled from the whole scene; crops with too much invalid (nodata) area are skipped and
invalid pixels do not enter the losses.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ... import networks
from ...base.progress import Progress, no_progress
from ..base import MIN_FIT_MS_SIDE
from .config import ZeroShotConfig, scaled_steps
from .model import ZeroShotModel
from .response import fit_response
from .scene import Scene, prepare_scene
from .trainer import Trainer

#: A hook run on the built network before the stages: ``(net, scene, rng, progress) -> facts``.
PreAdapt = Callable[[torch.nn.Module, Scene, np.random.Generator, Progress], dict[str, Any]]


def _checked(
    pan: np.ndarray, ms: np.ndarray, r: int, ms_gains: Sequence[float], valid: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 PAN and MS and a bool mask, after checking shapes, ratio and gains."""
    pan = np.asarray(pan, np.float32)
    ms = np.asarray(ms, np.float32)
    if r < 2:
        raise ValueError(f"expected ratio >= 2, got {r}")
    if pan.ndim != 3 or pan.shape[0] != 1:
        raise ValueError(f"expected pan shaped (1, H, W), got {pan.shape}")
    if ms.ndim != 3:
        raise ValueError(f"expected ms shaped (B, h, w), got {ms.shape}")
    b, hm, wm = ms.shape
    if pan.shape[1] != hm * r or pan.shape[2] != wm * r:
        raise ValueError(
            f"expected pan shaped (1, {hm * r}, {wm * r}) for ms {ms.shape} at ratio {r}, got {pan.shape}"
        )
    if len(ms_gains) != b:
        raise ValueError(f"expected {b} MS gains, got {len(ms_gains)}")
    valid = np.ones(pan.shape[1:], bool) if valid is None else np.asarray(valid, bool)
    if valid.shape != pan.shape[1:]:
        raise ValueError(f"expected valid shaped {pan.shape[1:]}, got {valid.shape}")
    if hm < MIN_FIT_MS_SIDE * r or wm < MIN_FIT_MS_SIDE * r:
        need = MIN_FIT_MS_SIDE * r
        raise ValueError(f"expected an MS of at least {need}x{need} pixels, got {wm}x{hm} (width x height)")
    return pan, ms, valid


@dataclass
class _Selection:
    """The best network state seen so far by the hold-out score."""

    loss: float
    step: int
    state: dict[str, torch.Tensor] | None
    history: list[tuple[int, float]] = field(default_factory=list)

    def offer(self, step: int, loss: float, net: torch.nn.Module) -> None:
        self.history.append((step, loss))
        if loss < self.loss:
            self.loss, self.step = loss, step
            self.state = copy.deepcopy(net.state_dict())


def _opening(progress: Progress, stage: str, steps: int) -> None:
    """A stage with steps starts (its time runs from here, as the report's seconds do)."""
    if steps:
        progress(stage, 0, steps, {})


def _warmup(tr: Trainer, steps: int, last: dict[str, float], progress: Progress) -> None:
    """Stage I: reduced-resolution steps only."""
    for k in range(steps):
        last.update(tr.step_rr())
        progress("warmup", k + 1, steps, dict(last))


def _alternate(tr: Trainer, steps: int, sel: _Selection, last: dict[str, float], progress: Progress) -> int:
    """Stage II: random alternation of full- and reduced-resolution steps, scored on the hold-out;
    stops early after ``cfg.patience`` evaluations without a better score. Returns the steps run."""
    cfg = tr.cfg
    stale = 0
    for k in range(steps):
        if cfg.p_full > 0 and tr.rng.random() < cfg.p_full:
            last.update(tr.step_fr())
        else:
            last.update(tr.step_rr())
        if tr.hold and ((k + 1) % cfg.eval_every == 0 or k + 1 == steps):
            hl = tr.holdout_loss()
            last["holdout"] = hl
            best = sel.loss
            sel.offer(k + 1, hl, tr.net)
            stale = 0 if sel.loss < best else stale + 1
        if cfg.patience and stale >= cfg.patience:
            # the stage is over: its total is the steps really run, the plan in the figures
            progress("train", k + 1, k + 1, {**last, "early_stop": f"{k + 1}/{steps}"})
            return k + 1
        progress("train", k + 1, steps, dict(last))
    return steps


def _run_stages(
    tr: Trainer, budget: tuple[int, int], progress: Progress, times: dict[str, float]
) -> tuple[_Selection, dict[str, float], tuple[int, int, int]]:
    """Warm-up, then alternation; the best state (a stage II checkpoint, the state after the
    warm-up, or the pretrained start itself) is loaded into the network at the end."""
    t1 = time.perf_counter()
    last: dict[str, float] = {}
    warmup_steps, train_steps = budget
    _opening(progress, "warmup", warmup_steps)
    # a pretrained start is a candidate too: adaptation keeps it when it never does better
    prior_loss = tr.holdout_loss() if tr.pretrained else float("nan")
    prior_state = copy.deepcopy(tr.net.state_dict()) if tr.hold and tr.pretrained else None
    _warmup(tr, warmup_steps, last, progress)
    times["warmup_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _opening(progress, "train", train_steps)
    first = tr.holdout_loss()
    sel = _Selection(first, 0, copy.deepcopy(tr.net.state_dict()) if tr.hold else None, [(0, first)])
    if prior_state is not None:
        sel.history.insert(0, (-warmup_steps, prior_loss))
        if prior_loss < sel.loss:
            sel.loss, sel.step, sel.state = prior_loss, -warmup_steps, prior_state
    ran = _alternate(tr, train_steps, sel, last, progress)
    if sel.state is not None:
        tr.net.load_state_dict(sel.state)
    times["train_s"] = time.perf_counter() - t2
    return sel, last, (warmup_steps, train_steps, ran)


def _nan_to_none(v: float) -> float | None:
    return None if math.isnan(v) else v


def _no_stages(times: dict[str, float]) -> tuple[_Selection, dict[str, float], tuple[int, int, int]]:
    """What :func:`_run_stages` gives for a budget of no steps, without a :class:`Trainer`: the
    starting network kept, nothing scored."""
    times["warmup_s"] = times["train_s"] = 0.0
    return _Selection(float("nan"), 0, None), {}, (0, 0, 0)


def _report(
    scene: Scene,
    tr: Trainer | None,
    sel: _Selection,
    last: dict,
    resp_info: dict,
    steps: tuple,
    times: dict,
    dev: torch.device,
    pretrained: bool,
) -> dict[str, Any]:
    """The fit's facts for ``--report`` (before the model adds its settings); ``tr`` None: a fit
    without steps (no hold-out windows drawn)."""
    return {
        "seconds": times,
        "final_losses": {k: v for k, v in last.items() if not (isinstance(v, float) and math.isnan(v))},
        "spectral_response": resp_info,
        "detail_gains": [float(v) for v in scene.gains_t[0]],
        "holdout": {
            "windows": 0 if tr is None else len(tr.hold),
            "best_step": sel.step,
            "best_loss": _nan_to_none(sel.loss),
            "history": [(s, _nan_to_none(v)) for s, v in sel.history],
        },
        "ratio": scene.ratio,
        "bands": len(scene.gains),
        "steps": {
            "warmup": steps[0],
            "train": steps[1],
            "train_run": steps[2],
            "stopped_early": steps[2] < steps[1],
        },
        "device": str(dev),
        "pretrained": pretrained,
        "registration": None if scene.registration is None else scene.registration.as_dict(scene.ratio),
    }


def _start(
    scene: Scene,
    cfg: ZeroShotConfig,
    rng: np.random.Generator,
    init_state: dict | None,
    dev: torch.device,
    progress: Progress,
    adapt: bool = True,
) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """Fit the spectral response (only when there are steps to ``adapt``: only the
    full-resolution loss uses it) and build the network (from ``init_state`` when given), both
    seeded by ``cfg.seed`` without touching the caller's torch random state."""
    response, resp_info = None, {"kind": "none (no adaptation steps)"}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if adapt:
            response, resp_info = fit_response(scene.ms_n, scene.pan_lr, scene.valid_ms, cfg, rng)
        net = networks.build(cfg.net_arch, **cfg.net_kwargs)
    mse = [v for k, v in resp_info.items() if k.endswith("mse")]
    progress("response", 1, 1, {"holdout_mse": min(mse)} if mse else {})
    if init_state is not None:
        net.load_state_dict(init_state)
    net.to(dev).train()
    reseed = getattr(net, "reseed", None)
    if reseed is not None:  # a network with noisy inputs (crossdiff): its noise seeded too
        reseed(cfg.seed, dev)
    return net, response, resp_info


def _pre_adapt(
    hook: PreAdapt | None,
    net: torch.nn.Module,
    scene: Scene,
    rng: np.random.Generator,
    progress: Progress,
    times: dict[str, float],
) -> dict[str, Any] | None:
    """Run the hook (None: nothing), timed."""
    if hook is None:
        return None
    t1 = time.perf_counter()
    facts = hook(net, scene, rng, progress)
    times["pre_adapt_s"] = time.perf_counter() - t1
    return facts


def fit(
    pan: np.ndarray,
    ms: np.ndarray,
    ratio: int,
    ms_gains: Sequence[float],
    pan_gain: float,
    *,
    valid: np.ndarray | None = None,
    config: ZeroShotConfig | None = None,
    device: torch.device | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
    progress: Progress | None = None,
    pre_adapt: PreAdapt | None = None,
) -> ZeroShotModel:
    """Optimise a fusion network on one scene.

    Args:
        pan: (1, H, W) float PAN, raw units; H, W multiples of ``ratio``.
        ms: (B, H/ratio, W/ratio) float MS, raw units (nodata already filled, e.g. band means).
        ratio: integer PAN/MS ratio >= 2.
        ms_gains: B Nyquist MTF gains of the MS bands.
        pan_gain: Nyquist MTF gain of the PAN.
        valid: (H, W) bool, True where PAN and MS hold data (None: all valid).
        config: settings (default :class:`ZeroShotConfig`).
        device: torch device to train on (default CPU).
        init_state: state dict of a pretrained network of ``config.arch`` to start from.
        progress: ``(stage, step, total, losses)``: step 0 at a stage's start, then every step, of
            ``"response"``, ``"warmup"``, ``"train"`` (stopped early at n: ``n/n``, ``early_stop``).
        pre_adapt: a :data:`PreAdapt` hook run before the stages (its facts: report ``pre_adapt``).

    Returns:
        A :class:`ZeroShotModel` on ``device``, in eval mode.

    Raises:
        ValueError: shapes, ratio or gains inconsistent.
    """
    cfg, dev, progress = config or ZeroShotConfig(), device or torch.device("cpu"), progress or no_progress
    pan, ms, valid = _checked(pan, ms, int(ratio), ms_gains, valid)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("response", 0, 1, {})  # the stage (and its time, ``response_s``) counts the scene's preparation
    rng = np.random.default_rng(cfg.seed)
    # no steps at all (``--iterations 0``): no training pairs, no trainer, only what fusing needs
    idle = pre_adapt is None and sum(scaled_steps(cfg, ms.shape[0])) == 0
    scene = prepare_scene(pan, ms, valid, int(ratio), ms_gains, pan_gain, cfg, dev, pairs=not idle)
    budget = scaled_steps(cfg, ms.shape[0], int(np.count_nonzero(scene.valid)))
    net, response, resp_info = _start(scene, cfg, rng, init_state, dev, progress, adapt=sum(budget) > 0)
    times["response_s"] = time.perf_counter() - t0
    pre = _pre_adapt(pre_adapt, net, scene, rng, progress, times)
    tr = None if idle else Trainer(net, response, scene, cfg, rng, dev, pretrained=init_state is not None)
    sel, last, steps = _no_stages(times) if tr is None else _run_stages(tr, budget, progress, times)
    times["total_s"] = time.perf_counter() - t0
    report = _report(scene, tr, sel, last, resp_info, steps, times, dev, init_state is not None)
    if pre is not None:
        report["pre_adapt"] = pre
    gains = scene.gains_t[0].cpu().numpy()
    cfg = cfg if tr is None else tr.cfg  # with its small_flips where it held no window out
    return ZeroShotModel(
        net, scene.norm, scene.ratio, cfg, dev, scene.gains, gains, response, report, scene.shift, cfg.align
    )
