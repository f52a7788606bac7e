# log-shipper: a static binary on an empty base, run as a non-root user; it needs no
# writable root filesystem (docker run --read-only works).
# Build from the repository root:  docker build -f deploy/docker/log-shipper.Dockerfile -t outrigger/log-shipper .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
RUN cd shipper && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/log-shipper ./cmd/log-shipper

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/log-shipper /log-shipper
USER 65532:65532
EXPOSE 9844
# The registry of delivered offsets lives on a volume; the root stays read-only.
VOLUME ["/var/lib/log-shipper"]
ENTRYPOINT ["/log-shipper"]
