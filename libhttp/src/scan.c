/* libhttp byte scanners: the switch between their SIMD and portable loops. The scanners themselves are inline in
 * internal.h, since they are the inner loops of head parsing and a call per field line shows in profiles. */
#include "internal.h"

/* SSE2 is part of x86-64, so no run-time CPU check is needed; this only lets tests run the portable loops too. */
bool http__force_scalar = false;
