/*
 * pool.h - a fixed team of threads that run one function together, over and over.
 *
 * The calling thread is worker 0; n - 1 helpers are started once. A run hands every
 * worker the same function and its own index, and returns when all have finished.
 * Training calls this once per minibatch (tens of thousands of times a second at small
 * batches), so a waiting helper first spins briefly on the generation counter before
 * sleeping on a condition variable: a wake-up through the kernel costs more than a
 * small batch's whole computation. While spinning it yields the CPU, so on a machine
 * with more runnable threads than cores the worker it waits for gets to run.
 */
#ifndef AIOS_TRAINER_POOL_H
#define AIOS_TRAINER_POOL_H

#define TRAINER_MAX_THREADS 64

struct trainer_pool;

typedef void (*trainer_pool_fn)(void *ud, int index, int n);

/* n in 1..TRAINER_MAX_THREADS. Aborts if a thread cannot be created. */
struct trainer_pool *trainer_pool_new(int n);
int trainer_pool_size(const struct trainer_pool *p);
/* Runs fn(ud, i, n) for every i in 0..n-1 (i = 0 on the caller); returns when all are done. */
void trainer_pool_run(struct trainer_pool *p, trainer_pool_fn fn, void *ud);
/* The same on the first `active` workers only (1 <= active <= size); the rest stay idle. */
void trainer_pool_run_n(struct trainer_pool *p, int active, trainer_pool_fn fn, void *ud);
/* Stops and joins the helpers. NULL is a no-op. */
void trainer_pool_free(struct trainer_pool *p);

#endif
