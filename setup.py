"""Builds lstmcore's extensions; all metadata lives in pyproject.toml.

Switches (environment variables):
  LSTMCORE_DEBUG=1         boundscheck and initializedcheck on, -O0 -g
  LSTMCORE_COVERAGE=1      Cython line tracing (linetrace, CYTHON_TRACE_NOGIL) for coverage runs
  LSTMCORE_OPT=-O1         the optimisation level instead of -O3 (-O levels in CFLAGS come before
                           setup.py's flags, so they cannot change it); .ci/sanitize uses -O1
  LSTMCORE_OPENMP=0        build without OpenMP even where the compiler has it
  LSTMCORE_OPENMP=1        (the default) OpenMP when the compiler has it, else a warning and none
  LSTMCORE_OPENMP=require  OpenMP or a failed build (CI, sanitizer builds: no silent single thread)
OpenMP is used when a test program compiles and links with it, built the way the extensions are:
the compiler's own flags with CFLAGS, LDFLAGS, CPPFLAGS, CC and LDSHARED from the environment
(e.g. CFLAGS=LDFLAGS=-fsanitize=address), linked as a shared object. When that fails the build
prints the compiler's output, so a missing OpenMP says why.
"""

import contextlib
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
OPT_LEVEL = os.environ.get("LSTMCORE_OPT", "-O3").strip()
if OPT_LEVEL not in ("-O0", "-O1", "-O2", "-O3", "-Os", "-Og"):
    sys.exit(f"LSTMCORE_OPT={OPT_LEVEL!r}: expected one of -O0, -O1, -O2, -O3, -Os, -Og")
OPENMP_MODES = ("0", "1", "require")
OPENMP_MODE = os.environ.get("LSTMCORE_OPENMP", "1").strip().lower()
if OPENMP_MODE not in OPENMP_MODES:
    sys.exit(f"LSTMCORE_OPENMP={OPENMP_MODE!r}: expected one of {', '.join(OPENMP_MODES)}")
OPENMP = OPENMP_MODE != "0"

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

# Built as a shared object, like the extension (an executable is linked by a command that leaves out
# LDFLAGS, so with CFLAGS=-fsanitize=address its link failed and OpenMP was silently dropped).
OPENMP_TEST = """
#include <omp.h>
int lstmcore_openmp_probe(void) {
    int n = 0;
#pragma omp parallel reduction(+:n)
    n += omp_get_thread_num() >= 0;
    return n;
}
"""


@contextlib.contextmanager
def _captured_output(path):
    """Send this process's stdout and stderr (file descriptors 1 and 2, which the compiler it
    spawns inherits) to the file ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "wb") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def probe_openmp(compiler):
    """Find the OpenMP flags ``compiler`` (a configured distutils CCompiler) accepts.

    Each candidate of OPENMP_FLAGS compiles OPENMP_TEST with the compiler's flags (CFLAGS included)
    and links it as a shared object with the command that links the extensions (LDSHARED, LDFLAGS,
    CFLAGS). Returns ``(flags, failures)``: ``flags`` is the first (compile, link) pair that worked
    or None, ``failures`` a list of (compile flags, link flags, the compiler's output and error) of
    those that did not.
    """
    family = "msvc" if compiler.compiler_type == "msvc" else "unix"
    failures = []
    tmp = tempfile.mkdtemp(prefix="lstmcore-omp-")
    try:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        for i, (cflags, ldflags) in enumerate(OPENMP_FLAGS[family]):
            out_dir = os.path.join(tmp, str(i))
            log = os.path.join(tmp, f"{i}.log")
            try:
                with _captured_output(log):
                    objs = compiler.compile([src], output_dir=out_dir, extra_postargs=cflags)
                    lib = compiler.library_filename("omp_test", lib_type="shared")
                    compiler.link_shared_object(objs, lib, output_dir=out_dir, extra_postargs=ldflags)
            except Exception as e:  # the compiler said no: keep what it said, try the next flags
                with open(log, errors="replace") as f:
                    output = f.read().strip()
                failures.append((cflags, ldflags, f"{output}\n{type(e).__name__}: {e}".strip()))
                continue
            return (cflags, ldflags), failures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None, failures


def openmp_failure_report(failures):
    """The compiler's own words for each OpenMP flag set that failed, for the build log."""
    parts = ["lstmcore: the OpenMP test program did not build with any of the flags tried:"]
    for cflags, ldflags, output in failures:
        parts.append(f"--- compile flags {' '.join(cflags)!r}, link flags {' '.join(ldflags)!r}:")
        parts.append(output)
    env = {k: os.environ[k] for k in ("CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "LDSHARED") if k in os.environ}
    parts.append(f"--- environment: {env}")
    return "\n".join(parts)


class BuildExt(build_ext):
    """build_ext that adds OpenMP and optimisation flags the compiler accepts."""

    def _openmp_flags(self):
        if not OPENMP:
            return None
        flags, failures = probe_openmp(self.compiler)
        if flags is not None:
            print(f"lstmcore: OpenMP with {' '.join(flags[0])!r} / {' '.join(flags[1])!r}", file=sys.stderr)
            return flags
        report = openmp_failure_report(failures)
        if OPENMP_MODE == "require":
            from setuptools.errors import PlatformError

            raise PlatformError(f"{report}\nlstmcore: LSTMCORE_OPENMP=require and no OpenMP: stopping")
        print(report, file=sys.stderr)
        print("lstmcore: no OpenMP: the gate loops run on one thread", file=sys.stderr)
        return None

    def build_extensions(self):
        omp = self._openmp_flags()
        unix = self.compiler.compiler_type != "msvc"
        # -fno-trapping-math lets the compiler turn the selects of csrc/math/activations.h into blends
        # (we never enable FP traps); it changes no result, unlike -ffast-math, which we never use.
        opt = (["-O0", "-g"] if DEBUG else [OPT_LEVEL, "-fno-trapping-math"]) if unix else []
        for ext in self.extensions:
            ext.extra_compile_args += opt
            # OpenMP for every extension that links csrc's kernels; lstmcore.engine._checks uses
            # csrc's headers only and must load no OpenMP runtime (_backend reads the CPU with it
            # first)
            if omp is not None and any(Path(src).parts[0] == "csrc" for src in ext.sources):
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
        package = ROOT / "src" / "lstmcore"
        generated = [pyx.with_suffix(ext) for pyx in package.rglob("*.pyx") for ext in (".c", ".html")]
        built = [*package.rglob("*.so"), *package.rglob("*.pyd")]
        for path in generated + built:
            if path.exists():
                print(f"removing {path}")
                path.unlink()


def extensions():
    import numpy
    from Cython.Build import cythonize

    # depends: an edit to a header alone rebuilds the extensions
    headers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").rglob("*.h"))
    common = {"include_dirs": ["csrc", numpy.get_include()], "define_macros": MACROS, "depends": headers}
    engine = "src/lstmcore/engine"
    exts = [
        Extension("lstmcore.engine._blas", [f"{engine}/_blas.pyx"], **common),
        Extension("lstmcore.engine._checks", [f"{engine}/_checks.pyx"], **common),
        Extension("lstmcore.engine._lstm", [f"{engine}/_lstm.pyx", "csrc/cells/lstm_gates.c"], **common),
        Extension(
            "lstmcore.engine._cells",
            [f"{engine}/_cells.pyx", "csrc/cells/cells.c", "csrc/gemm/gemm.c"],
            **common,
        ),
    ]
    return cythonize(exts, compiler_directives=DIRECTIVES, annotate=DEBUG)


# setuptools runs this file as __main__; tests/engine/test_build.py imports it for probe_openmp.
if __name__ == "__main__":
    # An sdist only packs sources (MANIFEST.in): no need to run Cython for it.
    building_sdist = any(arg in ("sdist", "egg_info") for arg in sys.argv[1:])
    setup(
        ext_modules=[] if building_sdist else extensions(),
        cmdclass={"build_ext": BuildExt, "clean_cython": CleanCython},
    )
