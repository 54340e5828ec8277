"""CrossDiff (Xing et al., 2024), band-agnostic and small enough to adapt per scene on a CPU.

Two conditional denoising UNets (:class:`~pansharpen_cli.networks.diffusion.PretextUNet`) are
pretrained by cross-prediction: ``ms2pan`` denoises the PAN given the upsampled MS (summarised over
bands by a shared per-band 1x1 stem and a mean, so any band count works), ``pan2ms`` denoises each MS
band given the PAN (every band is a sample of its own, the same weights for every band). For fusion
both are frozen: the target modality (the PAN; each upsampled MS band) is noised to step ``t_feat``
(50 of 1000) and one pass of each denoiser gives its full-resolution encoder and decoder features.
A trained head turns them, with the inputs of the zero-shot network, into a per-band residual:

- a shared branch (once per pixel) on ``[ms2pan features, pan, mean ms_up, mean g*d]``;
- a per-band branch on ``[pan2ms features of the band, ms_b, d_b, g_b d_b, g_b]``;
- a residual block, channel attention (a pixel-wise 1x1 gate, not a global pool: the result must
  not depend on the tile) and spatial attention (a ``7x7`` conv on the channel mean and max), the
  cross-band summary, and a zero-initialised tail.

The output is ``ms_b + g_b d_b`` (MTF-GLP with the scene's detail gains) plus that residual. The
noise is drawn from the network's own generator while training (:meth:`CrossDiffNet.reseed`) and is
:func:`~pansharpen_cli.networks.diffusion.positional_noise` in eval mode, from the tile's global
``origin``; inputs are padded so the UNets' pooling grid is the scene's, so tiled equals whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .diffusion import STEPS, PretextUNet, alpha_bar, conv_parts, noised, positional_noise
from .inputs import checked_inputs

#: Channels of the MS summary the ``ms2pan`` UNet is conditioned on.
MS_SUMMARY = 4


class MsToPan(nn.Module):
    """The ``ms2pan`` pretext network: a per-band 1x1 stem averaged over bands, then the UNet."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, MS_SUMMARY, 1)
        self.unet = PretextUNet(MS_SUMMARY, channels)

    def summary(self, ms_up: torch.Tensor) -> torch.Tensor:
        n, c, h, w = ms_up.shape
        return F.relu(self.stem(ms_up.reshape(n * c, 1, h, w))).view(n, c, MS_SUMMARY, h, w).mean(1)

    def forward(self, pan_t: torch.Tensor, ms_up: torch.Tensor, t: torch.Tensor):
        return self.unet(pan_t, self.summary(ms_up), t)


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class _Attention(nn.Module):
    """Pixel-wise channel attention (a 1x1 gate: a global pool would make the result depend on the
    tile), then spatial attention (a ``k x k`` conv on the channel mean and max), as in CBAM."""

    def __init__(self, features: int, k: int) -> None:
        super().__init__()
        self.channel = nn.Conv2d(features, features, 1)
        self.spatial = _conv(2, 1, k)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.sigmoid(self.channel(z))
        s = torch.cat([z.mean(1, keepdim=True), z.amax(1, keepdim=True)], 1)
        return z * torch.sigmoid(self.spatial(s))


class _Head(nn.Module):
    """The trained fusion head on the frozen features (see the module docstring)."""

    def __init__(self, feat: int, features: int, k: int) -> None:
        super().__init__()
        self.shared = _conv(feat + 3, features)
        self.band = _conv(feat + 4, features)
        self.conv1, self.conv2 = _conv(features, features), _conv(features, features)
        self.attn = _Attention(features, k)
        self.mix = nn.Conv2d(features, features, 1)
        self.tail = _conv(features, 1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, shared: Sequence[torch.Tensor], bands: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
        """The residual (N, C, H, W) from the parts of the shared input and of each band's input
        (each part (N, ., H, W); concatenated they are the inputs of ``shared`` and ``band``)."""
        s = conv_parts(self.shared, shared)  # once per pixel
        zs = []
        for parts in bands:  # band by band, the same weights
            z = F.relu(conv_parts(self.band, parts).add_(s))
            zs.append(self.attn(self.conv2(F.relu(self.conv1(z))).add_(z)))
        mix = self.mix(torch.stack(zs).mean(0))
        return torch.cat([self.tail(F.relu(z.add_(mix))) for z in zs], 1)


@register("crossdiff")
class CrossDiffNet(nn.Module):
    """Frozen cross-predictive diffusion features and a trained fusion head.

    Args:
        channels: UNet channels per level (finest first).
        features: channels of the head.
        t_feat: the diffusion step the targets are noised to for the features.
        attention: kernel of the head's local attention.

    Attributes:
        positional: takes the tile's global ``origin`` (fine pixels) in eval mode.
        receptive_field: radius (fine pixels) of the output's dependence on the inputs.
    """

    arch = "crossdiff"
    positional = True

    def __init__(
        self, channels: Sequence[int] = (8, 16, 32), features: int = 8, t_feat: int = 50, attention: int = 7
    ) -> None:
        super().__init__()
        if not 0 < t_feat <= STEPS or features < 1 or attention < 1 or attention % 2 == 0:
            raise ValueError(f"expected 0 < t_feat <= {STEPS}, features >= 1, odd attention, got {t_feat}, "
                             f"{features}, {attention}")
        ch = [int(c) for c in channels]
        self.config = {"channels": ch, "features": int(features), "t_feat": int(t_feat), "attention": int(attention)}
        self.ms2pan = MsToPan(ch)
        self.pan2ms = PretextUNet(1, ch)
        self.head = _Head(2 * ch[0], int(features), int(attention))
        self.register_buffer("table", alpha_bar().to(torch.float32), persistent=False)
        self.multiple = self.pan2ms.multiple
        head_rf = 1 + 2 + attention // 2 + 1  # branch conv, block, spatial attention, tail
        self.receptive_field = self.pan2ms.feature_field + head_rf
        self.register_buffer("noise_seed", torch.zeros((), dtype=torch.int64))  # saved with the weights
        self._gen: torch.Generator | None = None
        self.freeze_pretext()
        self.to(memory_format=torch.channels_last)

    # -- freezing and seeding --------------------------------------------------------------------
    def pretext_modules(self) -> tuple[nn.Module, nn.Module]:
        return self.ms2pan, self.pan2ms

    def freeze_pretext(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) both pretext networks' parameters."""
        for m in self.pretext_modules():
            m.requires_grad_(not frozen)

    def train(self, mode: bool = True) -> CrossDiffNet:
        super().train(mode)
        for m in self.pretext_modules():  # frozen encoders: always in eval mode unless being adapted
            m.train(mode and any(p.requires_grad for p in m.parameters()))
        return self

    def reseed(self, seed: int, device: torch.device | None = None) -> None:
        """Seed the training noise (a generator of its own) and the inference noise."""
        self.noise_seed.fill_(int(seed) % (1 << 62))
        self._gen = torch.Generator(device=device or torch.device("cpu"))
        self._gen.manual_seed(int(seed))

    def _generator(self, device: torch.device) -> torch.Generator | None:
        """The training-noise generator when it lives on ``device`` (None: torch's global one)."""
        return self._gen if self._gen is not None and self._gen.device == device else None

    # -- noise and padding -----------------------------------------------------------------------
    def noise(self, n: int, ids: Sequence[int], h: int, w: int, like: torch.Tensor, origin) -> torch.Tensor:
        """Training (and no ``origin``): fresh noise from the generator; else the positional noise."""
        if self.training and origin is None:
            gen = self._generator(like.device)
            return torch.randn((n, len(ids), h, w), generator=gen, device=like.device, dtype=like.dtype)
        seed = int(self.noise_seed)
        return positional_noise(n, ids, h, w, origin or (0, 0), seed, like.device).to(like.dtype)

    def feature_maps(self, pan: torch.Tensor, ms_up: torch.Tensor, origin: tuple[int, int]) -> torch.Tensor:
        """The frozen features of a pair as one map ``(N, (1 + C) * 2 c0, H, W)`` (ms2pan's, then
        pan2ms's band by band), with the positional noise at ``origin``: what :meth:`forward` takes
        as ``feats`` (features computed once per scene, see ``methods.zeroshot.features``)."""
        h, w = ms_up.shape[-2:]
        (p, x), o, pads = self._aligned((pan, ms_up), origin)
        f_pan, f_ms = self.features(p, x, o)
        maps = torch.cat([*f_pan, *(f for band in f_ms for f in band)], 1)
        return maps[..., pads[2] : pads[2] + h, pads[0] : pads[0] + w]

    def _aligned(self, tensors: Sequence[torch.Tensor], origin):
        """``(padded tensors, origin of the padded ones or None, pads)``: padded (replicated edges) so
        they start on the scene's pooling grid and have sides that are multiples of it."""
        pads = self._pads(*tensors[0].shape[-2:], origin)
        o = None if origin is None else (int(origin[0]) - pads[2], int(origin[1]) - pads[0])
        return [F.pad(v, pads, mode="replicate") for v in tensors], o, pads

    def _pads(self, h: int, w: int, origin) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) so the padded input starts on the pooling grid of the scene."""
        m = self.multiple
        top, left = (0, 0) if origin is None else (int(origin[0]) % m, int(origin[1]) % m)
        return left, -(left + w) % m, top, -(top + h) % m

    # -- features and fusion ---------------------------------------------------------------------
    def features(
        self, pan: torch.Tensor, ms_up: torch.Tensor, origin: tuple[int, int] | None
    ) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """Frozen features of a padded pair: ms2pan's ``[encoder, decoder]`` and, for each band,
        pan2ms's (each part (N, c0, H, W))."""
        n, c, h, w = ms_up.shape
        t = torch.full((n,), self.config["t_feat"], device=pan.device, dtype=torch.long)
        noise = self.noise(n, range(c + 1), h, w, pan, origin)
        pan_t = noised(pan, t, noise[:, :1], self.table)
        _, f_pan = self.ms2pan(pan_t, ms_up, t)
        ms_t = noised(ms_up, t, noise[:, 1:], self.table)
        # band by band (the same weights): 1.5x faster on a CPU than one batch of N * C samples
        return f_pan, [self.pan2ms(ms_t[:, b : b + 1], pan, t)[1] for b in range(c)]

    def forward(
        self,
        pan: torch.Tensor,
        ms_up: torch.Tensor,
        detail: torch.Tensor | None = None,
        gains: torch.Tensor | None = None,
        origin: tuple[int, int] | None = None,
        feats: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Fuse; the contract of :mod:`pansharpen_cli.networks`, plus the global ``origin`` (row,
        column, fine pixels) of the inputs' first pixel, which fixes the inference noise, or the
        frozen features ``feats`` already computed (:meth:`feature_maps`, cropped like the inputs)."""
        detail, gains = checked_inputs(pan, ms_up, detail, gains)
        n, c, h, w = ms_up.shape
        g = gains.to(ms_up.dtype).view(n, c, 1, 1).expand(n, c, h, w)
        gd = g * detail
        base = ms_up + gd
        if feats is not None:  # cached features (training crops): [ms2pan enc, dec, band 0 enc, dec, ...]
            parts = list(feats.to(pan.dtype).split(feats.shape[1] // (2 * (c + 1)), 1))
            f_ms = [parts[2 * b + 2 : 2 * b + 4] for b in range(c)]
            return self._fuse(parts[:2], f_ms, pan, ms_up, detail, gd, g) + base
        (p, x, d, gd_p, g_p), o, pads = self._aligned((pan, ms_up, detail, gd, g.contiguous()), origin)
        adapting = any(q.requires_grad for m in self.pretext_modules() for q in m.parameters())
        with torch.set_grad_enabled(adapting and torch.is_grad_enabled()):
            f_pan, f_ms = self.features(p, x, o)
        res = self._fuse(f_pan, f_ms, p, x, d, gd_p, g_p)
        return res[..., pads[2] : pads[2] + h, pads[0] : pads[0] + w] + base

    def _fuse(self, f_pan, f_ms, p, x, d, gd, g) -> torch.Tensor:
        """The head's residual (N, C, H, W) from the features and the (padded) inputs."""
        c = x.shape[1]
        shared = [*f_pan, p, x.mean(1, keepdim=True), gd.mean(1, keepdim=True)]
        per_band = torch.stack([x, d, gd, g.expand_as(x)], 2)  # (N, C, 4, H, W)
        bands = [[*f_ms[b], per_band[:, b]] for b in range(c)]
        return self.head(shared, bands)

    def pretext_loss(self, pan: torch.Tensor, ms_up: torch.Tensor, ms_ref: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The cross-prediction denoising losses ``(ms2pan, pan2ms)`` of a batch (MSE on the noise,
        steps uniform in 1..T, drawn from the network's generator): ``ms2pan`` denoises ``pan`` given
        ``ms_up``, ``pan2ms`` each band of ``ms_ref`` given ``pan``; all on one grid (padded here to
        multiples of :attr:`multiple`)."""
        (pan, ms_up, ms_ref), _, _ = self._aligned((pan, ms_up, ms_ref), None)
        n, c, h, w = ms_ref.shape
        gen = self._generator(pan.device)
        t = torch.randint(1, STEPS + 1, (n,), generator=gen, device=pan.device)
        eps = torch.randn((n, 1 + c, h, w), generator=gen, device=pan.device)
        out_p, _ = self.ms2pan(noised(pan, t, eps[:, :1], self.table), ms_up, t)
        ms_t = noised(ms_ref, t, eps[:, 1:], self.table).reshape(n * c, 1, h, w)
        pan_c = pan.expand(n, c, h, w).reshape(n * c, 1, h, w)
        out_m, _ = self.pan2ms(ms_t, pan_c, t.repeat_interleave(c))
        return F.mse_loss(out_p, eps[:, :1]), F.mse_loss(out_m.view(n, c, h, w), eps[:, 1:])
