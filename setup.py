"""Builds lstmcore's extensions; all metadata lives in pyproject.toml.

Switches (environment variables):
  LSTMCORE_DEBUG=1      boundscheck and initializedcheck on, -O0 -g
  LSTMCORE_COVERAGE=1   Cython line tracing (linetrace, CYTHON_TRACE_NOGIL) for coverage runs
  LSTMCORE_OPENMP=0     build without OpenMP even where the compiler has it
OpenMP is used when a test program compiles and links with it, and left out otherwise.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

from setuptools import Command, Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
DEBUG = os.environ.get("LSTMCORE_DEBUG", "0") == "1"
COVERAGE = os.environ.get("LSTMCORE_COVERAGE", "0") == "1"
OPENMP = os.environ.get("LSTMCORE_OPENMP", "1") != "0"

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "nonecheck": False,
    "cdivision": True,
    "embedsignature": True,
}
if COVERAGE:
    DIRECTIVES["linetrace"] = True

MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
if COVERAGE:
    MACROS += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]

# (compile flags, link flags) to try in order, per compiler family.
OPENMP_FLAGS = {
    "msvc": [(["/openmp"], [])],
    "unix": [(["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"])],
}

OPENMP_TEST = """
#include <omp.h>
int main(void) {
    int n = 0;
#pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


class BuildExt(build_ext):
    """build_ext that adds OpenMP and optimisation flags the compiler accepts."""

    def _openmp_flags(self):
        if not OPENMP:
            return None
        family = "msvc" if self.compiler.compiler_type == "msvc" else "unix"
        tmp = tempfile.mkdtemp()
        try:
            src = os.path.join(tmp, "omp_test.c")
            with open(src, "w") as f:
                f.write(OPENMP_TEST)
            for cflags, ldflags in OPENMP_FLAGS[family]:
                try:
                    objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                    self.compiler.link_executable(objs, "omp_test", output_dir=tmp, extra_postargs=ldflags)
                except Exception:  # the compiler said no: try the next flags
                    continue
                return cflags, ldflags
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return None

    def build_extensions(self):
        omp = self._openmp_flags()
        if OPENMP and omp is None:
            print("lstmcore: no OpenMP in this compiler; the gate loops run on one thread", file=sys.stderr)
        unix = self.compiler.compiler_type != "msvc"
        # -fno-trapping-math lets the compiler turn the selects of csrc/activations.h into blends
        # (we never enable FP traps); it changes no result, unlike -ffast-math, which we never use.
        opt = (["-O0", "-g"] if DEBUG else ["-O3", "-fno-trapping-math"]) if unix else []
        for ext in self.extensions:
            ext.extra_compile_args += opt
            if omp is not None and ext.name == "lstmcore._lstm":
                ext.extra_compile_args += omp[0]
                ext.extra_link_args += omp[1]
        super().build_extensions()


class CleanCython(Command):
    """Remove the C files Cython generated and the built extensions."""

    description = "remove Cython-generated C files and built extensions"
    user_options = []

    def initialize_options(self):
        pass

    def finalize_options(self):
        pass

    def run(self):
        for pattern in ("src/lstmcore/*.c", "src/lstmcore/*.so", "src/lstmcore/*.pyd", "src/lstmcore/*.html"):
            for path in ROOT.glob(pattern):
                print(f"removing {path}")
                path.unlink()


def extensions():
    import numpy
    from Cython.Build import cythonize

    # depends: an edit to a header alone rebuilds the extensions
    headers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").glob("*.h"))
    common = {"include_dirs": ["csrc", numpy.get_include()], "define_macros": MACROS, "depends": headers}
    exts = [
        Extension("lstmcore._blas", ["src/lstmcore/_blas.pyx"], **common),
        Extension("lstmcore._checks", ["src/lstmcore/_checks.pyx"], **common),
        Extension("lstmcore._lstm", ["src/lstmcore/_lstm.pyx", "csrc/lstm_gates.c"], **common),
    ]
    return cythonize(exts, compiler_directives=DIRECTIVES, annotate=DEBUG)


# An sdist only packs sources (MANIFEST.in): no need to run Cython for it.
building_sdist = any(arg in ("sdist", "egg_info") for arg in sys.argv[1:])
setup(
    ext_modules=[] if building_sdist else extensions(),
    cmdclass={"build_ext": BuildExt, "clean_cython": CleanCython},
)
