from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="fourfold_common.parallel needs the [parallel] extra")

from fourfold_common.parallel import (  # noqa: E402
    DistributedConfig,
    ParallelError,
    data_mesh,
    distributed_config,
    initialize_distributed,
    is_main_process,
    process_batch_slice,
    process_topology,
    replicate,
    shard_batch,
)


def test_mesh_spans_all_devices_on_one_data_axis():
    mesh = data_mesh()
    assert mesh.axis_names == ("data",)
    assert mesh.size == len(jax.devices())
    with pytest.raises(ParallelError, match="at least one device"):
        data_mesh([])
    with pytest.raises(ParallelError, match="twice"):
        data_mesh([jax.devices()[0], jax.devices()[0]])


def test_single_process_feeds_the_whole_batch():
    mesh = data_mesh(jax.devices()[:1])
    assert process_batch_slice(12, mesh) == slice(0, 12)
    batch = np.arange(24, dtype=np.float32).reshape(12, 2)
    sharded = shard_batch(batch, mesh)
    np.testing.assert_array_equal(np.asarray(sharded), batch)
    np.testing.assert_array_equal(np.asarray(shard_batch(batch, mesh, local=True)), batch)
    params = replicate({"w": np.ones((2, 3), np.float32), "b": np.zeros(3)}, mesh)
    assert params["w"].sharding.is_fully_replicated
    assert process_topology().process_count == 1
    assert is_main_process()


def test_bad_batches_are_rejected():
    mesh = data_mesh(jax.devices()[:1])
    with pytest.raises(ParallelError, match="scalar"):
        shard_batch(np.float32(1.0), mesh)
    with pytest.raises(ParallelError, match="does not divide"):
        process_batch_slice(0, mesh)


def test_config_reads_arguments_then_environment():
    env = {
        "JAX_COORDINATOR_ADDRESS": "10.1.2.3:4567",
        "JAX_NUM_PROCESSES": "4",
        "JAX_PROCESS_ID": "3",
        "JAX_LOCAL_DEVICE_IDS": "0,1",
    }
    assert distributed_config(environ=env) == DistributedConfig("10.1.2.3:4567", 4, 3, (0, 1))
    assert distributed_config(process_id=1, environ=env).process_id == 1
    assert distributed_config(environ={}) is None


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({"num_processes": 2}, {}, "incomplete; missing coordinator_address"),
        ({}, {"JAX_PROCESS_ID": "0"}, "missing coordinator_address .*, num_processes"),
        ({}, {"JAX_NUM_PROCESSES": "two"}, "not an integer"),
        ({"coordinator_address": "localhost", "num_processes": 2, "process_id": 0}, {}, "port"),
        ({"coordinator_address": "h:99999", "num_processes": 2, "process_id": 0}, {}, "port"),
        ({"coordinator_address": "h:1", "num_processes": 2, "process_id": 2}, {}, "process_id"),
        ({"coordinator_address": "h:1", "num_processes": 0, "process_id": 0}, {}, "num_proc"),
        ({}, {"JAX_LOCAL_DEVICE_IDS": "0,x", "JAX_PROCESS_ID": "0"}, "list of ints"),
    ],
)
def test_misconfiguration_is_one_clear_error(kwargs, env, message):
    with pytest.raises(ParallelError, match=message):
        distributed_config(**kwargs, environ=env)
    # initialize_distributed validates before touching jax.distributed
    with pytest.raises(ParallelError, match=message):
        initialize_distributed(**kwargs, environ=env, timeout_s=5)
    assert not jax.distributed.is_initialized()
