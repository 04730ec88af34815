/*
 * dist_stage.h - one pipeline stage of an MLP: layers [first, last) of a model, run over
 * micro-batches with the trainer's dense layers, activations and losses (nn.h). It
 * supplies the callbacks of struct aios_dist_pipe_ops (dist_pipeline.h).
 *
 * The stage reads the model's parameters in place (model->params) and accumulates
 * gradients into `grads`, a buffer that mirrors model->params; only its own layers'
 * slices are touched. Activations of every micro-batch of a step are kept until
 * backward (GPipe), in buffers sized once for `rows` rows.
 */
#ifndef AIOS_DIST_STAGE_H
#define AIOS_DIST_STAGE_H

#include <stddef.h>

#include "dist_pipeline.h"
#include "model/model.h"
#include "nn.h"

struct aios_dist_stage;

/*
 * A stage of layers [first, last) of m for steps of at most `rows` rows. t points at the
 * targets of the whole step, (rows, tcols) (last stage only; set per step with
 * aios_dist_stage_set_targets). inv_n scales the loss gradient (1 / rows of the step).
 */
struct aios_dist_stage *aios_dist_stage_new(const struct aios_model *m, enum trainer_loss loss,
                                            int first, int last, int rows, float *grads);
void aios_dist_stage_free(struct aios_dist_stage *st);
void aios_dist_stage_set_targets(struct aios_dist_stage *st, const float *t, float inv_n);
/* The callbacks for aios_dist_pipe_step. */
struct aios_dist_pipe_ops aios_dist_stage_ops(struct aios_dist_stage *st);
/* The stage's parameters: floats [*off, *off + *len) of the flat parameter vector. */
void aios_dist_stage_range(const struct aios_dist_stage *st, size_t *off, size_t *len);

#endif
