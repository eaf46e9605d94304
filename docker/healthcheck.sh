#!/bin/sh
# The image's HEALTHCHECK, without starting a Node process (7 s under emulation; a slow ARM board is not far off).
# The agent rewrites HEALTH_FILE every HEALTH_FILE_INTERVAL (5 s) with its /healthz verdict as the first word:
# healthy when upsd answers and every UPS is ok or being recovered. Unhealthy when the agent says so, when the
# file is missing (agent not running), or when it is older than HEALTH_MAX_AGE seconds (the agent is stuck).
# Needs only sh, date and stat (coreutils). Exit 0 healthy, 1 unhealthy.
file="${HEALTH_FILE:-/run/nut-mqtt/health}"
max_age="${HEALTH_MAX_AGE:-30}"
if [ ! -f "$file" ]; then
  echo "unhealthy: $file does not exist (the agent is not running, or not yet)"
  exit 1
fi
age=$(( $(date +%s) - $(stat -c %Y "$file") ))
if [ "$age" -gt "$max_age" ]; then
  echo "unhealthy: $file was last written $age s ago (more than $max_age s: the agent is stuck)"
  exit 1
fi
read -r verdict < "$file"
echo "$verdict (written $age s ago)"
[ "$verdict" = healthy ]
