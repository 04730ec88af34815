/*
 * path.h - finding a program the way execvp does, for the callers that must know before
 * they spawn it: aios-node resolving a container's command against the container's PATH,
 * and the kube client telling a missing exec credential plugin from one that fails.
 */
#ifndef AIOS_PATH_H
#define AIOS_PATH_H

#include <stddef.h>

#define AIOS_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/*
 * Resolves name against path (a PATH value; NULL: AIOS_DEFAULT_PATH) into out (out_len
 * bytes). A name holding a '/' is taken as it is; otherwise each non-empty entry of path
 * is tried in order (an empty entry does not mean the working directory). 0 when out names
 * an executable file, -1 when nothing does. No heap: callable in a child before exec.
 */
int aios_path_find(const char *name, const char *path, char *out, size_t out_len);

#endif
