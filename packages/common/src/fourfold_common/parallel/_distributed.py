"""Joining a multi-process (multi-host) JAX run: ``jax.distributed`` with clear errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import jax

from fourfold_common.parallel._errors import ParallelError

ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"
ENV_LOCAL_DEVICE_IDS = "JAX_LOCAL_DEVICE_IDS"


@dataclass(frozen=True)
class DistributedConfig:
    """Where the coordinator is and who this process is.

    Attributes:
        coordinator_address: ``host:port`` of process 0's coordinator service.
        num_processes: Processes in the run (>= 1).
        process_id: This process, ``0 <= process_id < num_processes``.
        local_device_ids: Restrict this process to these local devices (default: all).

    Example:
        >>> DistributedConfig("10.0.0.1:1234", 2, 1).process_id
        1
    """

    coordinator_address: str
    num_processes: int
    process_id: int
    local_device_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        host, sep, port = self.coordinator_address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ParallelError(
                f"coordinator address {self.coordinator_address!r} is not host:port (port 1-65535)"
            )
        if isinstance(self.num_processes, bool) or not isinstance(self.num_processes, int):
            raise ParallelError(f"num_processes must be an int, got {self.num_processes!r}")
        if isinstance(self.process_id, bool) or not isinstance(self.process_id, int):
            raise ParallelError(f"process_id must be an int, got {self.process_id!r}")
        if self.num_processes < 1 or not 0 <= self.process_id < self.num_processes:
            raise ParallelError(
                f"need num_processes >= 1 and 0 <= process_id < num_processes; got "
                f"process_id={self.process_id}, num_processes={self.num_processes}"
            )
        if self.local_device_ids is not None and (
            not self.local_device_ids or any(i < 0 for i in self.local_device_ids)
        ):
            raise ParallelError(f"bad local_device_ids {self.local_device_ids!r}")


@dataclass(frozen=True)
class ProcessTopology:
    """Where this process sits once JAX is set up.

    Attributes:
        process_index: This process (``jax.process_index()``).
        process_count: Processes in the run.
        local_device_count: Devices this process drives.
        device_count: Devices of all processes together.

    Example:
        >>> process_topology().process_count
        1
    """

    process_index: int
    process_count: int
    local_device_count: int
    device_count: int


def process_topology() -> ProcessTopology:
    """This process's place in the (possibly multi-process) run.

    Example:
        >>> process_topology().process_index
        0
    """
    return ProcessTopology(
        jax.process_index(), jax.process_count(), jax.local_device_count(), jax.device_count()
    )


def _int_env(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ParallelError(f"{name}={text!r} is not an integer") from None


def distributed_config(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    local_device_ids: tuple[int, ...] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> DistributedConfig | None:
    """Resolve a multi-process setup from arguments, falling back to environment variables.

    Each argument left ``None`` is read from ``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID`` and ``JAX_LOCAL_DEVICE_IDS`` (comma-separated)
    respectively.

    Args:
        coordinator_address: ``host:port`` of process 0.
        num_processes: Number of processes.
        process_id: This process's id.
        local_device_ids: Local devices this process uses.
        environ: The environment to read (default ``os.environ``).

    Returns:
        The configuration, or ``None`` when none of the three required settings is given
        (then only cluster auto-detection, e.g. Slurm or Open MPI, can supply them).

    Raises:
        ParallelError: Some but not all of the three required settings are given, or a value
            is malformed.

    Example:
        >>> env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "2"}
        >>> distributed_config(process_id=0, environ=env).num_processes
        2
    """
    env = os.environ if environ is None else environ
    address = coordinator_address or env.get(ENV_COORDINATOR, "").strip() or None
    count = num_processes if num_processes is not None else _int_env(env, ENV_NUM_PROCESSES)
    index = process_id if process_id is not None else _int_env(env, ENV_PROCESS_ID)
    ids = local_device_ids
    if ids is None and env.get(ENV_LOCAL_DEVICE_IDS, "").strip():
        text = env[ENV_LOCAL_DEVICE_IDS]
        try:
            ids = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise ParallelError(f"{ENV_LOCAL_DEVICE_IDS}={text!r} is not a list of ints") from None
    given = {
        f"coordinator_address ({ENV_COORDINATOR})": address,
        f"num_processes ({ENV_NUM_PROCESSES})": count,
        f"process_id ({ENV_PROCESS_ID})": index,
    }
    missing = [name for name, value in given.items() if value is None]
    if len(missing) == len(given):
        return None
    if missing:
        raise ParallelError("multi-process setup is incomplete; missing " + ", ".join(missing))
    assert address is not None
    assert count is not None
    assert index is not None
    return DistributedConfig(address, count, index, ids)


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    local_device_ids: tuple[int, ...] | None = None,
    *,
    timeout_s: int = 300,
    environ: Mapping[str, str] | None = None,
) -> ProcessTopology:
    """Join a multi-process JAX run (``jax.distributed.initialize``) and report the topology.

    Call it once per process, before any other JAX work. Settings come from the arguments or,
    for those left ``None``, from the environment (see :func:`distributed_config`); when none
    is given, JAX's cluster auto-detection (Slurm, Open MPI, TPU pods...) is tried. On CPU,
    cross-process collectives use gloo (``jax_cpu_collectives_implementation``, JAX's default).
    Afterwards ``jax.devices()`` -- and so :func:`data_mesh` -- spans every process's devices.

    Args:
        coordinator_address: ``host:port`` of process 0 (``JAX_COORDINATOR_ADDRESS``).
        num_processes: Number of processes (``JAX_NUM_PROCESSES``).
        process_id: This process's id (``JAX_PROCESS_ID``).
        local_device_ids: Local devices to use (``JAX_LOCAL_DEVICE_IDS``; default all).
        timeout_s: Seconds to wait for all processes to join.
        environ: The environment to read (default ``os.environ``).

    Returns:
        This process's :class:`ProcessTopology`.

    Raises:
        ParallelError: The settings are incomplete or malformed, nothing is set and no
            cluster is detected, JAX already ran computations in this process, it was
            initialised before with other settings, or the processes did not all join.

    Example:
        >>> try:
        ...     initialize_distributed(num_processes=2, environ={})
        ... except ParallelError as error:
        ...     print(str(error).split(";")[0])
        multi-process setup is incomplete
    """
    if timeout_s < 1:
        raise ParallelError(f"timeout_s must be >= 1, got {timeout_s}")
    config = distributed_config(
        coordinator_address, num_processes, process_id, local_device_ids, environ=environ
    )
    state = jax.distributed.is_initialized()
    if state:
        if config is not None and (
            config.num_processes != jax.process_count() or config.process_id != jax.process_index()
        ):
            raise ParallelError(
                "jax.distributed is already initialised as process "
                f"{jax.process_index()} of {jax.process_count()}, not as {config}"
            )
        return process_topology()
    try:
        if config is None:
            jax.distributed.initialize(initialization_timeout=timeout_s)
        else:
            jax.distributed.initialize(
                coordinator_address=config.coordinator_address,
                num_processes=config.num_processes,
                process_id=config.process_id,
                local_device_ids=(
                    None if config.local_device_ids is None else list(config.local_device_ids)
                ),
                initialization_timeout=timeout_s,
            )
    except (ValueError, RuntimeError) as error:
        if config is None:
            raise ParallelError(
                f"no multi-process setup: set {ENV_COORDINATOR}, {ENV_NUM_PROCESSES} and "
                f"{ENV_PROCESS_ID} (or pass them), or run under a cluster manager JAX detects "
                f"(Slurm, Open MPI); JAX said: {error}"
            ) from error
        raise ParallelError(f"jax.distributed.initialize failed for {config}: {error}") from error
    return process_topology()


def is_main_process() -> bool:
    """Whether this is process 0 (the one that shows progress bars and writes reports).

    Example:
        >>> is_main_process()
        True
    """
    return jax.process_index() == 0
