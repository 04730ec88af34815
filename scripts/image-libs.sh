#!/usr/bin/env bash
# Used by the Dockerfiles' build stage: copies BINARY and the shared libraries it needs
# (as ldd lists them, less glibc, which the distroless base image ships) into OUT,
# laid out as OUT/usr/local/bin/NAME and OUT/usr/local/lib/aios/*.so*.
# Libraries a program loads at run time with dlopen (aios-serve's libcurl) are named in
# AIOS_EXTRA_LIBS (space-separated sonames) and copied with their own dependencies.
#   [AIOS_EXTRA_LIBS="libcurl.so.4"] scripts/image-libs.sh BINARY OUT
set -euo pipefail
bin="$1"; out="$2"
[[ -x "$bin" ]] || { echo "image-libs: $bin: not an executable (was it built?)" >&2; exit 1; }
mkdir -p "$out/usr/local/bin" "$out/usr/local/lib/aios"
cp "$bin" "$out/usr/local/bin/"
copy_deps() {
  ldd "$1" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;; # in the base image
      *) cp -L "$lib" "$out/usr/local/lib/aios/" ;;
    esac
  done
}
copy_deps "$bin"
for soname in ${AIOS_EXTRA_LIBS:-}; do
  # awk reads all of ldconfig's output (an early exit would SIGPIPE ldconfig and, with
  # pipefail, fail this script at random).
  path="$(ldconfig -p | awk -v n="$soname" '$1 == n && /x86-64|x86_64|aarch64/ && !p {p = $NF} END {print p}')"
  [[ -n "$path" ]] || { echo "image-libs: $soname: not found by ldconfig" >&2; exit 1; }
  cp -L "$path" "$out/usr/local/lib/aios/$soname"
  copy_deps "$path"
done
