# SPDX-License-Identifier: MIT
# TIDE_PROG_CC_MPI: use the MPI compiler wrapper as CC unless the user chose a compiler
# or gave MPI_CFLAGS/MPI_LIBS explicitly.
AC_DEFUN([TIDE_PROG_CC_MPI], [
  AC_ARG_VAR([MPICC], [MPI C compiler wrapper (default: mpicc)])
  AC_ARG_VAR([MPI_CFLAGS], [C compiler flags for MPI, when not using the wrapper])
  AC_ARG_VAR([MPI_LIBS], [linker flags for MPI, when not using the wrapper])
  AS_IF([test -z "$CC" && test -z "$MPI_LIBS"], [
    AC_CHECK_PROGS([MPICC], [mpicc], [])
    AS_IF([test -n "$MPICC"], [CC="$MPICC"])
  ])
  AC_PROG_CC
])

# TIDE_CHECK_MPI: make sure MPI headers and MPI_Init_thread are usable.
AC_DEFUN([TIDE_CHECK_MPI], [
  tide_save_CFLAGS="$CFLAGS"; tide_save_LIBS="$LIBS"
  CFLAGS="$CFLAGS $MPI_CFLAGS"; LIBS="$MPI_LIBS $LIBS"
  AC_MSG_CHECKING([for a working MPI (mpi.h and MPI_Init_thread)])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <mpi.h>]],
      [[int p; MPI_Init_thread(0, 0, MPI_THREAD_SERIALIZED, &p); MPI_Finalize();]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([MPI not found: install the Debian packages libopenmpi-dev and openmpi-bin, or set MPI_CFLAGS and MPI_LIBS])])
  CFLAGS="$tide_save_CFLAGS"; LIBS="$tide_save_LIBS"
])
