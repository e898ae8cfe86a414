"""Twin TOML loading: one file describes model, sensors, filter, publishing, commands and history.

Every error is a :class:`ConfigError` naming the file, the line and the dotted key, e.g.
``twin.toml:14: [sensors.T.range] expected [low, high] with low < high, got [400, 250]``.
Unknown keys are errors too (a typo must not silently fall back to a default).

Passwords are never written in the file: a client password comes from an environment variable
(``password_env``) or a file of its own (``password_file``), a user of the twin's server has an
argon2 ``password_hash`` (or one of those two); ``password = "..."`` and passwords in URLs are
refused. A password is refused, too, where it would cross the network in the clear (OPC UA
without ``[opcua.security]``, ``mqtt://`` without TLS) unless ``allow_insecure_credentials = true``.

Layout (see ``examples/heated_tank_twin.toml`` for a complete, commented file)::

    [twin]     name
    [model]    fmu | process = "random_walk", parameters, states, inputs, outputs, step
    [filter]   parameters (FMU parameters estimated with the states), x0, P0, Q (variance
               growth per second; keyed by state or estimated parameter), gate_probability,
               reorder_window, nis_window, nis_alpha, cusum_k, cusum_h, policy,
               initialize ("readings" | "x0"),
               [filter.recalibration] parameters, noise, duration
    [opcua]    endpoint, publishing_interval, username, password_env | password_file,
               allow_insecure_credentials, [opcua.security]
    [mqtt]     url, qos, username, password_env | password_file, allow_insecure_credentials,
               client_id, session ("clean" | "persistent"), keys, ts_unit, max_payload,
               [mqtt.tls]
    [csv]      path, speed
    [sensors.<name>]   variable, source, node | topic | column, unit (converted into the FMU
                       variable's unit, fmitwin.live.units), range, rate, noise, stale_after
    [publish]  opcua, namespace, application_uri, anonymous ("read" | "off"), users_file,
               allow_insecure_credentials, allow_remote_clients, mqtt, prefix, interval,
               [publish.security] policies, certificate, private_key, trust_store,
               trust_on_first_use; [publish.users.<name>] role, password_hash | password_env |
               password_file
    [commands] enabled, [commands.<name>] variable, via, node | topic, min, max, max_rate, period,
               law ("proportional"), state, setpoint, gain, bias
    [history]  path, flush_interval
    [maintenance]  indicator (an estimated state or parameter), failure_threshold, time_unit,
               noise, max_sigma, horizon: remaining life online (fmitwin.maintenance.online)
    [forward]  url, prefix, client_id, outbox, max_records, max_bytes, username,
               password_env | password_file, allow_insecure_credentials, [forward.tls],
               every, min_interval, deadband, summary_interval, health_interval
               (edge forwarding to the central service, :mod:`fmitwin.live.forward`)
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from fmitwin.config_file import ConfigError, locate_keys, parse_toml
from fmitwin.config_file import Section as _Section
from fmitwin.live.access import ANONYMOUS, ROLES, AccessPolicy, UserAccount, read_users_file
from fmitwin.live.serving import CREDENTIALS_IN_CLEAR, ENCRYPTED, ServerSecurity, is_loopback
from fmitwin.live.serving import POLICIES as SERVER_POLICIES

if TYPE_CHECKING:
    from fmitwin.maintenance.online import Prognosis

POLICIES = ("physical_wins", "virtual_wins", "merge")
SOURCES = ("opcua", "mqtt", "csv")
SECURITY_MODES = ("Sign", "SignAndEncrypt")
CLIENT_POLICIES = ("Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss")
MQTT_SESSIONS = ("clean", "persistent")
_MQTT_URL = re.compile(r"^mqtts?://([^:@/]+(:[^@/]*)?@)?[^:/@]+(:\d+)?/?$")


# ---------------------------------------------------------------------------------------------
# The configuration objects


@dataclass(frozen=True)
class SensorConfig:
    """One sensor: where it comes from and what makes a reading of it valid."""

    name: str
    variable: str  # model variable it measures (a state, an input or a listed FMU output)
    source: str  # "opcua" | "mqtt" | "csv"
    address: str  # OPC UA node id "nsu=...;s=...", MQTT topic or CSV column
    unit: str
    range: tuple[float, float]
    rate: float  # expected readings per second
    noise: float  # standard deviation, in unit
    stale_after: float  # seconds without a reading (or age of a reading) that make it stale
    line: int | None = None


@dataclass(frozen=True)
class SecurityConfig:
    policy: str
    mode: str
    certificate: Path
    private_key: Path
    server_certificate: Path | None


@dataclass(frozen=True)
class OpcUaConfig:
    endpoint: str
    publishing_interval: float = 0.05  # seconds
    sampling_interval: float = 0.0  # seconds; 0 = report every change
    username: str | None = None
    password: str | None = None  # from password_env or password_file, never the file itself
    security: SecurityConfig | None = None
    allow_insecure_credentials: bool = False


@dataclass(frozen=True)
class TlsConfig:
    ca: Path | None
    certificate: Path | None
    private_key: Path | None


TS_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class PayloadFormat:
    """The JSON shape of an MQTT sensor payload: key names, timestamp unit, size limit."""

    value: str = "value"
    ts: str = "ts"
    quality: str = "quality"
    ts_unit: str = "s"
    max_payload: int = 65536  # bytes


@dataclass(frozen=True)
class MqttConfig:
    url: str
    qos: int = 1
    username: str | None = None
    password: str | None = None  # from password_env or password_file, never the file itself
    client_id: str | None = None
    tls: TlsConfig | None = None
    allow_insecure_credentials: bool = False
    payload: PayloadFormat = field(default_factory=PayloadFormat)
    # "persistent": the broker keeps the subscriptions under client_id and queues QoS >= 1
    # readings while the twin is away (MQTT 3.1.1 clean_session = false)
    session: str = "clean"


@dataclass(frozen=True)
class CsvConfig:
    path: Path
    speed: float = 1.0  # 1 = real time, 0 = as fast as possible


@dataclass(frozen=True)
class ModelConfig:
    states: list[str]
    inputs: list[str]
    fmu: str | None = None  # path or bundled model name; None with process = "random_walk"
    process: str = "fmu"
    parameters: dict[str, float] = field(default_factory=dict)
    step: float = 0.05  # the longest single predict step, seconds
    outputs: list[str] = field(default_factory=list)  # FMU outputs that sensors measure


@dataclass(frozen=True)
class FilterConfig:
    x0: dict[str, float]
    P0: dict[str, float]  # variances
    Q: dict[str, float]  # variance growth per second
    gate_probability: float | None = 0.9999
    reorder_window: float = 0.0
    nis_window: int = 50
    nis_alpha: float = 0.001
    cusum_k: float = 0.5
    cusum_h: float = 12.0
    policy: str = "merge"
    parameters: list[str] = field(default_factory=list)  # estimated FMU parameters
    recalibration: RecalibrationConfig | None = None
    initialize: str = "readings"  # measured states start from the first readings, or "x0"

    def estimated(self, model: ModelConfig) -> list[str]:
        """The filter's state names: the model's states, then the estimated parameters."""
        return [*model.states, *self.parameters]


@dataclass(frozen=True)
class RecalibrationConfig:
    """What a divergence does to the estimated parameters: their variance grows by ``noise``
    per second for ``duration`` seconds of event time."""

    parameters: list[str]
    noise: dict[str, float]  # variance growth per second while recalibrating
    duration: float


@dataclass(frozen=True)
class PublishConfig:
    opcua: str | None = None
    namespace: str = "urn:fmitwin:twin"
    mqtt: str | None = None  # published with the [mqtt] table's credentials and TLS
    prefix: str = "fmitwin/twin"
    interval: float = 0.02  # minimum seconds between two publications of the estimate
    security: ServerSecurity = field(default_factory=ServerSecurity)
    line: int | None = None


@dataclass(frozen=True)
class CommandConfig:
    name: str
    variable: str
    via: str  # "opcua" | "mqtt"
    address: str
    min: float
    max: float
    max_rate: float  # largest change per second
    period: float  # seconds between commands
    state: str
    setpoint: float
    gain: float
    bias: float = 0.0


@dataclass(frozen=True)
class HistoryConfig:
    path: Path | None
    flush_interval: float = 0.25


@dataclass(frozen=True)
class ForwardConfig:
    """``[forward]``: send estimates, events and health to the centre through an outbox."""

    url: str  # the central broker, mqtt[s]://host[:port]
    client_id: str  # the persistent session's id at the broker
    prefix: str = "fmitwin/fleet"  # records go to <prefix>/<twin>/<kind>
    outbox: Path | None = None  # None: inside the [history] file
    max_records: int = 100_000  # unsent records kept; beyond, the oldest are dropped
    max_bytes: int | None = None  # the same, by the size of their JSON
    username: str | None = None
    password: str | None = None  # from password_env or password_file
    tls: TlsConfig | None = None
    allow_insecure_credentials: bool = False
    every: int = 1  # forward every k-th estimate
    min_interval: float = 0.0  # seconds of twin time between two forwarded estimates
    deadband: dict[str, float] = field(default_factory=dict)  # by state: smallest move sent
    summary_interval: float = 0.0  # seconds of twin time per mean/min/max summary; 0: none
    health_interval: float = 1.0  # seconds between two forwarded health records
    line: int | None = None


@dataclass(frozen=True)
class TwinConfig:
    name: str
    file: Path
    model: ModelConfig
    filter: FilterConfig
    sensors: dict[str, SensorConfig]
    opcua: OpcUaConfig | None
    mqtt: MqttConfig | None
    csv: CsvConfig | None
    publish: PublishConfig
    commands_enabled: bool
    commands: dict[str, CommandConfig]
    history: HistoryConfig
    lines: dict[str, int] = field(default_factory=dict, repr=False)  # dotted key -> line
    maintenance: Prognosis | None = None  # [maintenance]: remaining life from an indicator
    forward: ForwardConfig | None = None

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError for ``key`` (dotted), at its line of the file when known."""
        parts = key.split(".")
        line = next(
            (
                self.lines[".".join(parts[:i])]
                for i in range(len(parts), 0, -1)
                if ".".join(parts[:i]) in self.lines
            ),
            None,
        )
        return ConfigError(str(self.file), line, key, message)

    @property
    def measurement_sensors(self) -> list[SensorConfig]:
        return [s for s in self.sensors.values() if s.variable not in self.model.inputs]

    @property
    def input_sensors(self) -> list[SensorConfig]:
        return [s for s in self.sensors.values() if s.variable in self.model.inputs]


def load_config(path: str | Path) -> TwinConfig:
    """Read and validate a twin TOML file; raises ConfigError naming line and key."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read the twin file: {exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path), line, "", f"not UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8"
        ) from None
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "<twin>") -> TwinConfig:
    """Validate a twin file's text; ``path`` names it in errors and anchors relative paths."""
    data = parse_toml(text, path)
    return parse_config_data(data, locate_keys(text), path)


def parse_config_data(
    data: dict[str, Any], lines: dict[tuple[str, ...], Any], path: str | Path
) -> TwinConfig:
    """Validate parsed twin-file data. ``lines`` maps key paths to their line in ``path``, or to
    ``(file, line)`` for keys that came from another file (a fleet file's overrides)."""
    path = Path(path)
    file = str(path)
    root = _Section(file, lines, (), data)
    base = path.parent

    twin = root.table("twin", required=True)
    name = twin.get("name", str)
    twin.finish()

    model = _model(root.table("model", required=True))
    filt = _filter(root.table("filter", required=True), model)
    opcua = _opcua(root.table("opcua"), base)
    mqtt = _mqtt(root.table("mqtt"), base)
    csv_section = root.table("csv")
    csv = None
    if csv_section is not None:
        csv = CsvConfig(
            path=base / csv_section.get("path", str),
            speed=csv_section.number("speed", 1.0, nonneg=True),
        )
        csv_section.finish()
    sources = {"opcua": opcua, "mqtt": mqtt, "csv": csv}
    sensors = _sensors(root.table("sensors", required=True), model, sources)
    publish = _publish(root.table("publish"), name, base)
    enabled, commands = _commands(root.table("commands"), model)
    history_section = root.table("history")
    history = HistoryConfig(path=None)
    if history_section is not None:
        p = history_section.get("path", str, None)
        history = HistoryConfig(
            path=None if p is None else base / p,
            flush_interval=history_section.number("flush_interval", 0.25, positive=True),
        )
        history_section.finish()
    maintenance = None
    if (section := root.table("maintenance")) is not None:
        maintenance = parse_prognosis(section, filt.estimated(model), "the twin")
    forward = _forward(root.table("forward"), name, filt.estimated(model), history, base)
    root.finish()
    return TwinConfig(
        name=name,
        file=path,
        model=model,
        filter=filt,
        sensors=sensors,
        opcua=opcua,
        mqtt=mqtt,
        csv=csv,
        publish=publish,
        commands_enabled=enabled,
        commands=commands,
        history=history,
        lines={".".join(k): v for k, v in lines.items()},
        maintenance=maintenance,
        forward=forward,
    )


def parse_prognosis(section: _Section, estimated: list[str] | None, who: str = "") -> Prognosis:
    """A ``[maintenance]`` table (of a twin file, or of a fleet template): its ``indicator``
    must be one of the ``estimated`` states and parameters of ``who`` (checked later with
    :func:`check_indicator` when ``estimated`` is None)."""
    from fmitwin.maintenance.online import Prognosis  # here: the package imports pandas

    indicator = section.get("indicator", str, hint="the estimated state or parameter")
    if estimated is not None:
        check_indicator(section, indicator, estimated, who)
    prognosis = Prognosis(
        indicator=indicator,
        failure_threshold=section.number("failure_threshold"),
        time_unit=section.number("time_unit", 3600.0, positive=True),
        noise=section.number("noise", 1.0, positive=True),
        max_sigma=section.number("max_sigma", None, positive=True) or math.inf,
        horizon=section.number("horizon", 100.0, positive=True),
    )
    section.finish()
    return prognosis


def check_indicator(section: _Section, indicator: str, estimated: list[str], who: str) -> None:
    """A :class:`ConfigError` at ``section``'s ``indicator`` unless it is ``estimated``."""
    if indicator not in estimated:
        raise section.error(
            "indicator",
            f"{indicator!r} is not estimated by {who}; it estimates: {', '.join(estimated)}",
        )


def _names(section: _Section, key: str, default: Any = ...) -> list[str]:
    values = section.get(key, list, default)
    if not all(isinstance(v, str) and v for v in values):
        raise section.error(key, f"expected a list of variable names, got {values!r}")
    if len(set(values)) != len(values):
        raise section.error(key, f"names must be unique, got {values!r}")
    return list(values)


def _model(section: _Section) -> ModelConfig:
    process = section.choice("process", ("fmu", "random_walk"), "fmu")
    fmu = section.get("fmu", str, None)
    if process == "fmu" and fmu is None:
        raise section.error(
            "fmu", 'required key is missing; give an FMU path or name, or process = "random_walk"'
        )
    if process == "random_walk" and fmu is not None:
        raise section.error("fmu", 'an FMU is not used with process = "random_walk"; remove one')
    states = _names(section, "states")
    if not states:
        raise section.error("states", "at least one state is needed")
    inputs = _names(section, "inputs", [])
    if clash := set(states) & set(inputs):
        raise section.error("inputs", f"{sorted(clash)} listed as both state and input")
    outputs = _names(section, "outputs", [])
    if outputs and process != "fmu":
        raise section.error(
            "outputs", 'measuring model outputs needs an FMU model; set [model] fmu = "..."'
        )
    if clash := set(outputs) & set(states + inputs):
        raise section.error("outputs", f"{sorted(clash)} are states or inputs, not outputs")
    params = section.get("parameters", dict, {})
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise section.error("parameters", f"expected a number or string, got {value!r}", key)
    step = section.number("step", 0.05, positive=True)
    section.finish()
    return ModelConfig(states, inputs, fmu, process, dict(params), step, outputs)


def _filter(section: _Section, model: ModelConfig) -> FilterConfig:
    parameters = _names(section, "parameters", [])
    if parameters and model.process != "fmu":
        raise section.error(
            "parameters", 'estimating parameters needs an FMU model; set [model] fmu = "..."'
        )
    if clash := set(parameters) & set(model.states + model.inputs):
        raise section.error("parameters", f"{sorted(clash)} are states or inputs, not parameters")
    states = model.states + parameters
    what = (
        "a state of the model or an estimated parameter" if parameters else "a state of the model"
    )
    x0 = section.numbers_by_name("x0", states, what=what)
    P0 = section.numbers_by_name("P0", states, what=what)
    Q = section.numbers_by_name("Q", states, {}, what=what)
    for key, table in (("P0", P0), ("Q", Q)):
        for name, value in table.items():
            if value < 0:
                raise section.error(key, f"a variance must be >= 0, got {value}", name)
            if key == "P0" and value == 0:
                raise section.error(
                    key,
                    "an initial variance must be > 0 (0 is certainty the filter never "
                    "leaves); give your doubt about x0 squared",
                    name,
                )
    # an estimated parameter starts from [model.parameters] or the FMU's start value
    for key, table, needed in (("x0", x0, model.states), ("P0", P0, states)):
        if missing := [s for s in needed if s not in table]:
            raise section.error(key, f"missing value for state(s) {', '.join(missing)}")
    gate = section.get("gate_probability", float, 0.9999)
    if gate is not None and not 0.0 < gate < 1.0:
        raise section.error("gate_probability", f"expected a probability in (0, 1), got {gate}")
    window = section.get("nis_window", int, 50)
    if window < 2:
        raise section.error("nis_window", f"expected an integer >= 2, got {window}")
    alpha = section.number("nis_alpha", 0.001, positive=True)
    if alpha >= 1:
        raise section.error("nis_alpha", f"expected a probability in (0, 1), got {alpha}")
    result = FilterConfig(
        x0=x0,
        P0=P0,
        Q={s: Q.get(s, 0.0) for s in states},
        gate_probability=gate,
        reorder_window=section.number("reorder_window", 0.0, nonneg=True),
        nis_window=window,
        nis_alpha=alpha,
        cusum_k=section.number("cusum_k", 0.5, nonneg=True),
        cusum_h=section.number("cusum_h", 12.0, positive=True),
        policy=section.choice("policy", POLICIES, "merge"),
        parameters=parameters,
        recalibration=_recalibration(section.table("recalibration"), parameters),
        initialize=section.choice("initialize", ("readings", "x0"), "readings"),
    )
    if result.recalibration is not None and result.policy == "virtual_wins":
        raise section.error(
            "policy",
            "virtual_wins quarantines the diverging sensor, which starves the recalibration "
            "window of data; use merge or physical_wins with [filter.recalibration]",
        )
    section.finish()
    return result


def _recalibration(section: _Section | None, estimated: list[str]) -> RecalibrationConfig | None:
    if section is None:
        return None
    if not estimated:
        raise section.error(
            None,
            "nothing to recalibrate; list the FMU parameters to estimate in [filter] parameters",
        )
    parameters = _names(section, "parameters", estimated)
    if unknown := [p for p in parameters if p not in estimated]:
        raise section.error(
            "parameters",
            f"{unknown} are not estimated; [filter] parameters = {estimated}",
        )
    if not parameters:
        raise section.error("parameters", "at least one parameter is needed")
    if section.has("noise") and isinstance(section.data["noise"], dict):
        noise = section.numbers_by_name("noise", parameters, what="a recalibrated parameter")
        if missing := [p for p in parameters if p not in noise]:
            raise section.error("noise", f"missing value for parameter(s) {', '.join(missing)}")
        for name, value in noise.items():
            if value <= 0:
                raise section.error(
                    "noise", f"expected a positive variance rate, got {value}", name
                )
    else:
        rate = section.number("noise", positive=True)
        noise = dict.fromkeys(parameters, rate)
    result = RecalibrationConfig(
        parameters, noise, duration=section.number("duration", positive=True)
    )
    section.finish()
    return result


def _optional_path(section: _Section, key: str, base: Path, required=False) -> Path | None:
    value = section.get(key, str, ... if required else None)
    if value is None:
        return None
    p = base / value
    if not p.is_file():
        raise section.error(key, f"file not found: {p}")
    return p


def _secret(section: _Section, base: Path, *, hash_ok: bool = False) -> str | None:
    """A password from ``password_env`` (an environment variable) or ``password_file`` (first
    line of a file); never from the twin file itself."""
    if section.has("password"):
        section.get("password", str)
        raise section.error(
            "password",
            'passwords are not kept in the twin file; use password_env = "VARIABLE" or '
            'password_file = "path"'
            + (" (or password_hash from `fmitwin passwd`)" if hash_ok else ""),
        )
    keys = [k for k in ("password_env", "password_file") if section.has(k)]
    if len(keys) > 1:
        raise section.error(keys[1], "give one of password_env and password_file")
    if not keys:
        return None
    if keys[0] == "password_env":
        variable = section.get("password_env", str)
        value = os.environ.get(variable)
        if not value:
            raise section.error("password_env", f"environment variable {variable} is not set")
        return value
    path = _optional_path(section, "password_file", base, required=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise section.error("password_file", f"{path} is empty; put the password on line 1")
    return lines[0]


def _check_port(section: _Section, key: str, url: str) -> None:
    try:
        port = urlparse(url).port
    except ValueError:  # urllib refuses ports beyond 65535
        port = -1
    if port == -1:
        raise section.error(key, f"the port in {url!r} is not in 0..65535")


def _no_url_password(section: _Section, key: str, url: str) -> None:
    _check_port(section, key, url)
    if urlparse(url).password is not None:
        raise section.error(
            key,
            "a password in the URL would be kept in the file; put the user in username and the "
            "password in password_env or password_file",
        )


def _insecure(section: _Section, key: str, why: str) -> None:
    """Refuse credentials that would travel in the clear, unless explicitly allowed."""
    if not section.get("allow_insecure_credentials", bool, False):
        raise section.error(
            key,
            f"this password would travel in the clear ({why}); encrypt the link, or set "
            "allow_insecure_credentials = true to accept that",
        )


def _opcua(section: _Section | None, base: Path) -> OpcUaConfig | None:
    if section is None:
        return None
    endpoint = section.get("endpoint", str)
    if not endpoint.startswith("opc.tcp://"):
        raise section.error("endpoint", f"expected an opc.tcp:// URL, got {endpoint!r}")
    _no_url_password(section, "endpoint", endpoint)
    security = None
    if (sec := section.table("security")) is not None:
        policy = sec.choice("policy", CLIENT_POLICIES, "Basic256Sha256")
        security = SecurityConfig(
            policy=policy,
            mode=sec.choice("mode", SECURITY_MODES, "SignAndEncrypt"),
            certificate=_optional_path(sec, "certificate", base, required=True),
            private_key=_optional_path(sec, "private_key", base, required=True),
            server_certificate=_optional_path(sec, "server_certificate", base),
        )
        sec.finish()
    username = section.get("username", str, None)
    password = _secret(section, base)
    if (username is None) != (password is None):
        raise section.error(
            "password_env" if username else "username", "give a user name and its password"
        )
    if password is not None and security is None:
        _insecure(section, "username", "OPC UA security None; add [opcua.security]")
    result = OpcUaConfig(
        endpoint=endpoint,
        publishing_interval=section.number("publishing_interval", 0.05, positive=True),
        sampling_interval=section.number("sampling_interval", 0.0, nonneg=True),
        username=username,
        password=password,
        security=security,
        allow_insecure_credentials=section.get("allow_insecure_credentials", bool, False),
    )
    section.finish()
    return result


def _mqtt(section: _Section | None, base: Path) -> MqttConfig | None:
    if section is None:
        return None
    url = _broker_url(section)
    qos = section.get("qos", int, 1)
    if qos not in (0, 1, 2):
        raise section.error("qos", f"expected 0, 1 or 2, got {qos}")
    username, password, tls = _broker_credentials(section, base, url)
    client_id = section.get("client_id", str, None)
    session = section.choice("session", MQTT_SESSIONS, "clean")
    if session == "persistent" and not client_id:
        raise section.error(
            "session",
            "a persistent session needs a stable client id (the broker keeps the session "
            'under it); add client_id = "<unique name of this twin>"',
        )
    if session == "persistent" and qos == 0:
        raise section.error(
            "qos",
            "a persistent session queues only QoS 1 and 2 messages, so QoS 0 readings sent "
            'while the twin is away would still be lost; set qos = 1 or session = "clean"',
        )
    result = MqttConfig(
        url=url,
        qos=qos,
        username=username,
        password=password,
        client_id=client_id,
        tls=tls,
        session=session,
        allow_insecure_credentials=section.get("allow_insecure_credentials", bool, False),
        payload=_payload_format(section),
    )
    section.finish()
    return result


def _broker_url(section: _Section, key: str = "url") -> str:
    url = section.get(key, str)
    if not _MQTT_URL.match(url):
        raise section.error(key, f"expected mqtt[s]://host[:port], got {url!r}")
    _no_url_password(section, key, url)
    return url


def _broker_credentials(
    section: _Section, base: Path, url: str
) -> tuple[str | None, str | None, TlsConfig | None]:
    """User, password and ``[<table>.tls]`` of a broker link; a password without TLS is refused
    unless ``allow_insecure_credentials``."""
    tls = None
    if (t := section.table("tls")) is not None:
        tls = TlsConfig(
            ca=_optional_path(t, "ca", base),
            certificate=_optional_path(t, "certificate", base),
            private_key=_optional_path(t, "private_key", base),
        )
        t.finish()
    username = section.get("username", str, None) or urlparse(url).username
    password = _secret(section, base)
    if password is not None and username is None:
        raise section.error("username", "a password needs a username")
    if password is not None and tls is None and not url.startswith("mqtts://"):
        table = ".".join(section.path)
        _insecure(section, "url", f"mqtt:// without TLS; use mqtts:// or add [{table}.tls]")
    return username, password, tls


def _topic_part(section: _Section, key: str, value: str) -> None:
    if not value or any(c in value for c in "#+"):
        raise section.error(key, f"{value!r}: MQTT topics cannot hold the wildcards # and +")


def _forward(
    section: _Section | None,
    twin_name: str,
    states: list[str],
    history: HistoryConfig,
    base: Path,
) -> ForwardConfig | None:
    if section is None:
        return None
    url = _broker_url(section)
    username, password, tls = _broker_credentials(section, base, url)
    prefix = section.get("prefix", str, "fmitwin/fleet").strip("/")
    _topic_part(section, "prefix", prefix)
    if "/" in twin_name or any(c in twin_name for c in "#+"):
        raise section.error(
            None, f"twin name {twin_name!r} is a topic level here: it cannot hold /, # or +"
        )
    outbox = section.get("outbox", str, None)
    if outbox is None and history.path is None:
        raise section.error(
            None,
            'the outbox lives in the twin\'s history: add [history] path = "history.db", or '
            'give [forward] outbox = "outbox.db"',
        )
    if outbox is not None and not (base / outbox).parent.is_dir():
        raise section.error(
            "outbox", f"folder {(base / outbox).parent} does not exist; create it or name another"
        )
    max_records = section.get("max_records", int, 100_000)
    if max_records < 1:
        raise section.error("max_records", f"expected at least 1 record, got {max_records}")
    max_bytes = section.get("max_bytes", int, None)
    if max_bytes is not None and max_bytes < 1024:
        raise section.error("max_bytes", f"expected at least 1024 bytes, got {max_bytes}")
    every = section.get("every", int, 1)
    if every < 1:
        raise section.error("every", f"expected 1 (every estimate) or more, got {every}")
    if section.has("deadband") and isinstance(section.data["deadband"], dict):
        deadband = section.numbers_by_name("deadband", states, what="an estimated state")
        for name, value in deadband.items():
            if value < 0:
                raise section.error("deadband", f"expected a number >= 0, got {value}", name)
    else:
        deadband = dict.fromkeys(states, section.number("deadband", 0.0, nonneg=True))
    result = ForwardConfig(
        url=url,
        client_id=section.get("client_id", str, f"fmitwin-edge-{twin_name}"),
        prefix=prefix,
        outbox=None if outbox is None else base / outbox,
        max_records=max_records,
        max_bytes=max_bytes,
        username=username,
        password=password,
        tls=tls,
        allow_insecure_credentials=section.get("allow_insecure_credentials", bool, False),
        every=every,
        min_interval=section.number("min_interval", 0.0, nonneg=True),
        deadband={k: v for k, v in deadband.items() if v > 0},
        summary_interval=section.number("summary_interval", 0.0, nonneg=True),
        health_interval=section.number("health_interval", 1.0, positive=True),
        line=section.line(),
    )
    section.finish()
    return result


def _payload_format(section: _Section) -> PayloadFormat:
    keys = section.get("keys", dict, {})
    names = {}
    for key, name in keys.items():
        if key not in ("value", "ts", "quality"):
            raise section.error("keys", "expected value, ts or quality", key)
        if not isinstance(name, str) or not name:
            raise section.error("keys", f"expected a key name, got {name!r}", key)
        names[key] = name
    max_payload = section.get("max_payload", int, 65536)
    if max_payload < 64:
        raise section.error("max_payload", f"expected at least 64 bytes, got {max_payload}")
    return PayloadFormat(
        **names, ts_unit=section.choice("ts_unit", TS_UNITS, "s"), max_payload=max_payload
    )


def _range(section: _Section) -> tuple[float, float]:
    value = section.get("range", list, hint="give [low, high] in the sensor's unit")
    ok = (
        len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        raise section.error("range", f"expected [low, high] with low < high, got {value!r}")
    return float(value[0]), float(value[1])


def _sensors(section: _Section, model: ModelConfig, sources: dict) -> dict[str, SensorConfig]:
    sensors = {}
    variables = model.states + model.inputs + model.outputs
    for name, s in section.tables():
        variable = s.get("variable", str)
        if variable not in variables:
            raise s.error(
                "variable",
                f"{variable!r} is not a state, input or output of the model "
                "(a measured FMU output must be listed in [model] outputs)",
            )
        source = s.choice("source", SOURCES)
        if sources[source] is None:
            raise s.error("source", f"source {source!r} needs a [{source}] table in the file")
        key = {"opcua": "node", "mqtt": "topic", "csv": "column"}[source]
        address = s.get(key, str, name if source == "csv" else ...)
        if source == "opcua" and not re.match(r"^nsu=[^;]+;[sigb]=.+$", address):
            raise s.error(
                "node", f"expected a node id by namespace URI, 'nsu=<uri>;s=<id>', got {address!r}"
            )
        if source == "mqtt" and (not address or any(c in address for c in "#+")):
            raise s.error("topic", f"expected a topic without wildcards, got {address!r}")
        rate = s.number("rate", positive=True)
        sensors[name] = SensorConfig(
            name=name,
            variable=variable,
            source=source,
            address=address,
            unit=s.get("unit", str, ""),
            range=_range(s),
            rate=rate,
            noise=s.number("noise", positive=True),
            stale_after=s.number("stale_after", max(1.0, 5.0 / rate), positive=True),
            line=s.line(),
        )
        s.finish()
    section.finish()
    if not any(s.variable in model.states + model.outputs for s in sensors.values()):
        raise section.error(None, "at least one sensor must measure a state or an output")
    return sensors


def _users(section: _Section | None, base: Path) -> dict[str, UserAccount]:
    users: dict[str, UserAccount] = {}
    if section is None:
        return users
    for name, u in section.tables():
        role = u.choice("role", ROLES, "reader")
        password_hash = u.get("password_hash", str, None)
        password = _secret(u, base, hash_ok=True)
        if (password_hash is None) == (password is None):
            raise u.error(
                "password_hash",
                "give one of password_hash (from `fmitwin passwd`), password_env, password_file",
            )
        try:
            users[name] = (
                UserAccount(name, role, password_hash)
                if password_hash is not None
                else UserAccount.with_password(name, role, password)
            )
        except ValueError as exc:
            raise u.error("password_hash", str(exc)) from None
        u.finish()
    section.finish()
    return users


def _server_security(section: _Section, twin_name: str, base: Path) -> ServerSecurity:
    users = _users(section.table("users"), base)
    if (path := _optional_path(section, "users_file", base)) is not None:
        try:
            from_file = read_users_file(path)
        except ValueError as exc:
            raise section.error("users_file", str(exc)) from None
        if clash := sorted(set(users) & set(from_file)):
            raise section.error("users_file", f"{clash} are also in [publish.users]")
        users.update(from_file)
    anonymous = section.choice("anonymous", ANONYMOUS[:2], "read")
    if anonymous == "off" and not users:
        raise section.error("anonymous", "with anonymous off and no users nobody can connect")
    sec = section.table("security") or _Section(section.file, {}, (*section.path, "security"), {})
    policies = sec.get("policies", list, list(ENCRYPTED))
    if unknown := [p for p in policies if p not in SERVER_POLICIES]:
        names = ", ".join(SERVER_POLICIES)
        raise sec.error("policies", f"unknown {unknown}; choose from {names}")
    if not policies:
        raise sec.error("policies", 'at least one is needed (list "None" to allow plain text)')
    result = ServerSecurity(
        policies=tuple(policies),
        certificate=base / sec.get("certificate", str, "pki/own/certificate.der"),
        private_key=base / sec.get("private_key", str, "pki/own/private_key.pem"),
        application_uri=section.get("application_uri", str, f"urn:fmitwin:twin:{twin_name}"),
        trust_store=base / sec.get("trust_store", str, "pki"),
        trust_on_first_use=sec.get("trust_on_first_use", bool, False),
        access=AccessPolicy(users, anonymous),
        allow_insecure_credentials=section.get("allow_insecure_credentials", bool, False),
        allow_remote_clients=section.get("allow_remote_clients", bool, False),
    )
    sec.finish()
    if result.credentials_in_clear():
        raise section.error("users" if section.has("users") else "users_file", CREDENTIALS_IN_CLEAR)
    return result


def _publish(section: _Section | None, twin_name: str, base: Path) -> PublishConfig:
    if section is None:
        return PublishConfig(
            namespace=f"urn:fmitwin:twin:{twin_name}", prefix=f"fmitwin/{twin_name}"
        )
    opcua = section.get("opcua", str, None)
    if opcua is not None and not opcua.startswith("opc.tcp://"):
        raise section.error("opcua", f"expected an opc.tcp:// URL, got {opcua!r}")
    if opcua is not None:
        _check_port(section, "opcua", opcua)
        host = urlparse(opcua).hostname or ""
        if not is_loopback(host) and not section.get("allow_remote_clients", bool, False):
            raise section.error(
                "opcua",
                f"{host} would accept connections from other machines; bind 127.0.0.1, or set "
                "allow_remote_clients = true (with users and an encrypting policy)",
            )
    mqtt = section.get("mqtt", str, None)
    if mqtt is not None and not _MQTT_URL.match(mqtt):
        raise section.error("mqtt", f"expected mqtt://host[:port], got {mqtt!r}")
    if mqtt is not None:
        _no_url_password(section, "mqtt", mqtt)
    prefix = section.get("prefix", str, f"fmitwin/{twin_name}").rstrip("/")
    for key, value in (("prefix", prefix), ("twin.name", twin_name)):
        if any(c in value for c in "#+") or not value:
            raise section.error(
                "prefix", f"{key} {value!r}: MQTT topics cannot hold the wildcards # and +"
            )
    result = PublishConfig(
        opcua=opcua,
        namespace=section.get("namespace", str, f"urn:fmitwin:twin:{twin_name}"),
        mqtt=mqtt,
        prefix=prefix,
        interval=section.number("interval", 0.02, nonneg=True),
        security=_server_security(section, twin_name, base),
        line=section.line(),
    )
    section.finish()
    return result


def _commands(section: _Section | None, model: ModelConfig) -> tuple[bool, dict]:
    if section is None:
        return False, {}
    enabled = section.get("enabled", bool, False)
    commands = {}
    for name, c in section.tables():
        variable = c.get("variable", str)
        if variable not in model.inputs:
            raise c.error("variable", f"{variable!r} is not an input of the model")
        via = c.choice("via", ("opcua", "mqtt"))
        address = c.get("node" if via == "opcua" else "topic", str)
        low, high = c.number("min"), c.number("max")
        if not low < high:
            raise c.error("max", f"expected min < max, got min={low}, max={high}")
        c.choice("law", ("proportional",), "proportional")
        state = c.get("state", str)
        if state not in model.states:
            raise c.error("state", f"{state!r} is not a state of the model")
        commands[name] = CommandConfig(
            name=name,
            variable=variable,
            via=via,
            address=address,
            min=low,
            max=high,
            max_rate=c.number("max_rate", positive=True),
            period=c.number("period", 1.0, positive=True),
            state=state,
            setpoint=c.number("setpoint"),
            gain=c.number("gain"),
            bias=c.number("bias", 0.0),
        )
        c.finish()
    section.finish()
    return enabled, commands
