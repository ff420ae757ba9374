"""Install plug-in distributions into a folder and run fresh interpreters that see them.

A "site" is a folder put on ``PYTHONPATH``: a plug-in's module plus a ``.dist-info`` folder whose
``entry_points.txt`` declares its entry point, the layout ``pip install`` writes, so metarl finds the
plug-in through ``importlib.metadata`` as it finds an installed distribution.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys


def install(site: pathlib.Path, dist: str, module: str, source: str | None, entry_point: str,
            group: str = "metarl.envs", name: str | None = None) -> None:
    """Write ``module.py`` (none when ``source`` is None) and the distribution ``dist`` into ``site``.

    ``dist`` declares one entry point in ``group``: ``name = entry_point`` (``name`` defaults to the
    first word of ``dist``).
    """
    site.mkdir(exist_ok=True)
    if source is not None:
        (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name or dist.split('-')[0]} = {entry_point}\n")


def run(site: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """``python *args`` in a fresh interpreter that sees the distributions in ``site``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=site, timeout=300)
