/* fuzz-session.h -- the input format of fuzz-session (fuzz-session.c),
 * shared with the seed generator (seeds.c) so that both read and write
 * the same script.
 *
 * An input is a small script for up to SESS_CLIENTS client connections:
 *
 *   byte 0      flags: bit i (i < 4) = client i says a valid Hello as
 *               soon as it connects (SESS_HELLO(i)), so that the fuzzer
 *               starts past NOT_HELLO; SESS_AUTH = run the engine with
 *               principals (each client its own credential, grace 30s)
 *               instead of open (no principals, grace 0)
 *   then records, until the input ends:
 *     byte h    client = h & 3, op = (h >> 2) & 3
 *     op WRITE  2 bytes little-endian length n, then n bytes written to
 *               the connection as they are (a short input writes what
 *               there is)
 *     op FRAME  the same, but the harness puts the length prefix in
 *               front: the n bytes are one frame's payload
 *     op CLOSE  the client closes its socket; its next record connects
 *               again (and says Hello{reattach: true} when its flag is set)
 *     op SHUT   the client shuts its write side down (FIN), still reading
 *
 * A client connects when its first record comes.
 */
#ifndef CCROUTE_FUZZ_SESSION_H
#define CCROUTE_FUZZ_SESSION_H

#define SESS_CLIENTS 4
#define SESS_HELLO(i) (1u << (i))
#define SESS_AUTH 0x10u

enum sess_op {
    SESS_OP_WRITE = 0,
    SESS_OP_FRAME = 1,
    SESS_OP_CLOSE = 2,
    SESS_OP_SHUT = 3,
};

#define SESS_RECORD(client, op) ((unsigned char)(((op) << 2) | ((client) & 3)))

/* What each client says in its automatic Hello, and in SESS_AUTH mode the
 * principal it is (fuzz-session.c writes the configuration). The tokens
 * are test credentials of this harness only; the seeds use them in
 * explicit Hellos too, so that the fuzzer knows them. */
#define SESS_TOKEN_PBX_EAST "fuzz-token-pbx-east-0001"
#define SESS_TOKEN_PBX_WEST "fuzz-token-pbx-west-0002"
#define SESS_TOKEN_DESKS    "fuzz-token-desks-000003"
#define SESS_TOKEN_WALL     "fuzz-token-wall-0000004"

#endif
