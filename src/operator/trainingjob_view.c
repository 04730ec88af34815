/*
 * trainingjob_view.c - a TrainingJob read into C structs, and its status written back.
 *
 * The planner (trainingjob_status.c) reads the job once here: metadata, the parsed spec,
 * and status decoded field by field into struct aios_tj_status. It plans on the structs
 * and encodes the status once at the end. Decoding keeps every field's absence and
 * carries fields it does not know (a search's trials and best) in status.rest, so a
 * status that nothing changed encodes to JSON equal to what was read (aios_json_equal):
 * an unchanged job is not written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "operator/trainingjob.h"

/* ============================== phase ============================== */

static const char *const phase_names[] = {
    [AIOS_TJ_PHASE_NONE] = "",
    [AIOS_TJ_PHASE_PENDING] = "Pending",
    [AIOS_TJ_PHASE_RUNNING] = "Running",
    [AIOS_TJ_PHASE_RESTARTING] = "Restarting",
    [AIOS_TJ_PHASE_SUCCEEDED] = "Succeeded",
    [AIOS_TJ_PHASE_FAILED] = "Failed",
    [AIOS_TJ_PHASE_SUSPENDED] = "Suspended",
};

const char *aios_tj_phase_name(enum aios_tj_phase p)
{
	return (size_t)p < sizeof(phase_names) / sizeof(phase_names[0]) ? phase_names[p] : "";
}

enum aios_tj_phase aios_tj_phase_parse(const char *s)
{
	for (size_t i = 1; s && i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
		if (strcmp(s, phase_names[i]) == 0)
			return (enum aios_tj_phase)i;
	return AIOS_TJ_PHASE_NONE;
}

/* ============================== decoding ============================== */

static int is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* Field key of o when it is a number: *v and 1, else 0. */
static int get_int(struct json_object *o, const char *key, int64_t *v)
{
	struct json_object *x;
	if (!o || !json_object_object_get_ex(o, key, &x) || !is_number(x))
		return 0;
	*v = json_object_get_int64(x);
	return 1;
}

static int get_double(struct json_object *o, const char *key, double *v)
{
	struct json_object *x;
	if (!o || !json_object_object_get_ex(o, key, &x) || !is_number(x))
		return 0;
	*v = json_object_get_double(x);
	return 1;
}

/* A string field as a new copy, or NULL. */
static char *dup_str(struct json_object *o, const char *key)
{
	struct json_object *x;
	if (!o || !json_object_object_get_ex(o, key, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return aios_xstrdup(json_object_get_string(x));
}

static time_t get_time(struct json_object *o, const char *key)
{
	const char *s = aios_json_str(o, key);
	return s ? aios_rfc3339_parse(s) : -1;
}

static void decode_file(struct json_object *o, struct aios_tj_file *f)
{
	f->uri = dup_str(o, "uri");
	f->sha256 = dup_str(o, "sha256");
	if (!get_int(o, "bytes", &f->bytes))
		f->bytes = -1;
}

void aios_tj_artifact_decode(struct json_object *o, struct aios_tj_artifact *a)
{
	memset(a, 0, sizeof(*a));
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	a->present = 1;
	decode_file(o, &a->file);
	struct json_object *onnx = aios_json_lookup(o, "onnx");
	a->has_onnx = onnx && json_object_is_type(onnx, json_type_object);
	decode_file(a->has_onnx ? onnx : NULL, &a->onnx);
	a->has_generation = get_int(o, "generation", &a->generation);
}

static void decode_progress(struct json_object *o, struct aios_tj_status_progress *p)
{
	memset(p, 0, sizeof(*p));
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	p->present = 1;
	p->have |= get_int(o, "epoch", &p->epoch) ? AIOS_TJ_PR_EPOCH : 0;
	p->have |= get_int(o, "epochs", &p->epochs) ? AIOS_TJ_PR_EPOCHS : 0;
	p->have |= get_double(o, "loss", &p->loss) ? AIOS_TJ_PR_LOSS : 0;
	p->have |= get_double(o, "validationLoss", &p->val_loss) ? AIOS_TJ_PR_VAL_LOSS : 0;
	p->have |= get_double(o, "accuracy", &p->accuracy) ? AIOS_TJ_PR_ACCURACY : 0;
	p->have |= get_double(o, "samplesPerSecond", &p->sps) ? AIOS_TJ_PR_SPS : 0;
	p->have |= get_int(o, "percent", &p->percent) ? AIOS_TJ_PR_PERCENT : 0;
	p->have |= get_int(o, "etaSeconds", &p->eta_s) ? AIOS_TJ_PR_ETA : 0;
}

/* The keys decoded into fields; everything else goes to rest. */
static const char *const known[] = {
    "phase",   "observedGeneration", "attempts", "startTime",  "completionTime",
    "workers", "progress",           "artifact", "conditions",
};

static int is_known(const char *key)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(key, known[i]) == 0)
			return 1;
	return 0;
}

void aios_tj_status_decode(struct json_object *status, struct aios_tj_status *out)
{
	memset(out, 0, sizeof(*out));
	out->start_time = out->completion_time = -1;
	out->rest = json_object_new_object();
	if (!status || !json_object_is_type(status, json_type_object))
		return;
	out->phase = aios_tj_phase_parse(aios_json_str(status, "phase"));
	out->has_observed = get_int(status, "observedGeneration", &out->observed_generation);
	out->has_attempts = get_int(status, "attempts", &out->attempts);
	out->start_time = get_time(status, "startTime");
	out->completion_time = get_time(status, "completionTime");
	struct json_object *w = aios_json_lookup(status, "workers");
	if (w && json_object_is_type(w, json_type_object)) {
		int64_t a = 0, s = 0, f = 0;
		out->has_workers = get_int(w, "active", &a) + get_int(w, "succeeded", &s) +
		                       get_int(w, "failed", &f) ==
		                   3;
		out->active = (int)a, out->succeeded = (int)s, out->failed = (int)f;
	}
	decode_progress(aios_json_lookup(status, "progress"), &out->progress);
	aios_tj_artifact_decode(aios_json_lookup(status, "artifact"), &out->artifact);
	struct json_object *conds = aios_json_lookup(status, "conditions");
	out->had_conditions = conds != NULL;
	aios_conditions_decode(conds, &out->conditions);
	json_object_object_foreach(status, k, v)
	{
		if (!is_known(k))
			json_object_object_add(out->rest, k, json_object_get(v));
	}
}

/* ============================== encoding ============================== */

static void put_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s ? s : ""));
}

static void put_time(struct json_object *o, const char *key, time_t t)
{
	char buf[32];
	aios_rfc3339(t, buf, sizeof(buf));
	put_str(o, key, buf);
}

static struct json_object *encode_file(const struct aios_tj_file *f)
{
	struct json_object *r = json_object_new_object();
	if (f->uri)
		put_str(r, "uri", f->uri);
	if (f->sha256)
		put_str(r, "sha256", f->sha256);
	if (f->bytes >= 0)
		json_object_object_add(r, "bytes", json_object_new_int64(f->bytes));
	return r;
}

struct json_object *aios_tj_artifact_encode(const struct aios_tj_artifact *a)
{
	struct json_object *r = encode_file(&a->file);
	if (a->has_onnx)
		json_object_object_add(r, "onnx", encode_file(&a->onnx));
	if (a->has_generation)
		json_object_object_add(r, "generation", json_object_new_int64(a->generation));
	return r;
}

struct json_object *aios_tj_progress_encode(const struct aios_tj_status_progress *p)
{
	struct json_object *o = json_object_new_object();
	if (p->have & AIOS_TJ_PR_EPOCH)
		json_object_object_add(o, "epoch", json_object_new_int64(p->epoch));
	if (p->have & AIOS_TJ_PR_EPOCHS)
		json_object_object_add(o, "epochs", json_object_new_int64(p->epochs));
	if (p->have & AIOS_TJ_PR_LOSS)
		json_object_object_add(o, "loss", json_object_new_double(p->loss));
	if (p->have & AIOS_TJ_PR_VAL_LOSS)
		json_object_object_add(o, "validationLoss", json_object_new_double(p->val_loss));
	if (p->have & AIOS_TJ_PR_ACCURACY)
		json_object_object_add(o, "accuracy", json_object_new_double(p->accuracy));
	if (p->have & AIOS_TJ_PR_SPS)
		json_object_object_add(o, "samplesPerSecond", json_object_new_double(p->sps));
	if (p->have & AIOS_TJ_PR_PERCENT)
		json_object_object_add(o, "percent", json_object_new_int64(p->percent));
	if (p->have & AIOS_TJ_PR_ETA)
		json_object_object_add(o, "etaSeconds", json_object_new_int64(p->eta_s));
	return o;
}

struct json_object *aios_tj_status_encode(const struct aios_tj_status *s)
{
	struct json_object *o = s->rest ? aios_json_copy(s->rest) : json_object_new_object();
	if (s->phase != AIOS_TJ_PHASE_NONE)
		put_str(o, "phase", aios_tj_phase_name(s->phase));
	if (s->has_observed)
		json_object_object_add(o, "observedGeneration",
		                       json_object_new_int64(s->observed_generation));
	if (s->has_attempts)
		json_object_object_add(o, "attempts", json_object_new_int64(s->attempts));
	if (s->start_time >= 0)
		put_time(o, "startTime", s->start_time);
	if (s->completion_time >= 0)
		put_time(o, "completionTime", s->completion_time);
	if (s->has_workers) {
		struct json_object *w = json_object_new_object();
		json_object_object_add(w, "active", json_object_new_int(s->active));
		json_object_object_add(w, "succeeded", json_object_new_int(s->succeeded));
		json_object_object_add(w, "failed", json_object_new_int(s->failed));
		json_object_object_add(o, "workers", w);
	}
	if (s->progress.present)
		json_object_object_add(o, "progress", aios_tj_progress_encode(&s->progress));
	if (s->artifact.present)
		json_object_object_add(o, "artifact", aios_tj_artifact_encode(&s->artifact));
	if (s->conditions.n > 0 || s->had_conditions)
		json_object_object_add(o, "conditions", aios_conditions_encode(&s->conditions));
	return o;
}

void aios_tj_artifact_clear(struct aios_tj_artifact *a)
{
	free(a->file.uri);
	free(a->file.sha256);
	free(a->onnx.uri);
	free(a->onnx.sha256);
	memset(a, 0, sizeof(*a));
}

void aios_tj_status_cleanup(struct aios_tj_status *s)
{
	aios_tj_artifact_clear(&s->artifact);
	aios_conditions_cleanup(&s->conditions);
	json_object_put(s->rest);
	memset(s, 0, sizeof(*s));
	s->start_time = s->completion_time = -1;
}

/* ============================== the view ============================== */

enum aios_err aios_tj_view_init(struct aios_tj_view *v, struct json_object *job)
{
	memset(v, 0, sizeof(*v));
	v->job = job;
	aios_tj_status_decode(aios_json_lookup(job, "status"), &v->status);
	v->name = aios_json_str(job, "metadata.name");
	if (!v->name) {
		aios_tj_view_cleanup(v);
		return aios_fail(AIOS_ERR_INVALID, "trainingjob: metadata.name missing");
	}
	if (aios_json_opt_int(job, "metadata.generation", 1, &v->generation))
		v->generation = 1;
	v->deleting = aios_json_lookup(job, "metadata.deletionTimestamp") != NULL;
	v->spec_ok = aios_tj_spec_parse(job, &v->spec) == AIOS_OK;
	if (!v->spec_ok)
		snprintf(v->spec_error, sizeof(v->spec_error), "%s", aios_errmsg());
	v->search = aios_json_lookup(job, "spec.search") != NULL;
	v->output_uri = aios_json_str(job, "spec.output.uri");
	struct json_object *spec = aios_json_lookup(job, "spec");
	v->spec_json_len = strlen(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN));
	return AIOS_OK;
}

void aios_tj_view_cleanup(struct aios_tj_view *v)
{
	aios_tj_status_cleanup(&v->status);
	memset(v, 0, sizeof(*v));
}
