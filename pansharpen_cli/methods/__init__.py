"""Fusion methods: arrays in, a :class:`~.base.Fuser` out. :mod:`.registry` lists them."""

from .registry import DEFAULT_METHOD, MethodSpec, get, names

__all__ = ["DEFAULT_METHOD", "MethodSpec", "get", "names"]
