# postgres-exporter: a static binary on an empty base, run as a non-root user; it needs no
# writable root filesystem (docker run --read-only works).
# Build from the repository root:  docker build -f deploy/docker/postgres-exporter.Dockerfile -t outrigger/postgres-exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
RUN cd exporters/postgres && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/postgres-exporter ./cmd/postgres-exporter

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/postgres-exporter /postgres-exporter
USER 65532:65532
EXPOSE 9187
ENTRYPOINT ["/postgres-exporter"]
