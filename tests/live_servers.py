"""Real peers for the live tests: a mosquitto broker on a free loopback port and helpers.

mosquitto is configured with ``max_queued_messages 100000``: its default per-client queue (1000)
drops QoS 1 messages for a subscriber that falls briefly behind (the twin under a burst, or while
it reconnects), which would make message counts in the tests depend on machine load.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
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


class Mosquitto:
    """A mosquitto process on 127.0.0.1:<free port>; ``stop``/``start`` simulate an outage."""

    def __init__(self, directory: Path, *, users: dict[str, str] | None = None) -> None:
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
            "persistence false",
            "log_type error",
        ]
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
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


async def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate()`` until true; a readable failure names ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)
