# nut-mqtt all-in-one image: NUT (upsd + drivers) supervised by the agent, bridged to MQTT. The same file builds
# for linux/amd64 and linux/arm64, and is the Home Assistant add-on's image too (ha-addon/config.yaml):
#   docker build -t nut-mqtt .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/nut-mqtt:<version> --push .
# Behind a TLS-intercepting proxy, hand npm its CA for the build only (never baked into a layer):
#   DOCKER_BUILDKIT=1 docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t nut-mqtt .
# The image runs NUT as root: the driver opens the UPS's USB device (mapped in from the host) and NUT's state
# folder is private to the container, so there is no second user to separate from.

FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs an install script; the build is plain tsc. Every production dependency is
# plain JavaScript, so what this stage makes is the same on every architecture.
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev
# What the runtime never reads: type declarations, source maps, the packages' docs.
RUN find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
      -o -name '*.md' -o -name '*.markdown' \) -delete \
 && rm -rf node_modules/@types

# Debian's NUT, reduced to upsd, the drivers, upsc/upscmd/upsrw, tini and the libraries they need.
FROM debian:trixie-slim AS nut
COPY docker/collect-nut.sh /usr/local/sbin/collect-nut.sh
RUN dpkg-query -W -f '${Package}\n' > /base-packages \
 && apt-get update \
 && apt-get install -y --no-install-recommends nut-server nut-client tini \
 && /usr/local/sbin/collect-nut.sh /base-packages

# The runtime: Debian with the node binary alone (no npm, corepack, headers or docs of the Node image).
FROM debian:trixie-slim AS runtime
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=nut /out/ /
COPY docker/healthcheck.sh /usr/local/bin/nut-mqtt-healthcheck
# Fail the build, not the first start, if a driver or node misses a library.
RUN for f in /usr/lib/nut/* /usr/local/bin/node; do if ldd "$f" | grep -q 'not found'; then ldd "$f"; exit 1; fi; done \
 && /usr/lib/nut/upsd -V \
 && node --version \
 && mkdir -p /var/run/nut /etc/nut /data /run/nut-mqtt \
 && chmod 0770 /var/run/nut
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
ENV NODE_ENV=production \
    NUT_CONFPATH=/etc/nut \
    NUT_STATEPATH=/var/run/nut \
    NUT_ALTPIDPATH=/var/run/nut \
    NUT_DRIVER_PATH=/usr/lib/nut \
    NUT_UPSD_PATH=/usr/lib/nut/upsd \
    NUT_USER=root \
    INIT_ON_START=true \
    HTTP_PORT=8080 \
    HTTP_HOST=127.0.0.1 \
    HEALTH_FILE=/run/nut-mqtt/health \
    DATA_PATH=/data
# Other NUT clients (upsmon on other hosts, a NAS) keep using port 3493.
EXPOSE 3493
# /data: the agent's own state (energy totals), kept across container re-creation.
VOLUME ["/etc/nut", "/data"]
# No Node process per check (7 s under emulation): a shell script reads the file the agent rewrites every 5 s with
# its /healthz verdict, and calls a file older than 30 s (a stuck agent) unhealthy too.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["/usr/local/bin/nut-mqtt-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/cli.js", "run"]
