"""``crampwatch review`` end to end through the CLI entry point (in process)."""

from __future__ import annotations

import json
import time
import webbrowser

import pytest

from crampwatch.cli import main
from crampwatch.consumers.store import EventStore


def run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([*argv])
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_no_store_is_one_clear_line(tmp_path, capsys):
    code, _, err = run(["review", "--db", str(tmp_path / "none.sqlite")], capsys)
    assert code == 2
    assert err.startswith("crampwatch: error: no event store") and err.count("\n") == 1
    assert not (tmp_path / "none.sqlite").exists()


def test_empty_store_is_one_clear_line(tmp_path, capsys):
    EventStore(tmp_path / "e.sqlite").close()
    code, _, err = run(["review", "--db", str(tmp_path / "e.sqlite")], capsys)
    assert code == 2 and "no nights yet" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--night", "24/11/2026"], "--night must be a date"),
        (["--night", "2026-01-01"], "no events or monitoring"),
        (["--night", "2026-11-24", "--last"], "either --night or --last"),
    ],
)
def test_bad_night_options(nights, capsys, args, msg):
    code, _, err = run(["review", "--db", str(nights.db), *args], capsys)
    assert code == 2 and msg in err


def test_terminal_summary_and_all_outputs(nights, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    # the store points at the fixture's recording: the annotated copy goes beside it
    code, out, err = run(
        [
            "review",
            "--db",
            str(nights.db),
            "--html",
            str(tmp_path / "r.html"),
            "--csv",
            str(tmp_path / "e.csv"),
            "--json",
            str(tmp_path / "e.json"),
            "--edf-annotations",
        ],
        capsys,
    )
    assert code == 0, err
    spec = nights.last
    assert f"night of {spec.night}" in out
    assert "Cramps" in out and "acknowledged" in out and "not a cramp" in out
    assert "PLM index" in out and "Signal drop-outs" in out
    # the mode in one line, from the recording's channels (calf + accelerometer)
    assert "What ran: cramp alarm and leg movements: calf EMG, shin accelerometer" in out
    assert "worth mentioning to a doctor" in out  # cramps on every night of the week
    assert (tmp_path / "r.html").stat().st_size > 10_000
    n_events = len(spec.cramps) + spec.n_lms + len(spec.positions) + len(spec.issues)
    assert len(json.loads((tmp_path / "e.json").read_text())) == n_events
    annotated = nights.recording.with_name(nights.recording.stem + ".events.edf")
    assert annotated.is_file() and str(annotated) in out


def test_env_var_names_the_default_store(nights, capsys, monkeypatch):
    monkeypatch.setenv("CRAMPWATCH_DB", str(nights.db))
    code, out, _ = run(["review", "--night", nights.specs[0].night], capsys)
    assert code == 0 and f"night of {nights.specs[0].night}" in out


def test_edf_export_without_recording_is_an_error(nights, capsys):
    code, _, err = run(
        ["review", "--db", str(nights.db), "--night", nights.specs[0].night, "--edf-annotations"],
        capsys,
    )
    assert code == 2 and "no recording stored" in err


def test_not_a_database_is_one_clear_line(tmp_path, capsys):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not SQLite\n" * 100)
    code, _, err = run(["review", "--db", str(junk)], capsys)
    assert code == 2 and "cannot open event store" in err and "Traceback" not in err


def test_open_hands_the_report_to_the_browser(nights, tmp_path, capsys, monkeypatch):
    """--open without --html writes the report beside the store and opens its file URI
    (BROWSER points webbrowser at a script that records what it was given)."""
    seen = tmp_path / "seen.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {seen}\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", f"{browser} %s")
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read BROWSER
    code, out, err = run(["review", "--db", str(nights.db), "--open"], capsys)
    assert "HTML report" in out
    assert code == 0, err
    report = nights.db.parent / "reports" / f"review-{nights.last.night}.html"
    assert report.is_file()
    deadline = time.monotonic() + 10
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.read_text().strip() == report.resolve().as_uri()
