"""Credentials: never in the twin file in the clear, never on the wire in the clear without an
explicit opt-in, never in the log, the status screen or the history; and servers that bind
beyond loopback only when told to, with a warning naming the exposure."""

import dataclasses
import logging
import sqlite3

import fmitwin.models
import pytest
from fmitwin.live.access import AccessPolicy, UserAccount
from fmitwin.live.config import ConfigError, parse_config
from fmitwin.live.mqtt import client_args
from fmitwin.live.opcua import connect_client
from fmitwin.live.plant import Plant
from fmitwin.live.serving import check_bind
from fmitwin.live.status import render
from fmitwin.live.twin import Twin
from rich.console import Console
from support.live_servers import Running, heated_tank_twin, mqtt_broker, password_file, wait_until

SECRET = "s3cret-Pa55"


def twin_text(**kw):
    kw.setdefault("plant_opcua", "opc.tcp://127.0.0.1:4840")
    kw.setdefault("mqtt", "mqtt://127.0.0.1:1883")
    return heated_tank_twin(**kw)


@pytest.mark.parametrize(
    ("kw", "key", "message"),
    [
        ({"opcua_auth": f'username = "u"\npassword = "{SECRET}"'}, "opcua.password", "not kept"),
        ({"mqtt_options": f'username = "u"\npassword = "{SECRET}"'}, "mqtt.password", "not kept"),
        ({"mqtt": f"mqtt://u:{SECRET}@127.0.0.1:1883"}, "mqtt.url", "in the URL"),
        ({"publish_options": f'mqtt = "mqtt://u:{SECRET}@h"'}, "publish.mqtt", "in the URL"),
    ],
)
def test_passwords_in_the_twin_file_are_refused(tmp_path, kw, key, message):
    if "publish_options" in kw:
        kw.update(mqtt=None, publish_opcua="opc.tcp://127.0.0.1:4841")
    text = twin_text(**kw)
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(text, tmp_path / "twin.toml")
    assert info.value.key == key and info.value.line is not None
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("link", ["opcua", "mqtt"])
def test_a_password_over_an_unencrypted_link_needs_an_explicit_opt_in(tmp_path, link):
    password_file(tmp_path, "pw", SECRET)
    auth = 'username = "u"\npassword_file = "pw"'
    kw = {"opcua_auth": auth} if link == "opcua" else {"mqtt_options": auth}
    with pytest.raises(ConfigError, match="in the clear") as info:
        parse_config(twin_text(**kw), tmp_path / "twin.toml")
    assert "allow_insecure_credentials = true" in str(info.value)
    assert info.value.key.startswith(link)
    for key in kw:
        kw[key] += "\nallow_insecure_credentials = true"
    config = parse_config(twin_text(**kw), tmp_path / "twin.toml")
    assert getattr(config, link).password == SECRET  # read from the file, kept in memory only


async def test_the_adapters_refuse_an_unencrypted_password_too(tmp_path):
    with pytest.raises(ValueError, match="in the clear") as info:
        client_args(f"mqtt://u:{SECRET}@127.0.0.1:1883")
    assert SECRET not in str(info.value)
    client_args(f"mqtts://u:{SECRET}@127.0.0.1:8883")  # TLS: fine
    config = parse_config(twin_text(), tmp_path / "twin.toml").opcua
    with pytest.raises(ValueError, match="in the clear"):
        await connect_client(dataclasses.replace(config, username="u", password=SECRET))
    users = AccessPolicy({"u": UserAccount.with_password("u", "reader", SECRET)})
    with pytest.raises(ValueError, match="in the clear"):
        Plant(fmitwin.models.path("heated_tank"), opcua="opc.tcp://127.0.0.1:1", access=users)


def test_a_twin_server_with_users_but_no_encryption_is_refused(tmp_path):
    text = twin_text(
        publish_opcua="opc.tcp://127.0.0.1:4841",
        publish_options='[publish.users.alice]\npassword_env = "HOME"',
    )
    with pytest.raises(ConfigError, match="in the clear") as info:
        parse_config(text, tmp_path / "twin.toml")
    assert info.value.key == "publish.users"


def test_binding_beyond_loopback_needs_an_explicit_setting_and_warns(tmp_path, caplog):
    text = twin_text(publish_opcua="opc.tcp://0.0.0.0:4841")
    with pytest.raises(ConfigError, match="other machines") as info:
        parse_config(text, tmp_path / "twin.toml")
    assert info.value.key == "publish.opcua"
    allowed = twin_text(
        publish_opcua="opc.tcp://0.0.0.0:4841", publish_options="allow_remote_clients = true"
    )
    assert parse_config(allowed, tmp_path / "twin.toml").publish.security.allow_remote_clients
    for endpoint in ("opc.tcp://127.0.0.1:4841", "opc.tcp://localhost:1", "opc.tcp://[::1]:1"):
        check_bind(endpoint, False, "server")
    with pytest.raises(ValueError, match="other machines"):
        check_bind("opc.tcp://plant-gw.example:4840", False, "plant server")
    with caplog.at_level(logging.WARNING, "fmitwin.live.serving"):
        check_bind("opc.tcp://0.0.0.0:4840", True, "plant server")
    assert "reachable from the network on every interface" in caplog.text
    assert "opc.tcp://0.0.0.0:4840" in caplog.text


async def test_credentials_in_urls_are_redacted_in_log_status_and_history(tmp_path, caplog):
    broker = mqtt_broker(tmp_path, users={"twin": "right"})
    broker.start()
    history = tmp_path / "history.sqlite"
    config = parse_config(
        twin_text(mqtt=broker.url, plant_opcua=None, history=history), tmp_path / "twin.toml"
    )
    # through the Python API a URL may carry the password (here a wrong one, so it is refused
    # and the refusal, naming the broker, is logged, shown and recorded)
    url = f"mqtt://twin:{SECRET}@127.0.0.1:{broker.port}"
    config = dataclasses.replace(
        config, mqtt=dataclasses.replace(config.mqtt, url=url, allow_insecure_credentials=True)
    )
    try:
        with caplog.at_level(logging.INFO):
            twin = Twin(config)
            async with Running(twin):
                await wait_until(lambda: twin.mqtt.status.outages, 20, "the refusal")
                console = Console(record=True, width=200)
                console.print(render(twin))
                screen = console.export_text()
    finally:
        broker.stop()
    with sqlite3.connect(history) as db:
        recorded = " ".join(str(row) for row in db.execute("SELECT * FROM events"))
    for where, text in (("log", caplog.text), ("status", screen), ("history", recorded)):
        assert f"127.0.0.1:{broker.port}" in text or where == "status", where
        assert SECRET not in text, f"the password is in the {where}"
    assert "twin:***@127.0.0.1" in recorded


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('[publish.users.alice]\npassword = "x"', "passwords are not kept in the twin file"),
        ('[publish.users.alice]\nrole = "reader"', "give one of password_hash"),
        ('[publish.users.alice]\npassword_env = "FMITWIN_UNSET_VARIABLE"', "is not set"),
        ('[publish.users.alice]\npassword_hash = "plain"', "expected an argon2 hash"),
        ('[publish.users.alice]\nrole = "admin"\npassword_hash = "$argon2id$x"', "role"),
        ('anonymous = "off"', "nobody can connect"),
    ],
)
def test_user_settings_errors_name_the_key(tmp_path, options, message):
    text = twin_text(mqtt=None, publish_opcua="opc.tcp://127.0.0.1:4841", publish_options=options)
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(text, tmp_path / "twin.toml")
    assert info.value.key.startswith("publish")
