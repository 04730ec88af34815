/*
 * dist_trainer.h - distributed training inside aios-trainer: what run.c calls when
 * AIOS_WORLD_SIZE > 1. It fills the trainer's communicator (struct trainer_comm, train.h)
 * with the ring all-reduce and a broadcast over TCP, and makes checkpoints collective:
 *
 *   DIR/rank-<r>/ckpt-<epoch>.aiosckpt   every rank's own state (trainer_checkpoint)
 *   DIR/complete                         {"epoch":E,"world":W,"attempt":A,"job":...},
 *                                        written by rank 0 after every rank has written
 *                                        its epoch-E file (a barrier), atomically
 *
 * A restarted attempt resumes from the epoch named by DIR/complete: checkpoints newer
 * than that (written by some ranks before the failure) are discarded, every rank must
 * hold the epoch-E file (otherwise the run fails naming the ranks that lack it), and the
 * trainer then broadcasts rank 0's parameters as usual. The decision to checkpoint is
 * rank 0's and is broadcast, so all ranks checkpoint the same epochs.
 */
#ifndef AIOS_DIST_TRAINER_H
#define AIOS_DIST_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "optim.h"
#include "spec.h"
#include "train.h"

/*
 * Reads the AIOS_* environment (dist_rendezvous.h), meets the other ranks and fills c.
 * Roles decide the strategy: every rank a worker is allreduce (c gets the ring
 * all-reduce); ranks of role ps make it parameter-server (c gets `update`, which pushes
 * the gradient and pulls the parameters; c->rank and c->world then count workers only;
 * AIOS_DIST_STALENESS picks asynchronous mode); ranks of role stage make it pipeline
 * (every rank must be a stage; see aios_dist_trainer_pipeline).
 */
enum aios_err aios_dist_trainer_open(struct trainer_comm *c) AIOS_MUST_CHECK;
/* Ends the distributed run: the final barrier if ok, else closes (peers are told). */
enum aios_err aios_dist_trainer_close(struct trainer_comm *c, int ok) AIOS_MUST_CHECK;

/* Whether this rank is a parameter server (it serves instead of training). */
int aios_dist_trainer_serving(const struct trainer_comm *c);
/*
 * A parameter server's whole job: receive the starting parameters from rank 0, serve
 * pulls and pushes with optimizer o over its shard until every worker is done, send the
 * final shard to rank 0. t supplies the model's shape.
 */
enum aios_err aios_dist_trainer_serve(struct trainer *t, struct trainer_comm *c,
                                      const struct trainer_optim *o) AIOS_MUST_CHECK;
/*
 * After the last epoch, before rank 0 writes the model: parameter-server workers say
 * done and rank 0 receives the final parameters into the model. No-op for allreduce.
 */
enum aios_err aios_dist_trainer_end(struct trainer *t, struct trainer_comm *c) AIOS_MUST_CHECK;

/* Whether every rank is a pipeline stage (aios_dist_trainer_pipeline runs the epochs). */
int aios_dist_trainer_pipelined(const struct trainer_comm *c);
/*
 * The pipeline strategy's whole run in place of the trainer's epoch loop: the model's
 * layers split over the stages (dist_pipeline.h), the same data, shuffles and
 * optimizer as one process, AIOS_DIST_MICROBATCHES micro-batches per step (default 4);
 * rank 0 prints the epoch lines on out, gathers the parameters and writes the artifact
 * to output; on rank 0 *final_line is the artifact line for the termination message
 * (caller frees; NULL elsewhere). Checkpoints as above (each stage's file holds its slice, the moments, the
 * RNG and the step count; spec.checkpoint.everyEpochs and the last epoch, no time
 * throttle), and a restarted pipeline resumes from the last complete one.
 */
enum aios_err aios_dist_trainer_pipeline(struct trainer *t, const struct trainer_config *cfg,
                                         struct trainer_comm *c, const char *output,
                                         const char *ckpt_dir, FILE *out,
                                         char **final_line) AIOS_MUST_CHECK;

/* Resumes from DIR/complete (see above); *resumed is the epoch or 0. */
enum aios_err aios_dist_trainer_resume(struct trainer *t, struct trainer_comm *c, const char *dir,
                                       int64_t *resumed) AIOS_MUST_CHECK;
/*
 * Collective checkpoint after an epoch: due is rank 0's decision (others' is ignored).
 * *written tells whether a checkpoint was taken.
 */
enum aios_err aios_dist_trainer_checkpoint(struct trainer *t, struct trainer_comm *c,
                                           const char *dir, int due, int *written) AIOS_MUST_CHECK;

#endif
