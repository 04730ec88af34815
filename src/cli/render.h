/*
 * render.h - what kubectl-aios draws: tables, progress bars, loss curves.
 *
 * Pure functions from API objects (json-c, borrowed) to text in a bounded buffer,
 * so that every picture the plugin shows is unit-tested without a cluster.
 */
#ifndef AIOS_CLI_RENDER_H
#define AIOS_CLI_RENDER_H

#include <json-c/json.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"

/* Flags of aios_cli_table. */
#define AIOS_CLI_ALL_NS 1u /* a NAMESPACE column (-A) */
#define AIOS_CLI_WIDER  2u /* -o wide: more in DETAIL (attempts and artifact; rps, p99, model) */

/* One table of TrainingJobs and ModelServices (Lists, either may be NULL), kubectl-style:
 * KIND, NAMESPACE (with AIOS_CLI_ALL_NS), NAME, PHASE, AGE, then per kind a DETAIL column. */
enum aios_err aios_cli_table(struct aios_buf *out, struct json_object *tjs, struct json_object *mss,
                             unsigned flags, time_t now) AIOS_MUST_CHECK;

/* A one-line progress bar of width cells for a TrainingJob's status:
 * "[#########.....] 60%  epoch 30/50  loss 0.0123  eta 12s". */
enum aios_err aios_cli_progress(struct aios_buf *out, struct json_object *tj,
                                int width) AIOS_MUST_CHECK;

/* A loss curve: losses (n values, oldest first) drawn in a width x height character
 * plot with the min and max on the axis. Non-finite values are skipped. */
enum aios_err aios_cli_curve(struct aios_buf *out, const double *losses, int n, int width,
                             int height) AIOS_MUST_CHECK;

/* Human age of a creationTimestamp ("3m", "2h", "5d"), like kubectl. */
void aios_cli_age(const char *rfc3339, time_t now, char *out, size_t n);

/* Builds the KServe V1 request body {"instances": DATA} from DATA, a JSON array of rows;
 * fails with a message when DATA is not a non-empty array. Caller frees *body. */
enum aios_err aios_cli_predict_body(const char *data, char **body) AIOS_MUST_CHECK;

#endif
