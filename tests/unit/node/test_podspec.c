/*
 * test_podspec.c - Pod JSON -> processes: the image table, argv, env with the
 * downward API and $(VAR) expansion, volumes, mounts, probes, refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/mem.h"
#include "node/podspec.h"
#include "node/volumes.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test pod", &o), AIOS_OK);
	return o;
}

/* A bin dir holding fake aios-trainer and aios-serve (the latter under src/serve/). */
static char bindir[64];
static void make_bindir(void)
{
	snprintf(bindir, sizeof bindir, "/tmp/aios-podspec-test-%d", (int)getpid());
	char *p = aios_xasprintf("%s/src/serve", bindir);
	char *cmd = aios_xasprintf("mkdir -p %s", p);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	char *t = aios_xasprintf("%s/aios-trainer", bindir),
	     *s = aios_xasprintf("%s/aios-serve", p);
	FILE *f = fopen(t, "w");
	fclose(f);
	chmod(t, 0755);
	f = fopen(s, "w");
	fclose(f);
	chmod(s, 0755);
	free(p);
	free(t);
	free(s);
}

static enum aios_err fake_lookup(void *arg, int is_secret, const char *ns, const char *name,
                                 const char *key, char **out)
{
	(void)arg;
	if (!is_secret && strcmp(ns, "ml") == 0 && strcmp(name, "cfg") == 0 &&
	    strcmp(key, "lr") == 0) {
		*out = aios_xstrdup("0.05");
		return AIOS_OK;
	}
	if (is_secret && strcmp(name, "tok") == 0 && strcmp(key, "t") == 0) {
		*out = aios_xstrdup("s3cret");
		return AIOS_OK;
	}
	return AIOS_ERR_NOT_FOUND;
}

START_TEST(image_table)
{
	ck_assert_str_eq(aios_podspec_image_program("aios/trainer:0.1.0"), "aios-trainer");
	ck_assert_str_eq(aios_podspec_image_program("ghcr.io/x/aios/serve@sha256:abcd"),
	                 "aios-serve");
	ck_assert_str_eq(aios_podspec_image_program("localhost:5000/operator"), "aios-operator");
	ck_assert_str_eq(aios_podspec_image_program("aios-trainer:latest"), "aios-trainer");
	ck_assert_ptr_null(aios_podspec_image_program("nginx:1.25"));
	ck_assert_ptr_null(aios_podspec_image_program("aios/trainerx:1"));
	ck_assert_ptr_null(aios_podspec_image_program(""));
}
END_TEST

START_TEST(expand_follows_kubernetes)
{
	char *env[] = {"A=1", "B=two", "A=3", NULL};
	char *s;
	ck_assert_int_eq(aios_podspec_expand("x$(A)-$(B)-$(C)-$$(A)-$(", env, 3, &s), AIOS_OK);
	ck_assert_str_eq(s, "x3-two-$(C)-$(A)-$(");
	free(s);
	/* one pass: a value that itself reads $(A) is put in as written */
	char *env2[] = {"A=1", "R=$(A)", NULL};
	ck_assert_int_eq(aios_podspec_expand("$(R)", env2, 2, &s), AIOS_OK);
	ck_assert_str_eq(s, "$(A)");
	free(s);
	ck_assert_str_eq(aios_podspec_getenv(env, 3, "A"), "3");
	ck_assert_ptr_null(aios_podspec_getenv(env, 3, "AB"));
}
END_TEST

static const char *trainer_pod =
    "{\"metadata\":{\"name\":\"job-0\",\"namespace\":\"ml\",\"uid\":\"1234-5678\","
    " \"labels\":{\"app\":\"lin\"}},"
    " \"spec\":{\"nodeName\":\"n1\",\"restartPolicy\":\"OnFailure\","
    "\"terminationGracePeriodSeconds\":5,"
    "  \"volumes\":[{\"name\":\"data\",\"persistentVolumeClaim\":{\"claimName\":\"models\"}},"
    "   {\"name\":\"scratch\",\"emptyDir\":{}},"
    "   "
    "{\"name\":\"conf\",\"configMap\":{\"name\":\"cfg\",\"items\":[{\"key\":\"lr\",\"path\":\"lr."
    "txt\"}]}}],"
    "  \"containers\":[{\"name\":\"trainer\",\"image\":\"aios/trainer:0.1\","
    "   \"args\":[\"--rank\",\"$(AIOS_RANK)\",\"--ip\",\"$(POD_IP)\"],"
    "   \"workingDir\":\"/work\","
    "   \"env\":[{\"name\":\"AIOS_RANK\",\"value\":\"0\"},"
    "    {\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},"
    "    {\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
    "    {\"name\":\"NS\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.namespace\"}}},"
    "    {\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}},"
    "    "
    "{\"name\":\"APP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}},"
    "    {\"name\":\"LR\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"lr\"}}},"
    "    {\"name\":\"TOK\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"tok\",\"key\":\"t\"}}},"
    "    "
    "{\"name\":\"OPT\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"nope\",\"key\":\"t\","
    "\"optional\":true}}},"
    "    {\"name\":\"WHERE\",\"value\":\"$(NS)/$(POD)\"}],"
    "   \"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/mnt/pvc/models\"},"
    "    {\"name\":\"conf\",\"mountPath\":\"/etc/aios\",\"readOnly\":true},"
    "    {\"name\":\"scratch\",\"mountPath\":\"/tmp/s\",\"subPath\":\"a/b\"}],"
    "   \"ports\":[{\"name\":\"metrics\",\"containerPort\":9090}],"
    "   "
    "\"readinessProbe\":{\"httpGet\":{\"path\":\"/"
    "metrics\",\"port\":\"metrics\"},\"periodSeconds\":2},"
    "   \"livenessProbe\":{\"tcpSocket\":{\"port\":9090}},"
    "   \"terminationMessagePolicy\":\"FallbackToLogsOnError\"}]}}";

START_TEST(trainer_pod_translates)
{
	make_bindir();
	struct json_object *pod = parse(trainer_pod);
	struct aios_podspec_ctx ctx = {.pod_ip = "10.244.0.7",
	                               .host_ip = "10.244.0.1",
	                               .bin_dir = bindir,
	                               .lookup = fake_lookup};
	struct aios_podspec *p;
	ck_assert_int_eq(aios_podspec_build(pod, &ctx, &p), AIOS_OK);
	ck_assert_str_eq(p->ns, "ml");
	ck_assert_int_eq(p->restart, AIOS_RESTART_ON_FAILURE);
	ck_assert_int_eq(p->grace_s, 5);
	ck_assert_uint_eq(p->n_volumes, 3);
	ck_assert_int_eq(p->volumes[0].kind, AIOS_VOL_PVC);
	ck_assert_str_eq(p->volumes[0].source, "models");
	ck_assert_int_eq(p->volumes[2].kind, AIOS_VOL_CONFIG_MAP);
	ck_assert_uint_eq(p->volumes[2].n_items, 1);
	ck_assert_str_eq(p->volumes[2].items[0].path, "lr.txt");

	struct aios_podspec_container *c = &p->containers[0];
	ck_assert_ptr_null(c->image_reason);
	ck_assert_ptr_null(c->env_error);
	ck_assert_str_eq(c->program, "aios-trainer");
	char *want0 = aios_xasprintf("%s/aios-trainer", bindir);
	ck_assert_str_eq(c->argv[0], want0);
	free(want0);
	ck_assert_uint_eq(c->argc, 5);
	ck_assert_str_eq(c->argv[2], "0");
	ck_assert_str_eq(c->argv[4], "10.244.0.7");
	ck_assert_ptr_null(c->argv[5]);
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "POD"), "job-0");
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "NS"), "ml");
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "NODE"), "n1");
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "APP"), "lin");
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "LR"), "0.05");
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "TOK"), "s3cret");
	ck_assert_ptr_null(aios_podspec_getenv(c->env, c->envc, "OPT"));
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "WHERE"), "ml/job-0");
	ck_assert_str_eq(aios_podspec_getenv(c->env, c->envc, "HOSTNAME"), "job-0");
	ck_assert_str_eq(c->working_dir, "/work");
	ck_assert_uint_eq(c->n_mounts, 3);
	ck_assert_str_eq(c->mounts[0].path, "/mnt/pvc/models");
	ck_assert_int_eq(c->mounts[1].read_only, 1);
	ck_assert_str_eq(c->mounts[2].sub_path, "a/b");
	ck_assert_int_eq(c->readiness.kind, AIOS_PROBE_HTTP);
	ck_assert_int_eq(c->readiness.port, 9090);
	ck_assert_str_eq(c->readiness.path, "/metrics");
	ck_assert_int_eq(c->readiness.period_s, 2);
	ck_assert_int_eq(c->readiness.failure_threshold, 3);
	ck_assert_int_eq(c->liveness.kind, AIOS_PROBE_TCP);
	ck_assert_int_eq(c->fallback_to_logs, 1);
	ck_assert_str_eq(c->termination_message_path, "/dev/termination-log");
	aios_podspec_free(p);
	json_object_put(pod);
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", bindir), AIOS_OK);
}
END_TEST

START_TEST(command_and_missing_things)
{
	make_bindir();
	struct aios_podspec_ctx ctx = {.pod_ip = "", .bin_dir = bindir};
	/* a command naming an aios program runs the built one (found under src/serve) */
	struct json_object *pod = parse(
	    "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	    "\"containers\":["
	    "{\"name\":\"a\",\"image\":\"aios/serve:1\",\"command\":[\"/usr/local/bin/"
	    "aios-serve\",\"--port\",\"8080\"]},"
	    "{\"name\":\"b\",\"image\":\"aios/"
	    "serve:1\",\"command\":[\"sleep\",\"$(N)\"],\"env\":[{\"name\":\"N\",\"value\":\"9\"}]}"
	    ","
	    "{\"name\":\"c\",\"image\":\"nginx\"},"
	    "{\"name\":\"d\",\"image\":\"aios/operator:1\"},"
	    "{\"name\":\"e\",\"image\":\"aios/trainer\",\"env\":[{\"name\":\"X\",\"valueFrom\":"
	    " {\"configMapKeyRef\":{\"name\":\"none\",\"key\":\"k\"}}}]}]}}");
	struct aios_podspec *p;
	ck_assert_int_eq(aios_podspec_build(pod, &ctx, &p), AIOS_OK);
	ck_assert_int_eq(p->restart, AIOS_RESTART_ALWAYS);
	ck_assert_int_eq(p->grace_s, 30);
	ck_assert_ptr_nonnull(strstr(p->containers[0].argv[0], "/src/serve/aios-serve"));
	ck_assert_str_eq(p->containers[0].argv[2], "8080");
	ck_assert_str_eq(p->containers[1].argv[0], "sleep");
	ck_assert_str_eq(p->containers[1].argv[1], "9");
	ck_assert_str_eq(p->containers[2].image_reason, "ImageNotSupported");
	ck_assert_ptr_nonnull(strstr(p->containers[2].image_message, "nginx"));
	ck_assert_str_eq(p->containers[3].image_reason, "ErrImagePull");
	ck_assert_ptr_nonnull(strstr(p->containers[3].image_message, "aios-operator"));
	ck_assert_ptr_nonnull(p->containers[4].env_error);
	ck_assert_ptr_nonnull(strstr(p->containers[4].env_error, "none"));
	aios_podspec_free(p);
	json_object_put(pod);
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", bindir), AIOS_OK);
}
END_TEST

START_TEST(bad_pods_are_refused_with_the_field)
{
	struct aios_podspec_ctx ctx = {.bin_dir = "/nonexistent"};
	struct aios_podspec *p;
	const char *cases[][2] = {
	    {"{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	     "\"containers\":[]}}",
	     "spec.containers"},
	    {"{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	     "\"restartPolicy\":\"Sometimes\","
	     "\"containers\":[{\"name\":\"a\",\"image\":\"aios/trainer\"}]}}",
	     "restartPolicy"},
	    {"{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	     "\"containers\":[{\"name\":\"a\","
	     "\"image\":\"aios/trainer\",\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/"
	     "v\"}]}]}}",
	     "volume v"},
	    {"{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	     "\"volumes\":[{\"name\":\"v\","
	     "\"nfs\":{}}],\"containers\":[{\"name\":\"a\",\"image\":\"aios/trainer\"}]}}",
	     "volume v"},
	    {"{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	     "\"containers\":[{\"name\":\"a\","
	     "\"image\":\"aios/trainer\",\"readinessProbe\":{\"httpGet\":{\"port\":\"web\"}}}]}}",
	     "readinessProbe"},
	    {"{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	     "\"containers\":[{\"name\":\"a\","
	     "\"image\":\"aios/trainer\",\"args\":[1]}]}}",
	     "args[0]"},
	    {"{\"metadata\":{\"name\":\"x\"},\"spec\":{}}", "metadata"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct json_object *pod = parse(cases[i][0]);
		ck_assert_int_eq(aios_podspec_build(pod, &ctx, &p), AIOS_ERR_INVALID);
		ck_assert_ptr_null(p);
		if (!strstr(aios_errmsg(), cases[i][1]))
			ck_abort_msg("case %zu: message \"%s\" does not name %s", i, aios_errmsg(),
			             cases[i][1]);
		json_object_put(pod);
	}
}
END_TEST

/* Every container gets the `kubernetes` Service's variables (aios-node's forwarder),
 * usable in $(VAR) and overridden by the container's own env; without a forwarder
 * none; a name defined twice is passed once, the later value. */
START_TEST(kubernetes_service_env)
{
	make_bindir();
	struct aios_podspec_ctx ctx = {
	    .pod_ip = "10.244.0.9", .bin_dir = bindir, .api_host = "10.244.0.1", .api_port = 443};
	struct json_object *pod = parse(
	    "{\"metadata\":{\"name\":\"op\",\"namespace\":\"aios-system\",\"uid\":\"u\"},"
	    "\"spec\":{\"containers\":["
	    "{\"name\":\"a\",\"image\":\"aios/trainer\",\"env\":["
	    "{\"name\":\"API\",\"value\":\"https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_"
	    "SERVICE_PORT)\"},{\"name\":\"D\",\"value\":\"1\"},{\"name\":\"D\",\"value\":\"2\"}]},"
	    "{\"name\":\"b\",\"image\":\"aios/trainer\",\"env\":["
	    "{\"name\":\"KUBERNETES_SERVICE_HOST\",\"value\":\"api.example\"}]}]}}");
	struct aios_podspec *p;
	ck_assert_int_eq(aios_podspec_build(pod, &ctx, &p), AIOS_OK);
	const struct aios_podspec_container *a = &p->containers[0], *b = &p->containers[1];
	ck_assert_ptr_null(a->env_error);
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_SERVICE_HOST"),
	                 "10.244.0.1");
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_SERVICE_PORT"), "443");
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_SERVICE_PORT_HTTPS"),
	                 "443");
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_PORT"),
	                 "tcp://10.244.0.1:443");
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_PORT_443_TCP_ADDR"),
	                 "10.244.0.1");
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "API"), "https://10.244.0.1:443");
	size_t d = 0;
	for (size_t i = 0; i < a->envc; i++)
		d += strncmp(a->env[i], "D=", 2) == 0;
	ck_assert_uint_eq(d, 1);
	ck_assert_str_eq(aios_podspec_getenv(a->env, a->envc, "D"), "2");
	/* the container's own value replaces the Service's (one entry, for execve) */
	size_t h = 0;
	for (size_t i = 0; i < b->envc; i++)
		h += strncmp(b->env[i], "KUBERNETES_SERVICE_HOST=", 24) == 0;
	ck_assert_uint_eq(h, 1);
	ck_assert_str_eq(aios_podspec_getenv(b->env, b->envc, "KUBERNETES_SERVICE_HOST"),
	                 "api.example");
	aios_podspec_free(p);

	ctx.api_port = 0; /* no forwarder: no variables */
	ck_assert_int_eq(aios_podspec_build(pod, &ctx, &p), AIOS_OK);
	a = &p->containers[0];
	ck_assert_ptr_null(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_SERVICE_PORT"));
	ck_assert_ptr_null(aios_podspec_getenv(a->env, a->envc, "KUBERNETES_PORT"));
	aios_podspec_free(p);
	json_object_put(pod);
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", bindir), AIOS_OK);
}
END_TEST

/* V0 = 16 bytes, Vi = $(Vi-1)$(Vi-1): unbounded, V40 would be 16 TiB. The chain stops
 * at the cap (128 KiB) with CreateContainerConfigError on that container, in args too,
 * and the agent stays up; the container before the cap is untouched. */
START_TEST(expansion_is_bounded)
{
	struct aios_buf b;
	aios_buf_init(&b, 1u << 20);
	ck_assert_int_eq(aios_buf_puts(&b, "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\","
	                                   "\"uid\":\"u\"},\"spec\":{\"containers\":["
	                                   "{\"name\":\"a\",\"image\":\"aios/trainer\",\"env\":["
	                                   "{\"name\":\"V0\",\"value\":\"0123456789abcdef\"}"),
	                 AIOS_OK);
	for (int i = 1; i <= 40; i++)
		ck_assert_int_eq(aios_buf_printf(&b,
		                                 ",{\"name\":\"V%d\",\"value\":\"$(V%d)$(V%d)\"}",
		                                 i, i - 1, i - 1),
		                 AIOS_OK);
	ck_assert_int_eq(aios_buf_puts(&b, "]},{\"name\":\"b\",\"image\":\"aios/trainer\","
	                                   "\"env\":[{\"name\":\"W\",\"value\":\"w\"}],"
	                                   "\"args\":[\"$(W)\"]}]}}"),
	                 AIOS_OK);
	struct json_object *pod = parse(b.data);
	aios_buf_cleanup(&b);
	struct aios_podspec_ctx ctx = {.bin_dir = "/nonexistent"};
	struct aios_podspec *p;
	ck_assert_int_eq(aios_podspec_build(pod, &ctx, &p), AIOS_OK);
	const struct aios_podspec_container *a = &p->containers[0];
	ck_assert_ptr_nonnull(a->env_error);
	/* 16 << 13 = 128 KiB is the first value past the cap (the NUL counts) */
	ck_assert_ptr_nonnull(strstr(a->env_error, "env V13"));
	ck_assert_ptr_nonnull(strstr(a->env_error, "over 131072 bytes"));
	ck_assert_uint_eq(strlen(aios_podspec_getenv(a->env, a->envc, "V12")), 16u << 12);
	ck_assert_ptr_null(aios_podspec_getenv(a->env, a->envc, "V14"));
	ck_assert_ptr_null(p->containers[1].env_error);
	ck_assert_str_eq(p->containers[1].argv[1], "w");
	aios_podspec_free(p);
	json_object_put(pod);

	/* the same in args: a value just under the cap, named twice */
	char *big = aios_xmalloc(AIOS_PODSPEC_MAX_EXPANDED);
	memset(big, 'x', AIOS_PODSPEC_MAX_EXPANDED - 1);
	big[AIOS_PODSPEC_MAX_EXPANDED - 1] = '\0';
	char *kv = aios_xasprintf("BIG=%s", big);
	char *env[] = {kv, NULL};
	char *s = (char *)"not touched";
	ck_assert_int_eq(aios_podspec_expand("$(BIG)", env, 1, &s), AIOS_OK);
	ck_assert_uint_eq(strlen(s), AIOS_PODSPEC_MAX_EXPANDED - 1);
	free(s);
	ck_assert_int_eq(aios_podspec_expand("$(BIG)$(BIG)", env, 1, &s), AIOS_ERR_TOO_BIG);
	ck_assert_ptr_null(s);
	free(kv);
	free(big);
}
END_TEST

static Suite *podspec_suite(void)
{
	Suite *s = suite_create("node_podspec");
	TCase *t = tcase_create("podspec");
	tcase_add_test(t, image_table);
	tcase_add_test(t, expand_follows_kubernetes);
	tcase_add_test(t, trainer_pod_translates);
	tcase_add_test(t, command_and_missing_things);
	tcase_add_test(t, bad_pods_are_refused_with_the_field);
	tcase_add_test(t, kubernetes_service_env);
	tcase_add_test(t, expansion_is_bounded);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(podspec_suite)
