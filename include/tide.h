/* SPDX-License-Identifier: MIT */
/** @file tide.h  Everything of tide: include this one header. */
#ifndef TIDE_H
#define TIDE_H
#include "tide/version.h"
#include "tide/error.h"
#include "tide/comm.h"
#include "tide/progress.h"
#include "tide/dataflow.h"
#include "tide/operators.h"
#include "tide/containers.h"
#endif
