"""Command-line flags for multi-device and multi-process training (``optjax train``).

``add_distributed_arguments`` adds the flags; ``setup_distributed`` acts on
them before any JAX computation and returns the device mesh that
:func:`optjax.training.fit` trains on (``None``: one device, the default).
"""

from __future__ import annotations

import argparse
from typing import Any


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the flags for devices and processes to ``parser``.

    --coordinator HOST:PORT, --num-processes N, --process-id I, --host-devices N,
    --shard-opt-state, --drop-last and --distributed-timeout SECONDS.
    """
    group = parser.add_argument_group(
        "devices and processes",
        "Data-parallel training over every device of every process (jax.distributed). "
        "Start the same command once per process, each with its own --process-id.",
    )
    group.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="address of process 0's coordinator (e.g. 127.0.0.1:12355)")  # fmt: skip
    group.add_argument("--num-processes", type=_positive_int, default=1, metavar="N",
                       help="number of processes (default: 1)")  # fmt: skip
    group.add_argument("--process-id", type=int, default=0, metavar="I",
                       help="this process's index in [0, N) (default: 0)")  # fmt: skip
    group.add_argument("--host-devices", type=_positive_int, default=None, metavar="N",
                       help="split the CPU into N devices (try data parallelism on one "
                            "machine)")  # fmt: skip
    group.add_argument("--shard-opt-state", action="store_true",
                       help="partition the optimizer state across the devices (ZeRO-1)")  # fmt: skip
    group.add_argument("--drop-last", action="store_true",
                       help="drop each epoch's last, short batch (on a mesh every batch "
                            "must divide across the devices)")  # fmt: skip
    group.add_argument("--distributed-timeout", type=_positive_float, default=60.0,
                       metavar="SECONDS",
                       help="how long to wait for the coordinator and the other processes "
                            "(default: 60)")  # fmt: skip


def setup_distributed(args: argparse.Namespace) -> Any:
    """Acts on the flags before any JAX computation; returns a mesh over all devices, or None.

    ``--host-devices`` first splits the CPU, then ``--num-processes`` above 1
    connects the processes through ``--coordinator``. The result is a
    one-axis mesh over every device of every process when there is more than
    one device, else None (the single-device path of ``fit``). Without any of
    these flags nothing is changed and None is returned, even on a machine
    with several devices.

    Raises:
      optjax.cli.UsageError: for inconsistent flags, a process id outside
        ``[0, N)``, a JAX backend that is already running, or a coordinator
        that cannot be reached within ``--distributed-timeout``.
    """
    from optjax.cli._args import UsageError
    from optjax.training import _distributed

    num_processes, process_id = args.num_processes, args.process_id
    if not 0 <= process_id < num_processes:
        raise UsageError(f"--process-id must be in [0, {num_processes}), got {process_id}.")
    if num_processes > 1 and not args.coordinator:
        raise UsageError(
            f"--num-processes {num_processes} needs --coordinator HOST:PORT (process 0's address)."
        )
    try:
        if args.host_devices is not None:
            _distributed.host_devices(args.host_devices)
        if num_processes > 1:
            _distributed.initialize(
                args.coordinator, num_processes, process_id, timeout_s=args.distributed_timeout
            )
    except (ValueError, RuntimeError, TimeoutError) as error:
        raise UsageError(str(error)) from None

    import jax

    from optjax.training import make_mesh

    asked = args.host_devices is not None or num_processes > 1 or args.shard_opt_state
    if not asked or (jax.device_count() == 1 and not args.shard_opt_state):
        return None
    return make_mesh()
