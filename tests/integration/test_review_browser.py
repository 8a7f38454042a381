"""The morning review end to end: simulated nights published through a real broker
(mosquitto) into the real logger's store, ``crampwatch review`` run as a command, and
the HTML report checked in headless Chromium.

The page's own inline script records decoded images and any error (script, console,
resource, CSP) into ``<body data-…>`` after load; Chromium's ``--dump-dom`` returns it,
and its stderr log (``--enable-logging=stderr``) must carry no console message at all.
A deliberately broken page proves the harness does catch errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import edfio
import pytest

from crampwatch.consumers.logger import EventLogger
from crampwatch.consumers.store import EventStore
from crampwatch.events import event_id
from crampwatch.publish import EventPublisher, topics
from crampwatch.publish.config import MQTT_V311, connect_client, make_client
from crampwatch.review.export import ANNOTATION_PREFIX, annotation_for
from review.nightgen import (
    CrampSpec,
    NightSpec,
    busy_night,
    evening,
    night_events,
    write_recording,
)

pytestmark = pytest.mark.integration

CHROMIUM = next(
    (p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), "/usr/bin/chromium"
)


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


class BodyAttrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.attrs = {k: v or "" for k, v in attrs}


def load_in_chromium(page: Path, profile: Path) -> tuple[dict[str, str], list[str]]:
    """Load ``page`` headless; return the body's attributes after load and the console
    lines Chromium logged."""
    require(os.path.exists(CHROMIUM), f"chromium not installed at {CHROMIUM}")
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = BodyAttrs()
    parser.feed(proc.stdout)
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    return parser.attrs, console


def test_harness_catches_a_broken_page(tmp_path):
    from importlib import resources

    # the report's own check script, as the page template includes it
    check_js = (resources.files("crampwatch.review") / "templates" / "report.js").read_text()
    bad = tmp_path / "bad.html"
    bad.write_text(
        f"<!doctype html><html><head><script>{check_js}</script></head><body>"
        '<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script>'
        "</body></html>"
    )
    attrs, console = load_in_chromium(bad, tmp_path / "profile")
    assert attrs["data-checked"] == "yes"
    assert attrs["data-images-ok"] == "0" and attrs["data-images-total"] == "1"
    assert any("boom" in e for e in json.loads(attrs["data-errors"]))
    assert any("boom" in ln for ln in console)


def publish_nights(broker, db: Path, specs, tmp_path: Path) -> None:
    """Publish each night's events (onset, later the end update) and the sleeper's
    feedback through the broker; the real logger stores them."""
    with EventLogger(broker, db) as logger:
        assert logger.wait_subscribed(30)
        publisher = EventPublisher(broker, specs[0].device_id, tmp_path / "outbox.sqlite")
        publisher.start()
        assert publisher.wait_connected(10)
        n = 0
        for spec in specs:
            first, updates = night_events(spec)
            for e in (*first, *updates):
                publisher.publish(e)
                n += 1
        assert publisher.wait_drained(20)
        ack = make_client(broker, "review-test-ack", protocol=MQTT_V311)
        connect_client(ack, broker, blocking=True)
        ack.loop_start()
        labels = [
            (event_id(s.device_id, "cramp", c.onset_s, s.leg), c.label)
            for s in specs
            for c in s.cramps
            if c.label
        ]
        for eid, label in labels:
            action = {"acknowledged": "ack", "not_a_cramp": "not_a_cramp"}[label]
            payload = json.dumps({"event_id": eid, "action": action, "source": "test"})
            ack.publish(
                topics.alert_ack_topic(specs[0].device_id), payload, qos=1
            ).wait_for_publish(5)
        ack.disconnect()
        ack.loop_stop()
        deadline_ok = _wait(
            lambda: (
                logger.counters.stored + logger.counters.updated >= n
                and logger.counters.labels >= len(labels)
            )
        )
        publisher.stop()
        assert deadline_ok, logger.counters


def _wait(pred, timeout_s: float = 20.0) -> bool:
    import time

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def test_review_of_nights_stored_by_the_logger_opens_cleanly(mosquitto, tmp_path):
    specs = (
        NightSpec(
            start=evening(21),
            hours=7.0,
            cramps=(CrampSpec(4000.0, 90.0),),
            plm_series=((7001.0, 30, 24.0),),
            positions=(1234.0,),
        ),
        NightSpec(start=evening(22), hours=7.0, plm_series=((9002.5, 8, 40.0),)),
        busy_night(24),
    )
    db = tmp_path / "events.sqlite"
    publish_nights(mosquitto.config, db, specs, tmp_path)
    recording = write_recording(tmp_path / "night.edf", specs[-1])
    with EventStore(db) as store:  # the service registers the night's recording
        store.add_recording(specs[-1].device_id, specs[-1].night, recording)
        assert store.nights() == [s.night for s in specs]

    html = tmp_path / "report" / "night.html"
    proc = subprocess.run(
        [sys.executable, "-m", "crampwatch", "review", "--db", str(db), "--html", str(html),
         "--edf-annotations"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    last = specs[-1]
    assert f"night of {last.night}" in proc.stdout
    assert re.search(r"Cramps\s+2 \(\+1 marked", proc.stdout)

    attrs, console = load_in_chromium(html, tmp_path / "profile")
    assert attrs.get("data-checked") == "yes", "the page's load handler did not run"
    assert json.loads(attrs["data-errors"]) == []
    assert console == []
    # timeline, one per cramp, leg-movement intervals, trends: all decoded, none empty
    assert attrs["data-images-total"] == str(3 + len(last.cramps))
    assert attrs["data-images-ok"] == attrs["data-images-total"]
    assert attrs["data-night"] == last.night
    assert attrs["data-cramps"] == str(sum(c.label != "not_a_cramp" for c in last.cramps))
    assert attrs["data-cramp-events"] == str(len(last.cramps))
    assert attrs["data-leg-movements"] == str(last.n_lms)
    assert attrs["data-periodic"] == str(last.n_periodic)
    assert attrs["data-positions"] == str(len(last.positions))
    assert attrs["data-dropouts"] == str(len(last.issues))
    annotated = edfio.read_edf(recording.with_name("night.events.edf"))
    ours = [a for a in annotated.annotations if a.text.startswith(ANNOTATION_PREFIX)]
    with EventStore(db) as store:
        expected = sorted(
            (round(se.event.onset_s, 3), annotation_for(se.event, se.labels).text)
            for se in store.events(last.night)
        )
    assert sorted((round(a.onset, 3), a.text) for a in ours) == expected
