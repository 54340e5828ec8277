"""Weights files: save, load and verify; the manifest; the shipped prior.

A weights file is a torch file ``{arch, config, state_dict}`` with a sidecar JSON manifest
``NAME.json`` (how it was made, its sha256, licence, benchmark). Loading verifies the checksum, the
architecture and a strict state-dict match, and raises
:class:`~pansharpen_cli.base.errors.WeightsError` on any failure (never a silent fallback).

The shipped prior lives in the data package ``pansharpen_cli.weights`` (the repository's top-level
``weights/`` folder), found through :mod:`importlib.resources`: :func:`default_weights_path`.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import torch

from .. import networks
from ..base.errors import OptionError, WeightsError

__all__ = [
    "WEIGHTS_FORMAT",
    "Weights",
    "default_manifest_path",
    "default_weights_path",
    "load_network",
    "load_weights",
    "save_weights",
    "sha256_file",
]

#: Format version of weights files and manifests written by :func:`save_weights`.
WEIGHTS_FORMAT = 1
#: The data package holding the shipped priors, and the name by which the zero-shot method asks for
#: its prior (``MethodSpec.default_weights``): the file of ``bandwise-lite``, standing for "the
#: prior of the network being built", which :func:`shipped_name` turns into that network's file.
WEIGHTS_PACKAGE = "pansharpen_cli.weights"
DEFAULT_WEIGHTS_NAME = "prior.pt"
#: The shipped zero-shot prior of each network that has one (``--weights default`` for that network;
#: the presets' networks, methods/presets.py, each have one).
SHIPPED_PRIORS = {
    "bandwise-lite": DEFAULT_WEIGHTS_NAME,
    "bandwise-resnet": "prior-resnet.pt",
    "bandwise-resnet-wide": "prior-resnet-wide.pt",
}

_REDO = "re-download it or re-create it with `pansharpen pretrain`, or run with --weights none"


def default_weights_path(name: str | None = None) -> Path:
    """A shipped weights file: ``name`` (None: the default network's zero-shot prior,
    ``prior-resnet.pt``; ``prior.pt`` is bandwise-lite's, CrossDiff's ``crossdiff.pt``) of the data
    package ``pansharpen_cli.weights``.

    Returns:
        Its path; it may be missing from a broken installation (:func:`load_weights` says so).
    """
    return Path(str(resources.files(WEIGHTS_PACKAGE) / (name or shipped_name(None))))


def shipped_name(arch: str | None, default: str = DEFAULT_WEIGHTS_NAME) -> str:
    """The shipped file ``--weights default`` names for a zero-shot fit of network ``arch`` (None:
    the default network, :data:`networks.DEFAULT_ARCH`): that network's prior
    (:data:`SHIPPED_PRIORS`), else ``default`` (a method's own file, such as CrossDiff's, is kept)."""
    if default != DEFAULT_WEIGHTS_NAME:
        return default
    return SHIPPED_PRIORS.get((arch or networks.DEFAULT_ARCH).lower(), default)


def torch_device(device: torch.device | None) -> torch.device:
    """``device`` itself, or the CPU for None.

    Raises:
        OptionError: anything else (a ``--device`` word is turned into a torch.device by
            :func:`pansharpen_cli.base.device.resolve_device`, outside the library).
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    raise OptionError(
        f"expected a torch.device or None (the CPU), got {device!r}: turn a --device word into a "
        "torch.device with pansharpen_cli.base.device.resolve_device"
    )


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_manifest_path(path: str | os.PathLike) -> Path:
    """The sidecar manifest of a weights file: ``NAME.json`` beside ``NAME.pt``."""
    return Path(path).with_suffix(".json")


def save_weights(
    path: str | os.PathLike, net: torch.nn.Module, manifest: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``{arch, config, state_dict}`` with torch.save and the sidecar ``NAME.json`` manifest.

    Args:
        path: the .pt file to write (its directory must exist); written atomically.
        net: a registry network (has ``arch`` and ``config``).
        manifest: facts to record (e.g. ``pretrain(...)["manifest"]``); ``arch``, ``config``,
            ``receptive_field``, ``parameters``, ``file``, ``bytes``, ``sha256`` and ``format`` are
            filled in here; ``licence`` and ``benchmark`` (null until measured) are kept if given.

    Returns:
        The manifest as written.

    Raises:
        OptionError: the directory of ``path`` does not exist, or ``net`` has no ``arch``/``config``.
    """
    p = Path(path)
    if not p.parent.is_dir():
        raise OptionError(f"expected an existing directory for the weights file, got {str(p.parent)!r}")
    arch = getattr(net, "arch", None)
    config = getattr(net, "config", None)
    if not isinstance(arch, str) or not isinstance(config, dict):
        raise OptionError("expected a registry network with .arch and .config, got a module without them")
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tmp = p.with_name(p.name + ".tmp")
    torch.save({"arch": arch, "config": dict(config), "state_dict": state}, tmp)
    os.replace(tmp, p)
    man: dict[str, Any] = {
        "format": WEIGHTS_FORMAT,
        "arch": arch,
        "config": dict(config),
        "receptive_field": int(getattr(net, "receptive_field", -1)),
        "parameters": int(sum(v.numel() for v in net.parameters())),
    }
    man.update(manifest or {})
    man["arch"], man["config"] = arch, dict(config)
    man.setdefault("licence", None)
    man.setdefault("benchmark", None)
    man["file"] = p.name
    man["bytes"] = p.stat().st_size
    man["sha256"] = sha256_file(p)
    mp = default_manifest_path(p)
    tmp = mp.with_name(mp.name + ".tmp")
    tmp.write_text(json.dumps(man, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, mp)
    return man


class Weights(NamedTuple):
    """Loaded, verified weights.

    Attributes:
        state_dict: the network's state dict (CPU tensors).
        manifest: the sidecar manifest, or for a file without one a minimal dict; always holds
            ``arch`` and ``config`` (from the .pt file), ``path`` and ``verified`` (checksum checked).
    """

    state_dict: dict[str, torch.Tensor]
    manifest: dict[str, Any]

    @property
    def arch(self) -> str:
        return self.manifest["arch"]

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]


def _remake(name: str) -> str:
    """The options of ``python bench/pretrain.py`` that re-create the shipped file ``name`` (its
    ``--out`` is the shipped prior of its ``--arch``)."""
    arch = next((a for a, f in SHIPPED_PRIORS.items() if f == name), None)
    if arch is None:
        return f" --method {Path(name).stem}"
    return "" if arch == networks.DEFAULT_ARCH else f" --arch {arch}"


def _locate(spec: str | os.PathLike, default: str) -> tuple[Path, str, bool]:
    """``(path, what the messages call it, shipped)`` of a weights spec that is not "none".

    Raises:
        WeightsError: no such file (for the shipped prior: what to reinstall or re-create).
    """
    shipped = isinstance(spec, str) and spec.strip().lower() == "default"
    p = default_weights_path(default) if shipped else Path(spec)
    what = f"the shipped weights {p}" if shipped else f"weights file {str(p)!r}"
    if not p.is_file():
        if shipped:
            how = _remake(default)
            raise WeightsError(
                f"{what} are missing from this installation: reinstall pansharpen, re-create them with "
                f"`python bench/pretrain.py{how}`, or run with --weights none"
            )
        raise WeightsError(
            f"expected an existing {what}, got no such file: check the path or run with --weights none"
        )
    return p, what, shipped


def _verified_manifest(p: Path, what: str, shipped: bool) -> dict[str, Any] | None:
    """The sidecar manifest of ``p`` after checking ``p``'s sha256 against it (None: no manifest,
    allowed for a user's file, not for the shipped prior).

    Raises:
        WeightsError: a missing (shipped) or malformed manifest, or a checksum mismatch.
    """
    mp = default_manifest_path(p)
    if not mp.is_file():
        if shipped:
            raise WeightsError(f"the manifest {mp} of {what} is missing: reinstall pansharpen, {_REDO}")
        return None
    try:
        manifest = json.loads(mp.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"manifest {mp} of {what} is not valid JSON ({e}): {_REDO}") from e
    if not isinstance(manifest, dict):
        raise WeightsError(f"manifest {mp} of {what} is not a JSON object: {_REDO}")
    want = manifest.get("sha256")
    if not isinstance(want, str):
        raise WeightsError(f"manifest {mp} of {what} has no sha256: {_REDO}")
    got = sha256_file(p)
    if got != want:
        raise WeightsError(
            f"{what} is corrupted or was modified: its sha256 {got[:12]}... differs from the manifest's "
            f"{want[:12]}...; {_REDO}"
        )
    return manifest


def _read_file(p: Path, what: str) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """``(arch, config, state_dict)`` of a torch weights file.

    Raises:
        WeightsError: not readable by torch, or not a dict of well-formed arch, config, state_dict.
    """
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many kinds)
        raise WeightsError(
            f"{what} is not a readable torch weights file ({type(e).__name__}): {_REDO}"
        ) from e
    if not isinstance(obj, dict) or not {"arch", "config", "state_dict"} <= set(obj):
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise WeightsError(
            f"expected {what} to hold a dict with arch, config and state_dict, got {keys}: "
            f"make it with `pansharpen pretrain` (or priors.save_weights), or run with --weights none"
        )
    f_arch, f_config, state = obj["arch"], obj["config"], obj["state_dict"]
    if not isinstance(f_arch, str) or not isinstance(f_config, dict) or not isinstance(state, dict):
        raise WeightsError(f"{what} has malformed arch/config/state_dict entries: {_REDO}")
    return f_arch, f_config, state


def _check_arch(what: str, f_arch: str, manifest: dict[str, Any] | None, arch: str | None) -> None:
    """The file's architecture is known, agrees with its manifest and is the one asked for.

    Raises:
        WeightsError: saying which weights to use instead.
    """
    if f_arch.lower() not in networks.available():
        raise WeightsError(
            f"{what} is for network architecture {f_arch!r}, which this version of pansharpen does not know "
            f"(known: {', '.join(networks.available())}): use weights made by this version "
            "(`pansharpen pretrain`) or run with --weights none"
        )
    if manifest is not None and str(manifest.get("arch", f_arch)).lower() != f_arch.lower():
        raise WeightsError(
            f"{what} holds arch {f_arch!r} but its manifest says {manifest.get('arch')!r}: {_REDO}"
        )
    if arch is not None and arch.lower() != f_arch.lower():
        raise WeightsError(
            f"{what} is for network architecture {f_arch!r}, but --arch {arch!r} was given: drop --arch (the "
            f"file's architecture is then used), use weights made for {arch!r} (`pansharpen pretrain --arch "
            f"{arch}`), or run with --weights none"
        )


def _check_fits(what: str, f_arch: str, f_config: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    """The state dict loads strictly into ``networks.build(f_arch, **f_config)``.

    Raises:
        WeightsError: the config is not the network's, or the tensors do not fit it.
    """
    try:
        net = networks.build(f_arch, **f_config)
    except (TypeError, ValueError) as e:
        raise WeightsError(
            f"{what} has a network config {f_config} that {f_arch!r} does not accept ({e}): {_REDO}"
        ) from e
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = "; ".join(s.strip() for s in first[1:4]) or first[0]
        raise WeightsError(
            f"{what} does not fit network {f_arch!r} {f_config} ({detail}): it was made by another version; {_REDO}"
        ) from e


def load_weights(
    spec: str | os.PathLike | None, *, arch: str | None = None, default: str | None = None
) -> Weights | None:
    """Load and verify a weights file.

    Args:
        spec: ``"default"`` (the shipped prior, :func:`default_weights_path`), ``"none"`` or None
            (no weights), or a path to a .pt written by :func:`save_weights` (its ``NAME.json``
            manifest is optional for user files, but checked when present).
        arch: the architecture the caller will build; must match the file's (None: any).
        default: the shipped file ``"default"`` names (:func:`default_weights_path`); None: the
            prior of ``arch``, or of the default network (:func:`shipped_name`).

    Returns:
        :class:`Weights` (``state_dict``, ``manifest``; unpacks as a pair), or None for ``"none"``.

    Raises:
        WeightsError: missing file or manifest, checksum mismatch, not a weights file, unknown
            architecture, wrong architecture, or a state dict that does not fit the network; the
            message says what to do.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "none"):
        return None
    p, what, shipped = _locate(spec, default or shipped_name(arch))
    manifest = _verified_manifest(p, what, shipped)
    f_arch, f_config, state = _read_file(p, what)
    _check_arch(what, f_arch, manifest, arch)
    _check_fits(what, f_arch, f_config, state)
    man = dict(manifest or {})
    verified = manifest is not None
    man.update({"arch": f_arch.lower(), "config": dict(f_config), "path": str(p), "verified": verified})
    return Weights(state, man)


def load_network(
    spec: str | os.PathLike | None, *, arch: str | None = None, device: torch.device | None = None
) -> tuple[torch.nn.Module, dict[str, Any]] | None:
    """:func:`load_weights`, then build the network with the weights (eval mode, on ``device``).

    Args:
        spec: as for :func:`load_weights`.
        arch: as for :func:`load_weights`.
        device: where to put the network; None: the CPU.

    Returns:
        ``(net, manifest)``, or None for ``"none"``.

    Raises:
        WeightsError: as :func:`load_weights`.
        OptionError: ``device`` is not a torch.device (nor None).
    """
    dev = torch_device(device)
    w = load_weights(spec, arch=arch)
    if w is None:
        return None
    net = networks.build(w.arch, **w.config)
    net.load_state_dict(w.state_dict, strict=True)
    return net.to(dev).eval(), w.manifest
