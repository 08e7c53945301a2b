# syntax=docker/dockerfile:1
# Tandem's container image: the release binary on distroless/cc (glibc and
# CA certificates, no shell, no package manager), running as a non-root user.
#
#   docker build -t tandem:0.1.0 .
#   docker run --rm -p 8080:8080 -v tandem-data:/var/lib/tandem/data \
#     -e TANDEM_PUBLIC_URL=http://127.0.0.1:8080 tandem:0.1.0
#
# The Helm chart (helm/tandem) sets every path and secret itself.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole workspace (see .dockerignore): the crate's manifest names its
# tests and benches, and askama reads templates/ at compile time.
COPY . .
# Caches keep the registry and the build between image builds; the binary is
# copied out of the cached target folder. [profile.release] strips it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tandem \
    && install -D -m 0755 target/release/tandem /out/usr/local/bin/tandem \
    && install -d -m 0700 /out/var/lib/tandem/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/tandem /usr/local/bin/tandem
# Owned by the runtime user, so a named volume mounted here starts writable.
COPY --from=build --chown=65532:65532 /out/var/lib/tandem /var/lib/tandem
WORKDIR /var/lib/tandem
USER 65532:65532
# Tandem's defaults listen on 127.0.0.1 and keep the database, the keys and
# the checkpoint journal in ./data (here /var/lib/tandem/data).
ENV TANDEM_BIND=0.0.0.0:8080 \
    TANDEM_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tandem"]
CMD ["serve"]
