"""OPC UA HistoryRead of what the twin published, served from its SQLite history: an
independent asyncua client reads a time range of every published variable and gets exactly the
recorded values, in event-time order, within the range, paged with continuation points; values
recorded by an earlier run of the twin on the same history file are served after a restart."""

import math
from datetime import UTC, datetime

from asyncua import Client, ua
from fmitwin.live.config import parse_config
from fmitwin.live.history import query, recorded_estimates
from fmitwin.live.twin import Twin
from support.live_servers import Running, free_port, replay_twin, wait_until

T0 = 1e9


def twin_file(tmp_path, csv_name: str, rows: range, port: int, speed: float) -> str:
    csv = tmp_path / csv_name
    csv.write_text(
        "ts,sensor,value\n" + "".join(f"{T0 + i * 0.05},T,{300 + (i % 7) * 0.1}\n" for i in rows)
    )
    return replay_twin(
        str(csv),
        speed=speed,
        extra=f'[publish]\nopcua = "opc.tcp://127.0.0.1:{port}"\nnamespace = "urn:test:twin"\n'
        f'[publish.security]\npolicies = ["None"]\n[history]\npath = "{tmp_path / "h.sqlite"}"\n',
    )


def stamp(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


async def read_pages(node, start: float, end: float, per_page: int) -> tuple[list, int]:
    """Every value of ``node`` in [start, end), ``per_page`` per HistoryRead; (values, pages)."""
    details = ua.ReadRawModifiedDetails(
        IsReadModified=False, StartTime=stamp(start), EndTime=stamp(end), NumValuesPerNode=per_page
    )
    values, pages, point = [], 0, None
    while True:
        result = await node.history_read(details, point)
        result.StatusCode.check()
        page = result.HistoryData.DataValues
        assert len(page) <= per_page
        values += page
        pages += 1
        point = result.ContinuationPoint
        if point is None:
            return values, pages


async def test_history_read_serves_the_recorded_values_across_a_restart(tmp_path):
    port = free_port()
    first = Twin(parse_config(twin_file(tmp_path, "a.csv", range(200), port, 0.0), tmp_path / "a"))
    await first.run()  # replayed as fast as possible; the twin stops when the replay ends
    second = Twin(
        parse_config(twin_file(tmp_path, "b.csv", range(400, 1000), port, 1.0), tmp_path / "b")
    )
    start, end = T0 + 5.025, T0 + 22.025  # the end of the first run, the start of the second
    async with Running(second):
        await wait_until(
            lambda: second.sync.t is not None and second.sync.t > end + 1.0, 60, "second run"
        )
        second.history.flush()
        recorded = [e for e in recorded_estimates(tmp_path / "h.sqlite") if start <= e["t"] < end]
        assert any(e["t"] < T0 + 10 for e in recorded) and any(e["t"] > T0 + 20 for e in recorded)
        client = Client(f"opc.tcp://127.0.0.1:{port}")
        async with client:
            idx = await client.get_namespace_index("urn:test:twin")
            value = client.get_node(f"ns={idx};s=csv.States.temp.Value")
            sigma = client.get_node(f"ns={idx};s=csv.States.temp.Sigma")
            assert (await value.read_attribute(ua.AttributeIds.Historizing)).Value.Value

            values, pages = await read_pages(value, start, end, per_page=7)
            assert pages == math.ceil(len(recorded) / 7) > 2
            assert [dv.Value.Value for dv in values] == [e["x"][0] for e in recorded]
            times = [dv.SourceTimestamp.timestamp() for dv in values]
            assert times == sorted(times) and start <= times[0] and times[-1] < end
            for dv, e in zip(values, recorded, strict=True):
                assert abs(dv.SourceTimestamp.timestamp() - e["t"]) < 1e-6
                assert abs(dv.ServerTimestamp.timestamp() - e["published_at"]) < 1e-6
            sigmas, _ = await read_pages(sigma, start, end, per_page=1000)
            assert [dv.Value.Value for dv in sigmas] == [e["sigma"][0] for e in recorded]

            # one call for the whole range (asyncua's helper), and newest first
            whole = await value.read_raw_history(stamp(start), stamp(end))
            assert [dv.Value.Value for dv in whole] == [e["x"][0] for e in recorded]
            newest_first = await value.read_raw_history(stamp(end), stamp(start))
            assert [dv.Value.Value for dv in newest_first] == [e["x"][0] for e in recorded][::-1]

            for leaf, column in (("Value", "value"), ("Sigma", "sigma"), ("NIS", "nis")):
                node = client.get_node(f"ns={idx};s=csv.Residuals.T.{leaf}")
                rows = query(
                    tmp_path / "h.sqlite",
                    f"SELECT t, {column} FROM residuals WHERE sensor = 'T' AND t >= ? AND t < ? "
                    "ORDER BY t, rowid",
                    (start, end),
                )
                assert rows, f"no residual {leaf} recorded in the range"
                got, _ = await read_pages(node, start, end, per_page=3)
                assert [dv.Value.Value for dv in got] == [v for _, v in rows]
                for dv, (t, _) in zip(got, rows, strict=True):
                    assert abs(dv.SourceTimestamp.timestamp() - t) < 1e-6

            health = client.get_node(f"ns={idx};s=csv.Health")  # not a historized variable
            result = await health.history_read(
                ua.ReadRawModifiedDetails(StartTime=stamp(start), EndTime=stamp(end))
            )
            assert result.StatusCode.value == ua.StatusCodes.BadHistoryOperationUnsupported
