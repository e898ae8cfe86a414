"""Broken or hostile archives: bounded extraction (zip bombs, members escaping the folder),
duplicate variable names, and SSP components that point outside the SSP."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import fmitwin
import fmitwin.models
import pytest
from fmitwin.archive import ArchiveError, ExtractionLimits, extract
from fmitwin.fmu import FmuError, load_fmu
from fmitwin.ssp import read_ssp, write_ssp

BOMB_BYTES = 24 << 20  # declared and real: 24 MiB of zeros, about 24 KiB compressed


def _copy_fmu(tmp_path: Path, name: str, *, extra=(), replace_xml=None) -> Path:
    """The bundled heated tank (FMI 2) rewritten with ``extra`` (name, bytes) members and its
    modelDescription.xml passed through ``replace_xml``."""
    source = fmitwin.models.path("heated_tank", 2)
    target = tmp_path / name
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "modelDescription.xml" and replace_xml is not None:
                data = replace_xml(data.decode()).encode()
            z.writestr(info, data)
        for member, data in extra:
            z.writestr(member, data)
    return target


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return _copy_fmu(
        tmp_path_factory.mktemp("bomb"),
        "bomb.fmu",
        extra=[("resources/zeros.bin", bytes(BOMB_BYTES))],
    )


def _leftovers(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.iterdir() if p.name.startswith("fmitwin-")]


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_is_written(bomb, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    model = load_fmu(bomb)  # the description alone is read from the archive
    with pytest.raises(FmuError, match=r"expands \d+ times .* looks like a zip bomb"):
        fmitwin.simulate(model, 60.0, 60.0)
    assert _leftovers(tmp_path) == []


def test_an_archive_larger_than_the_size_limit_is_refused(bomb, tmp_path):
    limits = ExtractionLimits(total_bytes=8 << 20, ratio=1e9)
    with pytest.raises(
        ArchiveError, match=r"expands to 24\.\d MiB, more than the limit of 8\.0 MiB"
    ):
        extract(bomb, tmp_path / "out", limits=limits)
    assert not (tmp_path / "out").exists()
    model = load_fmu(bomb, extraction_limits=limits)
    with pytest.raises(FmuError, match="more than the limit of 8.0 MiB"):
        model.instantiate()


def test_generous_limits_extract_the_same_archive(bomb, tmp_path):
    folder = extract(
        bomb, tmp_path / "out", limits=ExtractionLimits(total_bytes=1 << 30, ratio=1e6)
    )
    assert (folder / "resources" / "zeros.bin").stat().st_size == BOMB_BYTES
    assert (folder / "modelDescription.xml").is_file()


@pytest.mark.parametrize("member", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt"])
def test_members_escaping_the_folder_are_refused(tmp_path, member):
    fmu = _copy_fmu(tmp_path, "evil.fmu", extra=[(member, b"x")])
    with pytest.raises(ArchiveError, match="outside the extraction folder"):
        extract(fmu, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_a_repeated_variable_name_is_refused(tmp_path):
    # rename Q_loss to T: "T" would then mean two variables, and a state would silently be
    # read from the other one
    fmu = _copy_fmu(
        tmp_path, "dup.fmu", replace_xml=lambda xml: xml.replace('name="Q_loss"', 'name="T"')
    )
    with pytest.raises(FmuError, match=r"declares the variable name\(s\) 'T' more than once"):
        load_fmu(fmu)


@pytest.fixture()
def outside_ssp(tmp_path) -> Path:
    """An SSP archive whose component's source is ../tank.fmu (beside the archive)."""
    system = fmitwin.System("s")
    system.add("a", fmitwin.models.path("heated_tank", 2))
    good = write_ssp(system, tmp_path / "good.ssp")
    (tmp_path / "tank.fmu").write_bytes(fmitwin.models.path("heated_tank", 2).read_bytes())
    bad = tmp_path / "bad.ssp"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        xml = zin.read("SystemStructure.ssd").decode()
        xml = re.sub(r'source="[^"]+"', 'source="../tank.fmu"', xml)
        zout.writestr("SystemStructure.ssd", xml)
    return bad


def test_an_ssp_component_outside_the_archive_is_refused_unless_allowed(outside_ssp):
    with pytest.raises(ValueError, match=r"refers to \.\./tank\.fmu, outside the SSP"):
        read_ssp(outside_ssp)
    system = read_ssp(outside_ssp, allow_external_sources=True)
    assert system.instances["a"].model.path.name == "tank.fmu"


def test_an_ssd_component_by_absolute_path_is_refused(tmp_path):
    system = fmitwin.System("s")
    system.add("a", fmitwin.models.path("heated_tank", 2))
    with zipfile.ZipFile(write_ssp(system, tmp_path / "s.ssp")) as zf:
        xml = zf.read("SystemStructure.ssd").decode()
    absolute = fmitwin.models.path("heated_tank", 2).resolve()
    (tmp_path / "SystemStructure.ssd").write_text(
        re.sub(r'source="[^"]+"', f'source="{absolute}"', xml)
    )
    with pytest.raises(ValueError, match="outside the SSP"):
        read_ssp(tmp_path / "SystemStructure.ssd")
