"""Throwaway: probe.py with a cosine learning-rate decay over stage II, to FLOOR (env, default 0.1)
of each step's rate (the trainer's _forward and the fit's _alternate patched).

    PYTHONPATH=. python bench/experiments_zeroshot/probe_decay.py OUT.json [FIELD=JSON ...] [scenes=a,b]
"""
import math, os, runpy, sys
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import importlib
F = importlib.import_module("pansharpen_cli.methods.zeroshot.fit")
from pansharpen_cli.methods.zeroshot.trainer import Trainer
FLOOR = float(os.environ.get("FLOOR", "0.1"))
_alt, _fwd = F._alternate, Trainer._forward

def alternate(tr, steps, sel, last, progress):
    tr._decay = [0, steps]
    try:
        return _alt(tr, steps, sel, last, progress)
    finally:
        tr._decay = None

def forward(self, p, x, d, lr, f=None):
    dec = getattr(self, "_decay", None)
    if dec and self.net.training and dec[1]:
        t = min(1.0, dec[0] / dec[1])
        lr = lr * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * t)))
        dec[0] += 1
    return _fwd(self, p, x, d, lr, f)

F._alternate, Trainer._forward = alternate, forward
sys.argv = ["probe.py", *sys.argv[1:]]
runpy.run_path(str(ROOT / "bench" / "experiments_zeroshot" / "probe.py"), run_name="__main__")
