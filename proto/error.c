/* error.c -- names of the error space; see error.h. */
#include "error.h"

#include <string.h>

const char *ccr_strerror(int err)
{
    switch (err) {
    case CCR_OK: return "ok";
    case CCR_EINVAL: return "invalid argument";
    case CCR_ENOMEM: return "out of memory or configured limit";
    case CCR_EEXIST: return "agent already logged in";
    case CCR_ENOQUEUE: return "no such queue";
    case CCR_ENOAGENT: return "no such agent";
    case CCR_ENOCONTACT: return "no such contact";
    case CCR_ENOSKILL: return "no such skill";
    case CCR_EDUPLICATE: return "duplicate contact";
    case CCR_ESTATE: return "not allowed in the current state";
    case CCR_EFULL: return "queue full";
    case CCR_EUNAVAILABLE: return "durable state unavailable";
    case CCR_ENOTOWNER: return "not the owner of the tenant";
    case CCR_EFRAMESIZE: return "frame larger than the limit";
    case CCR_EVARINT: return "malformed length prefix";
    }
    /* strerror() is not thread-safe in general, but glibc returns static
     * strings for known codes; the engine has one thread. */
    if (err < 0 && err > CCR_EBASE)
        return strerror(-err);
    return "unknown error";
}
