/*
 * trainlog.c - the trainer's per-epoch line (see trainlog.h).
 */
#include "model/trainlog.h"

#include <math.h>
#include <string.h>

#include "common/json.h"

const char *aios_trainlog_num(double x, char buf[32])
{
	if (!isfinite(x))
		return "null";
	snprintf(buf, 32, "%.9g", x);
	return buf;
}

void aios_trainlog_write_epoch(FILE *f, const struct aios_trainlog_epoch *e, int classifies)
{
	char val[32], acc[32], acc_field[64] = "";
	if (classifies)
		snprintf(acc_field, sizeof(acc_field), ",\"val_accuracy\":%s",
		         aios_trainlog_num(e->val_accuracy, acc));
	fprintf(f,
	        "{\"epoch\":%lld,\"epochs\":%lld,\"loss\":%.9g,\"val_loss\":%s%s,"
	        "\"samples_per_sec\":%.1f,\"elapsed_s\":%.3f,\"cpu_s\":%.3f}\n",
	        (long long)e->epoch, (long long)e->epochs, e->loss,
	        aios_trainlog_num(e->val_loss, val), acc_field, e->samples_per_sec, e->elapsed_s,
	        e->cpu_s);
	fflush(f);
}

/* A number at key, or NaN when it is absent or null; -1 when it is something else. */
static int opt_num(struct json_object *o, const char *key, double *out)
{
	struct json_object *v = NULL;
	*out = NAN;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_double(v);
	return 0;
}

enum aios_err aios_trainlog_parse_epoch(const char *line, size_t len, struct aios_trainlog_epoch *e)
{
	memset(e, 0, sizeof(*e));
	if (len > AIOS_TRAINLOG_LINE_MAX)
		return aios_fail(AIOS_ERR_INVALID, "epoch line: %zu bytes, over %d", len,
		                 AIOS_TRAINLOG_LINE_MAX);
	if (len == 0 || line[0] != '{')
		return aios_fail(AIOS_ERR_INVALID, "epoch line: not a JSON object");
	struct json_object *o = NULL;
	enum aios_err err = aios_json_parse(line, len, "epoch line", &o);
	if (err)
		return err;
	struct json_object *ep = NULL, *eps = NULL;
	err = AIOS_OK;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "epoch", &ep) ||
	    !json_object_is_type(ep, json_type_int) ||
	    !json_object_object_get_ex(o, "epochs", &eps) ||
	    !json_object_is_type(eps, json_type_int)) {
		err = aios_fail(AIOS_ERR_INVALID, "epoch line: no integer epoch and epochs");
		goto out;
	}
	e->epoch = json_object_get_int64(ep);
	e->epochs = json_object_get_int64(eps);
	if (e->epoch < 1 || e->epoch > e->epochs) {
		err = aios_fail(AIOS_ERR_INVALID, "epoch line: epoch %lld not in 1..%lld",
		                (long long)e->epoch, (long long)e->epochs);
		goto out;
	}
	if (opt_num(o, "loss", &e->loss) || !isfinite(e->loss) ||
	    opt_num(o, "val_loss", &e->val_loss) || opt_num(o, "val_accuracy", &e->val_accuracy) ||
	    opt_num(o, "samples_per_sec", &e->samples_per_sec) ||
	    opt_num(o, "elapsed_s", &e->elapsed_s) || opt_num(o, "cpu_s", &e->cpu_s))
		err =
		    aios_fail(AIOS_ERR_INVALID, "epoch line: loss missing or a field not a number");
out:
	json_object_put(o);
	return err;
}
