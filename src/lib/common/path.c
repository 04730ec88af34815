/*
 * path.c - finding a program the way execvp does (see path.h).
 */
#include "common/path.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int aios_path_find(const char *name, const char *path, char *out, size_t out_len)
{
	if (strchr(name, '/')) {
		snprintf(out, out_len, "%s", name);
		return access(name, X_OK) == 0 ? 0 : -1;
	}
	if (!path)
		path = AIOS_DEFAULT_PATH;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		struct stat st;
		if (n && (size_t)snprintf(out, out_len, "%.*s/%s", (int)n, p, name) < out_len &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		p += n;
		if (*p == ':')
			p++;
	}
	return -1;
}
