"""Running a command line in a fresh process and measuring its peak memory.

``run_measured`` starts a small wrapper process that runs the command as its only child and reports
the child's exit status, stderr and peak resident memory (``ru_maxrss`` of ``RUSAGE_CHILDREN``, which
then covers that one command and nothing the test process ran before).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"status": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def run_measured(command: list[str], cwd: Path, timeout: float = 300) -> dict:
    """Run ``command`` (with this repository first on ``PYTHONPATH``) in ``cwd``; a dict of ``status``,
    ``stdout``, ``stderr`` and ``peak`` (bytes; Linux reports ``ru_maxrss`` in KiB)."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    result["peak"] = result.pop("peak_kib") * 1024
    return result
