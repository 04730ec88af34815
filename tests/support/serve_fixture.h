/*
 * serve_fixture.h - test models for the serving suites: deterministic MLPs written
 * with the model.h writer, and a runner for the real aios-serve binary.
 */
#ifndef AIOS_TEST_SERVE_FIXTURE_H
#define AIOS_TEST_SERVE_FIXTURE_H

#include <sys/types.h>

#include "model/model.h"

/* An MLP with sizes[0..n_layers] and weights from a fixed-seed generator (scale ~1/sqrt(in)). */
struct aios_model *sf_model(int n_layers, const int *sizes, enum aios_act hidden,
                            enum aios_act output, unsigned seed);
/* Uniform values in [-1, 1) from seed (xorshift). */
void sf_fill(float *v, size_t n, unsigned *seed);

/* Path of a program the build made, rel to $AIOS_BUILD_DIR (default "build"), as
 * "src/trainer/aios-trainer"; one of 4 per-thread buffers reused in turn. */
const char *sf_program(const char *rel);

/* Runs cmd through /bin/sh; returns its exit code, or -1 when it did not exit (a signal). */
int sf_sh(const char *cmd);
/* The first 8 KiB of a text file ("" when it cannot be read), for failure messages; a
 * static buffer the next call overwrites. */
const char *sf_slurp(const char *path);

struct sf_server {
	pid_t pid;
	int port;
	char log[256]; /* path of its stderr */
};

/*
 * Starts build/src/serve/aios-serve with args (NULL-terminated, without the program
 * name) plus --port 0 --bind 127.0.0.1, waits until it logs serve_ready (fails the test
 * after 10 s) and fills srv.
 */
void sf_start(struct sf_server *srv, const char *const *args);
/* Sends SIGTERM and waits; returns the exit status (or -1 if it was killed). */
int sf_stop(struct sf_server *srv);
/* Runs aios-serve with args to completion (it is expected to fail fast); returns its exit
 * code and copies its stderr into out. */
int sf_run_fail(const char *const *args, char *out, size_t n);

/* Reads a float32 file (little-endian) of exactly n values; fails the test otherwise.
 * Caller frees. */
float *sf_read_f32(const char *path, size_t n);

/*
 * Asserts got (n values) agrees with a peer's want: |got - want| <= 1e-5 |want| + 1e-6 per
 * value (1e-5 relative, with an absolute floor of 1e-6 for values near 0, where float32
 * sums of a few dozen terms cancel to a few ulps of their terms, not of the result).
 * Prints the largest difference to stderr under what.
 */
void sf_assert_close(const char *what, const float *got, const float *want, size_t n);

/* POSTs x (rows, width) as the V2 tensor named input to model m on port; returns the
 * (rows, n_out) outputs (caller frees). A non-200 answer fails the test. */
float *sf_infer_v2(int port, const char *input, const float *x, int rows, int width, int n_out);

#endif
