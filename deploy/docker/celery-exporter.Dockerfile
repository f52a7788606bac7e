# celery-exporter: a static binary on an empty base, run as a non-root user; it needs no
# writable root filesystem (docker run --read-only works).
# Build from the repository root:  docker build -f deploy/docker/celery-exporter.Dockerfile -t outrigger/celery-exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
RUN cd exporters/celery && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/celery-exporter ./cmd/celery-exporter

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/celery-exporter /celery-exporter
USER 65532:65532
EXPOSE 9808
ENTRYPOINT ["/celery-exporter"]
