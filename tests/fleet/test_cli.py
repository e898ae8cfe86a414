"""``fmitwin fleet``: check, register and list, with clean errors."""

from __future__ import annotations

from fmitwin.cli import main
from fmitwin.fleet import SqliteRegistry

from .test_config import FLEET, TANK_TWIN, write


class FixedRUL:
    """A remaining life known exactly (a step distribution at ``value``)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def quantile(self, q: float) -> float:
        return self.value * (0.5 + q)

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        return self.quantile((1 - level) / 2), self.quantile((1 + level) / 2)


def test_check_register_and_list_by_urgency(tmp_path, capsys):
    write(tmp_path, "tank_twin.toml", TANK_TWIN)
    fleet = write(tmp_path, "fleet.toml", FLEET)
    assert main(["fleet", "check", str(fleet)]) == 0
    out = capsys.readouterr().out
    assert "plant-north: 51 twins" in out and "TK-SPARE" in out

    assert main(["fleet", "register", str(fleet)]) == 0
    assert "51 added, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["fleet", "register", str(fleet)]) == 0
    assert "0 added, 0 updated, 51 unchanged" in capsys.readouterr().out

    with SqliteRegistry(tmp_path / "fleet.registry.sqlite") as registry:
        registry.update_status("TK-33", health="ok", rul=FixedRUL(40.0))
        registry.update_status("TK-SPARE", health="ok", rul=FixedRUL(400.0))
        registry.update_status("TK-02", health="ok", rul=FixedRUL(90.0))
    assert main(["fleet", "list", "--fleet", str(fleet), "--rul-below", "1000"]) == 0
    out = capsys.readouterr().out
    assert "3 twins, most urgent first" in out
    assert out.index("TK-33") < out.index("TK-02") < out.index("TK-SPARE")
    assert main(["fleet", "list", "--fleet", str(fleet), "--site", "south"]) == 0
    out = capsys.readouterr().out
    assert "1 twins" in out and "TK-SPARE" in out


def test_mistakes_are_one_line_errors(tmp_path, capsys):
    write(tmp_path, "tank_twin.toml", TANK_TWIN)
    fleet = write(tmp_path, "fleet.toml", FLEET.replace('site = "south"', "site = 3"))
    assert main(["fleet", "check", str(fleet)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fmitwin fleet: ") and "[assets.1.site] expected str" in err
    assert "Traceback" not in err
    assert main(["fleet", "list", "--registry", str(tmp_path / "missing" / "r.sqlite")]) == 1
    assert "cannot open the registry" in capsys.readouterr().err
