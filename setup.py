"""The package's files, for setuptools (the metadata is in ``pyproject.toml``).

The packages are found (``nst`` and every subpackage), and the built-in presets, kept in the repository's
``presets/`` folder, ship inside the package as ``nst/presets/builtin`` (``nst.presets.store.BUILTIN_DIR``
looks there first, then in the repository).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["nst", "nst.*"]), "nst.presets.builtin"],
    package_dir={"nst.presets.builtin": "presets"},
    package_data={"nst.presets.builtin": ["*/preset.json", "*/*.jpg", "*/*.jpeg", "*/*.png", "*/*.webp"]},
)
