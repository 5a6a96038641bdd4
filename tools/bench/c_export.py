"""Benchmark the C export of integer networks: memory budget and compiled C vs numpy executor.

For every model: flash bytes of the generated C constants (and the compiled code size), peak
RAM of its static activation buffers, both against the float32 bytes of the same weights and
biases; then the time per image of the compiled C (``cc -std=c99 -O2``, one image per call, as
on a microcontroller) and of the numpy executor (``fourfold_common.engine.run``, batches of 256),
measured side by side in the same run on the same Fashion-MNIST test images, with the C outputs
checked bit for bit against the executor's.

Models: integer networks with the zoo architectures at Fashion-MNIST scale (28x28x1, uint8 pixels)
built here with random table entries and weight indices; every activation is calibrated on real
images (quantile plateaus) so the indices do not saturate. ``mq-*`` follow mulfree-quant (a
``Na x Nw`` table per layer, shift activations, requantized residual adds, average pooling through
lookups), ``dn-*`` follow discrete-nets (one global ``(|A|+1) x |W|`` table with a bias row,
threshold activations). Sizes and speed do not depend on training.

Usage:
    OMP_NUM_THREADS=1 python tools/bench/c_export.py [--images 2000] [--out docs/benchmarks]

An interrupted run resumes: finished models are kept in ``<out>/c-export.partial.json`` (used
when the image count and repeats match) and the file is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The sibling benchmark scripts (tools/bench/mulfree_quant.py, discrete_nets.py) would shadow
# the packages of the same name: drop this folder from the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from fourfold_common import engine  # noqa: E402
from fourfold_common.data import load_fashion_mnist  # noqa: E402
from fourfold_common.engine import (  # noqa: E402
    Add,
    Conv,
    Dense,
    Flatten,
    IntegerNetwork,
    Lookup,
    MaxPool,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)
from fourfold_common.io import atomic_write_text, make_run_record, write_run_record  # noqa: E402

CFLAGS = ["-std=c99", "-Wall", "-Werror", "-O2"]
NUMPY_OF = {"uint8_t": "<u1", "uint16_t": "<u2", "int32_t": "<i4", "int64_t": "<i8"}

DRIVER = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "NAME.h"

static NAME_input_t inputs[COUNT][MACRO_INPUT_SIZE];
static NAME_output_t outputs[COUNT][MACRO_OUTPUT_SIZE];

int main(int argc, char **argv) {
    struct timespec start, stop;
    long repeats = argc > 1 ? atol(argv[1]) : 1, r, s;
    double best = 1e30, seconds;
    volatile long sink = 0;
    if (fread(inputs, sizeof inputs, 1, stdin) != 1) return 2;
    for (r = 0; r < repeats; r++) {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
        for (s = 0; s < COUNT; s++) sink += NAME_predict(inputs[s], outputs[s]);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &stop);
        seconds = (stop.tv_sec - start.tv_sec) + 1e-9 * (stop.tv_nsec - start.tv_nsec);
        if (seconds < best) best = seconds;
    }
    fwrite(outputs, sizeof outputs, 1, stdout);
    fprintf(stderr, "%.9f\n", best);
    return sink == -12345 ? 1 : 0;
}
"""


class Builder:
    """Appends random table layers to an integer network, calibrating activations on images."""

    def __init__(self, images: np.ndarray, seed: int, levels: int) -> None:
        self.images = images
        self.rng = np.random.default_rng(seed)
        self.ops: list = []
        self.tables: dict[str, np.ndarray] = {}
        self.levels = levels
        pixels = np.minimum((np.arange(256) * levels) >> 8, levels - 1)
        self.current = self.add(Lookup("input", "x0", pixels, levels=levels))

    def add(self, op) -> str:
        self.ops.append(op)
        return op.output

    def network(self, output: str) -> IntegerNetwork:
        return IntegerNetwork(
            tuple(self.ops), dict(self.tables), self.images.shape[1:], 256, output
        )

    def values(self, buffer: str) -> np.ndarray:
        return engine.run(self.network(buffer), self.images)

    def name(self, prefix: str) -> str:
        return f"{prefix}{len(self.ops)}"

    def activate(self, acc: str, kind: str, levels: int) -> str:
        values = self.values(acc).ravel()
        quantiles = np.quantile(values, np.arange(1, levels) / levels)
        if kind == "threshold":
            return self.add(
                ThresholdActivation(acc, self.name("x"), np.ceil(quantiles).astype(np.int64))
            )
        low, high = int(np.quantile(values, 0.01)), int(np.quantile(values, 0.99))
        shift = 0
        while (high >> shift) - (low >> shift) + 1 > 64:
            shift += 1
        bins = np.arange(low >> shift, (high >> shift) + 1) << shift
        table = np.searchsorted(quantiles, bins, side="right").astype(np.int32)
        op = ShiftActivation(acc, self.name("x"), shift, low >> shift, table, levels)
        return self.add(op)

    def table(self, rows: int, columns: int, *, name: str | None = None) -> str:
        key = name or f"T{len(self.tables)}"
        if key not in self.tables:
            entries = self.rng.normal(0, 600, size=(rows, columns)).round()
            self.tables[key] = entries.astype(np.int32)
        return key

    def conv(
        self,
        features: int,
        kernel: int,
        *,
        stride: int = 1,
        pad: int = 0,
        groups: int = 1,
        nw: int = 16,
        table: str | None = None,
        bias_row: int = -1,
    ) -> str:
        channels = engine.infer_buffers(self.network(self.current))[self.current].shape[-1]
        key = table or self.table(self.levels, nw)
        nw = self.tables[key].shape[1]
        weights = self.rng.integers(0, nw, size=(kernel, kernel, channels // groups, features))
        bias = {"bias": self.rng.integers(-500, 500, size=features)}
        if bias_row >= 0:
            bias = {"bias_index": self.rng.integers(0, nw, size=features), "bias_row": bias_row}
        op = Conv(
            self.current,
            self.name("a"),
            key,
            weights,
            (stride, stride),
            (pad, pad, pad, pad),
            groups,
            pad_index=0,
            **bias,
        )
        return self.add(op)

    def dense(
        self, units: int, *, nw: int = 16, table: str | None = None, bias_row: int = -1
    ) -> str:
        fan_in = engine.infer_buffers(self.network(self.current))[self.current].shape[0]
        key = table or self.table(self.levels, nw)
        nw = self.tables[key].shape[1]
        weights = self.rng.integers(0, nw, size=(fan_in, units))
        bias = {"bias": self.rng.integers(-500, 500, size=units)}
        if bias_row >= 0:
            bias = {"bias_index": self.rng.integers(0, nw, size=units), "bias_row": bias_row}
        return self.add(Dense(self.current, self.name("a"), key, weights, **bias))

    def layer(self, kind: str, make: Callable[[], str]) -> None:
        self.current = make()
        self.current = self.activate(self.current, kind, self.levels)

    def pool(self, size: int) -> None:
        self.current = self.add(MaxPool(self.current, self.name("p"), (size, size), (size, size)))

    def global_average(self) -> None:
        height, width, _ = engine.infer_buffers(self.network(self.current))[self.current].shape
        levels = np.arange(self.levels) << 4
        values = self.add(Lookup(self.current, self.name("v"), levels, kind="value"))
        summed = self.add(SumPool(values, self.name("s"), (height, width), (height, width)))
        self.current = self.activate(summed, "shift", self.levels)

    def flatten(self) -> None:
        self.current = self.add(Flatten(self.current, self.name("f")))

    def logits(self, classes: int, **kwargs) -> IntegerNetwork:
        if len(self.shape()) > 1:
            self.flatten()
        return self.network(self.dense(classes, **kwargs))

    def shape(self) -> tuple[int, ...]:
        return engine.infer_buffers(self.network(self.current))[self.current].shape


def mq_mlp(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 1, 16)
    b.flatten()
    b.layer("shift", lambda: b.dense(128))
    b.layer("shift", lambda: b.dense(64))
    return b.logits(10)


def mq_lenet5(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 2, 16)
    b.layer("shift", lambda: b.conv(6, 5, pad=2))
    b.pool(2)
    b.layer("shift", lambda: b.conv(16, 5))
    b.pool(2)
    b.flatten()
    b.layer("shift", lambda: b.dense(120))
    b.layer("shift", lambda: b.dense(84))
    return b.logits(10)


def mq_resnet(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 3, 16)
    b.layer("shift", lambda: b.conv(16, 3, pad=1))
    for stage, features in enumerate((16, 32)):
        if stage:
            b.layer("shift", lambda f=features: b.conv(f, 3, stride=2, pad=1))
        skip = b.current
        b.layer("shift", lambda f=features: b.conv(f, 3, pad=1))
        b.layer("shift", lambda f=features: b.conv(f, 3, pad=1))
        requant = np.minimum(np.add.outer(np.arange(16), np.arange(16)) >> 1, 15)
        b.current = b.add(Add(skip, b.current, b.name("r"), requant, 16))
    b.global_average()
    return b.logits(10)


def mq_mobilenet(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 4, 16)
    b.layer("shift", lambda: b.conv(16, 3, stride=2, pad=1))
    for features, stride in ((32, 1), (64, 2), (64, 1)):
        channels = b.shape()[-1]
        b.layer("shift", lambda c=channels, s=stride: b.conv(c, 3, stride=s, pad=1, groups=c))
        b.layer("shift", lambda f=features: b.conv(f, 1))
    b.global_average()
    return b.logits(10)


def mq_alexnet(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 5, 16)
    b.layer("shift", lambda: b.conv(32, 5, pad=2))
    b.pool(2)
    b.layer("shift", lambda: b.conv(64, 3, pad=1))
    b.pool(2)
    b.layer("shift", lambda: b.conv(96, 3, pad=1))
    b.layer("shift", lambda: b.conv(64, 3, pad=1))
    b.pool(2)
    b.flatten()
    b.layer("shift", lambda: b.dense(256))
    return b.logits(10)


def _global_table(b: Builder, activation_levels: int, weight_levels: int) -> str:
    return b.table(activation_levels + 1, weight_levels, name="G")


def dn_mlp(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 6, 32)
    table = _global_table(b, 32, 1000)
    b.flatten()
    b.layer("threshold", lambda: b.dense(128, table=table, bias_row=32))
    b.layer("threshold", lambda: b.dense(64, table=table, bias_row=32))
    return b.logits(10, table=table, bias_row=32)


def dn_lenet(images: np.ndarray) -> IntegerNetwork:
    b = Builder(images, 7, 32)
    table = _global_table(b, 32, 1000)
    b.layer("threshold", lambda: b.conv(6, 5, pad=2, table=table, bias_row=32))
    b.pool(2)
    b.layer("threshold", lambda: b.conv(16, 5, table=table, bias_row=32))
    b.pool(2)
    b.flatten()
    b.layer("threshold", lambda: b.dense(120, table=table, bias_row=32))
    b.layer("threshold", lambda: b.dense(84, table=table, bias_row=32))
    return b.logits(10, table=table, bias_row=32)


MODELS: dict[str, Callable[[np.ndarray], IntegerNetwork]] = {
    "mq-mlp": mq_mlp,
    "mq-lenet5": mq_lenet5,
    "mq-resnet": mq_resnet,
    "mq-mobilenet": mq_mobilenet,
    "mq-alexnet": mq_alexnet,
    "dn-mlp": dn_mlp,
    "dn-lenet": dn_lenet,
}


def zoo_models() -> dict[str, Callable[[np.ndarray], IntegerNetwork]]:
    """The packages' own models, exported by the packages, when they are installed.

    mulfree-quant: every ``ZOO`` model as an untrained table twin with 40 entries per layer
    (8 activation x 5 weight levels, Laplacian placement), weights re-clustered and snapped,
    activations calibrated on the calibration images, exported. discrete-nets: the MLP and the
    LeNet-style CNN at their default sizes, |A| = 32, parameters snapped to |W| = 1000 shared
    values (the clustering step every training run ends on), exported. Sizes and speed do not
    depend on training.
    """
    models: dict[str, Callable[[np.ndarray], IntegerNetwork]] = {}
    try:
        import mulfree_quant as mq
    except ImportError:
        mq = None
    if mq is not None:
        for name in sorted(mq.ZOO):

            def build_mq(images: np.ndarray, name: str = name) -> IntegerNetwork:
                twin = mq.to_table_based(
                    mq.zoo_model(name), mq.QuantConfig.for_entries(40, "laplacian")
                )
                mq.recluster_weights(twin)
                mq.snap_weights(twin)
                mq.calibrate_activations(twin, images.astype(np.float32) / 255, passes=1)
                return mq.export(twin)

            models[f"zoo-mq-{name}"] = build_mq
    try:
        import jax
        from flax import nnx

        import discrete_nets as dn
    except ImportError:
        dn = None
    if dn is not None:
        for arch in ("mlp", "cnn"):

            def build_dn(images: np.ndarray, arch: str = arch) -> IntegerNetwork:
                del images
                config = dn.ModelConfig(
                    arch, (28, 28), 10, activation=dn.ActivationSpec("tanh", 32)
                )
                graphdef, params, rest = nnx.split(dn.build_model(config), nnx.Param, ...)
                leaves, treedef = jax.tree.flatten(params)
                levels, indices = dn.cluster_arrays(
                    [np.asarray(leaf) for leaf in leaves], dn.ClusterSchedule(num_levels=1000)
                )
                snapped = [levels[index].astype(np.float32) for index in indices]
                model = nnx.merge(graphdef, jax.tree.unflatten(treedef, snapped), rest)
                return dn.export_network(model, levels, raw_levels=256)

            models[f"zoo-dn-{arch}"] = build_dn
    return models


def code_bytes(obj: Path) -> dict[str, int]:
    """Sizes of the sections of a compiled object (``size -A``)."""
    text = subprocess.run(["size", "-A", str(obj)], capture_output=True, text=True, check=True)
    sections: dict[str, int] = {}
    for line in text.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return sections


def measure(name: str, built: IntegerNetwork, inputs: np.ndarray, repeats: int, work: Path) -> dict:
    cname = name.replace("-", "_")
    inputs = inputs.reshape(len(inputs), *built.input_shape)  # discrete-nets MLPs take flat pixels
    # Narrow tables: every table held at the smallest signed width of its entries, in numpy (the
    # executor's gathers) as in C. Results must not change.
    net = engine.narrow_tables(built)
    if not np.array_equal(engine.run(net, inputs[:64]), engine.run(built, inputs[:64])):
        raise AssertionError(f"{name}: narrowing the tables changed the results")
    widths = sorted({table.dtype.name for table in net.tables.values()})
    int32_extra = sum((4 - table.dtype.itemsize) * table.size for table in net.tables.values())
    export = engine.export_c(net, work, name=cname)
    driver = work / f"{cname}_bench.c"
    driver.write_text(
        DRIVER.replace("NAME", cname)
        .replace("MACRO", cname.upper())
        .replace("COUNT", str(len(inputs)))
    )
    program = work / f"{cname}_bench"
    subprocess.run(["cc", *CFLAGS, "-o", str(program), str(driver), str(export.source)], check=True)
    obj = work / f"{cname}.o"
    subprocess.run(["cc", *CFLAGS, "-c", "-o", str(obj), str(export.source)], check=True)
    sections = code_bytes(obj)

    completed = subprocess.run(
        [str(program), str(repeats)],
        input=inputs.astype(NUMPY_OF[export.input_ctype]).tobytes(),
        capture_output=True,
        check=True,
    )
    c_seconds = float(completed.stderr.decode().strip().splitlines()[-1])
    c_out = np.frombuffer(completed.stdout, dtype=NUMPY_OF[export.output_ctype])
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        expected = engine.run(net, inputs, batch_size=256)
        best = min(best, time.process_time() - start)
    identical = bool(
        np.array_equal(
            c_out.reshape(expected.shape[0], -1), expected.reshape(expected.shape[0], -1)
        )
    )
    predictions = np.argmax(expected.reshape(len(inputs), -1), axis=1)
    parameters = sum(
        op.weights.size + op.weights.shape[-1] for op in net.ops if isinstance(op, (Dense, Conv))
    )
    return {
        "model": name,
        "ops": len(net.ops),
        "parameters": int(parameters),
        "float32_bytes": export.float32_bytes,
        "flash_bytes": export.flash_bytes,
        "flash_ratio": export.flash_bytes / export.float32_bytes,
        "flash_parts": dict(export.flash_parts),
        "table_dtypes": widths,
        "table_bytes": sum(v for k, v in export.flash_parts.items() if k.startswith("table:")),
        "flash_bytes_int32_tables": export.flash_bytes + int(int32_extra),
        "code_text_bytes": sections.get(".text", 0),
        "ram_bytes": export.ram_bytes,
        "ram_ratio": export.ram_bytes / export.float32_bytes,
        "numpy_us_per_image": 1e6 * best / len(inputs),
        "c_us_per_image": 1e6 * c_seconds / len(inputs),
        "c_speedup": best / c_seconds,
        "bit_identical": identical,
        "distinct_predictions": len(np.unique(predictions)),
    }


def markdown(rows: list[dict], command: str, images: int, repeats: int) -> str:
    lines = [
        "# C export of integer networks: memory and speed",
        "",
        f"Command: `{command}`",
        "",
        f"Fashion-MNIST test images: {images} (calibration: the first 256 training images). "
        f"Timings: process CPU time (the machine is shared, so wall time would count other "
        f"people's work), best of {repeats} passes, single thread, measured side by side in one "
        "run. C: `cc -std=c99 -Wall -Werror -O2`, one image per `predict` call. numpy: "
        "`fourfold_common.engine.run`, batches of 256. `C speed-up` = numpy time / C time.",
        "",
        "Models (sizes and speed do not depend on training). `zoo-mq-*`: mulfree-quant's own "
        "zoo, untrained twins with 40 table entries per layer (8 activation x 5 weight levels, "
        "3-bit weights), weights snapped, activations calibrated on the calibration images, "
        "exported by mulfree-quant. `zoo-dn-*`: discrete-nets' MLP and LeNet-style CNN at their "
        "default sizes, |A| = 32, parameters snapped to |W| = 1000 shared values (10-bit "
        "indices, one global table), exported by discrete-nets with its default "
        "`table_bits=16` (fixed-point shift chosen so the entries fit int16). `mq-*` / `dn-*`: "
        "the same "
        "families built here with random integer tables and weight indices (activations "
        "calibrated on real images): `mq-*` 16 x 16 levels (4-bit weights), a table per layer, "
        "shift activations; `dn-*` |A| = 32, |W| = 1000, one global table with a bias row, "
        "threshold activations.",
        "",
        "Narrow tables: every model's tables are held at the smallest signed width of their "
        "entries (`engine.narrow_tables`; `tables`: that width) by the numpy executor and in "
        "C (`int8_t`/`int16_t` const arrays); the results are checked unchanged. Flash: bytes "
        "of the generated `const` arrays (tables at that width, weight and bias indices "
        "bit-packed); `table B`: the product tables' share; `flash, int32 tables`: the same "
        "with every table entry stored as `int32_t`, for comparison. Code: `.text` of the "
        "compiled object (x86-64, -O2). RAM: the static activation arenas and accumulator "
        "scratch (the caller's input and output arrays excluded). Ratios are against the "
        "float32 weights and biases.",
        "",
        "| model | params | float32 B | tables | table B | C flash B | flash / f32 | "
        "flash, int32 tables | code B | RAM B | RAM / f32 | numpy us/img | C us/img | "
        "C speed-up | bit-identical | distinct classes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        int32_ratio = row["flash_bytes_int32_tables"] / row["float32_bytes"]
        lines.append(
            f"| {row['model']} | {row['parameters']} | {row['float32_bytes']} | "
            f"{'/'.join(row['table_dtypes'])} | {row['table_bytes']} | "
            f"{row['flash_bytes']} | {row['flash_ratio']:.3f} | "
            f"{row['flash_bytes_int32_tables']} ({int32_ratio:.3f}) | "
            f"{row['code_text_bytes']} | {row['ram_bytes']} | {row['ram_ratio']:.3f} | "
            f"{row['numpy_us_per_image']:.1f} | {row['c_us_per_image']:.1f} | "
            f"{row['c_speedup']:.2f}x | "
            f"{'yes' if row['bit_identical'] else 'NO'} | {row['distinct_predictions']} |"
        )
    speedups = np.array([row["c_speedup"] for row in rows])
    zoo = [row for row in rows if row["model"].startswith("zoo-")]
    lines += [
        "",
        f"C vs numpy speed ratio: geometric mean {np.exp(np.mean(np.log(speedups))):.2f}x over "
        f"all {len(rows)} models (range {speedups.min():.2f}x to {speedups.max():.2f}x).",
    ]
    if zoo:
        ratios = [row["flash_ratio"] for row in zoo]
        lines.append(
            f"Zoo models ({len(zoo)}): C flash / float32 from {min(ratios):.3f} to "
            f"{max(ratios):.3f}; "
            f"every C output bit-identical to the executor: "
            f"{'yes' if all(r['bit_identical'] for r in zoo) else 'NO'}."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    available = MODELS | zoo_models()
    parser.add_argument("--models", nargs="*", default=list(available), choices=list(available))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if shutil.which("cc") is None or shutil.which("size") is None:
        print("needs a C compiler (cc) and binutils (size) on PATH", file=sys.stderr)
        return 2
    command = "OMP_NUM_THREADS=1 python tools/bench/c_export.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    train = load_fashion_mnist("train").images[:256, :, :, None]
    test = load_fashion_mnist("test").images[: args.images, :, :, None]
    # Resume: finished models (C and numpy measured side by side) are kept in a partial file.
    partial = args.out / "c-export.partial.json"
    key = {"images": len(test), "repeats": args.repeats, "rows": 2}  # 2: narrow-table rows
    done: dict[str, dict] = {}
    if partial.exists():
        saved = json.loads(partial.read_text())
        if saved.get("key") == key:
            done = saved["rows"]
    with tempfile.TemporaryDirectory() as work:
        for name in tqdm(args.models, desc="models"):
            if name not in done:
                net = available[name](train)
                done[name] = measure(name, net, test, args.repeats, Path(work))
                atomic_write_text(partial, json.dumps({"key": key, "rows": done}))
            tqdm.write(json.dumps({k: v for k, v in done[name].items() if k != "flash_parts"}))
    rows = [done[name] for name in args.models]
    text = markdown(rows, command.strip(), len(test), args.repeats)
    print(text)
    atomic_write_text(args.out / "c-export.md", text)
    record = make_run_record(
        "c-export bench",
        vars(args) | {"out": str(args.out)},
        {"models": rows},
        packages=["fourfold-common", "numpy"],
        command=command.strip(),
    )
    write_run_record(args.out / "c-export.json", record)
    partial.unlink()
    return 0 if all(row["bit_identical"] for row in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
