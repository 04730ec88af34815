/*
 * kubectl.h - run the cached kubectl (1.20.2, scripts/build-kube.sh) from a test.
 *
 * Integration tests drive the real API server the way a user does, with kubectl:
 * apply manifests, read objects back, check what the server refused. Output (stdout
 * and stderr together) is captured into a caller's buffer, cut to its capacity.
 * Every failure to even start kubectl fails the calling test loudly.
 */
#ifndef AIOS_TEST_KUBECTL_H
#define AIOS_TEST_KUBECTL_H

#include <stddef.h>

#define AIOS_TEST_KUBECTL_OUT_CAP  (256 * 1024) /* bytes of output a test usually keeps */
#define AIOS_TEST_KUBECTL_MAX_ARGS 512          /* e.g. one -f per case file */

/*
 * Path of kubectl: $AIOS_KUBE_BIN/kubectl when set (scripts/test.sh exports it), else
 * the directory scripts/build-kube.sh prints (the cached build; waits if one runs).
 * Static buffer; exits the test with a message when there is no kubectl.
 */
const char *aios_test_kubectl_path(void);

/*
 * Runs `kubectl --kubeconfig=KUBECONFIG --request-timeout=30s ARGS...` (NULL-ended
 * list) with `input` (may be NULL) on its standard input. Writes the NUL-terminated
 * output into out (at most cap - 1 bytes). Returns kubectl's exit status, or -1 when
 * it was killed by a signal.
 */
int aios_test_kubectl(const char *kubeconfig, const char *input, char *out, size_t cap, ...)
    __attribute__((sentinel));

/* The same with the arguments in an array of n (at most AIOS_TEST_KUBECTL_MAX_ARGS). */
int aios_test_kubectlv(const char *kubeconfig, const char *input, char *out, size_t cap,
                       const char *const *args, size_t n);

/* Waits (up to 60 s) until both aios CRDs are Established; fails the test if not. */
void aios_test_wait_crds_established(const char *kubeconfig);

/*
 * `kubectl auth can-i VERB RESOURCE[.GROUP] [--subresource=SUB] --as USER -n NS` with the
 * admin kubeconfig: 1 yes, 0 no. resource may name a subresource ("modelservices/status");
 * group is "" for the core group. Fails the test on any other answer.
 */
int aios_test_can_i(const char *user, const char *verb, const char *resource, const char *group,
                    const char *ns);

#endif
