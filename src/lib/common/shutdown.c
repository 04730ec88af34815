/*
 * shutdown.c - SIGTERM/SIGINT into a flag and a self-pipe (see shutdown.h).
 */
#include "shutdown.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "clock.h"

static atomic_int requested;
static int pipefd[2] = {-1, -1};

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	atomic_store(&requested, 1);
	if (pipefd[1] >= 0) {
		ssize_t w = write(pipefd[1], "x", 1);
		(void)w;
	}
	errno = saved;
}

void aios_shutdown_install(void)
{
	if (pipefd[0] < 0 && pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
		pipefd[0] = pipefd[1] = -1;
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int aios_shutdown_requested(void)
{
	return atomic_load(&requested);
}

int aios_shutdown_fd(void)
{
	return pipefd[0];
}

void aios_shutdown_request(void)
{
	on_signal(0);
}

int aios_shutdown_wait_ms(int64_t ms)
{
	int64_t deadline = aios_now_ms() + ms;
	while (!aios_shutdown_requested()) {
		int64_t left = deadline - aios_now_ms();
		if (left <= 0)
			return 0;
		if (pipefd[0] < 0) {
			aios_sleep_ms(left > 50 ? 50 : left);
			continue;
		}
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		poll(&p, 1, (int)(left > 1000 ? 1000 : left));
	}
	return 1;
}
