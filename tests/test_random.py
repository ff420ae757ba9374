"""The counter-based hash: exact against a pure-Python reference, uniform, and free of visible structure."""

import torch

from metarl import random as mrandom

MASK = 0xFFFFFFFF


def lowbias32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK
    return x ^ (x >> 16)


def test_hash_matches_python_reference_bit_for_bit():
    """Checks that 32-bit multiplication wraps on this backend exactly as the definition requires."""
    values = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 123456789, 0xDEADBEEF]
    values += torch.randint(0, 1 << 32, (2000,), generator=torch.Generator().manual_seed(0)).tolist()
    got = mrandom.mix32(mrandom.as_bits(torch.tensor(values))).to(torch.int64) & MASK
    assert got.tolist() == [lowbias32(v) for v in values]


def test_combine_matches_reference_definition():
    keys = mrandom.env_keys(seed=3, count=50)
    got = (mrandom.combine(keys, 12345).to(torch.int64) & MASK).tolist()
    raw = (keys.to(torch.int64) & MASK).tolist()
    assert got == [lowbias32(k ^ ((12345 * 0x9E3779B9) & MASK)) for k in raw]


def test_uniform_matches_reference_definition():
    keys = mrandom.env_keys(seed=3, count=5)
    u = mrandom.uniform(keys, 7, size=4)
    base = (mrandom.combine(keys, 7).to(torch.int64) & MASK).tolist()
    for i, b in enumerate(base):
        for j in range(4):
            bits = lowbias32((b + j * 0x9E3779B9) & MASK)
            top23 = bits >> 9
            assert u[i, j].item() == (top23 + 0.5) / (1 << 23)


def test_uniform_extremes_are_inside_the_open_interval():
    """The smallest and largest possible values are exact in float32 and strictly inside (0, 1)."""
    top = torch.tensor([0, (1 << 23) - 1], dtype=torch.float32)
    u = (top + 0.5) * (1.0 / (1 << 23))
    assert u[0] == 2.0**-24 and u[1] == 1 - 2.0**-24 and torch.isfinite(torch.log1p(-u)).all()


def test_uniform_range_and_moments():
    u = mrandom.uniform(mrandom.env_keys(0, 1000), 0, 1000)
    assert 0 < float(u.min()) and float(u.max()) < 1
    assert abs(float(u.mean()) - 0.5) < 2e-3 and abs(float(u.var()) - 1 / 12) < 1e-3
    counts = torch.histc(u, bins=20, min=0, max=1)
    expected = u.numel() / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 45  # 19 degrees of freedom: p < 0.001 beyond ~43.8


def test_neighbouring_keys_counters_and_lanes_are_uncorrelated():
    keys = mrandom.env_keys(0, 20000)
    steps = torch.arange(4)[:, None]
    u = mrandom.uniform(keys, steps, 3)  # (4 counters, 20000 keys, 3 lanes)
    pairs = [(u[0, :, 0], u[1, :, 0]), (u[0, :-1, 0], u[0, 1:, 0]), (u[0, :, 0], u[0, :, 1])]
    for a, b in pairs:
        assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.03


def test_chunked_and_unchunked_draws_agree():
    keys = mrandom.env_keys(1, 3000)
    big = mrandom.uniform(keys, 5, 100)  # 300k numbers: several chunks
    small = torch.cat([mrandom.uniform(keys[i : i + 1000], 5, 100) for i in range(0, 3000, 1000)])
    assert torch.equal(big, small)


def test_seeds_separate_streams():
    a, b = mrandom.env_keys(0, 100), mrandom.env_keys(1, 100)
    assert len(set(a.tolist()) | set(b.tolist())) == 200
    assert torch.equal(mrandom.env_keys(0, 100)[50:], mrandom.env_keys(0, 50, offset=50))
