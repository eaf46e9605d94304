# nut-mqtt all-in-one image: NUT (upsd + drivers) supervised by the agent, bridged to MQTT.
# Build:  docker build -t nut-mqtt .
FROM node:22.12-alpine3.20 AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22.12-alpine3.20
# Alpine's nut package: drivers in /usr/lib/nut, the real upsd in /usr/sbin. tini reaps and forwards signals.
RUN apk add --no-cache nut tini \
 && mkdir -p /var/run/nut /etc/nut \
 && chown root:nut /var/run/nut && chmod 0770 /var/run/nut
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
    NUT_USER=root
# Other NUT clients (upsmon on other hosts, a NAS) keep using port 3493.
EXPOSE 3493
VOLUME ["/etc/nut"]
ENTRYPOINT ["/sbin/tini", "--"]
CMD ["node", "dist/cli.js", "run"]
