# The migrate container image: a static binary on distroless, as a non-root
# user. Build from the repository root:
#   docker build -t migrate:dev --build-arg VERSION=$(git describe --always) .
# See docs/scale-out.md and deploy/kubernetes/.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=""
# CGO_ENABLED=0: a static binary, no libc needed at run time.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/migrate ./cmd/migrate

# distroless/static: CA certificates and tzdata, no shell, no package
# manager; the :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/migrate /usr/local/bin/migrate
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/migrate"]
CMD ["help"]
