# A team instance in a container: docker build -t hookwire . &&
# docker run -p 8080:8080 -v hookwire:/data -e HOOKWIRE_ACCESS_TOKEN=... hookwire
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/hookwire /usr/local/bin/hookwire
RUN useradd --system --home /data hookwire && mkdir /data && chown hookwire /data
USER hookwire
WORKDIR /data
ENV HOOKWIRE_LISTEN=0.0.0.0:8080 HOOKWIRE_DB=/data/hookwire.db HOOKWIRE_LOG_FORMAT=json
EXPOSE 8080
VOLUME /data
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hookwire", "serve"]
