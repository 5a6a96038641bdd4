"""Two real processes (2 CPU devices each) train like one process with 4 devices or 1 device."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax", reason="fourfold_common.parallel needs the [parallel] extra")

WORKER = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from fourfold_common.data import load_digits
    from fourfold_common.parallel import (data_mesh, initialize_distributed, is_main_process,
                                          replicate, shard_batch)

    mode = sys.argv[1]
    if mode == "multi":
        topology = initialize_distributed(timeout_s=60)  # from JAX_* environment variables
        assert (topology.process_count, topology.local_device_count) == (2, 2), topology
        assert topology.device_count == 4
        meshes = {"2x2": data_mesh()}
    else:
        meshes = {"1x1": data_mesh(jax.devices()[:1]), "1x4": data_mesh(jax.devices()[:4])}

    digits = load_digits()
    x_all = (digits.images.reshape(len(digits), -1) / 16.0).astype(np.float32)[:384]
    y_all = digits.labels.astype(np.int32)[:384]

    def loss_fn(params, x, y):
        hidden = jnp.tanh(x @ params["w1"] + params["b1"])
        logits = hidden @ params["w2"] + params["b2"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return jax.tree.map(lambda p, g: p - 0.5 * g, params, grads), loss

    out = {}
    for name, mesh in meshes.items():
        rng = np.random.default_rng(0)
        params = {
            "w1": rng.normal(0, 0.1, (64, 32)).astype(np.float32), "b1": np.zeros(32, np.float32),
            "w2": rng.normal(0, 0.1, (32, 10)).astype(np.float32), "b2": np.zeros(10, np.float32),
        }
        params = replicate(params, mesh)
        losses = []
        for epoch in range(2):
            order = np.random.default_rng([1, epoch]).permutation(len(x_all))
            for start in range(0, len(order), 64):
                rows = order[start:start + 64]
                params, loss = step(params, shard_batch(x_all[rows], mesh),
                                    shard_batch(y_all[rows], mesh))
                losses.append(float(loss))
        flat = np.concatenate([np.ravel(np.asarray(params[k])) for k in sorted(params)])
        out[name] = {"params": flat.tolist(), "losses": losses, "main": is_main_process()}
    print("RESULT " + json.dumps(out))
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(devices: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    kept = [f for f in env.get("XLA_FLAGS", "").split() if "host_platform_device_count" not in f]
    # first: XLA stops reading flags at a malformed token (e.g. "intra_op_parallelism_threads=1")
    env["XLA_FLAGS"] = " ".join([f"--xla_force_host_platform_device_count={devices}", *kept])
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra)
    return env


def _result(process: subprocess.Popen[bytes], log: Path) -> dict:
    process.wait(timeout=180)
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text[-3000:]
    line = next(s for s in text.splitlines() if s.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _start(mode: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # output goes to a file: a full pipe of one process would stall its peer's collectives
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, mode], env=env, stdout=handle, stderr=subprocess.STDOUT
        )


def test_two_processes_match_one_process_on_four_devices_and_on_one(tmp_path: Path) -> None:
    port = str(_free_port())
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    procs = [
        _start(
            "multi",
            _env(
                2,
                JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                JAX_NUM_PROCESSES="2",
                JAX_PROCESS_ID=str(i),
            ),
            logs[i],
        )
        for i in range(2)
    ]
    procs.append(_start("single", _env(4), logs[2]))
    try:
        p0, p1, single = (_result(p, log) for p, log in zip(procs, logs, strict=True))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert p0["2x2"]["main"]
    assert not p1["2x2"]["main"]
    # every process ends with the same replicated parameters
    np.testing.assert_array_equal(p0["2x2"]["params"], p1["2x2"]["params"])
    multi = np.asarray(p0["2x2"]["params"])
    four = np.asarray(single["1x4"]["params"])
    one = np.asarray(single["1x1"]["params"])
    assert len(p0["2x2"]["losses"]) == 12
    assert not np.array_equal(one, np.zeros_like(one))
    # float32 sums in another order only (gloo all-reduce vs in-process): measured <= 9e-8
    np.testing.assert_allclose(multi, four, rtol=0, atol=1e-6)
    np.testing.assert_allclose(multi, one, rtol=0, atol=1e-6)
    np.testing.assert_allclose(p0["2x2"]["losses"], single["1x1"]["losses"], rtol=1e-5)
