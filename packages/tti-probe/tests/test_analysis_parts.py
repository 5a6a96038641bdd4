from __future__ import annotations

import numpy as np
import pytest

from tti_probe import (
    ProbeConfig,
    ProbeData,
    ProbeInputError,
    clip_scores,
    concept_offsets,
    count_modes,
    load_npz,
    mean_pairwise_cosine,
    modality_gap,
    prompt_collisions,
    save_npz,
    score_probe,
    train_probe,
    zero_shot,
)


def _anisotropic(rng: np.random.Generator, n: int = 240, d: int = 48) -> np.ndarray:
    return rng.normal(size=(n, d)) * np.linspace(3.0, 0.3, d)


def test_planted_two_mode_set_is_found_and_one_mode_is_not_split() -> None:
    rng = np.random.default_rng(0)
    for _ in range(3):
        one = _anisotropic(rng)
        shift = np.zeros(one.shape[1])
        shift[7] = 8.0
        two = np.concatenate([one[:120] + shift, one[120:] - shift])
        assert count_modes(one).count == 1
        found = count_modes(two)
        assert found.count == 2
        np.testing.assert_allclose(found.fractions, [0.5, 0.5], atol=0.03)
        # Each planted half lands (up to a tail point or two) in its own mode.
        first = np.bincount(found.assignments[:120], minlength=2)
        second = np.bincount(found.assignments[120:], minlength=2)
        assert first.max() >= 114
        assert second.max() >= 114
        assert first.argmax() != second.argmax()
    heavy = rng.standard_t(3, size=(240, 48))
    assert count_modes(heavy).count == 1


def test_count_modes_rejects_bad_input() -> None:
    with pytest.raises(ProbeInputError, match="at least 4"):
        count_modes(np.ones((3, 2)))
    with pytest.raises(ProbeInputError, match="max_modes"):
        count_modes(np.random.default_rng(0).normal(size=(20, 3)), max_modes=0)


def test_prompt_collisions_and_geometry_known_answers() -> None:
    text = np.array([[1.0, 0.0, 0.0], [0.999, 0.04, 0.0], [0.0, 0.0, 1.0]])
    found = prompt_collisions(text, 0.95)
    assert [(c.first, c.second) for c in found] == [(0, 1)]
    assert found[0].cosine == pytest.approx(0.999 / np.hypot(0.999, 0.04), rel=1e-6)
    assert modality_gap([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(np.sqrt(2.0), rel=1e-6)
    assert mean_pairwise_cosine([[1.0, 0.0], [0.0, 1.0]]) == pytest.approx(0.0, abs=1e-7)


def test_clip_score_and_zero_shot_known_answers() -> None:
    scores = clip_scores(
        [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], [[2.0, 0.0], [1.0, 0.0], [0.0, -1.0]]
    )
    np.testing.assert_allclose(scores, [100.0, 100.0 / np.sqrt(2.0), 0.0], rtol=1e-6)
    zs = zero_shot([[1.0, 0.1], [0.2, 1.0], [1.0, 0.0]], [0, 1, 1], np.eye(2))
    assert zs.predictions.tolist() == [0, 1, 0]
    assert zs.accuracy == pytest.approx(2 / 3)
    np.testing.assert_allclose(zs.per_class_accuracy, [1.0, 0.5])
    assert zs.confusion.tolist() == [[1, 0], [1, 1]]
    with pytest.raises(ProbeInputError, match="same shape"):
        clip_scores([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])


def test_concept_offsets_known_answer() -> None:
    nat = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    syn = np.array([[1.0, 0.0, 0.0], [1.0, 0.2, 0.0], [0.0, 0.3, 1.0]])
    labels = np.arange(3)
    out = concept_offsets(syn, labels, nat, labels, 3)
    assert out.rank.tolist() == [1, 2, 1]
    assert out.nearest_class.tolist() == [0, 0, 2]
    unit1 = np.array([1.0, 0.2, 0.0]) / np.hypot(1.0, 0.2)
    expected = np.linalg.norm(unit1 - nat[1]) / np.sqrt(2.0)
    assert out.offset[1] == pytest.approx(expected, rel=1e-6)
    assert out.offset[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_learns_and_generalises(kind: str) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 10)) * 3
    y = np.repeat(np.arange(3), 60)
    x = centres[y] + rng.normal(size=(180, 10))
    xt = centres[y] + rng.normal(size=(180, 10))
    probe = train_probe(x, y, 3, ProbeConfig(kind=kind, epochs=30, batch_size=64, hidden=32))  # type: ignore[arg-type]
    score = score_probe(probe, xt, y)
    assert score.accuracy > 0.95
    # Shuffled labels cannot be learnt beyond chance on fresh data.
    shuffled = train_probe(x, rng.permutation(y), 3, ProbeConfig(kind=kind, epochs=30, hidden=32))  # type: ignore[arg-type]
    assert score_probe(shuffled, xt, y).accuracy < 0.6
    with pytest.raises(ProbeInputError, match="kind"):
        ProbeConfig(kind="svm")  # type: ignore[arg-type]


def test_npz_round_trip_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    data = ProbeData.create(
        ["a", "b"],
        rng.normal(size=(6, 3)),
        [0, 1] * 3,
        rng.normal(size=(4, 3)),
        [0, 1] * 2,
        text=rng.normal(size=(2, 3)),
        sense_names=["a (2)"],
        sense_text=rng.normal(size=(1, 3)),
    )
    back = load_npz(save_npz(data, tmp_path / "e.npz"))
    assert back.class_names == ("a", "b")
    assert back.sense_names == ("a (2)",)
    np.testing.assert_array_equal(back.synthetic, data.synthetic)
    assert back.text is not None
    assert back.synthetic_text is None
    with pytest.raises(ProbeInputError, match="no such file"):
        load_npz(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ProbeInputError, match="readable"):
        load_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", synthetic=np.ones((2, 2)))
    with pytest.raises(ProbeInputError, match="missing keys"):
        load_npz(tmp_path / "partial.npz")
