import numpy as np
import pytest

from crampwatch.blocks import SampleBlock


def test_block_converts_and_times():
    b = SampleBlock("emg_calf", 2.0, 500.0, np.arange(250, dtype=np.int16))
    assert b.samples.dtype == np.float64 and b.n == 250 and b.end_s == pytest.approx(2.5)


@pytest.mark.parametrize(
    "kwargs",
    [dict(role="emg_left"), dict(fs_hz=0.0), dict(samples=np.zeros((2, 2)))],
)
def test_block_rejects_bad_values(kwargs):
    args = dict(role="acc_x", t0_s=0.0, fs_hz=100.0, samples=np.zeros(4))
    args.update(kwargs)
    with pytest.raises(ValueError):
        SampleBlock(**args)
