/* error.h -- the one error space of ccroute.
 *
 * Every function of the project that can fail returns 0 or a negative
 * code from this space, and the code keeps its meaning when it crosses a
 * module: a router error handed up through dispatch, a store error handed
 * to a barrier callback, a frame error from the cutter. Codes with a
 * POSIX meaning are negative errno values (so libuv's UV_E* and -errno
 * from system calls belong to the space unchanged, as in libuv); codes
 * that POSIX has no word for live below CCR_EBASE, far from any errno.
 * Modules keep their own names for the codes they return (ROUTER_E*,
 * STORE_E*, FRAME_E_*: aliases of these), and one function names them all.
 */
#ifndef CCROUTE_ERROR_H
#define CCROUTE_ERROR_H

#include <errno.h>

enum ccr_error {
    CCR_OK = 0,
    CCR_EINVAL = -EINVAL,         /* bad argument */
    CCR_ENOMEM = -ENOMEM,         /* out of memory or a configured limit */
    CCR_EEXIST = -EEXIST,         /* already there (an agent logged in) */

    CCR_EBASE = -10000,
    CCR_ENOQUEUE = CCR_EBASE - 1,     /* no such queue */
    CCR_ENOAGENT = CCR_EBASE - 2,     /* no such agent */
    CCR_ENOCONTACT = CCR_EBASE - 3,   /* no such contact */
    CCR_ENOSKILL = CCR_EBASE - 4,     /* no such skill */
    CCR_EDUPLICATE = CCR_EBASE - 5,   /* contact id already known */
    CCR_ESTATE = CCR_EBASE - 6,       /* not allowed in the current state */
    CCR_EFULL = CCR_EBASE - 7,        /* queue full, no overflow */
    CCR_EUNAVAILABLE = CCR_EBASE - 8, /* durable state cannot be written now */
    CCR_ENOTOWNER = CCR_EBASE - 9,    /* this engine does not hold the tenant */
    CCR_EFRAMESIZE = CCR_EBASE - 10,  /* frame longer than the limit */
    CCR_EVARINT = CCR_EBASE - 11,     /* length prefix is not a varint */
    CCR_ELAST = CCR_EBASE - 12,
};

/* A static description of err (any code of the space, including negative
 * errno values); "unknown error" otherwise. Never NULL. */
const char *ccr_strerror(int err);

#endif
