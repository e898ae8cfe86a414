"""Real peers for the live tests: an MQTT broker on a free loopback port and helpers.

The broker is Debian's mosquitto when installed (CI installs it), else amqtt's broker run in its
own process (`mqtt_broker` picks); both take the same users, TLS and outage controls.

mosquitto is configured with ``max_queued_messages 100000``: its default per-client queue (1000)
drops QoS 1 messages for a subscriber that falls briefly behind (the twin under a burst, or while
it reconnects), which would make message counts in the tests depend on machine load.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def port_open(port: int) -> bool:
    """Something listens on 127.0.0.1:port (poll it with ``wait_until`` in async tests)."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Mosquitto:
    """A mosquitto process on 127.0.0.1:<free port>; ``stop``/``start`` simulate an outage."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        persistence: bool = False,
    ) -> None:
        """``tls``: (certificate, private key) PEM files; the listener then speaks TLS only.
        ``persistence``: sessions and their queued messages survive ``stop``/``start``."""
        if not Path(MOSQUITTO).exists():
            raise RuntimeError(
                f"mosquitto not found at {MOSQUITTO}: install it (apt-get install mosquitto)"
            )
        self.port = free_port()
        self.directory = directory
        lines = [
            f"listener {self.port} 127.0.0.1",
            "max_queued_messages 100000",
            "max_inflight_messages 0",
            f"persistence {str(persistence).lower()}",
            f"persistence_location {directory}/",
            "log_type error",
            # run as ourselves: as root, mosquitto would switch to user "mosquitto", which cannot
            # read the password file in the test's private temporary directory
            f"user {getpass.getuser()}",
        ]
        if tls:
            lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}"]
        self.tls = tls is not None
        if users:
            pwfile = directory / "passwords"
            pwfile.write_text("")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pwfile), user, password], check=True)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines.append("allow_anonymous true")
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.command = [MOSQUITTO, "-c", str(self.conf)]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError as exc:
            self.process.kill()
            err = self.process.communicate()[1].decode(errors="replace")
            self.process = None
            raise RuntimeError(f"{self.command[0]} did not start: {err}") from exc

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class AmqttBroker(Mosquitto):
    """amqtt's broker in a child process, configured like `Mosquitto` (users, TLS, outages)."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        from pwdlib import PasswordHash
        from pwdlib.hashers.argon2 import Argon2Hasher

        self.port = free_port()
        self.directory = directory
        self.tls = tls is not None
        listener: dict = {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}
        if tls:
            listener.update(ssl=True, certfile=str(tls[0]), keyfile=str(tls[1]))
        plugins: dict = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": not users}
        }
        if users:
            hasher = PasswordHash((Argon2Hasher(),))
            pwfile = directory / "amqtt-passwords"
            pwfile.write_text("".join(f"{u}:{hasher.hash(p)}\n" for u, p in users.items()))
            plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {"password_file": str(pwfile)}
        self.conf = directory / "amqtt.yaml"  # JSON is YAML
        self.conf.write_text(json.dumps({"listeners": {"default": listener}, "plugins": plugins}))
        self.command = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(self.conf)]
        self.process = None


class LinkCut:
    """A TCP forwarder 127.0.0.1:<port> -> 127.0.0.1:<target> in the test's event loop.

    ``cut()`` aborts every connection through it and refuses new ones until ``restore()``: a
    network cut between one client and its server while the server stays up (and keeps serving
    everyone else).
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.is_cut = False
        self._transports: set[asyncio.Transport] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> LinkCut:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        self.is_cut = True
        for transport in list(self._transports):
            transport.abort()  # no FIN handshake, in-flight data lost: like a pulled cable

    def restore(self) -> None:
        self.is_cut = False

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, up_writer.transport}
        self._transports |= pair

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass  # either side aborted
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._transports -= pair


class Running:
    """``async with Running(twin):`` runs the twin in the background and stops it cleanly."""

    def __init__(self, twin):
        self.twin, self.stop = twin, asyncio.Event()

    async def __aenter__(self):
        self.task = asyncio.create_task(self.twin.run(self.stop))
        return self.twin

    async def __aexit__(self, *exc):
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


def password_file(directory: Path, name: str, password: str) -> str:
    """Write ``password`` to ``directory/name`` (for a twin file's ``password_file = name``)."""
    (directory / name).write_text(password + "\n")
    return name


def mqtt_broker(directory: Path, **options) -> Mosquitto:
    """mosquitto when installed, else amqtt's broker (never a mock)."""
    return (Mosquitto if Path(MOSQUITTO).exists() else AmqttBroker)(directory, **options)


def running_broker(directory: Path, make=mqtt_broker) -> Iterator[Mosquitto]:
    """A started broker for a fixture (``yield from running_broker(...)``); stopped afterwards."""
    broker = make(directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def wait_until(predicate, timeout: float, what, interval: float = 0.05) -> None:
    """Poll ``predicate()`` until true; a readable failure names ``what`` (or ``what()``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            what = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def heated_tank_twin(
    *,
    plant_opcua: str | None,
    mqtt: str | None,
    publish_opcua: str | None = None,
    history: Path | None = None,
    process: str = "random_walk",
    extra: str = "",
    opcua_auth: str = "",
    reorder_window: float = 0.1,
    mqtt_options: str = "",
    stale_after: float = 1.0,
    publish_options: str = "",
    publish_security: str = 'policies = ["None"]',
) -> str:
    """A twin file for the bundled heated tank served by :class:`fmitwin.live.plant.Plant`.

    The twin's own server (``publish_opcua``) offers security None unless ``publish_security``
    (the body of ``[publish.security]``) says otherwise; ``publish_options`` are more
    ``[publish]`` keys."""
    model = (
        'process = "random_walk"'
        if process == "random_walk"
        else 'fmu = "heated_tank"\nparameters = { m = 2.0 }'  # the plant's m (tests use 2 kg)
    )
    text = f"""
[twin]
name = "tank"

[model]
{model}
states = ["T"]
inputs = ["P_heater"]

[filter]
x0 = {{ T = 295.0 }}
P0 = {{ T = 9.0 }}
Q = {{ T = 0.05 }}
gate_probability = 0.99999
reorder_window = {reorder_window}
nis_window = 50
"""
    sensors = []
    if plant_opcua:
        text += f'\n[opcua]\nendpoint = "{plant_opcua}"\npublishing_interval = 0.02\n{opcua_auth}\n'
        sensors.append(("T_opcua", "opcua", 'node = "nsu=urn:fmitwin:plant:HeatedTank;s=T"'))
        sensors.append(("heater", "opcua", 'node = "nsu=urn:fmitwin:plant:HeatedTank;s=P_heater"'))
    if mqtt:
        text += f'\n[mqtt]\nurl = "{mqtt}"\nqos = 1\n{mqtt_options}\n'
        sensors.append(("T_mqtt", "mqtt", 'topic = "fmitwin/plant/HeatedTank/T"'))
    for name, source, address in sensors:
        variable, unit, low, high = (
            ("P_heater", "W", 0, 10000) if name == "heater" else ("T", "K", 250, 450)
        )
        text += f"""
[sensors.{name}]
variable = "{variable}"
source = "{source}"
{address}
unit = "{unit}"
range = [{low}, {high}]
rate = 20
noise = 0.2
stale_after = {stale_after}
"""
    if publish_opcua:
        text += f'\n[publish]\nopcua = "{publish_opcua}"\nnamespace = "urn:test:twin"\n'
        if mqtt:
            text += f'mqtt = "{mqtt}"\nprefix = "twin/tank"\n'
        text += f"interval = 0.02\n{publish_options}\n[publish.security]\n{publish_security}\n"
    if history:
        text += f'\n[history]\npath = "{history}"\nflush_interval = 0.1\n'
    return text + extra


def replay_twin(
    csv: str,
    *,
    name: str = "csv",
    state: str = "temp",
    x0: float = 290.0,
    P0: float = 100.0,
    Q: float = 0.001,
    speed: float = 0.0,
    rate: float = 20.0,
    value_range: tuple[float, float] = (250.0, 400.0),
    sensor_options: str = "",
    extra: str = "",
) -> str:
    """A twin file of a random-walk ``state`` measured by sensor ``T`` replayed from ``csv``
    (``speed`` 0: as fast as possible); ``sensor_options`` are more ``[sensors.T]`` keys,
    ``extra`` more tables."""
    return f"""
[twin]
name = "{name}"

[model]
process = "random_walk"
states = ["{state}"]

[filter]
x0 = {{ {state} = {x0} }}
P0 = {{ {state} = {P0} }}
Q = {{ {state} = {Q} }}

[csv]
path = "{csv}"
speed = {speed}

[sensors.T]
variable = "{state}"
source = "csv"
range = [{value_range[0]}, {value_range[1]}]
rate = {rate}
noise = 0.2
{sensor_options}
{extra}
"""
