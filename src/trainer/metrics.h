/*
 * metrics.h - the trainer's /metrics endpoint (Prometheus text), on the shared HTTP
 * server and registry of src/lib/http.
 *
 *   aios_trainer_epoch                 epochs completed (gauge)
 *   aios_trainer_epochs                epochs the job will run (gauge; the operator reads it)
 *   aios_trainer_loss                  mean training loss of the last epoch
 *   aios_trainer_validation_loss       validation loss of the last epoch (absent without split)
 *   aios_trainer_validation_accuracy   share of validation rows classified right, last epoch
 *                                      (0..1; classification models with a split only)
 *   aios_trainer_samples_per_second    training rows per second in the last epoch
 *   aios_trainer_samples_total         rows trained on (counter)
 *   aios_trainer_steps_total           optimizer steps (counter)
 *   aios_trainer_elapsed_seconds       since the process started training
 *   aios_trainer_info{rank,world,job}  1
 */
#ifndef AIOS_TRAINER_METRICS_H
#define AIOS_TRAINER_METRICS_H

#include "common/err.h"
#include "train.h"

struct trainer_metrics;

/* Starts serving on port (bound to 0.0.0.0). Errors name the port. */
enum aios_err trainer_metrics_start(int port, int rank, int world, const char *job,
                                    struct trainer_metrics **out) AIOS_MUST_CHECK;
/* The port actually bound (useful with port 0). */
int trainer_metrics_port(const struct trainer_metrics *m);
void trainer_metrics_update(struct trainer_metrics *m, const struct trainer_progress *p);
/* Stops the server and frees; NULL is a no-op. */
void trainer_metrics_stop(struct trainer_metrics *m);

#endif
