"""Experiment (issue 23): give the band-wise network MTF-GLP-HPM's injection as a per-band input.

The network sees the PAN and MS normalised per band, so it cannot form HPM's multiplicative
injection (it needs each band's mean over its std, ``k_b``). This registers ``bandwise-hpm``: the
``bandwise-resnet`` with a 7th per-band input ``h_b = (x_b + k_b) d_b / (p - d_b + k_b)`` (HPM's
injection in the band's normalised units, the PAN equalised to the band), ``k_b`` taken from the
scene being fitted (a module global set by a wrapped ``prepare_scene``). ``base=hpm`` makes the
untrained network MTF-GLP-HPM scaled by the band's regression gain (``x + g h``) instead of
MTF-GLP with regression gains (``x + g d``).

    PYTHONPATH=. python bench/experiments_zeroshot/hpm_input.py OUT.json [probe args] [base=hpm]
"""
import runpy, sys
import torch
from pansharpen_cli import networks
from pansharpen_cli.networks import bandwise
from pansharpen_cli.networks.inputs import checked_inputs
import importlib
zfit = importlib.import_module("pansharpen_cli.methods.zeroshot.fit")

K = {"k": None}
BASE = {"hpm": False}


@networks.register("bandwise-hpm")
class BandwiseHPM(bandwise.BandwiseResNet):
    in_per_band = 7

    def forward(self, pan, ms_up, detail=None, gains=None):
        detail, gains = checked_inputs(pan, ms_up, detail, gains)
        n, c, h, w = ms_up.shape
        k = K["k"].to(ms_up).view(1, c, 1, 1)
        hd = (ms_up + k).clamp_min(0.05 * k) * detail / (pan - detail + k).clamp_min(0.05 * k)
        hd = hd.clamp(-10, 10)
        g = gains.to(ms_up.dtype).view(n, c, 1, 1).expand(n, c, h, w)
        gd = g * detail
        base = ms_up + (g * hd if BASE["hpm"] else gd)
        mean = ms_up.mean(1, keepdim=True).expand(n, c, h, w)
        x = torch.stack([ms_up, pan.expand(n, c, h, w), mean, detail, gd, g, hd], dim=-1)
        z = torch.relu(self.head(x.view(n * c, h, w, 7).permute(0, 3, 1, 2)))
        for blk in self.blocks:
            z = blk(z, n, c)
        return self.tail(torch.relu(z)).reshape(n, c, h, w) + base


_prep = zfit.prepare_scene


def prepare_scene(pan, ms, valid, r, ms_gains, pan_gain, cfg, dev, pairs=True):
    s = _prep(pan, ms, valid, r, ms_gains, pan_gain, cfg, dev, pairs=pairs)
    K["k"] = torch.as_tensor(s.norm.ms_mean / s.norm.ms_std, dtype=torch.float32)
    return s


zfit.prepare_scene = prepare_scene
args = [a for a in sys.argv[1:] if a != "base=hpm"]
BASE["hpm"] = "base=hpm" in sys.argv[1:]
sys.argv = ["probe.py"] + args
runpy.run_path("bench/experiments_zeroshot/probe.py", run_name="__main__")
