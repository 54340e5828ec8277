"""Fusion networks: registry, band-agnostic weights, identity at init, receptive field."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pansharpen_cli import networks
from pansharpen_cli.physics.degradation import mtf_degrade, mtf_filter, upsample
from pansharpen_cli.physics.torch_ops import mtf_degrade_t, mtf_filter_t, symmetric_pad, upsample_t


def _trained_like(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter (the zero-initialised tail too) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return net.eval()


# -- torch ops ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [2, 3, 4])
def test_torch_ops_match_numpy(ratio: int) -> None:
    rng = np.random.default_rng(ratio)
    x = rng.normal(size=(3, 6 * ratio, 5 * ratio)).astype(np.float32)
    gains = [0.3, 0.25, 0.45]
    xt = torch.from_numpy(x)[None]
    np.testing.assert_allclose(
        mtf_filter_t(xt, gains, ratio)[0].numpy(), mtf_filter(x, gains, ratio), atol=1e-5
    )
    np.testing.assert_allclose(
        mtf_degrade_t(xt, gains, ratio)[0].numpy(), mtf_degrade(x, gains, ratio), atol=1e-5
    )
    np.testing.assert_allclose(upsample_t(xt, ratio)[0].numpy(), upsample(x, ratio), atol=1e-5)


def test_symmetric_pad_matches_numpy_even_wider_than_image() -> None:
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    got = symmetric_pad(torch.from_numpy(x), 5, 2, 7, 1).numpy()
    want = np.pad(x[0, 0], ((7, 1), (5, 2)), mode="symmetric")
    # numpy pads wider-than-image symmetrically too
    np.testing.assert_array_equal(got[0, 0], want)


def test_torch_ops_are_differentiable() -> None:
    x = torch.randn(1, 2, 16, 16, requires_grad=True)
    mtf_degrade_t(upsample_t(x, 2), [0.3, 0.3], 2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# -- registry --------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", networks.available())
def test_registry_default_and_rebuild(arch: str) -> None:
    assert networks.DEFAULT_ARCH in networks.available()
    net = networks.build(arch)
    assert net.arch == arch
    with torch.no_grad():  # make the weights distinguishable (the tail starts at zero)
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    again = networks.build(net.arch, **net.config)
    result = again.load_state_dict(net.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for (ka, a), (kb, b) in zip(net.state_dict().items(), again.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)
    x = torch.randn(1, 4, 16, 16)
    pan = torch.randn(1, 1, 16, 16)
    net.eval(), again.eval()  # (crossdiff draws fresh noise in training mode)
    torch.testing.assert_close(again(pan, x), net(pan, x), rtol=0, atol=0)
    # a network of another configuration refuses the state dict
    with pytest.raises(RuntimeError):
        networks.build(net.arch, features=5).load_state_dict(net.state_dict(), strict=True)
    n_params = sum(p.numel() for p in net.parameters())
    assert 5_000 <= n_params <= 200_000
    with pytest.raises(ValueError, match="expected a network architecture"):
        networks.build("no-such-net")


# -- behaviour -------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", networks.available())
def test_untrained_network_returns_the_classical_fusion(arch: str) -> None:
    net = networks.build(arch).eval()
    pan, ms_up = torch.randn(2, 1, 20, 24), torch.randn(2, 5, 20, 24)
    detail, gains = torch.randn(2, 5, 20, 24), torch.rand(2, 5)
    with torch.no_grad():
        torch.testing.assert_close(net(pan, ms_up), ms_up)  # no detail given: the upsampled MS
        torch.testing.assert_close(net(pan, ms_up, detail, gains), ms_up + gains[..., None, None] * detail)
    with pytest.raises(ValueError, match="expected gains shaped"):
        net(pan, ms_up, detail, gains[:, :3])
    with pytest.raises(ValueError, match="expected detail shaped"):
        net(pan, ms_up, detail[:, :3], gains)


@pytest.mark.parametrize("arch", networks.available())
def test_detail_gains_steer_the_injection(arch: str) -> None:
    """Shared weights, different bands: the per-band gain input changes what a band gets."""
    net = _trained_like(networks.build(arch)).eval()
    pan, ms_up, detail = torch.randn(1, 1, 24, 24), torch.randn(1, 2, 24, 24), torch.randn(1, 2, 24, 24)
    detail[:, 1] = detail[:, 0]
    ms_up[:, 1] = ms_up[:, 0]
    g = torch.tensor([[1.0, 0.0]])
    with torch.no_grad():
        correction = net(pan, ms_up, detail, g) - (ms_up + g[..., None, None] * detail)
    # the learned correction itself (not only the classical base) depends on the gain input
    assert not torch.allclose(correction[:, 0], correction[:, 1])


@pytest.mark.parametrize("arch", networks.available())
def test_same_weights_any_band_count(arch: str) -> None:
    net = _trained_like(networks.build(arch))
    pan = torch.randn(1, 1, 24, 24)
    outs = {}
    for c in (3, 4, 8):
        ms_up = torch.randn(1, c, 24, 24)
        with torch.no_grad():
            y = net(pan, ms_up)
        assert y.shape == ms_up.shape and torch.isfinite(y).all()
        outs[c] = y
    assert not torch.allclose(outs[3], outs[4][:, :3])  # bands do interact (cross-band summary)


@pytest.mark.parametrize("arch", networks.available())
def test_receptive_field_is_exact(arch: str) -> None:
    """Exact for plain convolution stacks; a bound for crossdiff, whose pooling UNets reach further
    or less far with the phase of the pooling grid (positional networks)."""
    net = _trained_like(networks.build(arch)).eval()
    rf = net.receptive_field
    n = 2 * rf + 11
    c0 = n // 2
    pan, ms_up = torch.randn(1, 1, n, n), torch.randn(1, 3, n, n)
    with torch.no_grad():
        base = net(pan, ms_up)
        p2 = pan.clone()
        p2[0, 0, c0, c0] += 5.0
        diff = (net(p2, ms_up) - base).abs().amax(dim=(0, 1))
    changed = torch.nonzero(diff > 1e-6)
    radius = (changed - c0).abs().amax().item()
    if getattr(net, "positional", False):
        assert rf - 4 <= radius <= rf
    else:
        assert radius == rf


def _resnet_reference(net: torch.nn.Module, pan, ms_up, detail, gains) -> torch.Tensor:
    """bandwise-resnet written plainly (channels-first, no in-place ops), from its docstring."""
    relu = torch.nn.functional.relu
    n, c, h, w = ms_up.shape
    g = gains.view(n, c, 1, 1).expand(n, c, h, w)
    mean = ms_up.mean(1, keepdim=True).expand(n, c, h, w)
    x = torch.stack([ms_up, pan.expand(n, c, h, w), mean, detail, g * detail, g], dim=2)
    z = relu(net.head(x.reshape(n * c, 6, h, w).contiguous()))
    for blk in net.blocks:
        z = z + blk.conv2(relu(blk.conv1(z)))
        f = z.shape[1]
        z = (z.view(n, c, f, h, w) + blk.mix(z.view(n, c, f, h, w).mean(1)).unsqueeze(1)).view(n * c, f, h, w)
    return ms_up + g * detail + net.tail(relu(z)).view(n, c, h, w)


def test_resnet_channels_last_in_place_equals_the_plain_formula() -> None:
    """The fast forward (channels_last, in-place adds) gives the plain formula's outputs and
    gradients: the shipped prior means the same network after the speed-up."""
    net = _trained_like(networks.build("bandwise-resnet")).double().train()  # float64: exact to 1e-10
    g = torch.Generator().manual_seed(3)
    pan, ms_up, detail = (torch.randn(2, k, 21, 19, generator=g, dtype=torch.float64) for k in (1, 5, 5))
    gains = torch.rand(2, 5, generator=g, dtype=torch.float64)
    fast = net(pan, ms_up, detail, gains)
    ref = _resnet_reference(net, pan, ms_up, detail, gains)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    grads = []
    for y in (fast, ref):
        net.zero_grad()
        (y * y).mean().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
