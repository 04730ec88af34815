/*
 * ckpt.h - checkpoints: everything an exact resume needs, in one self-checking file.
 *
 * A checkpoint holds the parameters and both optimizer moment buffers (bit for bit),
 * the RNG state, the completed epoch, the optimizer step count, the position in the
 * epoch's data (always 0 today: checkpoints are taken at epoch boundaries), the last
 * losses, the thread count, and a fingerprint of the configuration and data that
 * produced it, so a checkpoint of another job is never resumed.
 *
 * Layout (little-endian): "AIOSCKP\0" | u32 version (1) | u32 header bytes | JSON
 * header | zero padding to 64 | params, m1, m2 (n_params f32 each) | SHA-256 of all
 * the bytes before it. Files are DIR/ckpt-<epoch, 8 digits>.aiosckpt, written
 * atomically (temp file, fsync, rename), so a crash leaves the previous one intact;
 * the newest TRAINER_CKPT_KEEP are kept.
 */
#ifndef AIOS_TRAINER_CKPT_H
#define AIOS_TRAINER_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"

#define TRAINER_CKPT_KEEP  2
#define TRAINER_CKPT_MAGIC "AIOSCKP"

struct trainer_ckpt {
	int64_t epoch;    /* epochs completed */
	int64_t step;     /* optimizer steps taken */
	int64_t position; /* rows of epoch `epoch` already consumed */
	uint64_t rng[4];
	int threads;
	double loss, val_loss; /* of the last completed epoch (val_loss NaN if none) */
	char fingerprint[AIOS_SHA256_HEX];
	size_t n_params;
	float *params, *m1, *m2; /* borrowed when writing; owned (one block) when read */
};

/* Writes DIR/ckpt-<epoch>.aiosckpt atomically and prunes older ones; *path_out may be NULL. */
enum aios_err trainer_ckpt_write(const char *dir, const struct trainer_ckpt *c) AIOS_MUST_CHECK;
/* Reads and verifies one checkpoint file; n_params must match. */
enum aios_err trainer_ckpt_read(const char *path, size_t n_params,
                                struct trainer_ckpt *out) AIOS_MUST_CHECK;
/*
 * The newest readable checkpoint in dir whose fingerprint matches; *found = 0 when none
 * (a missing directory is not an error). Damaged or foreign files are logged and skipped.
 */
enum aios_err trainer_ckpt_latest(const char *dir, const char *fingerprint, size_t n_params,
                                  struct trainer_ckpt *out, int *found) AIOS_MUST_CHECK;
void trainer_ckpt_cleanup(struct trainer_ckpt *c);

#endif
