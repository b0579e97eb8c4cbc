#include "consultd_commit.h"

#ifndef CONSULTD_COMMIT
#define CONSULTD_COMMIT "unknown"
#endif

const char *consultd_commit(void) { return CONSULTD_COMMIT; }
