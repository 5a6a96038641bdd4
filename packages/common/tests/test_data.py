import gzip
import struct

import numpy as np
import pytest

from fourfold_common.data import (
    FASHION_MNIST_CLASSES,
    ArrayDataset,
    DatasetError,
    list_image_folder,
    load_digits,
    load_fashion_mnist,
    load_idx,
    load_idx_dataset,
    load_image_folder,
    parse_idx,
    split_indices,
    train_val_split,
)


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_mnist_dir(root, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    return images, labels


def test_parse_idx_roundtrip_types():
    for dtype, code in ((np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D)):
        array = np.arange(24, dtype=dtype).reshape(2, 3, 4)
        decoded = parse_idx(_idx_bytes(array, code))
        assert decoded.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01\x00\x08\x01", b"\x00\x00\x77\x01\x00\x00\x00\x01\x00", b"\x00\x00\x08\x02\x00"],
)
def test_parse_idx_rejects_malformed(data):
    with pytest.raises(DatasetError):
        parse_idx(data)


def test_parse_idx_rejects_length_mismatch():
    good = _idx_bytes(np.arange(10, dtype=np.uint8))
    with pytest.raises(DatasetError, match="payload"):
        parse_idx(good[:-1])
    with pytest.raises(DatasetError, match="payload"):
        parse_idx(good + b"\x00")


def test_load_idx_gz_and_raw(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(array)))
    (tmp_path / "b").write_bytes(_idx_bytes(array))
    np.testing.assert_array_equal(load_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(load_idx(tmp_path / "b"), array)
    (tmp_path / "c.gz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(DatasetError, match="gzip"):
        load_idx(tmp_path / "c.gz")
    with pytest.raises(DatasetError, match="cannot read"):
        load_idx(tmp_path / "missing")


def test_load_idx_dataset_from_directory(tmp_path):
    images, labels = _write_mnist_dir(tmp_path)
    test = load_idx_dataset(tmp_path, "test")
    assert test.images.shape == (4, 28, 28)
    np.testing.assert_array_equal(test.images, images)
    np.testing.assert_array_equal(test.labels, labels)
    with pytest.raises(DatasetError, match="split"):
        load_idx_dataset(tmp_path, "val")
    with pytest.raises(DatasetError, match="missing"):
        load_idx_dataset(tmp_path / "nowhere", "train")


def test_fashion_mnist_from_debian_package():
    test = load_fashion_mnist("test")
    assert test.images.shape == (10000, 28, 28)
    assert test.images.dtype == np.uint8
    assert test.class_names == FASHION_MNIST_CLASSES
    assert np.bincount(test.labels).tolist() == [1000] * 10


def test_fashion_mnist_missing_names_debian_package(monkeypatch, tmp_path):
    import fourfold_common.data._idx as idx

    monkeypatch.setattr(idx, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DatasetError, match="dataset-fashion-mnist"):
        load_fashion_mnist("train")


def test_load_digits():
    digits = load_digits()
    assert digits.images.shape == (1797, 8, 8)
    assert int(digits.images.max()) == 16
    assert digits.num_classes == 10


def test_split_is_deterministic_and_partitions():
    train_a, val_a = split_indices(100, 0.25, seed=3)
    train_b, val_b = split_indices(100, 0.25, seed=3)
    np.testing.assert_array_equal(train_a, train_b)
    np.testing.assert_array_equal(val_a, val_b)
    assert len(val_a) == 25
    assert sorted(np.concatenate([train_a, val_a]).tolist()) == list(range(100))
    _, val_c = split_indices(100, 0.25, seed=4)
    assert not np.array_equal(val_a, val_c)


def test_stratified_split_keeps_class_proportions():
    digits = load_digits()
    train, val = train_val_split(digits, 0.2, seed=0)
    assert len(train) + len(val) == len(digits)
    val_share = np.bincount(val.labels, minlength=10) / np.bincount(digits.labels, minlength=10)
    np.testing.assert_allclose(val_share, 0.2, atol=0.01)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(DatasetError):
        split_indices(10, fraction, seed=0)


def test_dataset_validates_labels():
    with pytest.raises(DatasetError, match="disagree"):
        ArrayDataset(np.zeros((2, 2)), np.array([0]), ("a",))
    with pytest.raises(DatasetError, match="labels must lie"):
        ArrayDataset(np.zeros((2, 2)), np.array([0, 2]), ("a", "b"))


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, count in (("cat", 2), ("dog", 3), ("empty", 0)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(
                tmp_path / name / f"{i}.png"
            )
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    entries, names = list_image_folder(tmp_path)
    assert names == ("cat", "dog")
    assert [label for _, label in entries] == [0, 0, 1, 1, 1]
    dataset = load_image_folder(tmp_path)
    assert dataset.images.shape == (5, 6, 5, 3)
    resized = load_image_folder(tmp_path, size=(4, 4), mode="L")
    assert resized.images.shape == (5, 4, 4)
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "cat" / "big.png")
    with pytest.raises(DatasetError, match="different shapes"):
        load_image_folder(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read"):
        load_image_folder(tmp_path, size=(4, 4))
    with pytest.raises(DatasetError, match="no class subfolder"):
        list_image_folder(tmp_path / "empty")
