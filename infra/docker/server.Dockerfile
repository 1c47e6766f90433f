# Paypulse server image: builds the dashboard (WASM) and the server, then
# ships both in a slim runtime image.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm python3-venv && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo xtask ui && cargo build --release --package paypulse-server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 paypulse
COPY --from=build /src/target/release/paypulse-server /usr/local/bin/paypulse-server
COPY --from=build /src/ui/dist /srv/paypulse/ui
ENV HOST=0.0.0.0 PORT=8080 UI_DIST=/srv/paypulse/ui
USER paypulse
EXPOSE 8080
HEALTHCHECK CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["paypulse-server"]
CMD ["serve"]
