"""The batch scene list: manifests (CSV, JSON lines), the pairing rule, refusals up front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pansharpen_cli.base.errors import ManifestError
from pansharpen_cli.pipeline.manifest import pair_files, read_manifest


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.csv"
    p.write_text(text)
    return p


def test_csv_inputs_relative_to_the_manifest_outputs_to_outdir_and_overrides(tmp_path):
    sub = tmp_path / "lists"
    sub.mkdir()
    m = sub / "m.csv"
    m.write_text(
        "pan,ms,out,sensor,iterations\na/p1.tif,a/b1.tif;a/b2.tif,,wv3,0\n/abs/p2.tif,/abs/m2.tif,x.tif,,\n"
    )
    rows = read_manifest(m, tmp_path / "outdir")
    assert rows[0].pan == sub / "a/p1.tif" and rows[0].ms == [sub / "a/b1.tif", sub / "a/b2.tif"]
    assert rows[0].out == tmp_path / "outdir" / "p1.tif"
    assert rows[0].overrides == {"sensor": "wv3", "iterations": 0} and rows[0].line == "m.csv:2"
    assert rows[1].pan == Path("/abs/p2.tif") and rows[1].out == tmp_path / "outdir" / "x.tif" and rows[1].overrides == {}


def test_json_lines_with_a_list_of_ms_files(tmp_path):
    m = tmp_path / "m.jsonl"
    recs = [{"pan": "p.tif", "ms": ["b1.tif", "b2.tif"], "method": "gsa", "gains": "0.3;0.15"}]
    m.write_text("\n".join(json.dumps(r) for r in recs) + "\n\n")
    (row,) = read_manifest(m, tmp_path / "out")
    assert row.ms == [tmp_path / "b1.tif", tmp_path / "b2.tif"]
    assert row.overrides == {"method": "gsa", "gains": "0.3;0.15"}


@pytest.mark.parametrize(
    "text, match",
    [
        ("pan,out\np.tif,o.tif\n", "missing column 'ms'"),
        ("pan,ms,gain\np.tif,m.tif,0.3\n", "unknown column 'gain'"),
        ("pan,ms\np.tif,m.tif,extra\n", "m.csv:2: more cells"),
        ("pan,ms\np.tif,\n", "m.csv:2: empty 'ms'"),
        ("pan,ms,method\np.tif,m.tif,fancy\n", "method 'fancy'"),
        ("pan,ms,iterations\np.tif,m.tif,-3\n", "iterations '-3'"),
        ("pan,ms,sensor\np.tif,m.tif,hubble\n", "unknown sensor 'hubble'"),
        ("pan,ms,gains\np.tif,m.tif,0.3;x\n", "--gains"),
        ("pan,ms\na/p.tif,m.tif\nb/p.tif,m2.tif\n", "m.csv:3: output"),
        ("pan,ms\n", "lists no scene"),
    ],
)
def test_bad_manifests_are_refused_naming_the_row(tmp_path, text, match):
    with pytest.raises(ManifestError, match=match):
        read_manifest(_csv(tmp_path, text), tmp_path / "out")


def test_bad_json_line_names_its_line(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"pan": "p.tif", "ms": "m.tif"}\n{"pan": \n')
    with pytest.raises(ManifestError, match="m.jsonl:2: not a JSON object"):
        read_manifest(m, tmp_path)


def test_pairing_rule_fills_the_stem_the_star_matched(tmp_path):
    for s in ("a", "b"):
        (tmp_path / f"{s}_PAN.tif").touch()
    rows = pair_files(str(tmp_path / "*_PAN.tif"), "{stem}_B1.tif;{stem}_B2.tif", tmp_path / "out")
    assert [r.pan.name for r in rows] == ["a_PAN.tif", "b_PAN.tif"]
    assert rows[1].ms == [tmp_path / "b_B1.tif", tmp_path / "b_B2.tif"]
    assert rows[1].out == tmp_path / "out" / "b_PAN.tif"
    with pytest.raises(ManifestError, match="matches no file"):
        pair_files(str(tmp_path / "*_XS.tif"), "{stem}_MS.tif", tmp_path)
    with pytest.raises(ManifestError, match="only {stem} and {name}"):
        pair_files(str(tmp_path / "*_PAN.tif"), "{scene}_MS.tif", tmp_path)


def test_the_stem_is_what_the_star_matched_also_beside_character_classes(tmp_path):
    """Audit 2, D7: the stem was cut by the pattern text's length ('[s]' is 3 characters, matches 1)."""
    (tmp_path / "s1_PAN.tif").touch()
    for pattern in ("s*_PAN.tif", "[s]*_PAN.tif", "?*_PAN.tif", "[!x]*_P?N.tif"):
        (row,) = pair_files(str(tmp_path / pattern), "s{stem}_MS.tif", tmp_path / "out")
        assert row.ms == [tmp_path / "s1_MS.tif"], pattern  # the '*' matched "1" every time
    (row,) = pair_files(str(tmp_path / "[s]1*"), "{stem}", tmp_path / "out")
    assert row.ms == [tmp_path / "_PAN.tif"]


def test_a_manifest_that_is_not_utf8_is_a_manifest_error_naming_it(tmp_path):
    """Audit 2, D8: a Latin-1 CSV (a spreadsheet's plain CSV) was an "unexpected failure", exit 1."""
    m = tmp_path / "m.csv"
    m.write_bytes("pan,ms\nM\xfcnchen/p.tif,M\xfcnchen/m.tif\n".encode("latin-1"))
    with pytest.raises(ManifestError) as err:
        read_manifest(m, tmp_path / "out")
    assert str(err.value) == (
        f"manifest {m} is not UTF-8 text (byte 0xfc at offset 8): save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")"
    )


def test_json_lines_hold_unicode_line_separators_inside_their_strings(tmp_path):
    """Audit 2, D10: str.splitlines cut a valid JSON line at U+2028 / U+0085 inside a path."""
    m = tmp_path / "m.jsonl"
    recs = [{"pan": "a\u2028b/p.tif", "ms": "a\u0085b/m.tif"}, {"pan": "p2.tif", "ms": "m2.tif"}]
    m.write_text("\r\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\r\n", encoding="utf-8")
    rows = read_manifest(m, tmp_path / "out")
    assert [r.pan for r in rows] == [tmp_path / "a\u2028b/p.tif", tmp_path / "p2.tif"]
    assert rows[0].ms == [tmp_path / "a\u0085b/m.tif"] and rows[1].line == "m.jsonl:2"


def test_csv_cells_may_hold_unicode_line_separators_and_quoted_newlines(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text('pan,ms\r\n"a\u2028b/p.tif","x\ny/m.tif"\r\np2.tif,m2.tif\r\n', encoding="utf-8", newline="")
    rows = read_manifest(m, tmp_path / "out")
    assert [r.pan for r in rows] == [tmp_path / "a\u2028b/p.tif", tmp_path / "p2.tif"]
    assert rows[0].ms == [tmp_path / "x\ny/m.tif"]
