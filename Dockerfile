# ringcap in a container: host networking, only CAP_NET_RAW and CAP_NET_ADMIN, a non-root user,
# the evidence on a volume at /var/lib/ringcap (README "Deploying").
#   podman build --network host -t ringcap .      (docker build works the same)
# BASE: any Debian 12 image; on machines without a registry, ../shared/tools/podman-base.sh
# builds localhost/debian:bookworm.
ARG BASE=docker.io/library/debian:bookworm
FROM ${BASE} AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      gcc libc6-dev make pkg-config libpcap-dev libjansson-dev libssl-dev libsqlite3-dev \
      libmicrohttpd-dev libcurl4-openssl-dev >/dev/null
WORKDIR /src
COPY Makefile VERSION ./
COPY src src
COPY web web
COPY scripts scripts
RUN make -j2 build/ringcap

FROM ${BASE}
# the agent's user has a fixed uid so that a bind-mounted volume can be given to it (chown 10640)
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libpcap0.8 libjansson4 libssl3 libsqlite3-0 libmicrohttpd12 libcurl4 curl ca-certificates \
      libcap2-bin >/dev/null \
 && groupadd --system --gid 10640 ringcap \
 && useradd --uid 10640 --gid ringcap --home-dir /var/lib/ringcap --no-create-home \
      --shell /usr/sbin/nologin ringcap \
 && install -d -o ringcap -g ringcap -m 0750 /var/lib/ringcap
COPY --from=build /src/build/ringcap /usr/bin/ringcap
# capture as a non-root user: file capabilities, effective only when the container is given them
# (cap_add: NET_RAW, NET_ADMIN)
RUN setcap cap_net_raw,cap_net_admin=ep /usr/bin/ringcap \
 && apt-get purge -y -qq libcap2-bin >/dev/null && rm -rf /var/lib/apt/lists/*
USER ringcap
ENV RINGCAP_INTERFACE=eth0 \
    SAVE_PCAP=true \
    PCAP_ROTATION_SIZE=100 \
    PCAP_RETENTION_COUNT=10 \
    RINGCAP_HTTP=127.0.0.1:8080
VOLUME /var/lib/ringcap
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD curl -fsS -o /dev/null "http://${RINGCAP_HTTP}/" || exit 1
ENTRYPOINT ["/bin/sh", "-c", "exec /usr/bin/ringcap run -i \"$RINGCAP_INTERFACE\" -o /var/lib/ringcap/data \"$@\"", "ringcap"]
