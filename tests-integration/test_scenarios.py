"""Cross-package scenarios run against the installed packages (in CI: the built wheels).

(a) A discrete-nets artifact and a mulfree-quant artifact, each trained on scikit-learn digits,
    run on the same common engine and the same C export, linked into one program.
(b) tti-probe's train-on-synthetic linear probe is quantized with mulfree-quant (a Dense
    table network), exported to integers, and still classifies natural embeddings within one
    point of the float probe.
(c) delaunay-thumb compresses a synthetic image set and tti-probe's analyses run end to end on
    the decoded thumbnails, whose fidelity degrades in the expected direction.

Each scenario takes well under a minute on one CPU core and needs no source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fourfold_common import engine

CC = shutil.which("cc")
# Without a compiler the C parts skip locally, but fail in CI (CI set), which must have one.
needs_cc = pytest.mark.skipif(
    CC is None and not os.environ.get("CI"), reason="no system C compiler (cc) on PATH"
)
CFLAGS = ("-std=c99", "-Wall", "-Werror", "-O2")
NUMPY_OF = {"uint8_t": "<u1", "uint16_t": "<u2", "int32_t": "<i4", "int64_t": "<i8"}


def _driver(names: list[str]) -> str:
    """A C program running the network named by ``argv[1]`` on samples read from stdin."""
    lines = ["#include <stdio.h>", "#include <string.h>"]
    lines += [f'#include "{name}.h"' for name in names]
    lines += ["", "int main(int argc, char **argv) {", "    if (argc < 2) return 2;"]
    for name in names:
        macro = name.upper()
        lines += [
            f'    if (strcmp(argv[1], "{name}") == 0) {{',
            f"        static {name}_input_t in[{macro}_INPUT_SIZE];",
            f"        static {name}_output_t out[{macro}_OUTPUT_SIZE];",
            "        while (fread(in, sizeof in, 1, stdin) == 1) {",
            f"            int32_t result = {name}_predict(in, out);",
            "            fwrite(&result, sizeof result, 1, stdout);",
            "            fwrite(out, sizeof out, 1, stdout);",
            "        }",
            "        return 0;",
            "    }",
        ]
    return "\n".join([*lines, "    return 3;", "}", ""])


def compile_together(exports: list[engine.CExport], directory: Path) -> Path:
    """Compile every export and one driver into a single program (no symbol may clash)."""
    assert CC is not None, "the C scenarios need a C99 compiler on PATH as `cc`"
    names = [export.function.removesuffix("_predict") for export in exports]
    driver = directory / "driver.c"
    driver.write_text(_driver(names))
    program = directory / "scenario_prog"
    sources = [str(export.source) for export in exports]
    command = [CC, *CFLAGS, "-I", str(directory), "-o", str(program), str(driver), *sources]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    return program


def run_compiled(
    program: Path, export: engine.CExport, inputs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and raw outputs of ``export``'s network in the compiled program."""
    name = export.function.removesuffix("_predict")
    data = inputs.astype(NUMPY_OF[export.input_ctype]).tobytes()
    completed = subprocess.run(
        [str(program), name], input=data, capture_output=True, check=True, timeout=60
    )
    record = np.dtype(
        [("result", "<i4"), ("out", NUMPY_OF[export.output_ctype], (export.output_size,))]
    )
    decoded = np.frombuffer(completed.stdout, dtype=record)
    assert decoded.shape == (len(inputs),)
    return decoded["result"], decoded["out"]


# --- (a) both packages' artifacts on one engine and one C export --------------------------------


def _discrete_nets_artifact(path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A discrete-nets MLP (16 activation levels, 32 shared weight values) trained on digits."""
    import discrete_nets as dn

    train_split, test = dn.load_data("digits")
    config = dn.ModelConfig("mlp", (8, 8), 10, (32,), activation=dn.ActivationSpec("tanh", 16))
    result = dn.train(
        config,
        train_split,
        dn.TrainConfig(epochs=8, batch_size=64, learning_rate=0.02, progress=False),
        dn.ClusterSchedule(num_levels=32, every=1),
    )
    network = dn.export_network(result.model, result.weight_levels, raw_levels=17)
    raw = np.round(test.images * 16).astype(np.int64)
    return engine.save(network, path), raw.reshape(len(raw), *network.input_shape), test.labels


def _mulfree_quant_artifact(path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A mulfree-quant zoo MLP trained on digits, its 8 x 5-level table twin calibrated."""
    import mulfree_quant as mq

    train_split, test = mq.load_dataset("digits")
    float_net = mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=0)
    mq.fit(float_net, train_split, mq.TrainConfig(epochs=4, batch_size=64, progress=False))
    twin = mq.to_table_based(float_net, mq.QuantConfig.for_entries(40, "kmeans"))
    mq.calibrate(twin, train_split.images[:512])
    mq.finalize(twin, train_split.images[:512])
    return mq.export_artifact(twin, path, raw_max=16), test.raw, test.labels


@needs_cc
def test_both_packages_share_the_engine_and_the_c_export(tmp_path):
    artifacts = {
        "dn_mlp": _discrete_nets_artifact(tmp_path / "discrete.ffi"),
        "mq_mlp": _mulfree_quant_artifact(tmp_path / "mulfree.ffi"),
    }
    networks = {name: engine.load(path) for name, (path, _, _) in artifacts.items()}
    assert networks["dn_mlp"].metadata["package"] == "discrete-nets"
    assert networks["mq_mlp"].metadata["package"] == "mulfree-quant"
    # Different op mixes (a global table with a bias row vs per-layer tables) on one format.
    assert len(networks["dn_mlp"].tables) == 1
    assert len(networks["mq_mlp"].tables) >= 2

    exports = [
        engine.export_c(path, tmp_path, name=name) for name, (path, _, _) in artifacts.items()
    ]
    program = compile_together(exports, tmp_path)
    for export, (name, (_, raw, labels)) in zip(exports, artifacts.items(), strict=True):
        network = networks[name]
        expected = engine.run(network, raw)
        accuracy = float(np.mean(np.argmax(expected, axis=1) == labels))
        assert accuracy > 0.6, (name, accuracy)  # trained: far above the 10% of chance
        results, outputs = run_compiled(program, export, raw)
        np.testing.assert_array_equal(outputs, expected.reshape(len(raw), -1))
        np.testing.assert_array_equal(results, np.argmax(expected, axis=1))
        # The memory budget the size report predicts is the one the C export has.
        report = engine.size_report(network)
        assert (report.flash_bytes, report.ram_bytes) == (export.flash_bytes, export.ram_bytes)
        assert export.flash_bytes < export.float32_bytes
        # Narrow tables change nothing but the storage.
        narrow = engine.narrow_tables(network)
        np.testing.assert_array_equal(engine.run(narrow, raw[:64]), expected[:64])


# --- (b) tti-probe's linear probe, quantized by mulfree-quant ---------------------------------


def _probe_as_table_network(probe, train_embeddings: np.ndarray):  # type: ignore[no-untyped-def]
    """mulfree-quant's integer network computing ``probe``'s logits from 8-bit inputs.

    The probe standardises an embedding ``x`` to ``z = (x - mean) / scale`` and computes
    ``W z + b``. Features are mapped to ``[0, 1]`` by one affine map fitted on the training
    embeddings, ``u = (z - lo) / (hi - lo)``, and stored as 8-bit integers; the float model on
    ``u`` has kernel ``(hi - lo) W`` and bias ``b + lo · Σ_k W_k`` (the same logits). That model
    is converted to a table-based twin (16 input levels x 20 weight levels: 320 entries),
    calibrated, snapped and exported to the common engine.
    """
    import mulfree_quant as mq

    kernel = np.asarray(probe.model.out.kernel[...], np.float64)
    bias = np.asarray(probe.model.out.bias[...], np.float64)
    z_train = (train_embeddings - probe.mean) / probe.scale
    lo, hi = (float(v) for v in np.percentile(z_train, [0.1, 99.9]))

    def to_raw(embeddings: np.ndarray) -> np.ndarray:
        z = (np.asarray(embeddings, np.float64) - probe.mean) / probe.scale
        raw = np.clip(np.round((z - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
        return raw.reshape(len(raw), 1, 1, -1)

    dim, classes = kernel.shape
    spec = mq.ModelSpec("probe", (1, 1, dim), (mq.Flatten(), mq.Dense(classes, "none")))
    float_net = mq.FloatNet(spec, seed=0)
    dense = float_net.layers[1].linear
    dense.kernel[...] = (hi - lo) * kernel
    dense.bias[...] = bias + lo * kernel.sum(axis=0)
    twin = mq.to_table_based(float_net, mq.QuantConfig.for_entries(320, "kmeans"))
    calibration = to_raw(train_embeddings).astype(np.float32) / np.float32(255)
    mq.calibrate(twin, calibration)
    mq.finalize(twin, calibration)
    return mq.export(twin, raw_max=255), to_raw


@needs_cc
def test_quantized_probe_classifies_natural_embeddings_like_the_float_probe(tmp_path):
    import tti_probe as tp

    world = tp.simulate(12, 200, 128, seed=0)
    data = world.data
    probe = tp.train_probe(data.synthetic, data.synthetic_labels, data.num_classes)
    float_predictions = probe.predict(data.natural)
    float_accuracy = tp.score_probe(probe, data.natural, data.natural_labels).accuracy
    # A non-trivial probe: far above chance (1/12), clearly below perfect.
    assert 0.5 < float_accuracy < 0.99

    network, to_raw = _probe_as_table_network(probe, data.synthetic)
    (table,) = network.tables.values()
    assert table.shape == (16, 20)  # Na x Nw = 320 entries
    raw = to_raw(data.natural)
    logits = engine.run(network, raw)
    predictions = np.argmax(logits, axis=1)
    accuracy = float(np.mean(predictions == data.natural_labels))
    assert abs(accuracy - float_accuracy) <= 0.01, (accuracy, float_accuracy)
    assert np.mean(predictions == float_predictions) > 0.97

    # The deployed probe: C with no float and no multiply, bit-identical to the executor.
    export = engine.export_c(network, tmp_path, name="probe")
    program = compile_together([export], tmp_path)
    results, outputs = run_compiled(program, export, raw)
    np.testing.assert_array_equal(outputs, logits)
    np.testing.assert_array_equal(results, predictions)


# --- (c) thumbnails of a synthetic set through tti-probe's analyses ---------------------------

CLASSES = {0: "t-shirt", 1: "trouser", 7: "sneaker", 9: "ankle boot"}
BUDGETS = (24, 72)  # bytes per thumbnail: a rough and a finer preview


def _write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    from fourfold_common.io import atomic_open

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        Image.fromarray(pixels).save(handle, format="PNG")
    return path


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(error, 1e-12)))


def test_probe_analyses_run_on_thumbnails_of_a_synthetic_set(tmp_path):
    pytest.importorskip("transformers", reason="tti-probe's embedder needs its hf extra")
    import delaunay_thumb as dt
    import tti_probe as tp
    from fourfold_common.data import load_fashion_mnist

    # Real Fashion-MNIST images stand in for the generated set: the tiny offline pipeline's
    # images are noise-like, so fidelity could not move in a meaningful direction on them.
    test = load_fashion_mnist("test")
    names = list(CLASSES.values())
    synthetic: list[Path] = []
    natural: list[Path] = []
    thumbs: dict[int, list[Path]] = {budget: [] for budget in BUDGETS}
    synthetic_labels: list[int] = []
    natural_labels: list[int] = []
    psnr: dict[int, list[float]] = {budget: [] for budget in BUDGETS}
    for label, fashion_class in enumerate(CLASSES):
        rows = np.flatnonzero(test.labels == fashion_class)
        for number, row in enumerate(rows[:8]):
            image = test.images[row]
            synthetic.append(_write_png(tmp_path / "synthetic" / f"{label}_{number}.png", image))
            synthetic_labels.append(label)
            for budget in BUDGETS:
                stream = dt.encode(image, budget, effort=0)
                assert len(stream) <= budget
                pixels = dt.decode(stream, 28)
                assert pixels.shape == (28, 28, 3)
                psnr[budget].append(_psnr(pixels[..., 0], image))
                name = f"{label}_{number}.png"
                thumbs[budget].append(_write_png(tmp_path / f"thumbs{budget}" / name, pixels))
        for number, row in enumerate(rows[8:24]):
            natural.append(
                _write_png(tmp_path / "natural" / f"{label}_{number}.png", test.images[row])
            )
            natural_labels.append(label)
    # More bytes, closer pixels.
    assert np.mean(psnr[BUDGETS[1]]) > np.mean(psnr[BUDGETS[0]]) > 10.0

    embedder = tp.ClipEmbedder(tp.build_tiny_clip(tmp_path / "clip", seed=0), local_files_only=True)

    def embed(files: list[Path]) -> np.ndarray:
        return tp.embed_images(files, embedder, progress=False)

    originals, naturals = embed(synthetic), embed(natural)
    thumb_embeddings = {budget: embed(files) for budget, files in thumbs.items()}
    text = tp.embed_texts([f"a photo of a {name}." for name in names], embedder)

    # Fidelity against the originals: the rougher preview is further from them.
    rough, fine = (tp.fidelity(originals, thumb_embeddings[b], k=3) for b in BUDGETS)
    assert rough.frechet > fine.frechet > 0.0
    assert rough.cmmd > fine.cmmd
    # The whole analysis on the preview-quality synthetic set.
    data = tp.ProbeData.create(
        names, thumb_embeddings[BUDGETS[0]], synthetic_labels, naturals, natural_labels, text=text
    )
    config = tp.AnalysisConfig(k=3, probe_kinds=("linear",), mixes=(1.0, 0.0), progress=False)
    analysis = tp.analyze(data, config)
    assert [report.name for report in analysis.classes] == names
    assert all(np.isfinite(value) for value in analysis.summary.values()), analysis.summary
    assert analysis.pooled is not None
    assert np.isfinite(analysis.pooled.frechet)
    # Against the natural set, the originals (the same distribution) beat the previews.
    assert analysis.pooled.frechet > tp.fidelity(naturals, originals, k=3).frechet
    for result in analysis.transfer:
        assert 0.0 <= result.accuracy <= 1.0
        assert result.n_train == len(synthetic)


def test_thumbnails_of_a_generated_set_through_the_analyses(tmp_path):
    """The real generation path: tti-probe generates a set with its tiny offline pipeline (a
    manifest of PNGs), delaunay-thumb compresses every image, and the analyses run on the
    decoded previews. The tiny pipeline is untrained (its images are noise-like), so the checks
    are the byte budget, the colour each preview keeps and finite analysis results."""
    pytest.importorskip("diffusers", reason="tti-probe's generation needs its hf extra")
    from PIL import Image

    import delaunay_thumb as dt
    import tti_probe as tp
    from fourfold_common.data import load_fashion_mnist

    classes = tp.fashion_mnist_classes()[:3]
    config = tp.GenerationConfig(
        str(tp.build_tiny_pipeline(tmp_path / "pipeline", seed=0)),
        strategies=("photo",),
        guidance_scales=(1.0,),
        images_per_prompt=5,
        num_inference_steps=2,
        seed=0,
        device="cpu",
        local_files_only=True,
    )
    manifest = tp.generate(classes, config, tmp_path / "generated", progress=False)
    labels = np.asarray(manifest.labels())
    assert np.bincount(labels).tolist() == [5, 5, 5]
    previews: list[Path] = []
    for path in manifest.paths():
        original = np.asarray(Image.open(path).convert("RGB"))
        stream = dt.encode(original, 40, effort=0)
        assert len(stream) <= 40
        pixels = dt.decode(stream, original.shape[:2][::-1])
        assert pixels.shape == original.shape
        # A preview keeps the image's mean colour (the noise itself cannot fit in 40 bytes):
        # within 8 levels, where a flat mid-grey would miss these images by 17 on average.
        mean_error = np.abs(pixels.mean(axis=(0, 1)) - original.mean(axis=(0, 1)))
        assert float(mean_error.max()) < 8.0
        previews.append(_write_png(tmp_path / "previews" / f"{len(previews):03d}.png", pixels))

    test = load_fashion_mnist("test")
    natural: list[Path] = []
    natural_labels: list[int] = []
    for label in range(len(classes)):
        for number, row in enumerate(np.flatnonzero(test.labels == label)[:8]):
            natural.append(
                _write_png(tmp_path / "natural" / f"{label}_{number}.png", test.images[row])
            )
            natural_labels.append(label)
    embedder = tp.ClipEmbedder(tp.build_tiny_clip(tmp_path / "clip", seed=0), local_files_only=True)
    originals = tp.embed_manifest(manifest, embedder, progress=False)
    thumbs = tp.embed_images(previews, embedder, progress=False)
    naturals = tp.embed_images(natural, embedder, progress=False)
    assert thumbs.shape == originals.embeddings.shape
    data = tp.ProbeData.create(
        [c.name for c in classes],
        thumbs,
        labels,
        naturals,
        natural_labels,
        text=tp.embed_texts([f"a photo of a {c.name}." for c in classes], embedder),
    )
    config_a = tp.AnalysisConfig(k=3, probe_kinds=("linear",), mixes=(1.0,), progress=False)
    analysis = tp.analyze(data, config_a)
    assert all(np.isfinite(value) for value in analysis.summary.values()), analysis.summary
    assert analysis.pooled is not None
    assert np.isfinite(tp.fidelity(originals.embeddings, thumbs, k=3).frechet)
