# custos on Debian 12, built from this source tree with Debian's packages.
FROM debian:bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config librdkafka-dev libpq-dev libcjson-dev \
        libmicrohttpd-dev liblua5.4-dev libyaml-dev libvectorscan-dev libsodium-dev \
        libcurl4-openssl-dev libssl-dev postgresql-client kcat ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /src/build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build /src/build -j"$(nproc)" \
    && install -m 0755 /src/build/custos /usr/local/bin/custos
RUN useradd --system --home /var/lib/custos custos
USER custos
ENTRYPOINT ["custos"]
CMD ["run"]
