"""The style-transfer studio: ``python app.py`` serves it, then open the address it prints.

``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` choose host and port; ``NST_WEIGHTS``,
``NST_OUTPUT_DIR``, ``NST_MAX_SIZE``, ``NST_TIME_LIMIT`` and ``NST_QUEUE_SIZE`` are read by
``studio.runtime``, the budgets of a public host (``NST_MAX_PIXELS``, ``NST_ALLOW_PUSH``, ...) by
``studio.limits``; a value the app cannot use stops it with one line. The app itself is the ``studio`` package (its docstring describes the tabs);
this file is what ``python app.py`` and a Hugging Face Space start.
"""

from __future__ import annotations

from studio.app import build_demo, main

__all__ = ["build_demo", "main"]

if __name__ == "__main__":
    main()
