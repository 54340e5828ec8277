"""Batches of simulated triplets, their per-sample normalisation and the scene-statistics jitter.

The normalisation is the zero-shot fit's at inference (PAN by its mean/std, each MS band by the MS
band's mean/std, :func:`pansharpen_cli.base.nodata.masked_stats`), so a prior learns in the units it
is used in; the jitter then moves each sample's statistics as a whole scene's normalisation does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch

from ..base.errors import OptionError
from ..base.nodata import masked_stats
from .settings import SimSettings
from .simulate import Triplet, TripletSampler

__all__ = ["Batch", "batch_for_step", "batched", "normalise", "scene_jitter"]


class Batch(NamedTuple):
    """Equal-shaped triplets stacked as float32 tensors (CPU).

    Attributes:
        pan: (N, 1, H, W).
        ms: (N, C, H / ratio, W / ratio).
        reference: (N, C, H, W).
        ratio: PAN/MS ratio.
    """

    pan: torch.Tensor
    ms: torch.Tensor
    reference: torch.Tensor
    ratio: int


def _stack(items: Sequence[Triplet]) -> Batch:
    return Batch(
        torch.from_numpy(np.stack([t.pan for t in items])),
        torch.from_numpy(np.stack([t.ms for t in items])),
        torch.from_numpy(np.stack([t.reference for t in items])),
        items[0].ratio,
    )


def batched(triplets: Iterable[Triplet], batch: int) -> Iterator[Batch]:
    """Group triplets of equal (bands, ratio, size) into batches of ``batch`` tensors.

    Triplets wait in one buffer per shape until it holds ``batch`` of them (memory: at most
    ``batch - 1`` triplets per shape); the order of the batches follows the stream deterministically.
    Partial buffers at the end of a finite stream are dropped.

    Args:
        triplets: any iterable of :class:`Triplet`.
        batch: triplets per batch, >= 1.

    Yields:
        :class:`Batch`.

    Raises:
        OptionError: ``batch`` < 1.
    """
    if batch < 1:
        raise OptionError(f"expected batch >= 1, got {batch}")
    buffers: dict[tuple[int, ...], list[Triplet]] = {}
    for t in triplets:
        key = (*t.reference.shape, *t.ms.shape)
        buf = buffers.setdefault(key, [])
        buf.append(t)
        if len(buf) == batch:
            yield _stack(buf)
            buffers[key] = []


def normalise(batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample normalisation of a batch, the convention of the zero-shot fit.

    The PAN by its own mean/std; the MS, its upsampling and the reference by the MS's per-band
    mean/std (:func:`~pansharpen_cli.base.nodata.masked_stats`: float64 mean, population std, 1
    where it is 0).

    Args:
        batch: a :class:`Batch` (pan (N, 1, H, W), ms (N, C, h, w), reference (N, C, H, W)).

    Returns:
        ``(pan_n (N,1,H,W), ms_n (N,C,h,w), ref_n (N,C,H,W), mean (N,C,1,1), std (N,C,1,1))``.
    """
    pan, ms = batch.pan.numpy(), batch.ms.numpy()
    n, c = ms.shape[:2]
    allp = np.ones(pan.shape[-2:], bool)
    pstat = np.array([masked_stats(pan[i, 0], allp) for i in range(n)])  # (N, 2)
    allv = np.ones(ms.shape[-2:], bool)
    mstat = np.array([[masked_stats(ms[i, b], allv) for b in range(c)] for i in range(n)])  # (N, C, 2)
    pm = torch.as_tensor(pstat[:, 0], dtype=torch.float32).view(n, 1, 1, 1)
    ps = torch.as_tensor(pstat[:, 1], dtype=torch.float32).view(n, 1, 1, 1)
    mm = torch.as_tensor(mstat[..., 0], dtype=torch.float32).view(n, c, 1, 1)
    mstd = torch.as_tensor(mstat[..., 1], dtype=torch.float32).view(n, c, 1, 1)
    return (batch.pan - pm) / ps, (batch.ms - mm) / mstd, (batch.reference - mm) / mstd, mm, mstd


def scene_jitter(
    pan_n: torch.Tensor, ms_n: torch.Tensor, ref_n: torch.Tensor, sim: SimSettings, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample scale and offset of normalised (PAN, MS, reference), see ``SimSettings.scene_scale``.

    The MS and its reference get the same per-band transform, so the reference stays the MS's.

    Args:
        pan_n: (N, 1, H, W) normalised PAN.
        ms_n: (N, C, h, w) normalised MS.
        ref_n: (N, C, H, W) normalised reference.
        sim: the generator's settings (``scene_scale``, ``scene_offset``).
        rng: the numpy generator of the draws.

    Returns:
        The jittered ``(pan (N, 1, H, W), ms (N, C, h, w), reference (N, C, H, W))``.
    """
    n, c = ms_n.shape[:2]
    lo, hi = sim.scene_scale
    k = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    kb = k[:, None] * np.exp(rng.uniform(np.log(0.8), np.log(1.25), (n, c)))
    op = rng.uniform(-sim.scene_offset, sim.scene_offset, n)
    ob = op[:, None] + rng.uniform(-0.5, 0.5, (n, c)) * sim.scene_offset

    def t(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(a, dtype=like.dtype, device=like.device).view(n, -1, 1, 1)

    kp, opp, kbt, obt = t(k, pan_n), t(op, pan_n), t(kb, ms_n), t(ob, ms_n)
    return pan_n * kp + opp, ms_n * kbt + obt, ref_n * kbt + obt


def batch_for_step(sampler: TripletSampler, seed: int, step: int, batch: int) -> Batch:
    """The training batch of ``step``: a pure function of (seed, step), so resuming is exact.

    One ratio and one band count are drawn for the whole batch, then ``batch`` triplets, all from
    a generator seeded with ``[seed, step]``.

    Returns:
        A :class:`Batch` of ``batch`` triplets.
    """
    rng = np.random.default_rng([int(seed), int(step)])
    st = sampler.settings
    r = int(rng.choice(st.ratios))
    c = int(rng.integers(st.bands[0], st.bands[1] + 1))
    return _stack([sampler.sample(rng, bands=c, ratio=r) for _ in range(batch)])
