"""Decoders against the profile test vectors, round trips through the peripheral-side
encoders, and hypothesis fuzzing: a bad packet is counted and skipped, never raised."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crampwatch.acquire.decoders import make_decoder
from crampwatch.acquire.decoders.reference import crc16
from crampwatch.acquire.profiles import get_profile, list_profiles
from support.encoders import (
    encode_ganglion_compressed,
    encode_ganglion_raw,
    encode_myo_emg,
    encode_myo_imu,
    encode_reference,
)

PROFILES = [p.name for p in list_profiles()]


def _scale(profile, role: str) -> float:
    return profile.emg_uv_per_lsb if role.startswith("emg") else profile.acc_g_per_lsb


@pytest.mark.parametrize("name", PROFILES)
def test_vectors_decode_to_their_counts(name):
    profile = get_profile(name)
    assert profile.vectors, "every profile ships test vectors"
    decoder = make_decoder(profile)  # one decoder, vectors in order (Ganglion is stateful)
    for vector in profile.vectors:
        before = decoder.stats.bad_packets
        stream = profile.stream(vector.stream)
        packet = decoder.decode(vector.packet, stream.characteristics[0])
        if not vector.valid:
            assert packet is None, vector.name
            assert decoder.stats.bad_packets == before + 1, vector.name
            continue
        assert packet is not None, vector.name
        assert packet.stream == vector.stream
        if vector.seq is not None:
            assert packet.seq == vector.seq
        if vector.sensor_time_us is not None:
            assert packet.sensor_time_s == pytest.approx(vector.sensor_time_us / 1e6)
        assert set(vector.counts) <= set(packet.samples), vector.name
        for role, counts in vector.counts.items():
            expected = np.asarray(counts, dtype=float) * _scale(profile, role)
            np.testing.assert_allclose(packet.samples[role], expected, err_msg=vector.name)


def test_crc16_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the published check value of CRC-16/CCITT-FALSE


def test_reference_lead_off_flag_is_surfaced():
    profile = get_profile("crampwatch-ref")
    packet = encode_reference(1, 0, np.zeros((20, 1)), np.zeros((2, 3)), flags=0x80)
    decoded = make_decoder(profile).decode(packet)
    assert decoded.flags["lead_off"] is True
    clean = encode_reference(1, 0, np.zeros((20, 1)), np.zeros((2, 3)))
    assert make_decoder(profile).decode(clean).flags["lead_off"] is False


@settings(max_examples=60, deadline=None)
@given(
    emg=st.lists(st.integers(-32768, 32767), min_size=40, max_size=40),
    acc=st.lists(st.integers(-32768, 32767), min_size=6, max_size=6),
    seq=st.integers(0, 65535),
    t_us=st.integers(0, 2**32 - 1),
)
def test_reference_round_trip(emg, acc, seq, t_us):
    profile = get_profile("crampwatch-ref")
    emg_arr = np.asarray(emg).reshape(20, 2)
    acc_arr = np.asarray(acc).reshape(2, 3)
    decoded = make_decoder(profile).decode(encode_reference(seq, t_us, emg_arr, acc_arr))
    assert decoded.seq == seq
    np.testing.assert_array_equal(decoded.samples["emg_calf"], emg_arr[:, 0] * 0.25)
    np.testing.assert_array_equal(decoded.samples["emg_tibialis"], emg_arr[:, 1] * 0.25)
    np.testing.assert_array_equal(decoded.samples["acc_z"], acc_arr[:, 2] / 4096)


def _representable(bits):
    half = 1 << (bits - 1)
    even = st.integers(0, half - 1).map(lambda v: 2 * v)
    odd_negative = st.integers(1, half).map(lambda v: -(2 * v - 1))
    return st.one_of(even, odd_negative)


@settings(max_examples=60, deadline=None)
@given(
    base=st.lists(st.integers(-(2**22), 2**22), min_size=4, max_size=4),
    d19=st.lists(_representable(19), min_size=8, max_size=8),
    d18=st.lists(_representable(18), min_size=8, max_size=8),
    acc=st.integers(0, 255),
)
def test_ganglion_round_trip(base, d19, d18, acc):
    profile = get_profile("openbci-ganglion")
    decoder = make_decoder(profile)
    base = np.asarray(base)
    d19 = np.asarray(d19).reshape(2, 4)
    d18 = np.asarray(d18).reshape(2, 4)
    s19 = np.vstack([base - d19[0], base - d19[0] - d19[1]])
    s18 = np.vstack([s19[1] - d18[0], s19[1] - d18[0] - d18[1]])
    decoder.decode(encode_ganglion_raw(base))
    out19 = decoder.decode(encode_ganglion_compressed(150, base, s19))
    out18 = decoder.decode(encode_ganglion_compressed(7, s19[1], s18, acc_byte=acc))
    uv = profile.emg_uv_per_lsb
    np.testing.assert_allclose(out19.samples["emg_calf"], s19[:, 0] * uv)
    np.testing.assert_allclose(out18.samples["emg_tibialis"], s18[:, 1] * uv)
    assert out19.seq == 49 and out18.seq == 6


def test_ganglion_accelerometer_completes_on_z_and_needs_a_baseline():
    profile = get_profile("openbci-ganglion")
    decoder = make_decoder(profile)
    zero = np.zeros((2, 4), int)
    assert decoder.decode(encode_ganglion_compressed(1, zero[0], zero)) is None
    assert decoder.stats.reasons["no_baseline"] == 1
    decoder.decode(encode_ganglion_raw(zero[0]))
    got = {}
    for pid, byte in ((1, 10), (2, 0xF6), (3, 62)):
        got = decoder.decode(encode_ganglion_compressed(pid, zero[0], zero, acc_byte=byte)).samples
    assert got["acc_x"][0] == pytest.approx(10 * 0.016)
    assert got["acc_y"][0] == pytest.approx(-10 * 0.016)
    assert got["acc_z"][0] == pytest.approx(62 * 0.016)
    # a Z byte without the X and Y of the same decade yields no acceleration sample
    lone = decoder.decode(encode_ganglion_compressed(13, zero[0], zero, acc_byte=5))
    assert "acc_z" not in lone.samples


def test_myo_round_trip_by_characteristic_and_by_length():
    profile = get_profile("thalmic-myo")
    decoder = make_decoder(profile)
    emg = np.arange(16).reshape(2, 8) - 8
    out = decoder.decode(encode_myo_emg(emg), profile.stream("emg").characteristics[2])
    np.testing.assert_array_equal(out.samples["emg_calf"], emg[:, 0])
    np.testing.assert_array_equal(out.samples["emg_tibialis"], emg[:, 4])
    imu = decoder.decode(encode_myo_imu([2048, 0, -2048]))
    assert imu.stream == "imu"
    assert imu.samples["acc_x"][0] == 1.0 and imu.samples["acc_z"][0] == -1.0


@pytest.mark.parametrize("name", PROFILES)
@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=0, max_size=300), char_index=st.integers(0, 4))
def test_fuzz_never_raises(name, data, char_index):
    profile = get_profile(name)
    decoder = make_decoder(profile)
    uuids = profile.notify_uuids
    result = decoder.decode(data, uuids[char_index % len(uuids)])
    assert decoder.stats.reasons.get("decoder_error", 0) == 0
    if result is None:
        return
    assert decoder.stats.packets == 1
    for role, values in result.samples.items():
        assert role in profile.rates_hz
        assert values.dtype == np.float64 and values.ndim == 1 and np.isfinite(values).all()


@pytest.mark.parametrize("name", PROFILES)
@settings(max_examples=100, deadline=None)
@given(position=st.integers(0, 10_000), bit=st.integers(0, 7), cut=st.integers(0, 300))
def test_garbled_valid_packets_never_raise(name, position, bit, cut):
    profile = get_profile(name)
    for vector in profile.vectors:
        decoder = make_decoder(profile)
        garbled = bytearray(vector.packet)
        garbled[position % len(garbled)] ^= 1 << bit
        for packet in (bytes(garbled), vector.packet[:cut], vector.packet + bytes(cut % 7 + 1)):
            decoder.decode(packet, profile.stream(vector.stream).characteristics[0])
        assert decoder.stats.reasons.get("decoder_error", 0) == 0
