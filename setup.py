"""Build script: the compiled modules are the shared kernel base plus each registered scenario's kernel."""

import runpy
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_namespace_packages, setup

# Every compiled module, by name: the shared base, then the kernel module each scenario in invgym/scenarios.py
# declares (that file imports only the standard library, so the build reads it without importing invgym).
# Adding a scenario adds its entry there; nothing is discovered from the file system.
SHARED = ["invgym.core._kernel", "invgym.core._rollout_table", "invgym.core._exact_lost_sales"]
_SCENARIOS = runpy.run_path("invgym/scenarios.py")["SCENARIOS"]
KERNELS = list(dict.fromkeys(SHARED + [scenario.kernel_module for scenario in _SCENARIOS.values()]))

# The kernels whose whole-run loops are specialised by constant arguments (see CYTHON_INLINE below).
FORCED_INLINE = {"invgym.core._lost_sales", "invgym.core._dual_sourcing", "invgym.core._procurement_removal",
                 "invgym.core._perishable"}

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}

# pip shows this only with -v (pip install -v ...): the build compiles every kernel with a C compiler and takes
# minutes on a small machine, the longest silent step of an install.
print(f"invgym: compiling {len(KERNELS)} Cython kernels with -O3 ({', '.join(k.rsplit('.', 1)[1] for k in KERNELS)}); "
      "this takes a few minutes", file=sys.stderr)

extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".pyx"],
        include_dirs=[np.get_include()],
        # -fno-math-errno: llrint (the table rollouts' rounding) compiles to one instruction instead of a libm
        # call; no result changes (these kernels never read errno).
        extra_compile_args=["-O3", "-fno-tree-loop-distribute-patterns", "-fno-math-errno"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")] + (
            # The whole-run loops are called with constant lead times so that each compiles into a loop of
            # its own; forced inlining makes the compiler do it (GCC and Clang).
            [("CYTHON_INLINE", "__inline__ __attribute__((always_inline))")]
            if name in FORCED_INLINE and sys.platform != "win32" else []),
    )
    for name in KERNELS
]

PACKAGE_DIRS = {
    "invgym": "invgym",
    "invgym.baselines": "baselines",
    "invgym.agents": "agents",
    "invgym.leaderboard": "leaderboard",
}


def _packages():
    found = []
    for top, path in PACKAGE_DIRS.items():
        found.append(top)
        found += [f"{top}.{sub}" for sub in find_namespace_packages(path, exclude=["*__pycache__*"])]
    return sorted(set(found))


setup(
    packages=_packages(),
    package_dir=PACKAGE_DIRS,
    package_data={"invgym.core": ["*.pxd", "*.pyx"], "invgym.leaderboard": ["*.json", "results/*.json", "site/*",
                                                                        "templates/*.j2"]},
    ext_modules=cythonize(extensions, compiler_directives=COMPILER_DIRECTIVES),
    zip_safe=False,
)
