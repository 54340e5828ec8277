"""The paths a run will write, checked before it starts (the file-system half of the preflight).

A :class:`Target` is a path the run will write. :func:`check_writes` refuses, before anything is
read: a target that is an input or another target (resolved paths, symbolic links followed, and
hard links: the same device and inode), one that names a folder or sits in a symbolic link loop, an
existing file without ``--overwrite``, a missing folder (unless the run creates it), and a folder
the run cannot write into (``os.access``, then a probe file created and removed there: access() does
not see every read-only mount, network file system or full disk). ``pipeline/preflight.py`` lists
each command's targets and inputs. Messages name the paths as the user gave them and say what to
change: usage problems raise :class:`OutputPathError` (exit 2), a folder the file system refuses
:class:`OutputError` (exit 1).

Inputs may be GDAL paths (:mod:`.gdalpaths`): they cannot be resolved or stat'ed; the local archive
one reads (``/vsizip/a.zip/pan.tif``: ``a.zip``) stands for it, a remote one is left out (no local
output can be it). Outputs are local files: a GDAL path as an output is refused
(:func:`local_output`), and so is a raster output whose extension names another format than
GeoTIFF (:func:`.formats.check_output_format`).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..base.errors import OutputError, OutputPathError
from .formats import check_output_format
from .gdalpaths import InputPath, is_gdal_path, local_file

__all__ = [
    "Files",
    "Folders",
    "Target",
    "check_fd",
    "check_folder_target",
    "check_output_path",
    "check_target",
    "check_writes",
    "conflict",
    "local_output",
]

#: An input: (how messages name it, its path as given), e.g. ("the PAN", Path("pan.tif")); a GDAL
#: path as its string.
Named = tuple[str, InputPath]


@dataclass(frozen=True)
class Target:
    """A file the run will write.

    Attributes:
        what: how messages name it: ``output``, ``--report``, ``--log`` ...
        path: as the user gave it.
        overwrite: an existing file may be replaced (``--overwrite``); None: an existing file is the
            run's own business (a log appended to, a batch output skipped or refused per scene).
        create: missing folders above it are created by the run (batch's OUTDIR).
        example: a file name for the message when ``path`` is a folder.
        where: a prefix for messages (``manifest.csv:3: ``).
        option: what the user changes to choose another path (default: ``WHAT path``).
        fmt: for a raster output, the ``--of`` driver its extension is checked against (None: not
            a raster).
    """

    what: str
    path: Path
    overwrite: bool | None = False
    create: bool = False
    example: str = "out.tif"
    where: str = ""
    option: str = ""
    fmt: str | None = None

    @property
    def named(self) -> str:
        return f"{self.where}{self.what} {self.path}"

    @property
    def fix(self) -> str:
        return f"choose another {self.option or self.what + ' path'}"


def _loop(what: str, p: Path) -> OutputPathError:
    return OutputPathError(f"{what} {p}: a symbolic link loop in the path: remove or fix the link")


def identity(what: str, p: Path) -> tuple[Path, tuple[int, int] | None]:
    """(the resolved path, (device, inode) when the file exists).

    Raises:
        OutputPathError: a symbolic link loop in ``p``.
    """
    try:
        resolved = p.resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise _loop(what, p) from None
    try:
        st = os.stat(resolved)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _loop(what, p) from None
        return resolved, None
    return resolved, (st.st_dev, st.st_ino)


class Match(NamedTuple):
    """A path found again in :class:`Files`: its name, its path as given, and how they are one file."""

    label: str
    path: Path
    how: str


@dataclass
class Files:
    """Named paths, found again by resolved path or by (device, inode)."""

    _paths: dict[Path, Named] = field(default_factory=dict)
    _inodes: dict[tuple[int, int], Named] = field(default_factory=dict)

    def add(self, label: str, p: InputPath) -> None:
        """Add an input (a GDAL path: the local archive it reads, if any)."""
        if is_gdal_path(p):
            archive = local_file(p)
            if archive is None:
                return
            label, p = f"{label}'s archive", archive
        p = Path(p)
        resolved, inode = identity(label, p)
        self._paths.setdefault(resolved, (label, p))
        if inode is not None:
            self._inodes.setdefault(inode, (label, p))

    def match(self, what: str, p: Path) -> Match | None:
        """The entry ``p`` is one file with, or None (``what`` names ``p`` in a loop's message)."""
        resolved, inode = identity(what, p)
        hit = self._paths.get(resolved)
        if hit is not None:
            same = Path(os.path.abspath(hit[1])) == Path(os.path.abspath(p))
            return Match(*hit, "" if same else ", through a symbolic link")
        if inode is not None and inode in self._inodes:
            return Match(*self._inodes[inode], ", through a hard link")
        return None


def _shown(folder: Path) -> str:
    return "the current folder" if str(folder) in ("", ".") else str(folder)


def _probe(folder: Path) -> OSError | None:
    """Create and remove a file in ``folder``: the error, or None when it could."""
    try:
        fd, name = tempfile.mkstemp(prefix=".pansharpen-probe-", dir=folder)
    except OSError as exc:
        return exc
    os.close(fd)
    os.unlink(name)
    return None


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written into the existing folder ``folder`` (None: it can)."""
    if os.access(folder, os.W_OK | os.X_OK):
        exc = _probe(folder)
        if exc is None:
            return None
        code = exc.errno
    else:
        try:
            code = errno.EROFS if os.statvfs(folder).f_flag & os.ST_RDONLY else errno.EACCES
        except OSError:
            code = errno.EACCES
    if code == errno.EROFS:
        return f"{_shown(folder)} is on a read-only file system: choose a folder on a writable one"
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {_shown(folder)}: change its permissions or choose another folder"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device of {_shown(folder)}: free some space or choose another folder"
    cause = os.strerror(code or errno.EIO)
    return f"cannot create a file in {_shown(folder)} ({cause}): choose another folder"


@dataclass
class Folders:
    """The folders found writable so far (each is probed once per run)."""

    ok: set[Path] = field(default_factory=set)

    def check(self, t: Target, folder: Path) -> None:
        """``folder`` (where ``t`` goes) exists, or ``t.create`` and it can be made, and is writable.

        Raises:
            OutputPathError: missing (and not to be created), or a file in its place.
            OutputError: the file system refuses to write there.
        """
        key = identity(t.what, folder)[0]
        if key in self.ok:
            return
        existing = folder
        while not existing.exists():
            if not t.create:
                raise OutputPathError(
                    f"{t.named}: directory {folder} does not exist: create it first or {t.fix}"
                )
            existing = existing.parent
        if not existing.is_dir():
            raise OutputPathError(f"{t.named}: {existing} is a file, not a folder: {t.fix}")
        why = _unwritable(existing)
        if why is not None:
            raise OutputError(f"cannot write {t.named}: {why}")
        self.ok.add(key)


def local_output(what: str, p: str | os.PathLike) -> Path:
    """An output path as given on the command line, as a Path: refused when it is a GDAL path.

    Raises:
        OutputPathError: ``/vsis3/...``, ``s3://...``, ``/vsizip/...`` and the like.
    """
    if is_gdal_path(p):
        raise OutputPathError(
            f"{what} {os.fspath(p)}: outputs are written to local files (a temporary file renamed into "
            "place), not to GDAL paths: write it to a local path, then copy it (gdal_translate, "
            "aws s3 cp, ...)"
        )
    return Path(p)


def _check_name(t: Target) -> None:
    """A local path; a raster named as a GeoTIFF."""
    local_output(t.named, t.path)
    if t.fmt is not None:
        check_output_format(t.named, t.path, t.fmt)


def check_target(t: Target, folders: Folders) -> None:
    """``t`` on its own: a local path, a raster named as a GeoTIFF, not a folder, replaced only when
    allowed, its folder usable (see :class:`Folders`).

    Raises:
        OutputPathError, OutputError: see :meth:`Folders.check`; a GDAL path, a folder at
            ``t.path``, an existing file without ``--overwrite``, a symbolic link loop.
        UsageError: a raster output named ``.png`` and the like.
    """
    _check_name(t)
    identity(t.what, t.path)  # a loop, named as such
    if t.path.is_dir():
        raise OutputPathError(f"{t.named} is a directory: expected a file path like {t.path / t.example}")
    if t.overwrite is False and (t.path.exists() or t.path.is_symlink()):
        raise OutputPathError(f"{t.named} exists: pass --overwrite to replace it (or {t.fix})")
    folders.check(t, t.path.parent)


def check_folder_target(what: str, folder: Path, folders: Folders) -> None:
    """A folder the run writes into (``OUTDIR``): a folder if it exists, else one it can create.

    Raises:
        OutputPathError: a file at ``folder``, a symbolic link loop.
        OutputError: the file system refuses to write there.
    """
    identity(what, folder)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(
            f"{what} {folder} is a file: expected a folder (a missing one is created): choose another {what}"
        )
    folders.check(Target(what, folder, create=True, option=what), folder)


def _label(hit: Match) -> str:
    return f"{hit.label} {hit.path}{hit.how}" if hit.label else f"{hit.path}{hit.how}"


def conflict(t: Target, inputs: Files, outputs: Files) -> OutputPathError | None:
    """The error when ``t`` is an input or one of ``outputs`` (None: it is neither)."""
    hit = inputs.match(t.what, t.path)
    if hit is not None:
        return OutputPathError(
            f"{t.named} is also an input, {_label(hit)}: {t.fix}"
        )
    hit = outputs.match(t.what, t.path)
    if hit is not None:
        return OutputPathError(
            f"{t.named} is also {_label(hit)}: give each its own path"
        )
    return None


def check_writes(targets: Sequence[Target], inputs: Iterable[Named], folders: Folders | None = None) -> None:
    """Every target distinct from every input and from each other, then each on its own
    (:func:`check_target`), in the order given.

    Raises:
        OutputPathError: a usage problem (exit 2) naming the path as given and what to change.
        OutputError: a folder the file system will not let the run write into.
    """
    ins, outs = Files(), Files()
    for label, p in inputs:
        ins.add(label, p)
    for t in targets:  # first: a name that is wrong whatever the files
        _check_name(t)
    for t in targets:
        err = conflict(t, ins, outs)
        if err is not None:
            raise err
        outs.add(f"the {t.what}", t.path)
    folders = folders or Folders()
    for t in targets:
        check_target(t, folders)


def check_fd(fd: int, what: str, inputs: Iterable[Named]) -> None:
    """Refuse a file descriptor (standard output redirected with ``>>``) that is one of the inputs.

    Raises:
        OutputPathError: it is.
    """
    try:
        st = os.fstat(fd)
    except OSError:
        return
    for label, p in inputs:
        if is_gdal_path(p):
            continue
        try:
            s = os.stat(p)
        except OSError:
            continue
        if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
            raise OutputPathError(f"{what} is {label} {p}: redirect it to another file")


def check_output_path(out: str | os.PathLike, inputs: Sequence[str | os.PathLike], overwrite: bool) -> Path:
    """Refuse an output in a missing or unwritable directory, a directory, an input, or an existing
    file without ``overwrite`` (:func:`check_writes` with one target).

    Returns:
        The output as a Path.

    Raises:
        OutputPathError: with the option to change.
        OutputError: the folder cannot be written to.
    """
    p = local_output("output", out)
    check_writes([Target("output", p, overwrite)], [("", i) for i in inputs])
    return p
