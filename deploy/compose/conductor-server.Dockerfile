# syntax=docker/dockerfile:1
#
# conductor-oss server (the Spring Boot jar from Maven Central) with SQLite for storage, queues and indexing:
# one container, no Redis/Postgres/Elasticsearch. For local use with deploy/compose/docker-compose.yml only.
#
# To move to another version, change both build args: the checksum is what makes the download trustworthy.
#   sha256sum conductor-server-<version>-boot.jar   (cross-check the .sha1 Maven Central publishes next to it)

# Ubuntu-based Temurin 21 (conductor-server 3.22+ needs Java 21+); it ships curl, used for the download and the
# compose healthcheck.
FROM eclipse-temurin:21-jre-noble

ARG CONDUCTOR_VERSION=3.32.3
ARG CONDUCTOR_SHA256=6b1615a5beb82bbbfa05219d0f1b84440aa8c0bef1371662803ef5588d7d507b

LABEL org.opencontainers.image.title="conductor-server (conductor-http-worker compose demo)" \
      org.opencontainers.image.version="${CONDUCTOR_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# org.conductoross:conductor-server:${CONDUCTOR_VERSION}:jar:boot (~440 MiB), verified before it is kept.
RUN mkdir -p /opt/conductor /data \
 && curl -fsSL --retry 3 -o /opt/conductor/conductor-server.jar \
      "https://repo1.maven.org/maven2/org/conductoross/conductor-server/${CONDUCTOR_VERSION}/conductor-server-${CONDUCTOR_VERSION}-boot.jar" \
 && echo "${CONDUCTOR_SHA256}  /opt/conductor/conductor-server.jar" | sha256sum -c - \
 && groupadd --system --gid 10002 conductor \
 && useradd --system --uid 10002 --gid 10002 --no-create-home --home-dir /data --shell /usr/sbin/nologin conductor \
 && chown 10002:10002 /data

# /data holds the SQLite database (a named volume in compose; Docker copies this directory's ownership into a
# new empty volume, so the non-root server can write there).
VOLUME ["/data"]
WORKDIR /data
USER 10002:10002
EXPOSE 8080

# The same heap as scripts/conductor-server.sh; override with JAVA_TOOL_OPTIONS.
ENV JAVA_TOOL_OPTIONS="-Xmx1g"
ENTRYPOINT ["java", "-jar", "/opt/conductor/conductor-server.jar"]
# The flags of scripts/conductor-server.sh, listening on all interfaces of the container.
CMD ["--server.port=8080", \
     "--spring.datasource.url=jdbc:sqlite:/data/conductor.db?busy_timeout=15000&journal_mode=WAL", \
     "--conductor.db.type=sqlite", \
     "--conductor.queue.type=sqlite", \
     "--conductor.indexing.type=sqlite", \
     "--conductor.grpc-server.enabled=false", \
     "--conductor.integrations.ai.enabled=false"]
