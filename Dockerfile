# nut-mqtt all-in-one image: NUT (upsd + drivers) supervised by the agent, bridged to MQTT.
#   docker build -t nut-mqtt .
# The image runs NUT as root: the driver opens the UPS's USB device (mapped in from the host) and NUT's state
# folder is private to the container, so there is no second user to separate from.

FROM node:22.12.0-alpine3.20 AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs an install script; the build is plain tsc.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22.12.0-alpine3.20 AS runtime
# Alpine's nut package puts the drivers in /usr/lib/nut and the real upsd in /usr/sbin; tini is PID 1 and
# forwards SIGTERM to the agent, which stops upsd and the drivers before it exits.
RUN apk add --no-cache nut tini \
 && mkdir -p /var/run/nut /etc/nut \
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
    NUT_UPSD_PATH=/usr/sbin/upsd \
    NUT_USER=root \
    INIT_CONFIG=true \
    HTTP_PORT=8080 \
    HTTP_HOST=127.0.0.1
# Other NUT clients (upsmon on other hosts, a NAS) keep using port 3493.
EXPOSE 3493
VOLUME ["/etc/nut"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "dist/cli.js", "health"]
ENTRYPOINT ["/sbin/tini", "--"]
CMD ["node", "dist/cli.js", "run"]
