/* fuzz-check.h -- the one assertion the libFuzzer harnesses use.
 *
 * FUZZ_CHECK(cond, fmt, ...) prints the broken contract and abort()s, so
 * that libFuzzer records the input as a crash (crash-<sha1> in the run's
 * artifact directory) exactly as it does for a sanitizer report. It is not
 * assert(): it must stay on in every build, NDEBUG or not.
 */
#ifndef CCROUTE_FUZZ_CHECK_H
#define CCROUTE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                             \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: contract broken: %s: ", __FILE__,     \
                    __LINE__, #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            abort();                                                      \
        }                                                                 \
    } while (0)

#endif
