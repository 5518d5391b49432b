/* SPDX-License-Identifier: MIT */
#include "tide/error.h"
#include "tide/version.h"

const char *tide_strerror(int err)
{
    switch (err) {
    case TIDE_OK: return "success";
#define TIDE__ERRNO_TEXT(name, value, text) case TIDE_##name: return text;
        TIDE_ERRNO_MAP(TIDE__ERRNO_TEXT)
#undef TIDE__ERRNO_TEXT
    }
    return "unknown tide error";
}

const char *tide_err_name(int err)
{
    switch (err) {
    case TIDE_OK: return "TIDE_OK";
#define TIDE__ERRNO_NAME(name, value, text) case TIDE_##name: return "TIDE_" #name;
        TIDE_ERRNO_MAP(TIDE__ERRNO_NAME)
#undef TIDE__ERRNO_NAME
    }
    return "TIDE_E?";
}

unsigned tide_version(void) { return TIDE_VERSION_HEX; }
const char *tide_version_string(void) { return TIDE_VERSION_STRING; }
