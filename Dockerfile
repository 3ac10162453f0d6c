# Image for `netbench k8s`: our qperf and wrk (the client Jobs and the qperf
# server) and netbench (its `serve-http` is the HTTP target), on the PATH.
#
#   docker build -t REGISTRY/netbench:TAG .    then set `image` in the k8s config
#
# The bases are build ARGs: the defaults are the public images; a local build
# without Docker Hub passes its own (deploy/image/build-local.sh makes both from
# Debian packages and builds this file with buildah).
# Not built in this repository's CI (too slow for its budget; see
# deploy/image/README.md for what was built and run, and how).
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# mlua vendors LuaJIT: make and a C compiler come with the rust image.
RUN cargo build --release --locked -p qperf-rs -p wrk-rs -p netbench \
    && install -D -m 755 target/release/qperf target/release/wrk target/release/netbench -t /out

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# qperf server (control and data), HTTP server.
EXPOSE 4000/tcp 4000/udp 8080/tcp
CMD ["qperf", "-lp", "4000"]
