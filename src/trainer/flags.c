/*
 * flags.c - aios-trainer's command line (see run.h). Flags that describe the job
 * patch the spec JSON, so the spec's validator checks them too.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "run.h"

void trainer_usage(FILE *f)
{
	fputs("usage: aios-trainer --spec job.json [--output URI] [--checkpoint-dir DIR]\n"
	      "                    [--metrics-port N] [--threads N]\n"
	      "       aios-trainer --data FILE [--model TYPE] [--hidden 64,64] [--loss L] ...\n"
	      "\n"
	      "Trains one model and writes the model artifact. The job comes from --spec (a JSON\n"
	      "TrainingJob spec), else $AIOS_SPEC_FILE, else $AIOS_SPEC; the flags below override "
	      "it.\n"
	      "\n"
	      "  --spec FILE             TrainingJob spec as JSON\n"
	      "  --output URI            artifact destination (file://, pvc://, path); default\n"
	      "                          spec.output.uri, else ./model.aios\n"
	      "  --output-formats LIST   spec.output.formats: aios (default) or aios,onnx (also\n"
	      "                          model.onnx beside the artifact: <output> with .onnx)\n"
	      "  --checkpoint-dir DIR    checkpoints (default $AIOS_CHECKPOINT_DIR, else "
	      "<output>.ckpt)\n"
	      "  --metrics-port N        serve /metrics on N (0: off; default 9090 in a pod, off "
	      "by hand)\n"
	      "  --threads N             worker threads (default: CPUs in the affinity mask); "
	      "results are\n"
	      "                          deterministic for a given seed and thread count\n"
	      "model:      --model linear|logistic|softmax|mlp  --hidden W1,W2,...\n"
	      "            --activation relu|tanh|sigmoid  --outputs N  --loss "
	      "mse|cross_entropy|hinge\n"
	      "optimizer:  --optimizer gd|sgd|momentum|adam  --lr X  --epochs N  --batch-size N\n"
	      "            --momentum X  --beta1 X  --beta2 X  --epsilon X  --weight-decay X  "
	      "--seed N\n"
	      "data:       --data URI  --format csv|f32  --header | --no-header\n"
	      "            --label-column NAME|INDEX  --sha256 HEX  --validation-split X  "
	      "--normalize\n"
	      "            --checkpoint-every N (epochs; 0 disables)\n"
	      "distributed (rank, world, coordinator from $AIOS_RANK etc., docs/distributed.md):\n"
	      "  --secret-file PATH      the job's shared secret (else $AIOS_SECRET_FILE, "
	      "$AIOS_SECRET);\n"
	      "                          a multi-rank run without one is refused\n"
	      "  --insecure-no-auth      run multi-rank without a secret: anyone who reaches the "
	      "ports\n"
	      "                          can join ($AIOS_DIST_INSECURE=1)\n"
	      "  --log-level debug|info|warn|error   --help   --version\n"
	      "\n"
	      "Exit codes: 0 ok, 1 internal, 2 bad flags/spec, 3 bad data, 4 diverged, 5 I/O,\n"
	      "6 interrupted (resumable), 7 distributed peers lost. See docs/trainer.md.\n",
	      f);
}

enum {
	F_SPEC = 256,
	F_OUTPUT,
	F_FORMATS,
	F_CKPT_DIR,
	F_METRICS,
	F_THREADS,
	F_MODEL,
	F_HIDDEN,
	F_ACT,
	F_OUTPUTS,
	F_LOSS,
	F_OPT,
	F_LR,
	F_EPOCHS,
	F_BATCH,
	F_MOM,
	F_B1,
	F_B2,
	F_EPS,
	F_WD,
	F_SEED,
	F_DATA,
	F_FORMAT,
	F_HEADER,
	F_NO_HEADER,
	F_LABEL,
	F_SHA,
	F_VSPLIT,
	F_NORM,
	F_CKPT_EVERY,
	F_LOG,
	F_HELP,
	F_VERSION,
	F_EXIT_AFTER,
	F_SECRET_FILE,
	F_INSECURE
};

static const struct option longopts[] = {
    {"spec", required_argument, 0, F_SPEC},
    {"output", required_argument, 0, F_OUTPUT},
    {"output-formats", required_argument, 0, F_FORMATS},
    {"checkpoint-dir", required_argument, 0, F_CKPT_DIR},
    {"metrics-port", required_argument, 0, F_METRICS},
    {"threads", required_argument, 0, F_THREADS},
    {"model", required_argument, 0, F_MODEL},
    {"hidden", required_argument, 0, F_HIDDEN},
    {"activation", required_argument, 0, F_ACT},
    {"outputs", required_argument, 0, F_OUTPUTS},
    {"loss", required_argument, 0, F_LOSS},
    {"optimizer", required_argument, 0, F_OPT},
    {"lr", required_argument, 0, F_LR},
    {"learning-rate", required_argument, 0, F_LR},
    {"epochs", required_argument, 0, F_EPOCHS},
    {"batch-size", required_argument, 0, F_BATCH},
    {"momentum", required_argument, 0, F_MOM},
    {"beta1", required_argument, 0, F_B1},
    {"beta2", required_argument, 0, F_B2},
    {"epsilon", required_argument, 0, F_EPS},
    {"weight-decay", required_argument, 0, F_WD},
    {"seed", required_argument, 0, F_SEED},
    {"data", required_argument, 0, F_DATA},
    {"format", required_argument, 0, F_FORMAT},
    {"header", no_argument, 0, F_HEADER},
    {"no-header", no_argument, 0, F_NO_HEADER},
    {"label-column", required_argument, 0, F_LABEL},
    {"sha256", required_argument, 0, F_SHA},
    {"validation-split", required_argument, 0, F_VSPLIT},
    {"normalize", no_argument, 0, F_NORM},
    {"checkpoint-every", required_argument, 0, F_CKPT_EVERY},
    {"log-level", required_argument, 0, F_LOG},
    {"help", no_argument, 0, F_HELP},
    {"version", no_argument, 0, F_VERSION},
    {"exit-after-epoch", required_argument, 0, F_EXIT_AFTER},
    {"secret-file", required_argument, 0, F_SECRET_FILE},
    {"insecure-no-auth", no_argument, 0, F_INSECURE},
    {0, 0, 0, 0},
};

static int parse_int(const char *flag, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi) {
		aios_fail(AIOS_ERR_INVALID, "--%s: \"%s\" is not an integer in %lld..%lld", flag, s,
		          lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_num(const char *flag, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v)) {
		aios_fail(AIOS_ERR_INVALID, "--%s: \"%s\" is not a number", flag, s);
		return -1;
	}
	*out = v;
	return 0;
}

static struct json_object *hidden_array(const char *s)
{
	struct json_object *a = json_object_new_array();
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > (1 << 20) || (*end && *end != ',')) {
			json_object_put(a);
			aios_fail(AIOS_ERR_INVALID,
			          "--hidden: \"%s\" is not a list of widths such as 64,64", s);
			return NULL;
		}
		json_object_array_add(a, json_object_new_int((int)v));
		p = *end ? end + 1 : end;
	}
	return a;
}

/* "aios,onnx" -> ["aios", "onnx"]; the spec's validator judges the names. */
static struct json_object *string_list(const char *s)
{
	struct json_object *a = json_object_new_array();
	for (const char *p = s;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		json_object_array_add(a, json_object_new_string_len(p, (int)n));
		if (!end)
			return a;
		p = end + 1;
	}
}

int trainer_opts_parse(int argc, char **argv, struct trainer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->metrics_port = -1;
	o->patch = json_object_new_object();
	struct json_object *p = o->patch;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		long long i;
		double d;
		const char *name = NULL;
		for (const struct option *op = longopts; op->name && !name; op++)
			if (op->val == c)
				name = op->name;
		switch (c) {
		case F_SPEC: o->spec_path = optarg; break;
		case F_OUTPUT: o->output = optarg; break;
		case F_FORMATS: aios_json_set(p, "output.formats", string_list(optarg)); break;
		case F_CKPT_DIR: o->ckpt_dir = optarg; break;
		case F_METRICS:
			if (parse_int(name, optarg, 0, 65535, &i))
				return TRAINER_EXIT_USAGE;
			o->metrics_port = (int)i;
			break;
		case F_THREADS:
			if (parse_int(name, optarg, 1, 64, &i))
				return TRAINER_EXIT_USAGE;
			o->threads = (int)i;
			break;
		/* the distributed settings are the environment's (dist_rendezvous.h): the
		 * flags set the same variables */
		case F_SECRET_FILE: setenv("AIOS_SECRET_FILE", optarg, 1); break;
		case F_INSECURE: setenv("AIOS_DIST_INSECURE", "1", 1); break;
		case F_EXIT_AFTER:
			if (parse_int(name, optarg, 1, 1 << 30, &i))
				return TRAINER_EXIT_USAGE;
			o->exit_after_epoch = (int)i;
			break;
		case F_MODEL: aios_json_set(p, "model.type", json_object_new_string(optarg)); break;
		case F_ACT:
			aios_json_set(p, "model.activation", json_object_new_string(optarg));
			break;
		case F_LOSS: aios_json_set(p, "loss", json_object_new_string(optarg)); break;
		case F_OPT:
			aios_json_set(p, "optimizer.type", json_object_new_string(optarg));
			break;
		case F_FORMAT:
			aios_json_set(p, "data.format", json_object_new_string(optarg));
			break;
		case F_SHA: aios_json_set(p, "data.sha256", json_object_new_string(optarg)); break;
		case F_DATA: aios_json_set(p, "data.uri", json_object_new_string(optarg)); break;
		case F_HEADER: aios_json_set(p, "data.header", json_object_new_boolean(1)); break;
		case F_NO_HEADER:
			aios_json_set(p, "data.header", json_object_new_boolean(0));
			break;
		case F_NORM: aios_json_set(p, "data.normalize", json_object_new_boolean(1)); break;
		case F_HIDDEN: {
			struct json_object *a = hidden_array(optarg);
			if (!a)
				return TRAINER_EXIT_USAGE;
			aios_json_set(p, "model.hidden", a);
			break;
		}
		case F_LABEL: {
			char *end;
			long v = strtol(optarg, &end, 10);
			aios_json_set(p, "data.labelColumn",
			              *optarg && !*end ? json_object_new_int((int)v)
			                               : json_object_new_string(optarg));
			break;
		}
		case F_OUTPUTS:
		case F_EPOCHS:
		case F_BATCH:
		case F_SEED:
		case F_CKPT_EVERY: {
			static const struct {
				int flag;
				const char *path;
			} ints[] = {{F_OUTPUTS, "model.outputs"},
			            {F_EPOCHS, "optimizer.epochs"},
			            {F_BATCH, "optimizer.batchSize"},
			            {F_SEED, "optimizer.seed"},
			            {F_CKPT_EVERY, "checkpoint.everyEpochs"}};
			if (parse_int(name, optarg, 0, INT64_MAX, &i))
				return TRAINER_EXIT_USAGE;
			for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
				if (ints[k].flag == c)
					aios_json_set(p, ints[k].path, json_object_new_int64(i));
			break;
		}
		case F_LR:
		case F_MOM:
		case F_B1:
		case F_B2:
		case F_EPS:
		case F_WD:
		case F_VSPLIT: {
			static const struct {
				int flag;
				const char *path;
			} nums[] = {
			    {F_LR, "optimizer.learningRate"},  {F_MOM, "optimizer.momentum"},
			    {F_B1, "optimizer.beta1"},         {F_B2, "optimizer.beta2"},
			    {F_EPS, "optimizer.epsilon"},      {F_WD, "optimizer.weightDecay"},
			    {F_VSPLIT, "data.validationSplit"}};
			if (parse_num(name, optarg, &d))
				return TRAINER_EXIT_USAGE;
			for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
				if (nums[k].flag == c)
					aios_json_set(p, nums[k].path, json_object_new_double(d));
			break;
		}
		case F_LOG:
			if (aios_log_parse_level(optarg) < 0) {
				aios_fail(AIOS_ERR_INVALID,
				          "--log-level: \"%s\" is not debug, info, warn or error",
				          optarg);
				return TRAINER_EXIT_USAGE;
			}
			aios_log_set_level((enum aios_log_level)aios_log_parse_level(optarg));
			break;
		case 'h':
		case F_HELP: o->help = 1; break;
		case F_VERSION: o->version = 1; break;
		default:
			aios_fail(AIOS_ERR_INVALID, "unknown or incomplete flag %s (see --help)",
			          argv[optind - 1]);
			return TRAINER_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		aios_fail(AIOS_ERR_INVALID, "unexpected argument \"%s\" (see --help)",
		          argv[optind]);
		return TRAINER_EXIT_USAGE;
	}
	return TRAINER_EXIT_OK;
}

void trainer_opts_cleanup(struct trainer_opts *o)
{
	json_object_put(o->patch);
	memset(o, 0, sizeof(*o));
}
