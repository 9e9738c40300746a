# The Code-Releaser bot. Multi-stage: build a static binary, then run it as
# a non-root user on a small Debian with git (go-git's file:// transport and
# the tests need it; HTTPS and SSH remotes are pure Go) and CA certificates.
#   docker build -t code-releaser .
#   docker run -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN -e GIT_TOKEN \
#     -v $PWD/code-releaser.yml:/etc/code-releaser.yml:ro -p 8080:8080 code-releaser
# Not built by CI: the project's machines have no Docker engine.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/code-releaser ./cmd/code-releaser-merge-tree

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/releaser releaser
COPY --from=build /out/code-releaser /out/code-releaser-merge-tree /usr/local/bin/
USER 10001:10001
ENV XDG_CACHE_HOME=/home/releaser/.cache
EXPOSE 8080
# Probes: GET /healthz (up) and /readyz (connected to Slack) on :8080.
ENTRYPOINT ["/usr/local/bin/code-releaser"]
CMD ["serve", "--config", "/etc/code-releaser.yml", "--listen", ":8080"]
