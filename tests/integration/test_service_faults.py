"""Faults a night must survive, run as users run it: the ``crampwatch`` console script
(``run --replay … --speed 0``) in its own process, a real mosquitto, and the data folder
on a real tmpfs: a tiny one that fills up during the night, or a read-only one.

Each delivery test counts the events expected (``crampwatch detect`` on the same
recording: the same pipeline gives the same ids), delivered (the logger's store), lost
and duplicated. Mounting needs root: the tests skip locally without it and fail in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import Mosquitto, _require, wait_for
from crampwatch.consumers.logger import EventLogger
from crampwatch.publish import Outbox
from crampwatch.publish.broker import free_port
from crampwatch.simulate import ScheduledEvent, simulate_night, write_night

pytestmark = pytest.mark.integration

CRAMPWATCH = Path(sysconfig.get_path("scripts")) / "crampwatch"
LOGGER_ID = "faults-logger"  # a fixed client id: the broker keeps its session


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A 4-minute night (4 leg movements, a cramp) and the ids ``detect`` finds in it."""
    folder = tmp_path_factory.mktemp("night")
    schedule = [
        ScheduledEvent("plm_series", 20.0, count=4, interval_s=20.0),
        ScheduledEvent("cramp", 140.0, duration_s=40.0, peak_uv=250.0),
    ]
    rec = simulate_night(240 / 3600, 4, emg_fs_hz=500, acc_fs_hz=50, schedule=schedule)
    edf, _ = write_night(rec, folder / "night.edf")
    detect = _crampwatch("detect", str(edf), "--device-id", "bed", home=folder)
    assert detect.returncode == 0, detect.stderr
    expected = {json.loads(line)["id"] for line in detect.stdout.splitlines() if line.strip()}
    kinds = {json.loads(line)["type"] for line in detect.stdout.splitlines() if line.strip()}
    assert "cramp" in kinds  # the night's cramp is among what must not be lost
    return edf, expected


def _crampwatch(
    *args: str, home: Path, data: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The console script with an isolated HOME (its data folder: ``data`` or HOME's)."""
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": "", "CRAMPWATCH_DATA": ""}
    if data is not None:
        env["CRAMPWATCH_DATA"] = str(data)
    return subprocess.run(
        [str(CRAMPWATCH), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``mount(name, size="2m", read_only=False)``: a fresh tmpfs; unmounted at the end."""
    _require(os.geteuid() == 0, "mounting a tmpfs needs root (CI runs as root)")
    mounted: list[Path] = []

    def mount(name: str, size: str = "2m", read_only: bool = False) -> Path:
        point = tmp_path / name
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        _require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(folder: Path, leave_bytes: int) -> None:
    """Fill the file system of ``folder`` up to ``leave_bytes`` free bytes."""
    st = os.statvfs(folder)
    (folder / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - leave_bytes))


def _logger(broker: Mosquitto, db: Path) -> EventLogger:
    logger = EventLogger(broker.config, db, client_id=LOGGER_ID, publish_stats=False)
    logger.start()
    assert logger.wait_subscribed(30)
    return logger


def _delivered(logger: EventLogger) -> list[str]:
    return [se.event.id for se in logger.store.events()]


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if " ERROR " in ln or "Traceback" in ln]


@pytest.mark.parametrize(
    ("record", "leave_kb", "failed_parts"),
    [
        # the whole data folder fills up: the recording, its journal, then the outbox
        # (sqlite words a full disk "database or disk is full" or "disk I/O error")
        ("--record", 100, ["recording (No space left on device", "outbox ("]),
        # only the outbox's volume is full (42 of 43 events vanished without a line)
        ("--no-record", 64, ["outbox ("]),
    ],
    ids=["data-folder-full", "outbox-full"],
)
def test_a_full_disk_loses_no_event_and_ends_in_one_line(
    mosquitto, tmpfs, night, tmp_path, record, leave_kb, failed_parts
):
    edf, expected = night
    data = tmpfs("data")
    logger = _logger(mosquitto, tmp_path / "events.sqlite")
    try:
        _fill(data, leave_kb * 1024)
        run = _crampwatch(
            "run", "--replay", str(edf), "--speed", "0", "--broker", mosquitto.url,
            "--device-id", "bed", record, home=tmp_path, data=data,
        )  # fmt: skip
        assert wait_for(lambda: set(_delivered(logger)) >= expected, 10)
        stored = [se.event for se in logger.store.events()]
        duplicates = logger.counters.duplicates
    finally:
        logger.stop()
    ids = [e.id for e in stored]
    delivered = expected & set(ids)
    # counts: every expected event delivered, none lost, none delivered twice
    assert (len(expected), len(delivered), len(expected - delivered)) == (
        len(expected), len(expected), 0
    )  # fmt: skip
    assert len(ids) == len(set(ids)) and duplicates == 0
    # the one extra event says, in words, that storage failed
    issues = [e for e in stored if e.id not in expected]
    assert [e.details["kind"] for e in issues] == ["storage_failed"]
    assert "storage failed" in issues[0].details["message"]
    # one line at the end, exit ≠ 0; each failing part logged once, not once per block
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("crampwatch: error: failed during the run:"), run.stderr
    for part in failed_parts:
        assert part in last
    assert "detection and alarms went on" in last and "messages were delivered" in last
    assert len(_error_lines(run.stderr)) <= 3, run.stderr  # recording, journal, outbox
    assert "Traceback" not in run.stderr


def test_run_started_before_the_broker_delivers_everything_once_it_appears(
    mosquitto_factory, night, tmp_path
):
    edf, expected = night
    broker = mosquitto_factory()
    db = tmp_path / "events.sqlite"
    _logger(broker, db).stop()  # its session on the broker queues what comes while away
    broker.stop()
    data = tmp_path / "data"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": "", "CRAMPWATCH_DATA": str(data)}
    args = [
        "run",
        "--replay",
        str(edf),
        "--speed",
        "0",
        "--broker",
        broker.url,
        "--device-id",
        "bed",
    ]
    proc = subprocess.Popen(
        [str(CRAMPWATCH), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        outbox = data / "outbox-bed.sqlite"

        def queued() -> int:
            if not outbox.exists():
                return 0
            with Outbox(outbox) as box:
                return len({e.id for e in box.pending()})

        # the whole night is detected and queued while there is no broker at all
        assert wait_for(lambda: queued() >= len(expected), 60)
        assert proc.poll() is None  # still running, waiting for the broker
        broker.start()
        logger = _logger(broker, db)
        try:
            out, err = proc.communicate(timeout=90)
            assert wait_for(lambda: set(_delivered(logger)) >= expected, 10)
            ids = _delivered(logger)
            duplicates = logger.counters.duplicates
        finally:
            logger.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    delivered = expected & set(ids)
    assert (len(delivered), len(expected - delivered)) == (len(expected), 0)
    assert len(ids) == len(set(ids)) and duplicates == 0
    # the outage was said once, in one line, and the run did not stop for it
    unreachable = [ln for ln in err.splitlines() if "unreachable" in ln]
    assert len(unreachable) == 1 and "monitoring goes on" in unreachable[0], err
    assert "cramp" in out


def test_a_read_only_data_folder_is_one_line(tmpfs, night, tmp_path):
    edf, _ = night
    home = tmpfs("home", size="1m", read_only=True)
    port = free_port()
    run = _crampwatch(
        "run", "--replay", str(edf), "--speed", "0", "--broker", f"mqtt://127.0.0.1:{port}",
        home=home,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("crampwatch: error: ")
    assert "Read-only file system" in run.stderr and str(home) in run.stderr


def test_a_password_in_a_bad_broker_url_is_never_shown(night, tmp_path):
    edf, _ = night
    for url in ("mqtt://me:hunter2@127.0.0.1:notaport", "mqtt://me:hunter2@127.0.0.1:1883/x"):
        run = _crampwatch("run", "--replay", str(edf), "--broker", url, home=tmp_path)
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and "broker URL" in run.stderr, run.stderr
        assert "hunter2" not in run.stderr + run.stdout
        assert "me:***@127.0.0.1" in run.stderr


def test_refused_credentials_are_one_line_at_once_without_the_password(
    mosquitto_factory, night, tmp_path
):
    edf, _ = night
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "night", "owl"], check=True)
    broker = mosquitto_factory(listener=["allow_anonymous false", f"password_file {passwd}"])
    url = f"mqtt://night:lark@127.0.0.1:{broker.port}"
    run = _crampwatch("run", "--replay", str(edf), "--broker", url, home=tmp_path)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1, run.stderr  # not a night of retries
    assert "refused the credentials" in run.stderr
    assert "lark" not in run.stderr + run.stdout


@pytest.mark.parametrize("verb", ["logger", "alarm"])
def test_a_consumer_refused_its_credentials_says_so_in_one_line(verb, mosquitto_factory, tmp_path):
    """The error line only: no summary of a logger that never connected."""
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "night", "owl"], check=True)
    broker = mosquitto_factory(listener=["allow_anonymous false", f"password_file {passwd}"])
    url = f"mqtt://night:lark@127.0.0.1:{broker.port}"
    extra = ["--no-sound"] if verb == "alarm" else []
    run = _crampwatch(verb, "--broker", url, *extra, home=tmp_path, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "refused the credentials" in run.stderr, run.stderr
    assert "stored" not in run.stdout and "lark" not in run.stderr + run.stdout, run.stdout
