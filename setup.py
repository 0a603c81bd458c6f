"""Build script: the explicit table of compiled kernels (one row per scenario, as scikit-learn lists its modules)."""

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_namespace_packages, setup

# Every compiled module, by name. Adding a scenario adds one row here; nothing is discovered implicitly.
KERNELS = [
    "invgym.core._kernel",
    "invgym.core._lost_sales",
    "invgym.core._procurement_removal",
    "invgym.core._dual_sourcing",
    "invgym.core._perishable",
    "invgym.core._retail",
    "invgym.core._replenishment",
]

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}

extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".pyx"],
        include_dirs=[np.get_include()],
        extra_compile_args=["-O3"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
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
    package_data={"invgym.core": ["*.pxd", "*.pyx"], "invgym.leaderboard": ["*.json", "results/*.json", "site/*"]},
    ext_modules=cythonize(extensions, compiler_directives=COMPILER_DIRECTIVES),
    zip_safe=False,
)
