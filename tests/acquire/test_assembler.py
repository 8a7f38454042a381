"""BlockAssembler (sans-I/O): sample-clock timing, gaps as notices, block coalescing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crampwatch.acquire.assembler import BlockAssembler
from crampwatch.acquire.base import SourceNotice
from crampwatch.acquire.decoders import DecodedPacket, make_decoder
from crampwatch.acquire.profiles import get_profile
from crampwatch.blocks import SampleBlock
from support.encoders import encode_reference

REF = get_profile("crampwatch-ref")
GANGLION = get_profile("openbci-ganglion")
MYO = get_profile("thalmic-myo")
T0_US = 2**32 - 100_000  # five packets before the u32 clock wraps


def _ref_packets(n: int, rng: np.random.Generator):
    decoder = make_decoder(REF)
    emg = rng.integers(-2000, 2000, size=(n * 20, 2))
    acc = rng.integers(-4096, 4096, size=(n * 2, 3))
    packets = [
        decoder.decode(
            encode_reference(
                k, T0_US + 20_000 * k, emg[20 * k : 20 * k + 20], acc[2 * k : 2 * k + 2]
            )
        )
        for k in range(n)
    ]
    return packets, emg * REF.emg_uv_per_lsb


def _push_all(assembler, packets, host_s=None):
    out = []
    for k, packet in packets:
        out += assembler.push(packet, host_s(k) if host_s else 0.02 * k)
    return out + assembler.flush()


def _series(items, role):
    blocks = [b for b in items if isinstance(b, SampleBlock) and b.role == role]
    return blocks


@pytest.mark.parametrize("block_s", [0.0, 0.05, 0.1, 1.0])
def test_contiguous_stream_is_block_size_invariant(block_s):
    packets, emg = _ref_packets(60, np.random.default_rng(0))
    out = _push_all(BlockAssembler(REF, block_s=block_s, leg="left"), list(enumerate(packets)))
    blocks = _series(out, "emg_calf")
    assert not [n for n in out if isinstance(n, SourceNotice)]
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), emg[:, 0])
    # blocks tile the sample clock from 0 without holes or overlaps
    assert blocks[0].t0_s == 0.0
    for a, b in itertools.pairwise(blocks):
        assert b.t0_s == pytest.approx(a.end_s)
    assert [b.seq for b in blocks] == list(range(len(blocks)))
    assert {b.leg for b in blocks} == {"left"}
    if block_s:
        # a block is cut at the first packet that reaches block_s
        assert all(b.n / b.fs_hz < block_s + 0.02 + 1e-9 for b in blocks)


def test_lost_packets_become_one_gap_and_a_jump_in_t0():
    packets, emg = _ref_packets(30, np.random.default_rng(1))
    kept = [(k, p) for k, p in enumerate(packets) if k not in (10, 11, 12)]
    out = _push_all(BlockAssembler(REF, block_s=0.1), kept)
    gaps = [n for n in out if isinstance(n, SourceNotice) and n.kind == "gap"]
    assert len(gaps) == 1
    assert gaps[0].detail["start_s"] == pytest.approx(0.2)
    assert gaps[0].detail["end_s"] == pytest.approx(0.26)
    assert gaps[0].detail["lost_packets"] == 3
    blocks = _series(out, "emg_calf")
    # nothing interpolated: every sample has its own time, and the hole stays empty
    times = np.concatenate([b.t0_s + np.arange(b.n) / b.fs_hz for b in blocks])
    values = np.concatenate([b.samples for b in blocks])
    expected_idx = np.r_[0:200, 260:600]
    np.testing.assert_allclose(times, expected_idx / 1000.0)
    np.testing.assert_array_equal(values, emg[expected_idx, 0])
    # the gap notice comes after the last block before the hole, before the first after it
    kinds = [
        ("gap" if isinstance(x, SourceNotice) else x.t0_s)
        for x in out
        if not isinstance(x, SampleBlock) or x.role == "emg_calf"
    ]
    i = kinds.index("gap")
    assert kinds[i - 1] < 0.2 and kinds[i + 1] == pytest.approx(0.26)


def test_duplicate_packet_is_dropped():
    packets, emg = _ref_packets(10, np.random.default_rng(2))
    seq = [(k, p) for k, p in enumerate(packets)]
    seq.insert(5, (4, packets[4]))
    assembler = BlockAssembler(REF, block_s=0.0)
    out = _push_all(assembler, seq)
    values = np.concatenate([b.samples for b in _series(out, "emg_calf")])
    np.testing.assert_array_equal(values, emg[:, 0])
    assert assembler.stats["duplicates"] == 1


def test_reconnect_outage_is_measured_on_the_sensor_clock():
    packets, _ = _ref_packets(400, np.random.default_rng(3))
    assembler = BlockAssembler(REF, block_s=0.1)
    out = [x for k in range(100) for x in assembler.push(packets[k], 0.02 * k)]
    assembler.new_connection()
    # link down for 5 s of sensor time (250 packets); host clock agrees roughly (+0.3 s)
    out += assembler.push(packets[350], 0.02 * 350 + 0.3)
    gaps = [n for n in out if isinstance(n, SourceNotice)]
    assert len(gaps) == 1 and gaps[0].detail["reason"] == "reconnect"
    assert gaps[0].detail["end_s"] - gaps[0].detail["start_s"] == pytest.approx(5.0)


def test_reconnect_without_sensor_clock_uses_the_host_clock():
    decoder = make_decoder(MYO)
    emg = bytes(16)
    assembler = BlockAssembler(MYO, block_s=0.0)
    for k in range(10):
        assembler.push(decoder.decode(emg, MYO.stream("emg").characteristics[k % 4]), 0.01 * k)
    assembler.new_connection()
    out = assembler.push(decoder.decode(emg, MYO.stream("emg").characteristics[0]), 0.09 + 2.0)
    gap = next(n for n in out if isinstance(n, SourceNotice))
    assert gap.detail["start_s"] == pytest.approx(0.10)
    assert gap.detail["end_s"] == pytest.approx(2.10)


def test_ganglion_sequence_wraps_at_100_without_a_gap():
    assembler = BlockAssembler(GANGLION, block_s=0.0)
    samples = {"emg_calf": np.zeros(2), "emg_tibialis": np.zeros(2)}
    out = []
    for k in range(250):
        out += assembler.push(DecodedPacket("emg", samples, seq=k % 100), 0.01 * k)
    assert not [n for n in out if isinstance(n, SourceNotice)]
    out = assembler.push(DecodedPacket("emg", samples, seq=(250 + 7) % 100), 2.58)
    gap = next(n for n in out if isinstance(n, SourceNotice))
    assert gap.detail["lost_packets"] == 7


def test_unknown_stream_or_empty_packet_is_ignored():
    assembler = BlockAssembler(REF)
    assert assembler.push(DecodedPacket("nope", {"emg_calf": np.zeros(3)}), 0.0) == []
    assert assembler.push(DecodedPacket("data", {}), 0.0) == []
