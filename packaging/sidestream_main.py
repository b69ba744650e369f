"""PyInstaller's entry script for the frozen app: the same ``main`` as ``python -m desktop``.

It lives outside ``desktop/`` so that the analysis does not put ``desktop/``
itself on the module search path (its modules would become top-level names).
"""

from __future__ import annotations

import sys

from desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
