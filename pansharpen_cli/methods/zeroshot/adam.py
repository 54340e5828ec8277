"""Adam for the per-scene fits, without ``torch.optim``.

``torch.optim``'s optimisers import ``torch._dynamo`` when the first of them is made: 1.2 s on this
2-core machine, a sixth of fusing the Quick start's example. The per-scene fits (the spectral response,
the zero-shot steps, CrossDiff's pretext adaptation) need only plain Adam, written here with the
same operations in the same order as ``torch.optim.Adam``'s single-tensor path (no weight decay, no
AMSGrad), so the updates are the same to the bit (``tests/methods/test_zeroshot.py``). Pretraining,
which checkpoints its optimiser state, keeps ``torch.optim.Adam``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """Adam (Kingma & Ba) over a list of parameters.

    Attributes:
        lr: the learning rate of the next :meth:`step` (the fit changes it between steps).
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self._steps = [0] * len(self.params)  # per parameter, as torch counts them
        self._m = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._v = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients (``set_to_none``)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        b1, b2 = self.betas
        for i, (p, m, v) in enumerate(zip(self.params, self._m, self._v, strict=True)):
            if p.grad is None:
                continue
            self._steps[i] += 1
            step = float(self._steps[i])
            step_size = self.lr / (1 - b1**step)
            bc2_sqrt = (1 - b2**step) ** 0.5
            g = p.grad
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)
