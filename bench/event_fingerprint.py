"""Every event the detector emits on fixed simulated nights, as JSON lines.

A refactor that must not change behaviour is checked by running this before and after
and comparing the outputs (``diff``); the last line is a SHA-256 of all the others.

    python bench/event_fingerprint.py > before.jsonl   # on the old tree
    python bench/event_fingerprint.py > after.jsonl    # on the new tree
    diff before.jsonl after.jsonl && echo unchanged

Nights (development seeds only, 1 h each, cramps 4× as frequent): in distribution with
and without a tibialis channel, shifted, a cramp-free calf-only night, each replayed
offline (5-min batches) and, for the first, live (frame by frame, 1-s blocks). Event
ids are replaced by their order of first appearance (they are random per run).
"""

from __future__ import annotations

import hashlib
import json
import sys

from crampwatch.detect.model import default_model
from crampwatch.detect.streaming import detect_recording
from crampwatch.detect.training import simulated_night

# (seed, variant, tibialis override, cramp boost, live)
NIGHTS = (
    (40_000, "train", None, 4.0, False),
    (40_000, "train", None, 4.0, True),
    (40_002, "train", None, 4.0, False),  # seed % 3 == 2: no tibialis channel
    (41_001, "shifted", None, 4.0, False),
    (42_003, "shifted", False, 0.0, False),
)


def night_lines(seed: int, variant: str, tib: bool | None, boost: float, live: bool, model):
    night = simulated_night(seed, 1.0, variant, cramp_boost=boost, tibialis=tib)
    kw = {"batch_s": 0.0, "block_s": 1.0} if live else {}
    events = detect_recording(night.recording, device_id="fp", model=model, **kw)
    ids: dict[str, int] = {}
    for ev in events:
        d = ev.to_dict()
        d["id"] = ids.setdefault(d["id"], len(ids))
        d["night"] = f"{seed}/{variant}/{tib}/{'live' if live else 'offline'}"
        yield json.dumps(d, sort_keys=True)


def main() -> None:
    model = default_model()
    digest = hashlib.sha256()
    for spec in NIGHTS:
        for line in night_lines(*spec, model=model):
            print(line)
            digest.update(line.encode())
        sys.stdout.flush()
    print(f"sha256 {digest.hexdigest()}")


if __name__ == "__main__":
    main()
