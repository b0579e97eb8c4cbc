#ifndef CONSULTD_COMMIT_H
#define CONSULTD_COMMIT_H

/* The git commit consultd was built from: `swift build -Xcc -DCONSULTD_COMMIT='"abc1234"'` (scripts/package
   does it); "unknown" when the build did not say. A C macro because SwiftPM gives Swift code no way to take
   a string from the command line. */
const char *consultd_commit(void);

#endif
