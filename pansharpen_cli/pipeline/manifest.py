"""The scene list of ``batch``: a manifest (CSV with a header, or JSON lines) or a pairing rule
(``--pairs GLOB --ms-pattern PATTERN``), read and checked up front.

A bad list (an unknown or missing column, a row that cannot be parsed, two rows writing one output,
a row writing a row's input) raises :class:`ManifestError` before anything runs. Rasters are not
opened here: a missing or broken one fails its own scene when it runs.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import methods
from ..base.errors import ManifestError, OptionError
from ..base.sensors import get_sensor, parse_gains
from ..io.gdalpaths import InputPath, input_stem, is_gdal_path
from ..io.paths import Files, local_output

#: The manifest's columns: the required ones, then the optional ones (a cell overrides the option).
REQUIRED = ("pan", "ms")
OPTIONAL = ("out", "sensor", "gains", "method", "iterations")
COLUMNS = REQUIRED + OPTIONAL
#: Separator of several MS band files in one ``ms`` cell.
MS_SEPARATOR = ";"


@dataclass
class Row:
    """One scene of the list, its paths resolved.

    Attributes:
        line: where it came from (``manifest.csv:3``, or the PAN path for ``--pairs``).
        pan, ms, out: the PAN file, the MS file(s) in band order (a GDAL path kept as its string),
            the output.
        overrides: this row's ``sensor``, ``gains``, ``method``, ``iterations`` (only those given).
    """

    line: str
    pan: InputPath
    ms: list[InputPath]
    out: Path
    overrides: dict[str, Any] = field(default_factory=dict)


def default_output(pan: InputPath, outdir: Path) -> Path:
    """Where a row without ``out`` writes: ``OUTDIR/<PAN stem>.tif``."""
    return outdir / f"{input_stem(pan)}.tif"


def _beside(base: Path, cell: str) -> InputPath:
    """An input cell relative to the manifest's folder; a GDAL path as given."""
    return cell if is_gdal_path(cell) else base / cell


def _records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, raw record) of each row: CSV with a header, or JSON lines (``.jsonl``/``.json``, or a
    file whose first character is ``{``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"manifest {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
            "save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")"
        ) from None
    if path.suffix.lower() in (".jsonl", ".json") or text.lstrip().startswith("{"):
        rows = []
        # JSON lines end at "\n" only: str.splitlines would also cut at U+2028 and the like, which a
        # JSON string may hold as they are
        for i, ln in enumerate(text.split("\n"), start=1):
            if not ln.strip():
                continue
            try:
                rec = json.loads(ln)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path.name}:{i}: not a JSON object ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise ManifestError(f"{path.name}:{i}: expected a JSON object with keys pan, ms, ...")
            rows.append((f"{path.name}:{i}", rec))
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""))  # csv's own line ends: "\n", "\r\n", "\r"
    header = [h.strip().lower() for h in reader.fieldnames or []]
    _check_columns(path, header)
    reader.fieldnames = header
    rows = []
    for rec in reader:
        where = f"{path.name}:{reader.line_num}"
        if None in rec:
            raise ManifestError(f"{where}: more cells than the header's {len(header)} columns")
        rows.append((where, rec))
    return rows


def _check_columns(path: Path, header: list[str]) -> None:
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ManifestError(
            f"manifest {path.name}: unknown column {unknown[0]!r}: expected {', '.join(COLUMNS)}"
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ManifestError(
            f"manifest {path.name}: missing column {missing[0]!r}: the header needs at least pan,ms"
        )


def _text(rec: dict[str, Any], key: str) -> str:
    v = rec.get(key)
    if v is None:
        return ""
    if isinstance(v, list):  # a JSON list in another cell than ``ms`` (see _ms_cells)
        return MS_SEPARATOR.join(str(x) for x in v)
    return str(v).strip()


def _overrides(where: str, rec: dict[str, Any]) -> dict[str, Any]:
    """The row's option cells, checked as ``fuse`` checks its options."""
    got = {k: _text(rec, k) for k in ("sensor", "gains", "method", "iterations") if _text(rec, k)}
    try:
        if "sensor" in got:
            get_sensor(got["sensor"])
        if "gains" in got:
            parse_gains(got["gains"], len(got["gains"].partition(";")[0].split(",")))
    except OptionError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    if "method" in got and got["method"] not in methods.names():
        raise ManifestError(
            f"{where}: method {got['method']!r}: expected one of {', '.join(methods.names())}"
        )
    if "iterations" in got:
        try:
            got["iterations"] = int(got["iterations"])
        except ValueError:
            got["iterations"] = -1
        if got["iterations"] < 0:
            raise ManifestError(
                f"{where}: iterations {_text(rec, 'iterations')!r}: expected a whole number >= 0"
            )
    return got


def _ms_cells(rec: dict[str, Any]) -> list[str]:
    """The MS file names of a row: a JSON list element by element, as given; a text cell split on ``;``."""
    v = rec.get("ms")
    if isinstance(v, list):
        return [str(x).strip() for x in v if str(x).strip()]
    return [m.strip() for m in _text(rec, "ms").split(MS_SEPARATOR) if m.strip()]


def _row(where: str, rec: dict[str, Any], base: Path, outdir: Path) -> Row:
    unknown = [k for k in rec if k not in COLUMNS]
    if unknown:
        raise ManifestError(f"{where}: unknown key {unknown[0]!r}: expected {', '.join(COLUMNS)}")
    ms_names = _ms_cells(rec)
    for key, given in (("pan", _text(rec, "pan")), ("ms", ms_names)):
        if not given:
            raise ManifestError(f"{where}: empty {key!r}: every row needs a PAN and its MS file(s)")
    pan = _beside(base, _text(rec, "pan"))
    out_cell = _text(rec, "out")
    out = outdir / local_output(f"{where}: output", out_cell) if out_cell else default_output(pan, outdir)
    return Row(where, pan, [_beside(base, m) for m in ms_names], out, _overrides(where, rec))


def _check_outputs(rows: list[Row], manifest: Path | None = None, fix: str = "give this row another 'out'") -> None:
    """No two rows write one file, and no row writes a file that is a row's input or the manifest
    (resolved paths, symbolic and hard links included).

    Raises:
        ManifestError: naming both rows and what to change.
    """
    inputs, outputs = Files(), Files()
    if manifest is not None:
        inputs.add("the manifest", manifest)
    for r in rows:
        inputs.add(f"{r.line}'s PAN", r.pan)
        for m in r.ms:
            inputs.add(f"{r.line}'s MS", m)
    for r in rows:
        where = f"{r.line}: output"
        if (hit := outputs.match(where, r.out)) is not None:
            raise ManifestError(
                f"{r.line}: output {r.out} is also the output of {hit.label}: give each row its own 'out'"
            )
        if (hit := inputs.match(where, r.out)) is not None:
            whose = hit.label.replace(f"{r.line}'s", "its own", 1)
            raise ManifestError(
                f"{r.line}: output {r.out} is {whose} ({hit.path}{hit.how}): {fix} (it would replace that input)"
            )
        outputs.add(r.line, r.out)


def read_manifest(path: str | Path, outdir: str | Path) -> list[Row]:
    """The rows of a manifest: ``pan`` and ``ms`` relative to its folder, ``out`` relative to
    ``outdir`` (without ``out``: ``outdir/<PAN stem>.tif``).

    Raises:
        ManifestError: unreadable file, unknown or missing column, a row that cannot be parsed,
            an empty list, two rows with one output, or a row whose output is a row's input or
            the manifest; the message names the row.
    """
    path, outdir = Path(path), Path(outdir)
    base = path.parent
    rows = [_row(where, rec, base, outdir) for where, rec in _records(path)]
    if not rows:
        raise ManifestError(f"manifest {path} lists no scene: expected a header and one row per scene")
    _check_outputs(rows, path)
    return rows


def _glob_regex(part: str) -> str:
    """The regular expression of a glob without ``*`` (``?``, ``[...]``, ``[!...]``), unanchored."""
    rx = fnmatch.translate(part)  # "(?s:...)\\Z" (or "\\z")
    return rx[len("(?s:") : -len(")\\Z")]


def pair_files(pattern: str, ms_pattern: str, outdir: str | Path) -> list[Row]:
    """Rows from a pairing rule: every PAN matching the glob ``pattern``, its MS named by
    ``ms_pattern`` in the PAN's folder, where ``{stem}`` is the part of the PAN's name the ``*`` of
    ``pattern`` matched (``{name}``: the PAN's whole stem); several MS files separated by ``;``.

    Raises:
        ManifestError: no file matches, or a pattern that cannot be used.
    """
    name_pat = Path(pattern).name
    if name_pat.count("*") != 1 or not ms_pattern.strip():
        raise ManifestError(
            f"--pairs {pattern!r} --ms-pattern {ms_pattern!r}: expected one '*' in the PAN file name "
            "(like 'DIR/*_PAN.tif') and an MS pattern like '{stem}_MS.tif'"
        )
    head, tail = (_glob_regex(part) for part in name_pat.split("*"))
    name_re = re.compile(f"{head}(.*){tail}", re.DOTALL)
    pans = sorted(Path(p) for p in glob.glob(pattern))
    if not pans:
        raise ManifestError(f"--pairs {pattern!r} matches no file: check the folder and the pattern")
    rows = []
    for pan in pans:
        stem = name_re.fullmatch(pan.name).group(1)  # what the '*' matched ([...] and ? match one character)
        try:
            names = ms_pattern.format(stem=stem, name=pan.stem).split(MS_SEPARATOR)
        except (KeyError, IndexError, ValueError):
            raise ManifestError(
                f"--ms-pattern {ms_pattern!r}: only {{stem}} and {{name}} can be filled in"
            ) from None
        ms = [pan.parent / n.strip() for n in names if n.strip()]
        rows.append(Row(str(pan), pan, ms, default_output(pan, Path(outdir))))
    _check_outputs(rows, fix="choose another OUTDIR")
    return rows
