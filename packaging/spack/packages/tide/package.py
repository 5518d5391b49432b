# SPDX-License-Identifier: MIT
# tide's Spack recipe, kept with the source (tests/spack.sh checks it against configure and
# VERSION). tide has no release tarball yet: build a checkout with `spack develop` (README,
# "Spack").
from spack.package import *


class Tide(AutotoolsPackage):
    """Timely dataflow in C for HPC clusters: data-parallel dataflows with progress
    tracking, on MPI ranks and hwloc-pinned worker threads."""

    version("0.1.0")

    variant("otf2", default=False, description="Write OTF2 traces (--trace FILE.otf2)")
    variant("tests", default=False,
            description="Build the test suites (make check; needs the check library)")

    depends_on("c", type="build")
    depends_on("mpi")
    depends_on("hwloc@2:")
    depends_on("otf2", when="+otf2")
    depends_on("check@0.11:", type=("build", "link"), when="+tests")
    depends_on("pkgconfig", type="build")
    # configure is generated from configure.ac in a checkout: Spack's autoreconf phase runs
    # when it is missing, with these (and pkgconfig's pkg.m4) on its search path
    depends_on("autoconf", type="build")
    depends_on("automake", type="build")
    depends_on("libtool", type="build")
    depends_on("m4", type="build")

    def configure_args(self):
        # configure takes the MPI wrapper as the compiler (m4/tide_mpi.m4); Spack's own
        # compiler wrapper would not find mpi.h
        args = ["CC={0}".format(self.spec["mpi"].mpicc)]
        args.extend(self.with_or_without("otf2"))
        args.extend(self.enable_or_disable("tests"))
        return args
