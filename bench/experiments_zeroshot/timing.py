"""End-to-end zeroshot timing: 1280x1280 PAN + 320x320x8 MS, default config, 2 threads."""

import sys
import time

import numpy as np
import torch

from pansharpen_cli.methods import zeroshot
from pansharpen_cli.physics.degradation import upsample

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
rng = np.random.default_rng(0)
from scipy import ndimage  # noqa: E402

hr = np.stack([ndimage.gaussian_filter(rng.normal(size=(1280, 1280)), 2) for _ in range(8)]).astype(
    np.float32
)
pan = hr.mean(0, keepdims=True)
ms = hr.reshape(8, 320, 4, 320, 4).mean(axis=(2, 4))
t = time.time()
model = zeroshot.fit(pan, ms, 4, [0.3] * 8, 0.15, device=torch.device("cpu"))
t_fit = time.time() - t
t = time.time()
ms_up = upsample(ms, 4)
t_up = time.time() - t
t = time.time()
out = model.predict_image(pan, ms_up)
t_pred = time.time() - t
print(f"fit {t_fit:.1f}s upsample {t_up:.1f}s predict {t_pred:.1f}s", model.report()["seconds"])
