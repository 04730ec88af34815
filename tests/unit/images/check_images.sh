#!/usr/bin/env bash
# Checks what can be checked of the four Dockerfiles without a Docker engine:
#  - every COPY source exists in the repository;
#  - every --target they build is a CMake executable, and the binary they pick is built;
#  - scripts/image-libs.sh, run on that binary, yields a tree whose program runs --help
#    with only the copied libraries (plus glibc, as in the distroless base);
#  - the image's user is 65532, the UID the operator renders into pod security contexts
#    and operator/deployment.yaml asks for; the base is distroless :nonroot.
#   check_images.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src="$1"; build="$2"; fail=0
bad() { echo "check_images: $*" >&2; fail=1; }
declare -A want=([Dockerfile]="aios-operator kubectl-aios" [trainer-image/Dockerfile]="aios-trainer" [inference-image/Dockerfile]="aios-serve" [gateway-image/Dockerfile]="aios-gateway")
for df in "${!want[@]}"; do
  f="$src/$df"
  [[ -f "$f" ]] || { bad "$df: missing"; continue; }
  # COPY sources (not --from) exist.
  while read -r line; do
    args=(${line#COPY }); n=${#args[@]}
    for ((i = 0; i < n - 1; i++)); do
      [[ "${args[i]}" == --* ]] && continue
      [[ -e "$src/${args[i]}" ]] || bad "$df: COPY source ${args[i]} does not exist"
    done
  done < <(grep -E '^COPY ' "$f" | grep -v -- '--from=')
  for bin in ${want[$df]}; do
    grep -q -- "--target.*\b$bin\b" "$f" || bad "$df: does not build target $bin"
    grep -qE "add_executable\($bin " "$src"/src/*/CMakeLists.txt || bad "$df: $bin is not a CMake executable"
    exe="$(find "$build" -type f -name "$bin" -perm -u+x | head -1)"
    [[ -n "$exe" ]] || { bad "$df: $bin not built in $build"; continue; }
    out="$(mktemp -d)"
    extra=""; grep -q "AIOS_EXTRA_LIBS=" "$f" && extra="$(grep -o 'AIOS_EXTRA_LIBS=[^ ]*' "$f" | head -1 | cut -d= -f2)"
    if ! AIOS_EXTRA_LIBS="$extra" "$src/scripts/image-libs.sh" "$exe" "$out" >/dev/null; then
      bad "$df: image-libs.sh failed for $bin"
    elif ! env -i LD_LIBRARY_PATH="$out/usr/local/lib/aios" "$out/usr/local/bin/$bin" --help >/dev/null 2>&1; then
      bad "$df: $bin --help fails with only the image's libraries"
    fi
    rm -rf "$out"
  done
  grep -q '^USER 65532:65532' "$f" || bad "$df: USER is not 65532:65532"
  grep -q 'distroless/.*:nonroot' "$f" || bad "$df: runtime base is not distroless :nonroot"
  grep -q 'ENTRYPOINT \["/usr/local/bin/' "$f" || bad "$df: no exec-form ENTRYPOINT"
  grep -q '^FROM .* AS build' "$f" || bad "$df: not multi-stage"
done
grep -qE 'runAsUser(\\)?":65532|runAsUser", json_object_new_int\(65532\)' "$src"/src/operator/*render*.c || bad "operator renders no runAsUser 65532"
grep -q 'runAsUser: 65532' "$src/operator/deployment.yaml" || bad "operator/deployment.yaml runAsUser is not 65532"
[[ $fail == 0 ]] && echo "check_images: 4 Dockerfiles agree with the build and the pod security context"
exit $fail
