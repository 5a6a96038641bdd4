from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    import numpy as np
    from flax import nnx
    from discrete_nets import (ActivationSpec, ClusterSchedule, ModelConfig, TrainConfig,
                               data_mesh, load_data, train)

    assert len(jax.devices()) == 4, jax.devices()
    data, _ = load_data("digits")
    data = data.head(512)
    config = ModelConfig("mlp", (8, 8), 10, (16,), activation=ActivationSpec("tanh", 16))
    out = {}
    for devices in (1, 4):
        result = train(config, data, TrainConfig(2, 64, progress=False),
                       ClusterSchedule(num_levels=32, every=5),
                       mesh=data_mesh(jax.devices()[:devices]))
        leaves = jax.tree.leaves(nnx.state(result.model, nnx.Param))
        out[devices] = {
            "losses": result.losses,
            "params": np.concatenate([np.ravel(leaf) for leaf in leaves]).tolist(),
            "levels": result.weight_levels.tolist(),
        }
    print(json.dumps(out))
    """
)


def test_four_devices_give_the_one_device_result() -> None:
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    one, four = out["1"], out["4"]
    assert len(one["losses"]) == 2
    for a, b in zip(one["losses"], four["losses"], strict=True):
        assert abs(a - b) <= 1e-4 * max(1.0, abs(a))
    params_one, params_four = one["params"], four["params"]
    same = sum(abs(a - b) <= 1e-5 for a, b in zip(params_one, params_four, strict=True))
    assert same / len(params_one) > 0.99
    assert len(set(params_four)) <= 32  # ends clustered on 4 devices too
