/*
 * ports.c - see ports.h.
 */
#include "support/ports.h"

#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int aios_test_free_port(void)
{
	static unsigned seed;
	static int given[64]; /* not yet bound by whoever asked: never hand one out twice */
	static unsigned n_given;
	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)clock();
	for (int tries = 0; tries < 1000; tries++) {
		int port = 20000 + (int)(rand_r(&seed) % 12000), seen = 0;
		for (unsigned i = 0; i < n_given && i < 64; i++)
			seen |= given[i] == port;
		if (seen)
			continue;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok) {
			given[n_given++ % 64] = port;
			return port;
		}
	}
	ck_abort_msg("no free loopback port in [20000, 32000)");
	return 0;
}
