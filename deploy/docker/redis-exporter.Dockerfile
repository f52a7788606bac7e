# redis-exporter: a static binary on an empty base, run as a non-root user; it needs no
# writable root filesystem (docker run --read-only works).
# Build from the repository root:  docker build -f deploy/docker/redis-exporter.Dockerfile -t outrigger/redis-exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
RUN cd exporters/redis && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/redis-exporter ./cmd/redis-exporter

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/redis-exporter /redis-exporter
USER 65532:65532
EXPOSE 9121
ENTRYPOINT ["/redis-exporter"]
