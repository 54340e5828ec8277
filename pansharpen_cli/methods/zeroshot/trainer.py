"""The optimisation steps of the zero-shot fit: a reduced-resolution (supervised, Wald protocol)
step, a full-resolution (unsupervised) step, and the hold-out score that picks the best state."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ...physics.torch_ops import mtf_degrade_t, upsample_t
from .adam import Adam
from .config import ZeroShotConfig, with_small_flips
from .features import CACHE_BYTES, feature_maps, has_features
from .losses import inner, local_corr, masked_l1
from .model import autocast
from .response import SpectralResponse
from .sampling import Sampler, crop_size, holdout_windows
from .scene import Scene
from .tta import symmetry


class Trainer:
    """Samplers, optimiser and the two kinds of step over one prepared :class:`Scene`.

    Constructing it draws the hold-out windows from ``rng`` (the draw order is part of the seeded
    result: the response fit draws before, the steps after). When it holds no window out,
    :attr:`cfg` is the given one with its ``small_flips`` (:func:`.config.with_small_flips`).
    """

    def __init__(
        self,
        net: nn.Module,
        response: SpectralResponse | None,
        scene: Scene,
        cfg: ZeroShotConfig,
        rng: np.random.Generator,
        dev: torch.device,
        pretrained: bool = False,
    ) -> None:
        self.net, self.response, self.scene, self.cfg, self.rng, self.dev = (
            net,
            response,
            scene,
            cfg,
            rng,
            dev,
        )
        s, r = scene, scene.ratio
        rr_valid = s.valid_ms[: s.rr_h, : s.rr_w].copy()
        self.c_rr = crop_size(cfg.crop, s.rr_h, s.rr_w, 1)
        self.hold = holdout_windows(rr_valid, self.c_rr, cfg.holdout, rng)
        if not self.hold:  # the whole budget runs on a few crops: the flips (the model takes this cfg)
            self.cfg = cfg = with_small_flips(cfg)
        train_mask_rr = rr_valid.copy()
        for i, j in self.hold:
            train_mask_rr[i : i + self.c_rr, j : j + self.c_rr] = False
        self.samp_rr = Sampler(s.rr_h, s.rr_w, self.c_rr, train_mask_rr, cfg.max_invalid, 1)
        self.mask_rr_t = torch.as_tensor(train_mask_rr, dtype=torch.float32, device=dev)[None, None]
        self.valid_rr_t = torch.as_tensor(rr_valid, dtype=torch.float32, device=dev)[None, None]
        h, w = s.pan_n.shape[-2:]
        self.c_fr = crop_size(cfg.crop, h, w, r)
        self.samp_fr = Sampler(h, w, self.c_fr, s.valid, cfg.max_invalid, r)
        with torch.no_grad():  # the upsampled MS of the whole scene, once (crops cut from it)
            self.ms_up_fr = upsample_t(s.ms_n, r)
        self.valid_t = torch.as_tensor(s.valid, dtype=torch.float32, device=dev)[None, None]
        self.opt = Adam([p for p in net.parameters() if p.requires_grad], lr=cfg.lr_rr)
        self.corr_win = 2 * math.ceil(r / 2) + cfg.corr_extra
        self._fr_hold: tuple[torch.Tensor, ...] | None = None
        self._band_stats = tuple(  # the MS bands' mean and std (raw units), for MTF-GLP-HPM's target
            torch.as_tensor(v, dtype=torch.float32, device=dev).view(1, -1, 1, 1)
            for v in (s.norm.ms_mean, s.norm.ms_std)
        )
        self.pretrained = pretrained  # the network starts from prior weights
        self.feats_rr = self.feats_fr = None  # frozen features, once per scene (features.py)
        self._fr_pending = has_features(net)  # the full-resolution ones at the first such step
        if has_features(net):
            self.feats_rr = feature_maps(net, s.pan_rr, s.ms_rr_up)

    # -- batches ---------------------------------------------------------------------------------
    def _moves(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """One symmetry of the square per crop of a batch, drawn among the first ``cfg.augment``
        (the identity, without a draw, when ``augment`` is 1)."""
        n = self.cfg.augment
        return [symmetry(int(self.rng.integers(n)) if n > 1 else 0) for _ in range(self.cfg.batch)]

    def rr_batch(self) -> tuple[torch.Tensor, ...]:
        """(PAN, upsampled MS, detail, reference, mask, features or None) crops of the
        reduced-resolution pair, each moved by its symmetry (:meth:`_moves`)."""
        s, c = self.scene, self.c_rr
        pos = [self.samp_rr.sample(self.rng) for _ in range(self.cfg.batch)]
        moves = self._moves()

        def cut(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return torch.cat([mv(t[..., i : i + c, j : j + c]) for (i, j), mv in zip(pos, moves)])

        crops = (s.pan_rr, s.ms_rr_up, s.detail_rr, s.ms_ref, self.mask_rr_t, self.feats_rr)
        return tuple(cut(t) for t in crops)

    def fr_batch(self) -> tuple[torch.Tensor, ...]:
        """(PAN, upsampled MS, detail, MS, MS-grid mask, PAN-grid mask, features or None) crops at
        full resolution."""
        s, r = self.scene, self.scene.ratio
        pos = [self.samp_fr.sample(self.rng) for _ in range(self.cfg.batch)]
        if self._fr_pending:
            self.feats_fr, self._fr_pending = feature_maps(self.net, s.pan_n, self.ms_up_fr, CACHE_BYTES), False
        c, cm = self.c_fr, self.c_fr // r
        pans, ups, dets, mss, vm, vf, fs = [], [], [], [], [], [], []
        for (i, j), mv in zip(pos, self._moves()):  # a move keeps the coarse pixels on the fine ones
            if self.feats_fr is not None:
                fs.append(mv(self.feats_fr[..., i : i + c, j : j + c]))
            im, jm = i // r, j // r
            pans.append(mv(s.pan_n[..., i : i + c, j : j + c]))
            dets.append(mv(s.detail_fr[..., i : i + c, j : j + c]))
            ups.append(mv(self.ms_up_fr[..., i : i + c, j : j + c]))
            mss.append(mv(s.ms_n[..., im : im + cm, jm : jm + cm]))
            vm.append(mv(s.valid_ms_t[..., im : im + cm, jm : jm + cm]))
            vf.append(mv(self.valid_t[..., i : i + c, j : j + c]))
        return tuple(torch.cat(t) if t else None for t in (pans, ups, dets, mss, vm, vf, fs))

    # -- steps -----------------------------------------------------------------------------------
    def _forward(self, p: torch.Tensor, x: torch.Tensor, d: torch.Tensor, lr: float, f=None) -> torch.Tensor:
        self.opt.lr = lr
        kw = {} if f is None else {"feats": f}
        with autocast(self.dev, self.cfg.amp):
            out = self.net(p, x, d, self.scene.gains_t.expand(p.shape[0], -1), **kw)
        return out.float()

    def _update(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def step_rr(self) -> dict[str, float]:
        """One supervised reduced-resolution step (L1 against the MS)."""
        p, x, d, y, m, f = self.rr_batch()
        loss = masked_l1(self._forward(p, x, d, self.cfg.lr_rr, f), y, m)
        self._update(loss)
        return {"rr": loss.item()}

    def step_fr(self) -> dict[str, float]:
        """One unsupervised full-resolution step: spectral, spatial and local-correlation terms."""
        cfg, s = self.cfg, self.scene
        p, x, d, y, vm, vf, f = self.fr_batch()
        out = self._forward(p, x, d, cfg.lr_fr, f)
        spec = masked_l1(mtf_degrade_t(out, s.gains, s.ratio), y, inner(vm, 1))
        spat = masked_l1(self.response(out), p, vf)
        loss = cfg.w_spectral * spec + cfg.w_spatial * spat
        losses = {"spectral": spec.item(), "spatial": spat.item()}
        if cfg.w_corr > 0:
            with torch.no_grad():
                target = self._corr_target(p, x, d)
            corr = torch.relu(target - local_corr(out, p, self.corr_win)).mean()
            loss = loss + cfg.w_corr * corr
            losses["corr"] = corr.item()
        self._update(loss)
        return {"fr": loss.item(), **losses}

    def _corr_target(self, p: torch.Tensor, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """The local correlation each output band should reach with the PAN: that of the upsampled
        MS band with the low-passed PAN, or (``corr_target`` "hpm") the larger of it and that of
        MTF-GLP-HPM's band (the MS times the band-equalised PAN over its low-pass)."""
        s = self.scene
        p_lp = upsample_t(mtf_degrade_t(p, [s.pan_gain], s.ratio), s.ratio)
        target = local_corr(x, p_lp, self.corr_win)
        if self.cfg.corr_target != "hpm":
            return target
        m, sd = self._band_stats
        floor = 0.05 * m.abs()
        hpm = (x * sd + m) * (sd * p + m).clamp_min(floor) / (sd * (p - d) + m).clamp_min(floor)
        return torch.maximum(target, local_corr(hpm, p, self.corr_win))

    @torch.no_grad()
    def _fr_windows(self) -> tuple[torch.Tensor, ...]:
        """Fixed full-resolution crops (PAN, upsampled MS, detail, correlation target) scored by the
        selection, drawn once from their own generator (the training draws are unchanged)."""
        if self._fr_hold is None:
            rng = np.random.default_rng(self.cfg.seed + 1)
            pos = [self.samp_fr.sample(rng) for _ in range(max(4, len(self.hold)))]
            s, c = self.scene, self.c_fr
            p, x, d = (
                torch.cat([t[..., i : i + c, j : j + c] for i, j in pos])
                for t in (s.pan_n, self.ms_up_fr, s.detail_fr)
            )
            self._fr_hold = (p, x, d, self._corr_target(p, x, d))
        return self._fr_hold

    @torch.no_grad()
    def _fr_shortfall(self) -> float:
        """The local-correlation shortfall of the network on the fixed full-resolution crops."""
        p, x, d, target = self._fr_windows()
        with autocast(self.dev, self.cfg.amp):
            out = self.net(p, x, d, self.scene.gains_t.expand(p.shape[0], -1)).float()
        return float(torch.relu(target - local_corr(out, p, self.corr_win)).mean())

    @torch.no_grad()
    def holdout_loss(self) -> float:
        """Mean L1 of the network on the held-out reduced-resolution windows (NaN without any), plus
        ``select_fr`` times its local-correlation shortfall on fixed full-resolution crops."""
        if not self.hold:
            return float("nan")
        rr = self._rr_holdout()
        if self.cfg.select_fr <= 0 or self.feats_fr is not None or self._fr_pending:
            return rr
        self.net.eval()
        fr = self._fr_shortfall()
        self.net.train()
        return rr + self.cfg.select_fr * fr

    @torch.no_grad()
    def _rr_holdout(self) -> float:
        s, net = self.scene, self.net
        net.eval()
        tot = 0.0
        c, m = self.c_rr, net.receptive_field
        for i, j in self.hold:
            i0, j0 = max(0, i - m), max(0, j - m)
            i1, j1 = min(s.rr_h, i + c + m), min(s.rr_w, j + c + m)
            with autocast(self.dev, self.cfg.amp):
                win = (..., slice(i0, i1), slice(j0, j1))
                kw = {} if self.feats_rr is None else {"feats": self.feats_rr[win]}
                out = net(s.pan_rr[win], s.ms_rr_up[win], s.detail_rr[win], s.gains_t, **kw).float()
            out = out[..., i - i0 : i - i0 + c, j - j0 : j - j0 + c]
            ref = s.ms_ref[..., i : i + c, j : j + c]
            tot += float(masked_l1(out, ref, self.valid_rr_t[..., i : i + c, j : j + c]))
        net.train()
        return tot / len(self.hold)
