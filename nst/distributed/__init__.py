"""Style transfer on a Ray cluster: a folder of images, one task per image, and long clips in chunks.

Ray is optional (``pip install .[ray]``, or ``pip install -r requirements-ray.txt``); nothing in this
package imports it until a cluster is asked for, and ``RayUnavailable`` says how to install it.

- ``nst.distributed.cluster``: connecting (``connect``: a local Ray, ``ray://HOST:PORT`` or
  ``HOST:PORT``), shipping the code to the workers, and the resources a task asks for.
- ``nst.distributed.pool``: a pool of tasks that resubmits what a lost worker took, collects each
  result once, and cancels the rest on request.
- ``nst.distributed.worker``: what runs on a worker; the model, paintings and settings of a run are
  fetched once per worker process and kept, so the weights are loaded once per worker, not per image.
- ``nst.distributed.batch``: ``ClusterBatch``, a batch of images over the pool.
- ``nst.distributed.chunks``: a clip split into overlapping chunks and joined by cross-fading the
  overlaps; the flicker across the seams against the rest.
- ``nst.distributed.video``: ``ChunkedVideo``, a clip styled chunk by chunk in parallel.

The command line (``nst batch ... --ray``, ``nst video ... --ray``) is ``nst.cli.cluster``.
"""

from .cluster import RayUnavailable, connect, ray_installed

__all__ = ["RayUnavailable", "connect", "ray_installed"]
