"""Fuzz ``delaunay_thumb.decode`` with untrusted bytes.

The decoder's contract (issue #3): for any input it returns an RGB ``uint8`` image of the
requested size or raises ``delaunay_thumb.DecodeError``; never another exception, never a hang,
never unbounded memory. This script feeds it ``--n`` inputs (default 100000), each generated
deterministically from ``(--seed, index)``:

* random bytes of random length (0-1024);
* truncations of valid streams (every length is equally likely);
* 1-16 bit flips of valid streams;
* byte substitutions, insertions and deletions in valid streams;
* crafted headers: random 2-byte headers followed by nothing, by a random body, or by the body
  of a valid stream; plus the same with the header of a valid stream and a random body;
* valid streams with random bytes appended, and splices of two valid streams.

Valid streams come from ``delaunay_thumb.encode`` (effort 0 by default, which is fast and writes
the same format) on scikit-image photos (and a greyscale one) at several budgets; they are
cached under ``out/fuzz-corpus/`` (encoded again if they go stale). Every input is decoded at
the default size; one in five also at a random ``size`` (an int up to 512 or a ``(width,
height)`` pair up to 256). Checks per input: only ``DecodeError`` is raised; the result is
``uint8`` of shape ``(h, w, 3)`` with the requested size (longest side 64 by default); the call
takes less than ``--time-cap`` seconds (enforced with ``SIGALRM``, so a Python-level hang is
interrupted and reported). The address space is capped (``--memory-mb``), so an unbounded
allocation surfaces as an error, and the peak resident memory is reported. Failing inputs are
saved under ``out/fuzz-failures/``. Progress is checkpointed every 1000 inputs to ``out/fuzz-
state.json``, and a run with the same settings resumes from there (``--fresh`` starts over).

Usage (from the repository root, in the dev environment)::

    python tools/fuzz_delaunay_thumb.py --n 100000

Exit status: 0 if no input broke the contract, 1 otherwise, 2 if the codec is not available.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/OpenCV load: one core

import argparse
import json
import resource
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out"
BUDGETS = (16, 40, 100, 250)
KINDS = (
    "random",
    "truncate",
    "bitflip",
    "edit",
    "header",
    "header-valid",
    "extend",
    "splice",
)
WEIGHTS = (0.15, 0.2, 0.25, 0.1, 0.1, 0.05, 0.1, 0.05)


class _Timeout(BaseException):
    """Raised by the alarm handler; a BaseException so the decoder cannot swallow it."""


@dataclass
class Stats:
    """Counts and timings of a fuzz run (checkpointed, so it survives a resume)."""

    done: int = 0
    accepted: int = 0
    rejected: int = 0
    failures: int = 0
    timeouts: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [accepted, rejected]
    failure_examples: list[str] = field(default_factory=list)
    decode_seconds_total: float = 0.0
    decode_seconds_max: float = 0.0
    slowest: list[float] = field(default_factory=list)  # the 100 largest decode times


def _corpus(api: Any, directory: Path, effort: int) -> list[bytes]:
    """Valid streams, encoded once (at ``effort``) and cached; re-encoded if they go stale."""
    directory.mkdir(parents=True, exist_ok=True)
    cached = [path.read_bytes() for path in sorted(directory.glob("*.bin"))]
    try:
        for stream in cached:
            api.decode(stream)
    except api.DecodeError:
        print("cached corpus no longer decodes (format changed?): encoding it again", flush=True)
        cached = []
    if cached:
        return cached
    from fourfold_common.io import atomic_write_bytes

    try:
        from skimage import data

        from delaunay_thumb._metrics import make_thumbnail

        images = {
            "astronaut": make_thumbnail(data.astronaut(), 64),
            "coffee": make_thumbnail(data.coffee(), 64),
            "camera": make_thumbnail(data.camera(), 64)[:, :, 0],
        }
    except ImportError:  # scikit-image missing: synthetic images
        y, x = np.mgrid[0:48, 0:64]
        ramp = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
        images = {"ramp": ramp, "grey": ramp[:, :, 0]}
    streams = []
    for name, image in images.items():
        for budget in BUDGETS:
            stream = api.encode(image, max_bytes=budget, effort=effort)
            atomic_write_bytes(directory / f"{name}-{budget}.bin", stream)
            streams.append(stream)
            print(f"corpus: {name} at {budget} B -> {len(stream)} bytes", flush=True)
    return streams


def make_input(rng: np.random.Generator, corpus: list[bytes]) -> tuple[str, bytes]:
    """One fuzz input and the name of the mutation that made it."""
    kind = KINDS[int(rng.choice(len(KINDS), p=WEIGHTS))]
    valid = corpus[int(rng.integers(len(corpus)))]

    def noise(length: int) -> bytes:
        return rng.integers(0, 256, length, dtype=np.uint8).tobytes()

    if kind == "random":
        length = int(rng.integers(0, 1025)) if rng.random() < 0.5 else int(rng.integers(0, 9))
        return kind, noise(length)
    if kind == "truncate":
        return kind, valid[: int(rng.integers(0, len(valid)))]
    if kind == "bitflip":
        buffer = bytearray(valid)
        for _ in range(int(rng.integers(1, 17))):
            position = int(rng.integers(len(buffer) * 8))
            buffer[position // 8] ^= 1 << (position % 8)
        return kind, bytes(buffer)
    if kind == "edit":
        buffer = bytearray(valid)
        for _ in range(int(rng.integers(1, 5))):
            position = int(rng.integers(len(buffer) + 1))
            action = rng.integers(3)
            if action == 0 and position < len(buffer):
                buffer[position] = int(rng.integers(256))
            elif action == 1:
                buffer[position:position] = noise(int(rng.integers(1, 9)))
            else:
                del buffer[position : position + int(rng.integers(1, 9))]
        return kind, bytes(buffer)
    if kind == "header":
        header = noise(2)
        tail = rng.integers(3)
        body = b"" if tail == 0 else noise(int(rng.integers(1, 400))) if tail == 1 else valid[2:]
        return kind, header + body
    if kind == "header-valid":
        return kind, valid[:2] + noise(int(rng.integers(0, 400)))
    if kind == "extend":
        return kind, valid + noise(int(rng.integers(1, 200)))
    other = corpus[int(rng.integers(len(corpus)))]
    return kind, valid[: int(rng.integers(len(valid) + 1))] + other[int(rng.integers(len(other))) :]


def _size_argument(rng: np.random.Generator) -> tuple[int, int] | int:
    if rng.random() < 0.5:
        return int(rng.integers(1, 513))
    return int(rng.integers(1, 257)), int(rng.integers(1, 257))


def _check_output(output: Any, size: tuple[int, int] | int | None) -> str | None:
    if not isinstance(output, np.ndarray) or output.dtype != np.uint8 or output.ndim != 3:
        return f"output is not a uint8 (h, w, 3) array: {type(output).__name__}"
    height, width, channels = output.shape
    if channels != 3:
        return f"output has {channels} channels"
    if isinstance(size, tuple):
        if (width, height) != size:
            return f"output {width}x{height}, asked for {size[0]}x{size[1]}"
    elif max(width, height) != (64 if size is None else size):
        return f"output {width}x{height}, asked for a longest side of {size or 64}"
    return None


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-cap", type=float, default=2.0, help="seconds per decode")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space cap")
    parser.add_argument("--fresh", action="store_true", help="ignore the saved progress")
    parser.add_argument(
        "--corpus-effort", type=int, default=0, help="encoder effort for the valid streams"
    )
    parser.add_argument("--state", type=Path, default=OUT / "fuzz-state.json")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--minutes", type=float, default=None, help="stop (resumably) after this many minutes"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.time_cap <= 0:
        parser.error("--n and --time-cap must be positive")

    import delaunay_thumb

    missing = [n for n in ("encode", "decode", "DecodeError") if not hasattr(delaunay_thumb, n)]
    if missing:
        print(f"delaunay_thumb lacks {', '.join(missing)}: nothing to fuzz", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from fourfold_common.io import atomic_write_bytes, atomic_write_text

    corpus = _corpus(delaunay_thumb, OUT / "fuzz-corpus", args.corpus_effort)
    settings = {"seed": args.seed, "n": args.n, "corpus": [len(s) for s in corpus]}
    stats = Stats()
    if args.state.exists() and not args.fresh:
        saved = json.loads(args.state.read_text(encoding="utf-8"))
        if saved.get("settings") == settings:
            stats = Stats(**saved["stats"])
            print(f"resuming at input {stats.done}", flush=True)

    limit = args.memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.signal(signal.SIGALRM, _alarm)
    decode, decode_error = delaunay_thumb.decode, delaunay_thumb.DecodeError
    start = time.perf_counter()

    def save() -> None:
        state = {"settings": settings, "stats": asdict(stats)}
        atomic_write_text(args.state, json.dumps(state))

    bar = tqdm(total=args.n, initial=stats.done, disable=args.no_progress, desc="fuzz decode")
    for index in range(stats.done, args.n):
        if args.minutes is not None and time.perf_counter() - start > 60 * args.minutes:
            print(f"time limit reached: stopping at input {index} (rerun to resume)")
            break
        rng = np.random.default_rng([args.seed, index])
        kind, data = make_input(rng, corpus)
        counts = stats.by_kind.setdefault(kind, [0, 0])
        sizes: list[tuple[int, int] | int | None] = [None]
        if rng.random() < 0.2:
            sizes.append(_size_argument(rng))
        for size in sizes:
            problem = None
            began = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, args.time_cap)
            try:
                output = decode(data) if size is None else decode(data, size)
            except decode_error:
                output = None
            except _Timeout:
                output, problem = None, f"no result within {args.time_cap} s"
                stats.timeouts += 1
            except Exception as error:  # anything else breaks the contract
                output, problem = None, f"{type(error).__name__}: {error}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            elapsed = time.perf_counter() - began
            stats.decode_seconds_total += elapsed
            stats.decode_seconds_max = max(stats.decode_seconds_max, elapsed)
            stats.slowest = sorted([*stats.slowest, elapsed])[-100:]
            if output is not None and problem is None:
                problem = _check_output(output, size)
            if problem is not None:
                stats.failures += 1
                path = OUT / "fuzz-failures" / f"{args.seed}-{index}-{kind}.bin"
                atomic_write_bytes(path, data)
                if len(stats.failure_examples) < 20:
                    stats.failure_examples.append(f"{path.name} (size={size}): {problem}")
            elif output is None:
                stats.rejected += 1
                counts[1] += 1
            else:
                stats.accepted += 1
                counts[0] += 1
        stats.done = index + 1
        bar.update(1)
        if stats.done % 1000 == 0:
            save()
    bar.close()
    save()

    seconds = time.perf_counter() - start
    calls = stats.accepted + stats.rejected + stats.failures
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"inputs: {stats.done} of {args.n} (decode calls: {calls}); {seconds:.1f} s in this session"
    )
    print(f"decoded: {stats.accepted}, rejected with DecodeError: {stats.rejected}")
    print(f"contract broken: {stats.failures} (of which timeouts: {stats.timeouts})")
    for kind, (accepted, rejected) in sorted(stats.by_kind.items()):
        print(f"  {kind:13s} decoded {accepted:7d}  rejected {rejected:7d}")
    mean_ms = 1000 * stats.decode_seconds_total / max(calls, 1)
    p99_ms = 1000 * stats.slowest[0] if len(stats.slowest) == 100 else float("nan")
    print(
        f"decode time: mean {mean_ms:.2f} ms, max {1000 * stats.decode_seconds_max:.1f} ms, "
        f"100th slowest {p99_ms:.1f} ms; peak RSS {peak_mb:.0f} MiB "
        f"(address space capped at {args.memory_mb} MiB)"
    )
    for example in stats.failure_examples:
        print("  failure:", example)
    return 1 if stats.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
