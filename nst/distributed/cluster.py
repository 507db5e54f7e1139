"""Connecting to a Ray cluster, shipping the code to its workers, and what one task asks of it.

Ray is optional: ``ray_installed()`` says whether it can be imported (without importing it), and
``import_ray()`` imports it or raises ``RayUnavailable`` with the command that installs it.

``connect(address)`` joins a cluster:

- ``"auto"``: Ray's own rule: the cluster ``RAY_ADDRESS`` names, else one started on this machine
  with ``ray start --head``, else a new local Ray over this machine's cores (``num_cpus`` of them,
  when given);
- ``"ray://HOST:PORT"``: a remote cluster through Ray Client (its head's port 10001 by default);
- ``"HOST:PORT"``: a cluster's GCS address (port 6379), from a machine that is a node of it.

A Ray already initialised in this process is used as it is and left running by ``close()``.

Workers must import ``nst``. On this machine the folder holding the package goes first on their
``PYTHONPATH``; on a cluster named by an address (or by ``RAY_ADDRESS``) the package itself travels
with the job (Ray's ``runtime_env`` ``py_modules``), so the nodes need only its dependencies.
``NST_PRECISION``, when set, is passed on too.

Resources (``Cluster.task_options``): a task asks for one GPU where the cluster has GPUs (and the
device is not forced to the CPU), else ``cpus`` CPU cores (1 by default: as many images at once as
the cluster has cores) and runs torch on that many threads. ``max_calls=0`` keeps a worker process
alive between tasks, so what it loaded stays loaded (Ray would otherwise restart a worker after
each GPU task). Ray's own task retries are off (``max_retries=0``): the driver's pool resubmits
what a lost worker took (``nst.distributed.pool``), so it knows how many it retried.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import Any

INSTALL = 'pip install "ray[default]"  (or: pip install -r requirements-ray.txt)'
_HOST_PORT = re.compile(r"^(ray://)?[\w.\-\[\]:]+:\d{1,5}$")


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster asked for cannot be reached; the message says what to do."""


def ray_installed() -> bool:
    """Whether Ray can be imported here (found, not imported)."""
    return importlib.util.find_spec("ray") is not None


def import_ray():
    """The ``ray`` module, or ``RayUnavailable`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"running on a Ray cluster needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_address(address: str) -> str:
    """``address`` if it is ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT``; else a ``ValueError`` saying so."""
    if address == "auto" or _HOST_PORT.match(address):
        return address
    raise ValueError(f"a Ray address is auto, ray://HOST:PORT (Ray Client, port 10001) or HOST:PORT, got {address!r}")


def worker_environment(remote: bool) -> dict[str, Any]:
    """Ray's ``runtime_env`` for the workers: the package on their path (``remote``: shipped with the job)."""
    package = Path(__file__).resolve().parents[1]
    env_vars = {name: os.environ[name] for name in ("NST_PRECISION",) if name in os.environ}
    if remote:
        return {"py_modules": [str(package)], "env_vars": env_vars}
    path = [str(package.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"env_vars": {**env_vars, "PYTHONPATH": os.pathsep.join(path)}}


class Cluster:
    """A connection to a Ray cluster (see ``connect``); ``ray`` is the module, ``owned`` whether
    ``close()`` shuts Ray down (it was initialised here, not found running in this process)."""

    def __init__(self, ray, address: str, owned: bool) -> None:
        self.ray, self.address, self.owned = ray, address, owned

    def resources(self) -> dict[str, float]:
        """The cluster's resources in all (``CPU``, ``GPU``, memory ...)."""
        return dict(self.ray.cluster_resources())

    def uses_gpus(self, device: str = "auto") -> bool:
        """Whether tasks ask for a GPU: the cluster has one and ``device`` is "auto" or "cuda"."""
        return device in ("auto", "cuda") and self.resources().get("GPU", 0) >= 1

    def slots(self, cpus: int = 1, device: str = "auto") -> int:
        """How many tasks can run at once: the GPUs, or the CPU cores over ``cpus`` (at least 1)."""
        resources = self.resources()
        if self.uses_gpus(device):
            return max(1, int(resources["GPU"]))
        return max(1, int(resources.get("CPU", 1) // max(1, cpus)))

    def task_options(self, cpus: int = 1, device: str = "auto") -> dict[str, Any]:
        """The resources and lifetime of a task: a GPU each, or ``cpus`` cores each (see the module notes)."""
        if self.uses_gpus(device):
            return {"num_gpus": 1, "num_cpus": 1, "max_calls": 0, "max_retries": 0}
        return {"num_cpus": max(1, cpus), "num_gpus": 0, "max_calls": 0, "max_retries": 0}

    def remote(self, function, cpus: int = 1, device: str = "auto"):
        """``function`` as a Ray remote function with ``task_options``."""
        return self.ray.remote(**self.task_options(cpus, device))(function)

    def describe(self) -> str:
        """``"a local Ray, 2 CPU cores"``, ``"ray://head:10001, 64 CPU cores and 8 GPUs"``."""
        resources = self.resources()
        where = self.address if self.address != "auto" else os.environ.get("RAY_ADDRESS") or "a local Ray"
        cores, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
        return f"{where}, {cores} CPU core{'s' * (cores != 1)}" + (f" and {gpus} GPU{'s' * (gpus != 1)}" if gpus else "")

    def close(self) -> None:
        """Leave the cluster (a local Ray started here stops); a Ray found running in this process stays."""
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def connect(address: str = "auto", *, num_cpus: int | None = None) -> Cluster:
    """Join the cluster at ``address`` (see the module notes); ``RayUnavailable`` if Ray is missing or
    the cluster cannot be reached. ``num_cpus`` caps a local Ray started here."""
    ray = import_ray()
    check_address(address)
    if ray.is_initialized():
        return Cluster(ray, address, owned=False)
    local = address == "auto"
    elsewhere = not local or bool(os.environ.get("RAY_ADDRESS"))   # "auto" may name another machine's cluster
    options: dict[str, Any] = {"runtime_env": worker_environment(remote=elsewhere), "logging_level": logging.ERROR}
    if num_cpus is not None:
        options["num_cpus"] = num_cpus
    try:
        ray.init(address=None if local else address, **options)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RayUnavailable(f"could not reach the Ray cluster at {address} ({reason}); start one with "
                             "`ray start --head`, or use --ray auto for one on this machine") from None
    return Cluster(ray, address, owned=True)
