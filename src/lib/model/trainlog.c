/*
 * trainlog.c - the trainer's per-epoch and final lines (see trainlog.h).
 */
#include "model/trainlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"

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

/* ============================== the final line ============================== */

static struct json_object *num_or_null(double x)
{
	return isfinite(x) ? json_object_new_double(x) : NULL;
}

static struct json_object *file_object(const struct aios_trainlog_file *f)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "uri", json_object_new_string(f->uri));
	if (f->sha256[0])
		json_object_object_add(o, "sha256", json_object_new_string(f->sha256));
	if (f->bytes >= 0)
		json_object_object_add(o, "bytes", json_object_new_int64(f->bytes));
	return o;
}

char *aios_trainlog_format_final(const struct aios_trainlog_final *f)
{
	struct json_object *o = json_object_new_object();
	struct json_object *art = file_object(&f->artifact);
	if (f->onnx.uri[0])
		json_object_object_add(art, "onnx", file_object(&f->onnx));
	json_object_object_add(o, "artifact", art);
	json_object_object_add(o, "epochs", json_object_new_int64(f->epochs));
	json_object_object_add(o, "loss", num_or_null(f->loss));
	json_object_object_add(o, "val_loss", num_or_null(f->val_loss));
	if (f->classifies) {
		json_object_object_add(o, "accuracy", num_or_null(f->accuracy));
		json_object_object_add(o, "val_accuracy", num_or_null(f->val_accuracy));
	}
	char *text = aios_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* {uri, sha256, bytes} at o into *f; -1 when a field has the wrong type. */
static int read_file(struct json_object *o, struct aios_trainlog_file *f)
{
	struct json_object *v = NULL;
	memset(f, 0, sizeof(*f));
	f->bytes = -1;
	if (json_object_object_get_ex(o, "uri", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return -1;
		snprintf(f->uri, sizeof(f->uri), "%s", json_object_get_string(v));
	}
	if (json_object_object_get_ex(o, "sha256", &v) && v) {
		if (!json_object_is_type(v, json_type_string))
			return -1;
		snprintf(f->sha256, sizeof(f->sha256), "%s", json_object_get_string(v));
	}
	if (json_object_object_get_ex(o, "bytes", &v) && v) {
		if (!json_object_is_type(v, json_type_int) &&
		    !json_object_is_type(v, json_type_double))
			return -1;
		f->bytes = json_object_get_int64(v);
	}
	return 0;
}

enum aios_err aios_trainlog_parse_final(const char *line, size_t len, struct aios_trainlog_final *f)
{
	memset(f, 0, sizeof(*f));
	f->artifact.bytes = f->onnx.bytes = -1;
	f->loss = f->val_loss = f->accuracy = f->val_accuracy = NAN;
	if (len > AIOS_TRAINLOG_FINAL_MAX)
		return aios_fail(AIOS_ERR_INVALID, "final line: %zu bytes, over %d", len,
		                 AIOS_TRAINLOG_FINAL_MAX);
	if (len == 0 || line[0] != '{')
		return aios_fail(AIOS_ERR_INVALID, "final line: not a JSON object");
	struct json_object *o = NULL;
	enum aios_err err = aios_json_parse(line, len, "final line", &o);
	if (err)
		return err;
	err = AIOS_OK;
	struct json_object *art = NULL, *onnx = NULL, *ep = NULL;
	if (!json_object_is_type(o, json_type_object)) {
		err = aios_fail(AIOS_ERR_INVALID, "final line: not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(o, "artifact", &art) ||
	    !json_object_is_type(art, json_type_object))
		art = o; /* the line is the file itself */
	if (read_file(art, &f->artifact) || !f->artifact.uri[0] ||
	    (json_object_object_get_ex(art, "onnx", &onnx) &&
	     json_object_is_type(onnx, json_type_object) && read_file(onnx, &f->onnx))) {
		err = aios_fail(AIOS_ERR_INVALID, "final line: no artifact uri, or a file field "
		                                  "not of its type");
		goto out;
	}
	if (json_object_object_get_ex(o, "epochs", &ep) && ep) {
		if (!json_object_is_type(ep, json_type_int)) {
			err = aios_fail(AIOS_ERR_INVALID, "final line: epochs not an integer");
			goto out;
		}
		f->epochs = json_object_get_int64(ep);
	}
	f->classifies = json_object_object_get_ex(o, "accuracy", NULL) ||
	                json_object_object_get_ex(o, "val_accuracy", NULL);
	if (opt_num(o, "loss", &f->loss) || opt_num(o, "val_loss", &f->val_loss) ||
	    opt_num(o, "accuracy", &f->accuracy) || opt_num(o, "val_accuracy", &f->val_accuracy))
		err = aios_fail(AIOS_ERR_INVALID, "final line: a figure not a number");
out:
	json_object_put(o);
	return err;
}

int aios_trainlog_find_final(const char *text, struct aios_trainlog_final *f)
{
	if (!text)
		return 0;
	const char *end = text + strlen(text);
	while (end > text) {
		const char *ls = end;
		while (ls > text && ls[-1] != '\n')
			ls--;
		const char *s = ls;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		size_t len = (size_t)(end - s);
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
			len--;
		if (len > 0 && *s == '{' && aios_trainlog_parse_final(s, len, f) == AIOS_OK)
			return 1;
		aios_errclear();
		end = ls > text ? ls - 1 : text;
	}
	return 0;
}
