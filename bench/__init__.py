"""Benchmarks, each a script run from the repository root as a module: ``python -m bench.NAME``
(``bench``, ``gpu``, ``memory``, ``load``, ``flicker``, ``first_start``, ``plot_convergence``).

Run that way, the repository root is on the import path, so the scripts import ``nst``, each other
(``bench.bench``) and the test suite's stand-ins (``tests.app_server``, ``tests.fake_hub``) as packages.
"""
