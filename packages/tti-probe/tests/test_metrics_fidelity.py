from __future__ import annotations

import numpy as np
import pytest

from tti_probe import KernelConfig, ProbeInputError, fidelity, frechet_distance, pair_statistics
from tti_probe._metrics_blocks import pair_statistics_many


def _sets(seed: int = 0, n: int = 240, m: int = 200, d: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n, d)).astype(np.float32)
    fake = (rng.normal(size=(m, d)) * 1.3 + 0.4).astype(np.float32)
    return real, fake


def test_prdc_matches_reference_package() -> None:
    prdc = pytest.importorskip("prdc")
    real, fake = _sets()
    for k in (3, 5):
        ours = pair_statistics(real, fake, k, block=64)
        ref = prdc.compute_prdc(real, fake, k)
        for name in ("precision", "recall", "density", "coverage"):
            assert getattr(ours, name) == pytest.approx(float(ref[name]), rel=1e-5), name


def _prdc_reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    import contextlib
    import io

    prdc = pytest.importorskip("prdc")
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        ref = prdc.compute_prdc(real.astype(np.float64), fake.astype(np.float64), k)
    return {name: float(value) for name, value in ref.items()}


@pytest.mark.parametrize("block", [16, 64, 1024])
def test_prdc_equals_float64_reference_with_ties(block: int) -> None:
    # Integer-valued points: many distances tie exactly with a k-NN radius, so every float32
    # comparison near a radius must be redone in float64 to agree with the reference.
    rng = np.random.default_rng(5)
    real = np.round(rng.normal(size=(300, 3)) * 2).astype(np.float32)
    fake = np.round(rng.normal(size=(280, 3)) * 2).astype(np.float32)
    ours = pair_statistics(real, fake, 5, block=block)
    ref = _prdc_reference(real, fake, 5)
    for name in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, name) == pytest.approx(ref[name], rel=1e-12, abs=1e-12), name


def test_prdc_equals_reference_on_clustered_unit_vectors() -> None:
    # Near-duplicate unit vectors in d = 64: float32 expansion errors are largest here.
    rng = np.random.default_rng(6)
    centres = rng.normal(size=(4, 64))
    real = centres[rng.integers(0, 4, 500)] + 0.05 * rng.normal(size=(500, 64))
    fake = centres[rng.integers(0, 4, 450)] + 0.06 * rng.normal(size=(450, 64))
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    fake /= np.linalg.norm(fake, axis=1, keepdims=True)
    real, fake = real.astype(np.float32), fake.astype(np.float32)
    ours = pair_statistics(real, fake, 5, block=128)
    ref = _prdc_reference(real, fake, 5)
    for name in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, name) == pytest.approx(ref[name], rel=1e-12, abs=1e-12), name
    exact = np.sqrt(
        np.sort(((real[:, None].astype(np.float64) - real[None]) ** 2).sum(-1), axis=1)[:, 5]
    )
    np.testing.assert_allclose(ours.real_radii, exact, rtol=1e-12)


def test_many_pairs_equal_one_by_one() -> None:
    rng = np.random.default_rng(7)
    pairs = [
        (rng.normal(size=(30 + 7 * i, 10)), rng.normal(size=(25 + 5 * i, 10))) for i in range(5)
    ]
    pairs.append((rng.normal(size=(90, 10)), rng.normal(size=(70, 10))))  # above the block
    many = pair_statistics_many(pairs, 4, block=64)
    for (real, fake), stats in zip(pairs, many, strict=True):
        one = pair_statistics(real, fake, 4, block=64)
        assert (stats.precision, stats.recall, stats.density, stats.coverage) == (
            one.precision,
            one.recall,
            one.density,
            one.coverage,
        )
        assert stats.kid == pytest.approx(one.kid, rel=1e-5, abs=1e-9)
        assert stats.cmmd == pytest.approx(one.cmmd, rel=1e-5, abs=1e-9)
    with pytest.raises(ProbeInputError, match="different widths"):
        pair_statistics_many([pairs[0], (pairs[1][0][:, :5], pairs[1][1][:, :5])])


def test_block_size_does_not_change_results() -> None:
    real, fake = _sets(1, n=130, m=77)
    a = pair_statistics(real, fake, 4, block=16)
    b = pair_statistics(real, fake, 4, block=1024)
    assert (a.precision, a.recall, a.density, a.coverage) == (
        b.precision,
        b.recall,
        b.density,
        b.coverage,
    )
    assert a.kid == pytest.approx(b.kid, rel=1e-5)
    assert a.cmmd == pytest.approx(b.cmmd, rel=1e-5)
    np.testing.assert_allclose(a.real_radii, b.real_radii, rtol=1e-5)


def test_identical_sets() -> None:
    real, _ = _sets()
    f = fidelity(real, real)
    assert (f.precision, f.recall, f.coverage) == (1.0, 1.0, 1.0)
    assert f.frechet == pytest.approx(0.0, abs=1e-4)
    # The unbiased MMD² of a set with itself is -2 (mean k(x, x) - mean_{i != j} k) / n.
    r = real.astype(np.float64)
    gram = (r @ r.T / r.shape[1] + 1.0) ** 3
    n = len(r)
    off = (gram.sum() - np.trace(gram)) / (n * (n - 1))
    assert f.kid == pytest.approx(-2.0 * (np.trace(gram) / n - off) / n, rel=1e-4)
    assert f.cmmd == pytest.approx(0.0, abs=1e-3)


def test_shifted_set_loses_precision_and_frechet_grows() -> None:
    real, _ = _sets()
    near = fidelity(real, real + 0.1)
    far = fidelity(real, real + 3.0)
    assert far.precision < near.precision
    assert far.frechet > near.frechet
    assert far.frechet == pytest.approx(9.0 * real.shape[1], rel=1e-3)
    assert far.kid > 0
    assert far.kid > near.kid


def _torch_features(x: np.ndarray):  # type: ignore[no-untyped-def]
    import torch

    return torch.from_numpy(x.astype(np.float64))


def _identity_module(d: int):  # type: ignore[no-untyped-def]
    import torch

    class Identity(torch.nn.Module):
        num_features = d

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    return Identity()


def test_frechet_matches_torchmetrics_fid() -> None:
    pytest.importorskip("torch")
    fid_mod = pytest.importorskip("torchmetrics.image.fid")
    real, fake = _sets(2, d=10)
    metric = fid_mod.FrechetInceptionDistance(feature=_identity_module(10), normalize=True)
    metric.update(_torch_features(real), real=True)
    metric.update(_torch_features(fake), real=False)
    ref = float(metric.compute())
    assert frechet_distance(real, fake) == pytest.approx(ref, rel=1e-5)


def test_kid_matches_torchmetrics_on_the_whole_set() -> None:
    pytest.importorskip("torch")
    kid_mod = pytest.importorskip("torchmetrics.image.kid")
    real, fake = _sets(3, n=150, m=150, d=10)
    # One subset of the full size is a permutation of all points: the exact estimator.
    metric = kid_mod.KernelInceptionDistance(
        feature=_identity_module(10), subsets=1, subset_size=150, normalize=True
    )
    metric.update(_torch_features(real), real=True)
    metric.update(_torch_features(fake), real=False)
    ref = float(metric.compute()[0])
    assert pair_statistics(real, fake, 5).kid == pytest.approx(ref, rel=1e-5)


def test_cmmd_matches_direct_formula() -> None:
    real, fake = _sets(4, n=60, m=50, d=6)
    cfg = KernelConfig(cmmd_sigma=2.0, cmmd_scale=1000.0)
    r, f = real.astype(np.float64), fake.astype(np.float64)

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * 2.0**2))

    expected = 1000.0 * (k(r, r).mean() + k(f, f).mean() - 2 * k(r, f).mean())
    assert pair_statistics(real, fake, 3, kernels=cfg).cmmd == pytest.approx(expected, rel=1e-5)


def test_bad_inputs_raise_one_clear_error() -> None:
    real, fake = _sets()
    with pytest.raises(ProbeInputError, match="more than k"):
        pair_statistics(real[:3], fake, 5)
    with pytest.raises(ProbeInputError, match="differ"):
        frechet_distance(real, fake[:, :5])
    bad = real.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ProbeInputError, match="NaN"):
        fidelity(bad, fake)
