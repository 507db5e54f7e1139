"""The test suite, a package so the benchmarks can import its stand-ins (``tests.app_server``,
``tests.fake_hub``). Test modules import the helpers beside them by their plain names (``conftest``,
``fake_hub``), which pytest finds through ``pythonpath = ["tests"]`` in ``pyproject.toml``."""
