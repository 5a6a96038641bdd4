"""Fuzz the delaunay-thumb decoder: random, crafted, truncated and bit-flipped streams.

Every input must either decode to a uint8 (h, w, 3) image or raise ``DecodeError``; any other
exception, or a decode slower than ``--slow-ms``, is reported with the input (hex) and makes
the exit status 1. Progress is shown with tqdm; the run is deterministic for a given seed.

Usage (from the repository root, in the dev environment)::

    python packages/delaunay-thumb/tools/fuzz_decoder.py --count 100000
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
from tqdm import tqdm

import delaunay_thumb
from delaunay_thumb import DecodeError


def _seeds(rng: random.Random) -> list[bytes]:
    """A few valid streams to mutate (greyscale and colour, several budgets)."""
    out = []
    nprng = np.random.default_rng(rng.randrange(2**32))
    for budget in (12, 40, 120):
        for channels in (1, 3):
            img = nprng.integers(0, 256, (12, 16, channels), dtype=np.uint8)
            out.append(delaunay_thumb.encode(img, budget, effort=0))
    return out


def _mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # pure random
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
    base = bytearray(rng.choice(seeds))
    if kind == 1:  # truncation
        return bytes(base[: rng.randrange(len(base) + 1)])
    if kind == 2:  # bit flips
        for _ in range(rng.randrange(1, 6)):
            pos = rng.randrange(len(base))
            base[pos] ^= 1 << rng.randrange(8)
        return bytes(base)
    if kind == 3:  # crafted header with a random body
        head = bytes([rng.randrange(64), rng.randrange(256)])
        return head + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    # extreme bodies: long runs of 0xFF or 0x00 after any valid-version header
    fill = rng.choice([0x00, 0xFF, 0x55, 0xAA])
    return bytes([rng.randrange(64), rng.randrange(256)]) + bytes([fill]) * rng.randrange(400)


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer; returns 1 if any input crashed, misbehaved or was too slow."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=16, help="output long side")
    parser.add_argument("--slow-ms", type=float, default=2000.0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    seeds = _seeds(rng)
    failures = 0
    decoded = rejected = 0
    slowest = 0.0
    for _ in tqdm(range(args.count), unit="input", mininterval=1.0):
        data = _mutate(rng, seeds)
        start = time.perf_counter()
        try:
            out = delaunay_thumb.decode(data, args.size)
        except DecodeError:
            rejected += 1
        except Exception as err:  # the point of the fuzzer: anything else is a bug
            failures += 1
            print(f"CRASH {type(err).__name__}: {err}: {data.hex()}", file=sys.stderr)
        else:
            decoded += 1
            if out.dtype != np.uint8 or out.ndim != 3 or out.shape[2] != 3:
                failures += 1
                print(f"BAD OUTPUT {out.shape} {out.dtype}: {data.hex()}", file=sys.stderr)
        ms = (time.perf_counter() - start) * 1e3
        slowest = max(slowest, ms)
        if ms > args.slow_ms:
            failures += 1
            print(f"SLOW {ms:.0f} ms: {data.hex()}", file=sys.stderr)
    print(
        f"{args.count} inputs: {decoded} decoded, {rejected} rejected with DecodeError, "
        f"{failures} failures; slowest decode {slowest:.1f} ms"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
