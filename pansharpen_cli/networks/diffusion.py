"""The pieces of CrossDiff's pretext task: the DDPM noise schedule, counter-based positional noise
and the small conditional denoising UNet (Xing et al., 2024; see ``docs/crossdiff.md``).

- :func:`alpha_bar`: the cosine schedule (Nichol & Dhariwal), T = 1000 steps; ``alpha_bar(0) = 1``.
- :func:`positional_noise`: standard normal noise that is a pure function of ``(seed, channel id,
  global row, global column)``, so a tile of a scene gets exactly the noise the whole scene would
  (tiled inference equals whole-image inference with noisy inputs).
- :class:`PretextUNet`: a three-level UNet (8-16-32 channels by default; the paper's is 32-64-128-256)
  without normalisation layers (GroupNorm's statistics over the whole input would make the result
  depend on the tile), predicting the noise of its noisy target given a condition, and exposing its
  full-resolution encoder and decoder features.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: Diffusion steps of the schedule.
STEPS = 1000

_MASK64 = (1 << 64) - 1


def alpha_bar(steps: int = STEPS, s: float = 0.008) -> torch.Tensor:
    """Cumulative signal fraction of the cosine schedule: (steps + 1,) float64, index t = 0..steps,
    ``alpha_bar[0] = 1``; per-step betas clipped at 0.999 as in the cosine schedule's paper."""
    t = torch.arange(steps + 1, dtype=torch.float64)
    f = torch.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2
    ab = f / f[0]
    betas = (1 - ab[1:] / ab[:-1]).clamp(max=0.999)
    return torch.cat([ab.new_ones(1), torch.cumprod(1 - betas, 0)])


def noised(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) noise`` for per-sample steps ``t`` (N,) int."""
    ab = table.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def _signed(v: int) -> int:
    """A 64-bit constant as torch's signed int64."""
    v &= _MASK64
    return v - (1 << 64) if v >= 1 << 63 else v


_K = [_signed(k) for k in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)]


def _mix(v: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on int64 tensors (wrapping multiplies, logical shifts)."""
    for shift, mult in ((30, _K[1]), (27, _K[2])):
        v = (v ^ ((v >> shift) & ((1 << (64 - shift)) - 1))) * mult
    return v ^ ((v >> 31) & ((1 << 33) - 1))


def _uniform(key: torch.Tensor, salt: int) -> torch.Tensor:
    """A uniform in (0, 1) per int64 key (24 random bits)."""
    bits = _mix(key + _signed(salt * _K[3])) & ((1 << 24) - 1)
    return (bits.to(torch.float64) + 0.5) / float(1 << 24)


def positional_noise(
    n: int, channels: Sequence[int], h: int, w: int, origin: tuple[int, int], seed: int, device: torch.device
) -> torch.Tensor:
    """Standard normal noise (n, len(channels), h, w) float32 whose value at a pixel depends only on
    ``seed``, the channel id and the pixel's global position ``origin + (row, col)`` (Box-Muller on
    two hashed uniforms). The ``n`` samples share it."""
    ys = torch.arange(h, device=device, dtype=torch.int64) + int(origin[0])
    xs = torch.arange(w, device=device, dtype=torch.int64) + int(origin[1])
    ch = torch.as_tensor(list(channels), device=device, dtype=torch.int64)
    key = _mix(ch.view(-1, 1, 1) * _K[0] + _signed(int(seed) * _K[2]))
    key = _mix(key + ys.view(1, -1, 1) * _K[1])
    key = key + xs.view(1, 1, -1) * _K[3]
    u1, u2 = _uniform(key, 1), _uniform(key, 2)
    z = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
    return z.to(torch.float32).unsqueeze(0).expand(n, -1, -1, -1)


def step_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (N, dim) of integer steps ``t`` (N,)."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    a = t.to(torch.float32)[:, None] * freq[None]
    return torch.cat([torch.sin(a), torch.cos(a)], 1)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def conv_parts(conv: nn.Conv2d, parts: Sequence[torch.Tensor]) -> torch.Tensor:
    """``conv(torch.cat(parts, 1))`` without the concatenation: one convolution per part with its
    slice of the weights, summed (on a CPU the copy of a concatenation costs more than the convs)."""
    out, k = None, 0
    for part in parts:
        c = part.shape[1]
        y = F.conv2d(part, conv.weight[:, k : k + c], conv.bias if out is None else None, padding=conv.padding)
        out, k = (y if out is None else out.add_(y)), k + c
    if k != conv.in_channels:
        raise ValueError(f"expected {conv.in_channels} input channels in the parts, got {k}")
    return out


class _Level(nn.Module):
    """Two 3x3 convs with SiLU; the step embedding is added as a per-channel bias after the first."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(cin, cout), _conv(cout, cout)
        self.step = nn.Linear(emb, cout)

    def forward(self, parts: Sequence[torch.Tensor], e: torch.Tensor) -> torch.Tensor:
        """The level on the concatenation of ``parts`` (never materialised)."""
        h = F.silu(conv_parts(self.conv1, parts) + self.step(e)[..., None, None])
        return F.silu(self.conv2(h))


@functools.cache
def feature_radius(levels: int) -> int:
    """How far the full-resolution features of a ``levels``-level UNet (two 3x3 convs a level,
    2x2 average pooling, nearest upsampling) reach, in fine pixels: the dependence interval of every
    tensor traced index by index, for every phase of the output pixel on the pooling grid."""

    @functools.cache
    def enc(lvl: int, i: int) -> tuple[int, int]:  # two convs on the level's input
        spans = [(j, j) if lvl == 0 else _join(enc(lvl - 1, 2 * j), enc(lvl - 1, 2 * j + 1)) for j in range(i - 2, i + 3)]
        return _join(*spans)

    @functools.cache
    def dec(lvl: int, i: int) -> tuple[int, int]:  # two convs on [upsampled coarser level, skip]
        if lvl == levels - 1:
            return enc(lvl, i)
        return _join(*(s for j in range(i - 2, i + 3) for s in (dec(lvl + 1, j // 2), enc(lvl, j))))

    phases = range(2 ** (levels - 1))
    return max(max(p - lo, hi - p) for p in phases for lo, hi in (enc(0, p), dec(0, p)))


def _join(*spans: tuple[int, int]) -> tuple[int, int]:
    return min(s[0] for s in spans), max(s[1] for s in spans)


class PretextUNet(nn.Module):
    """Conditional noise predictor ``eps(x_t, cond, t)``: input ``[x_t, cond]`` (N, 1 + cond, H, W),
    H and W multiples of ``2 ** (levels - 1)``; average-pool down, nearest up, skip concatenation.

    Args:
        cond: condition channels.
        channels: channels per level, finest first.
        emb: width of the step embedding.
    """

    def __init__(self, cond: int, channels: Sequence[int] = (8, 16, 32), emb: int = 32) -> None:
        super().__init__()
        ch = [int(c) for c in channels]
        if len(ch) < 2 or min(ch) < 1 or cond < 1:
            raise ValueError(f"expected >= 2 levels of >= 1 channels and cond >= 1, got {ch}, {cond}")
        self.channels, self.emb_dim, self.multiple = ch, int(emb), 2 ** (len(ch) - 1)
        self.emb = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.enc = nn.ModuleList(_Level(1 + cond if i == 0 else ch[i - 1], c, emb) for i, c in enumerate(ch))
        self.dec = nn.ModuleList(_Level(ch[i + 1] + ch[i], ch[i], emb) for i in range(len(ch) - 1))
        self.out = _conv(ch[0], 1)

    @property
    def feature_field(self) -> int:
        """The exact radius (fine pixels) of the features' dependence on the input, for inputs whose
        origin is on the pooling grid (the worst pixel phase; :func:`feature_radius`)."""
        return feature_radius(len(self.channels))

    @property
    def receptive_field(self) -> int:
        """The same for the predicted noise (one more conv)."""
        return self.feature_field + 1

    def forward(
        self, x_t: torch.Tensor, cond: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(eps (N, 1, H, W), [encoder, decoder] features, each (N, channels[0], H, W))``: the
        predicted noise and the full-resolution features."""
        h, w = x_t.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"expected H and W multiples of {self.multiple}, got {h}x{w}")
        e = self.emb(step_embedding(t, self.emb_dim))
        skips, z = [], torch.cat([x_t, cond], 1).contiguous(memory_format=torch.channels_last)
        for i, lvl in enumerate(self.enc):
            z = lvl([z if i == 0 else F.avg_pool2d(z, 2)], e)
            skips.append(z)
        for i in range(len(self.dec) - 1, -1, -1):
            z = self.dec[i]([F.interpolate(z, scale_factor=2, mode="nearest"), skips[i]], e)
        return self.out(z), [skips[0], z]
