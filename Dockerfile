# syntax=docker/dockerfile:1
# Image of aios-operator, the operator (controller manager), with the kubectl-aios plugin beside it. Multi-stage: build on Debian 12, run on distroless
# (no shell, no package manager) as the non-root user 65532, the UID the operator's pod
# security context asks for (runAsNonRoot, runAsUser 65532, read-only root filesystem).
# Build from the repository root:  docker build -f Dockerfile -t aios/operator:0.1.0 .
ARG DEBIAN=debian:12
ARG RUNTIME=gcr.io/distroless/base-debian12:nonroot

FROM ${DEBIAN} AS build
# Build packages, one a line.
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential \
      cmake \
      pkg-config \
      ca-certificates \
      libcurl4-openssl-dev \
      libjson-c-dev \
      libyaml-dev \
      libssl-dev \
      libwebsockets-dev \
      check \
      libprotobuf-c-dev \
      protobuf-c-compiler \
      libonnx-dev \
      libseccomp-dev \
    && rm -rf /var/lib/apt/lists/*
# Release build, warnings on, hardened: fortified libc calls, stack protector and clash
# protection, CET, position-independent executables, full RELRO.
ARG HARDEN_CFLAGS="-D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fcf-protection -fPIE"
ARG HARDEN_LDFLAGS="-pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack"
WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
COPY scripts/image-libs.sh ./scripts/
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DAIOS_WERROR=OFF -DAIOS_NATIVE=OFF \
      -DCMAKE_C_FLAGS="$HARDEN_CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$HARDEN_LDFLAGS" -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-z,relro,-z,now" \
    && cmake --build /build --target aios-operator kubectl-aios -j"$(nproc)" \
    && scripts/image-libs.sh "$(find /build -type f -name aios-operator -perm -u+x | head -1)" /out \
    && scripts/image-libs.sh "$(find /build -type f -name kubectl-aios -perm -u+x | head -1)" /out

FROM ${RUNTIME}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="aios-operator" \
      org.opencontainers.image.description="aios: the operator (controller manager)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/aios-dev/aios" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ /
ENV LD_LIBRARY_PATH=/usr/local/lib/aios
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/aios-operator"]
