#!/bin/sh
# Copies what the agent runs of NUT (upsd, every driver, upsc/upscmd/upsrw for users who debug inside the
# container) and tini into /out, with the shared libraries they need that the runtime base does not already
# have. The runtime image then gets NUT without the 166 MB that apt's nut-server brings in (udev, systemd, ...).
# Usage: collect-nut.sh <file listing the packages of the base image>
set -eu
base_pkgs="$1"
out=/out
mkdir -p "$out"

keep() { # copy a file or symlink to its canonical folder under $out (/lib is a symlink to /usr/lib here)
  dir="$(readlink -f "$(dirname "$1")")"
  mkdir -p "$out$dir"
  cp -a "$1" "$out$dir/"
}

bins="$(ls -d /usr/lib/nut/* /usr/libexec/nut/* 2>/dev/null || true) /usr/bin/upsc /usr/bin/upscmd /usr/bin/upsrw /usr/bin/tini"
for f in $bins; do [ -f "$f" ] && keep "$f"; done
[ -e /usr/sbin/upsd ] && ! head -c 2 /usr/sbin/upsd | grep -q '#!' && keep /usr/sbin/upsd
keep /usr/share/nut/cmdvartab
keep /usr/share/nut/driver.list
# NUT's table of supported USB UPSes: init-config matches the bus against it to write vendorid/productid.
for f in /usr/lib/udev/rules.d/62-nut-usbups.rules /lib/udev/rules.d/62-nut-usbups.rules; do
  [ -f "$f" ] && { keep "$f"; break; }
done

# Every package that provides a library these binaries load and that the base lacks: copy all of that
# package's shared objects (NSS loads some of its own at run time, so the ldd list alone is not enough).
for f in $bins; do [ -f "$f" ] && ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}'; done \
  | sort -u | while read -r lib; do
    pkg="$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -n1 | cut -d: -f1)"
    [ -n "$pkg" ] || { echo "collect-nut: no package owns $lib" >&2; exit 1; }
    grep -qx "$pkg" "$base_pkgs" && continue
    echo "$pkg"
  done | sort -u > /tmp/lib-pkgs
echo "collect-nut: libraries from: $(tr '\n' ' ' < /tmp/lib-pkgs)"
while read -r pkg; do
  dpkg -L "$pkg" | grep -E '\.so(\.[0-9]+)*$' | while read -r so; do [ -f "$so" ] && keep "$so"; done
done < /tmp/lib-pkgs
du -sh "$out"
