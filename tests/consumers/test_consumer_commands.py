"""CLI verbs logger/alarm: user errors are one line and exit status 2."""

from __future__ import annotations

import pytest

from crampwatch.cli import main
from crampwatch.publish.broker import free_port


@pytest.mark.parametrize("verb", ["logger", "alarm"])
def test_unreachable_broker_is_one_line(verb, capsys, tmp_path) -> None:
    port = free_port()
    args = [verb, "--broker", f"mqtt://127.0.0.1:{port}"]
    if verb == "logger":
        args += ["--db", str(tmp_path / "e.db")]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"crampwatch: error: broker unreachable: 127.0.0.1:{port} (Connection refused)"


def test_bad_broker_url(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["alarm", "--broker", "ftp://x"])
    assert "mqtt://" in capsys.readouterr().err
