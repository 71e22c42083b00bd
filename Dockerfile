# custos on Debian 12, built from this source tree with Debian's packages.
# Two stages: a build image with the compilers and -dev packages, and a slim
# run image with only the shared libraries, running as the user 'custos'.
# Both package lists come from scripts/packages.txt, the list scripts/deps.sh
# installs from (tests/demo/docker_files.sh checks they agree).
FROM debian:bookworm AS build
COPY scripts/packages.txt /tmp/packages.txt
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(sed -n 's/^build: //p' /tmp/packages.txt) \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUSTOS_TESTS=OFF \
        -DCMAKE_INSTALL_PREFIX=/usr/local \
    && cmake --build /build -j"$(nproc)" --target custos \
    && DESTDIR=/out cmake --install /build

FROM debian:bookworm-slim AS run
COPY scripts/packages.txt /tmp/packages.txt
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(sed -n 's/^runtime: //p' /tmp/packages.txt) \
    && rm -rf /var/lib/apt/lists/* /tmp/packages.txt \
    && useradd --system --home-dir /var/lib/custos --create-home --shell /usr/sbin/nologin custos
COPY --from=build /out/usr/local/bin/custos /usr/local/bin/custos
COPY --from=build /out/usr/local/share/custos /usr/local/share/custos
USER custos
WORKDIR /var/lib/custos
ENV XDG_CACHE_HOME=/var/lib/custos/.cache
ENTRYPOINT ["custos"]
CMD ["run"]
