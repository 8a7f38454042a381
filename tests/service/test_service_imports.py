"""What the overnight service loads: the memory budget (bench/bench_service.py) counts
every module, so the service must not import what only some runs need."""

import json
import subprocess
import sys

PROBE = """
import json, sys
import crampwatch.cli, crampwatch.service.command, crampwatch.service.app
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def test_the_service_does_not_import_the_embedded_broker_or_edfio():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "crampwatch" in loaded and "paho" in loaded  # the probe did import the service
    # amqtt (and yaml, websockets, transitions) only with --broker embedded; edfio only
    # to read or write a whole EDF file, never for the night's streaming recorder
    assert not loaded & {"amqtt", "yaml", "websockets", "transitions", "edfio"}
