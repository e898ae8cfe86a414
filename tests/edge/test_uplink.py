"""What the edge sends: the outbox's byte limit and persistent byte count, and the uplink's
decimation, deadband and summaries."""

import math

import pytest
from fmitwin.live.forward import Outbox, Uplink


def kinds(outbox: Outbox) -> list[str]:
    return [kind for _, kind, _ in outbox.pending(10_000)]


def test_byte_limit_drops_oldest_and_counts(tmp_path):
    outbox = Outbox(tmp_path / "h.db", max_bytes=2000)
    for i in range(100):
        outbox.put("event", {"i": i, "pad": "x" * 80})  # ~100 bytes each
    assert 15 <= outbox.backlog <= 20 and outbox.backlog + outbox.dropped == 100
    assert outbox.backlog_bytes <= 2000
    assert [r[0] for r in outbox.pending()][-1] == 100  # the newest are kept


def test_bytes_sent_and_backlog_survive_a_restart(tmp_path):
    outbox = Outbox(tmp_path / "h.db")
    ids = outbox.put_many([("event", {"i": i}) for i in range(5)])
    outbox.ack(ids[2], 300)
    outbox.close()
    again = Outbox(tmp_path / "h.db")
    assert again.bytes_sent == 300 and again.backlog == 2 and again.acked == 3
    assert again.put("event", {"i": 5}) == 6  # ids go on
    assert again.backlog_bytes == sum(len(body) for _, _, body in again.pending())


def offer(uplink: Uplink, values, health="ok", dt=0.1) -> list[bool]:
    return [uplink.estimate(i * dt, [v], [0.1], health) for i, v in enumerate(values)]


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "h.db")
    yield box
    box.close()


def test_every_kth_estimate(outbox):
    uplink = Uplink(outbox, ["T"], every=3)
    assert offer(uplink, range(10)) == [i % 3 == 0 for i in range(10)]
    assert uplink.flush() == 4 and kinds(outbox) == ["estimate"] * 4


def test_min_interval_in_twin_time(outbox):
    uplink = Uplink(outbox, ["T"], min_interval=0.25)
    assert offer(uplink, range(10)) == [i in (0, 3, 6, 9) for i in range(10)]


def test_deadband_sends_moves_and_health_changes(outbox):
    uplink = Uplink(outbox, ["T", "k"], deadband={"T": 0.5})
    sent = [
        uplink.estimate(t, x, [0.1, 0.1], health)
        for t, x, health in [
            (0, [300.0, 1.0], "ok"),
            (1, [300.4, 1.0], "ok"),  # within the band: not sent
            (2, [300.6, 1.0], "ok"),  # moved 0.6 from the last one sent
            (3, [300.6, 1.0], "degraded"),  # health changed
            (4, [300.6, 1.0 + 1e-9], "degraded"),  # k has no band: every move goes
            (5, [math.nan, 1.0 + 1e-9], "degraded"),  # NaN counts as moved
        ]
    ]
    assert sent == [True, False, True, True, True, True]
    uplink.flush()
    body = __import__("json").loads(outbox.pending()[-1][2])
    assert body["x"] == {"T": None, "k": 1.0 + 1e-9} and body["health"] == "degraded"


def test_summary_per_interval(outbox):
    import json

    uplink = Uplink(outbox, ["T"], every=1000, summary_interval=1.0)
    offer(uplink, [float(i) for i in range(25)], dt=0.1)  # t = 0.0 .. 2.4
    uplink.flush(final=True)
    summaries = [json.loads(b) for _, k, b in outbox.pending() if k == "summary"]
    assert [(s["t0"], s["n"]) for s in summaries] == [(0.0, 10), (1.0, 10), (2.0, 5)]
    first = summaries[0]
    assert first["mean"] == {"T": 4.5} and first["min"] == {"T": 0.0} and first["max"] == {"T": 9.0}
    assert kinds(outbox).count("estimate") == 1


def test_an_outbox_of_its_own_is_locked(tmp_path):
    from fmitwin.live.history import HistoryInUse

    first = Outbox(tmp_path / "outbox.db", lock=True)
    with pytest.raises(HistoryInUse, match="being written by another twin"):
        Outbox(tmp_path / "outbox.db", lock=True)
    first.close()
    Outbox(tmp_path / "outbox.db", lock=True).close()  # released
