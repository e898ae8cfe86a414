"""The twin file's [forward] section: defaults, and every mistake named by file, line and key."""

import pytest
from fmitwin.live.config import ConfigError, parse_config
from support.live_servers import replay_twin

HISTORY = '[history]\npath = "history.db"\n'


def twin(forward: str, history: str = HISTORY) -> str:
    return replay_twin("readings.csv", name="edge1", extra=history + "\n[forward]\n" + forward)


def test_defaults(tmp_path):
    config = parse_config(twin('url = "mqtt://127.0.0.1:1883"'), tmp_path / "twin.toml")
    fwd = config.forward
    assert fwd.url == "mqtt://127.0.0.1:1883" and fwd.prefix == "fmitwin/fleet"
    assert fwd.client_id == "fmitwin-edge-edge1" and fwd.outbox is None  # in the history
    assert fwd.max_records == 100_000 and fwd.max_bytes is None
    assert (fwd.every, fwd.min_interval, fwd.deadband, fwd.summary_interval) == (1, 0.0, {}, 0.0)
    assert parse_config(replay_twin("readings.csv"), "twin.toml").forward is None


def test_bandwidth_and_outbox_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_PW", "secret")
    text = twin(
        'url = "mqtts://central.example:8883"\nprefix = "plant7/"\noutbox = "outbox.db"\n'
        "max_records = 500\nmax_bytes = 100000\nevery = 5\nmin_interval = 0.5\n"
        "deadband = { temp = 0.1 }\nsummary_interval = 60\nhealth_interval = 10\n"
        'username = "edge1"\npassword_env = "EDGE_PW"',
        history="",
    )
    fwd = parse_config(text, tmp_path / "twin.toml").forward
    assert fwd.prefix == "plant7" and fwd.outbox == tmp_path / "outbox.db"
    assert (fwd.max_records, fwd.max_bytes, fwd.every, fwd.min_interval) == (500, 100000, 5, 0.5)
    assert fwd.deadband == {"temp": 0.1} and fwd.summary_interval == 60.0
    assert fwd.username == "edge1" and fwd.password == "secret"
    scalar = twin('url = "mqtt://127.0.0.1:1"\ndeadband = 0.2')
    assert parse_config(scalar, "twin.toml").forward.deadband == {"temp": 0.2}


@pytest.mark.parametrize(
    ("forward", "history", "key", "message"),
    [
        ('url = "http://x"', HISTORY, "forward.url", "expected mqtt[s]://host[:port]"),
        ('url = "mqtt://u:pw@x"', HISTORY, "forward.url", "a password in the URL"),
        ('prefix = "a/#"\nurl = "mqtt://x"', HISTORY, "forward.prefix", "wildcards"),
        ('url = "mqtt://x"', "", "forward", 'add [history] path = "history.db"'),
        ('url = "mqtt://x"\nmax_records = 0', HISTORY, "forward.max_records", "at least 1"),
        ('url = "mqtt://x"\nmax_bytes = 10', HISTORY, "forward.max_bytes", "at least 1024"),
        ('url = "mqtt://x"\nevery = 0', HISTORY, "forward.every", "1 (every estimate)"),
        ('url = "mqtt://x"\nmin_interval = -1', HISTORY, "forward.min_interval", "non-negative"),
        ('url = "mqtt://x"\ndeadband = { T = 1 }', HISTORY, "forward.deadband.T", "not an"),
        ('url = "mqtt://x"\ndeadband = { temp = -1 }', HISTORY, "forward.deadband.temp", ">= 0"),
        ('url = "mqtt://x"\nevry = 2', HISTORY, "forward.evry", "unknown key"),
        ('url = "mqtt://x"\noutbox = "no/o.db"', HISTORY, "forward.outbox", "does not exist"),
        ('url = "mqtt://x"\npassword = "pw"', HISTORY, "forward.password", "password_env"),
        (
            'url = "mqtt://x"\nusername = "u"\npassword_env = "EDGE_PW"',
            HISTORY,
            "forward.url",
            "add [forward.tls]",
        ),
    ],
)
def test_errors_name_line_and_key(monkeypatch, forward, history, key, message):
    monkeypatch.setenv("EDGE_PW", "secret")
    text = twin(forward, history)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "twin.toml")
    error = info.value
    assert error.key == key and message in error.message, str(error)
    lines = text.splitlines()
    line = lines[error.line - 1] if error.line else ""
    assert key.split(".")[-1] in line or line == "[forward]", str(error)
    assert str(error).startswith(f"twin.toml:{error.line}: [{key}]")


def test_run_reports_a_forward_mistake_cleanly(tmp_path, capsys, monkeypatch):
    from fmitwin.cli import main

    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    text = twin('url = "mqtts://x"\nusername = "u"\npassword_env = "NO_SUCH_PASSWORD"')
    (tmp_path / "twin.toml").write_text(text)
    assert main(["run", str(tmp_path / "twin.toml"), "--no-status"]) == 2
    err = capsys.readouterr().err
    assert "[forward.password_env] environment variable NO_SUCH_PASSWORD is not set" in err
    assert "Traceback" not in err
