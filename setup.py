"""Build the optional Cython fast path; fall back to a pure-Python install.

GATEWAY_NO_EXTENSIONS=1 at build time, a missing compiler or a missing Cython all
give a pure build: gateway.fastpath then selects the Python twins at import.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = bool(os.environ.get("GATEWAY_NO_EXTENSIONS")) or sys.implementation.name != "cpython"


class OptionalBuildExt(build_ext):
    """A failed compile must not fail the install: the Python twin is complete."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means a pure build
            print(f"*** fast path not built ({exc}); pure-Python build", file=sys.stderr)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"*** {ext.name} not built ({exc}); pure-Python build", file=sys.stderr)


def extensions() -> list:
    if NO_EXTENSIONS:
        print("*** GATEWAY_NO_EXTENSIONS set: pure-Python build", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("*** Cython missing: pure-Python build", file=sys.stderr)
        return []
    directives = {"language_level": "3", "boundscheck": False, "wraparound": False}
    if os.environ.get("GATEWAY_CYTHON_TRACE"):
        directives["linetrace"] = True
    return cythonize(["gateway/_fastpath.pyx"], compiler_directives=directives, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
