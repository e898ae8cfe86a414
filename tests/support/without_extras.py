"""Run ``fmitwin`` as on a plain ``pip install .``: the optional extras' modules cannot be imported.

usage: python tests/support/without_extras.py ARGS...   (the ``fmitwin`` command's arguments)
"""

import importlib.abc
import sys

from fmitwin.commands import EXTRA_OF_MODULE

# the test extra's peers, which no command may need either
TEST_ONLY = {"filterpy", "simdkalman", "httpx", "playwright", "amqtt"}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRA_OF_MODULE.keys() | TEST_ONLY:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, _NotInstalled())
    from fmitwin.cli import main

    sys.exit(main(sys.argv[1:]))
