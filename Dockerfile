# syntax=docker/dockerfile:1
# leadsvc as one static binary on a distroless base: no shell, no package
# manager, a non-root user. Build: docker build --build-arg VERSION=$(git describe --always) .

# The Go version is go.mod's; a test keeps them equal.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# Static (no cgo) so that it runs on distroless/static; the version flag is the Makefile's.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/leadsvc ./cmd/leadsvc
# The data directory (embedded NATS, generated key) must exist and belong to
# the non-root user; distroless has no shell to create it.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/leadsvc /leadsvc
COPY --from=build --chown=65532:65532 /out/data /var/lib/leadsvc
ENV LEADSVC_DATA_DIR=/var/lib/leadsvc \
    LEADSVC_ADDR=:8080 \
    LEADSVC_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
# Distroless has no curl: the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 CMD ["/leadsvc", "healthcheck"]
ENTRYPOINT ["/leadsvc"]
CMD ["serve"]
