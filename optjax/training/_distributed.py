"""Multiple processes on ``jax.distributed``, and fake host devices for trying it on a laptop.

JAX's multi-controller runtime is the engine: every process runs the same
program, :func:`initialize` connects them through a coordinator (process 0's
``HOST:PORT``), and a mesh built from ``jax.devices()`` then spans the devices
of all processes. Collectives run over gloo on CPU and NCCL on GPU (JAX picks
them). A global batch of ``B`` examples over ``P`` processes is assembled from
the ``B / P`` examples each process holds (:func:`process_batch_slice`), so
each process reads only its share of every batch.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any

import jax

EXIT_NOT_CONNECTED = 2


def _backends_initialized() -> bool:
    from jax._src import xla_bridge  # No public accessor; jax.distributed checks the same.

    return xla_bridge.backends_are_initialized()


def _check_int(where: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}: {name} must be an int >= {low}, got {value!r}.")
    return value


def host_devices(n: int) -> None:
    """Splits the host CPU into ``n`` JAX devices (fake devices for data parallelism on CPU).

    Sets ``jax_num_cpu_devices`` (the option behind
    ``XLA_FLAGS=--xla_force_host_platform_device_count=n``), which must happen
    before JAX starts its backends, i.e. before the first computation or
    ``jax.devices()`` call. The devices share the host's cores, so this shows
    that a sharded program is correct, not that it is faster.

    Args:
      n: the number of CPU devices, at least 1.

    Returns:
      None; afterwards ``jax.device_count() == n`` on CPU.

    Raises:
      ValueError: when ``n`` is not a positive int.
      RuntimeError: when JAX's backends are already initialized (the message
        says to call this first).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.training import host_devices
      >>> _ = jnp.zeros(1)  # a computation: the backends are now initialized
      >>> try:
      ...     host_devices(2)
      ... except RuntimeError as error:
      ...     print("already initialized" in str(error))
      True
    """
    _check_int("host_devices", "n", n, 1)
    if _backends_initialized():
        raise RuntimeError(
            f"host_devices({n}): JAX's backends are already initialized (something ran a JAX "
            f"computation or called jax.devices()); call host_devices first, before any JAX "
            f"work, or set XLA_FLAGS=--xla_force_host_platform_device_count={n} before "
            f"starting Python."
        )
    jax.config.update("jax_num_cpu_devices", n)


def _parse_address(coordinator: str) -> tuple[str, int]:
    host, sep, port = str(coordinator).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"initialize: coordinator must be HOST:PORT (e.g. 127.0.0.1:12355), got "
            f"{coordinator!r}."
        )
    return host.strip("[]"), int(port)


def _wait_for_coordinator(host: str, port: int, deadline: float, what: str) -> None:
    last: OSError | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(
                f"{what}: cannot reach the coordinator at {host}:{port} "
                f"({type(last).__name__ if last else 'no answer'}: {last}). Start process 0 "
                f"first, and check the address, the port and the firewall."
            )
        try:
            with socket.create_connection((host, port), timeout=min(1.0, left)):
                return
        except OSError as error:
            last = error
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))


def initialize(
    coordinator: str, num_processes: int, process_id: int, *, timeout_s: float = 60.0
) -> None:
    """Connects this process to the others with ``jax.distributed.initialize``.

    Call it in every process, first thing, before any JAX computation. Process
    0 runs the coordinator service at ``coordinator``; the others connect to
    it. On CPU the collectives are gloo's. Afterwards ``jax.devices()`` lists
    the devices of all processes and :func:`~optjax.training.make_mesh` spans
    them. With ``num_processes=1`` nothing is initialized.

    Nothing hangs forever: a process other than 0 first checks, for at most
    ``timeout_s`` seconds, that the coordinator's port accepts connections
    (:class:`TimeoutError` otherwise); and if the processes have not all
    registered ``timeout_s`` seconds later (a process missing, a wrong
    ``num_processes``), this process prints a message naming the problem on
    standard error and exits with status 2, instead of JAX's abort.

    Args:
      coordinator: ``HOST:PORT`` of process 0 (``127.0.0.1:PORT`` on one
        machine).
      num_processes: the number of processes :math:`P`.
      process_id: this process's index in ``[0, P)``.
      timeout_s: seconds to wait for the coordinator and for the others.

    Returns:
      None; afterwards ``jax.process_count() == num_processes`` and
      ``jax.devices()`` lists every process's devices.

    Raises:
      ValueError: for a malformed address, ``num_processes < 1`` or a process
        id outside ``[0, num_processes)``.
      RuntimeError: when JAX's backends are already initialized.
      TimeoutError: when the coordinator cannot be reached within
        ``timeout_s``.

    Examples:
      >>> from optjax.training import initialize
      >>> try:
      ...     initialize("127.0.0.1:12355", num_processes=2, process_id=2)
      ... except ValueError as error:
      ...     print(error)
      initialize: process_id must be in [0, 2), got 2.
    """
    coordinator = str(coordinator)
    num_processes = _check_int("initialize", "num_processes", num_processes, 1)
    if isinstance(process_id, bool) or not isinstance(process_id, int):
        raise ValueError(f"initialize: process_id must be an int, got {process_id!r}.")
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"initialize: process_id must be in [0, {num_processes}), got {process_id}."
        )
    if not timeout_s > 0:
        raise ValueError(f"initialize: timeout_s must be > 0, got {timeout_s!r}.")
    host, port = _parse_address(coordinator)
    if num_processes == 1:
        return
    if _backends_initialized():
        raise RuntimeError(
            "initialize: JAX's backends are already initialized; call initialize (and "
            "host_devices) before any JAX computation or jax.devices() call."
        )
    what = f"process {process_id} of {num_processes}"
    deadline = time.monotonic() + timeout_s
    if process_id != 0:
        _wait_for_coordinator(host, port, deadline, what)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")

    def give_up() -> None:
        sys.stderr.write(
            f"optjax: {what}: the {num_processes} processes did not all connect to the "
            f"coordinator at {coordinator} within {timeout_s:g} s; check that every "
            f"process was started with the same --coordinator and --num-processes and a "
            f"distinct --process-id in [0, {num_processes}).\n"
        )
        sys.stderr.flush()
        os._exit(EXIT_NOT_CONNECTED)

    # JAX aborts the process (a C++ check failure) when registration times out; the
    # watchdog fires first and says why. The call releases the GIL while it waits.
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0) + 1.0, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(
            coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=max(int(timeout_s) + 5, 1),
        )
    finally:
        watchdog.cancel()


def process_batch_slice(global_batch_size: int) -> slice:
    """The examples of every global batch that this process holds: ``[p B/P, (p+1) B/P)``.

    .. math::

        \\text{process } p \\text{ of } P \\text{ holds examples }
        \\tfrac{pB}{P}, \\dots, \\tfrac{(p+1)B}{P} - 1 \\text{ of each global batch of } B.

    Args:
      global_batch_size: the global batch size :math:`B`.

    Returns:
      A ``slice`` into the global batch.

    Raises:
      ValueError: when ``B`` is not a positive multiple of the process count.

    Examples:
      >>> from optjax.training import process_batch_slice
      >>> process_batch_slice(32)  # one process holds the whole batch
      slice(0, 32, None)
    """
    _check_int("process_batch_slice", "global_batch_size", global_batch_size, 1)
    count, index = jax.process_count(), jax.process_index()
    if global_batch_size % count:
        raise ValueError(
            f"process_batch_slice: the global batch size {global_batch_size} does not divide "
            f"across {count} processes; use a multiple of {count}."
        )
    share = global_batch_size // count
    return slice(index * share, (index + 1) * share)
