/* Run directories shared safely: a lock held for the life of a run, fresh names picked atomically,
 * and no run started in a folder that holds somebody else's files. */
#ifndef SSLC_RUNDIR_H
#define SSLC_RUNDIR_H
#include <stddef.h>

#define RUN_LOCK ".lock"

/* Makes the first of BASE, BASE-2, BASE-3, ... that does not exist yet (mkdir, so two runs
 * started at once never pick the same one; the parent is created as needed). The name goes to
 * out (n bytes). 0, or -1 with one line in err. */
int rundir_make_fresh(const char *base, char *out, size_t n, char *err);

/* mkdir -p DIR (fresh; else DIR must exist), then an exclusive flock on DIR/.lock (which records the holder's PID) for as
 * long as *lock_fd stays open: a second run on the same directory is refused in one line naming
 * the holder. With fresh (a new run, not a resume) DIR must be empty or an sslc run directory
 * (it has a .lock or a checkpoint), or hold nothing but `plan_path` itself (the plan being run, may be NULL):
 * any other file is refused, so a run never overwrites or appends to a user's files.
 * 0 with *lock_fd open, or -1 with one line in err. */
int rundir_lock(const char *dir, int fresh, const char *plan_path, int *lock_fd, char *err);

/* Removes a run directory this command made when the run failed before it had anything to
 * keep (no checkpoint): sslc's own files (plan, metrics, lock), then the directory if that
 * leaves it empty. Best effort: what cannot be removed stays. */
void rundir_discard(const char *dir);

#endif
