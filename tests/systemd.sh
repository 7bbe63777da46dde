#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd.sh - contrib/systemd/weft-worker@.service, as a test: systemd
# accepts it without a warning (systemd-analyze verify), it keeps the
# properties docs/DEPLOY.md promises, and `make install SYSTEMD=1` installs
# it (with the installed weft's path) where `make install` alone does not.
#
# Usage: tests/systemd.sh [BUILD_DIR]   (scripts/run-tests passes it)
set -u
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${1:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
unit="$top/contrib/systemd/weft-worker@.service"
passed=0 failed=0
ok()   { echo "ok   systemd.$1"; passed=$((passed + 1)); }
fail() { echo "FAIL systemd.$1: $2"; failed=$((failed + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. systemd reads it cleanly.  Unknown or malformed settings are only
# warnings to systemd-analyze (exit 0), so any output fails the test too.
# The instance serves /srv/app; ExecStart points at this build's weft,
# since verify checks that the program exists.
if ! command -v systemd-analyze >/dev/null; then
    fail verify "systemd-analyze is missing: run scripts/install-deps"
else
    inst="$tmp/weft-worker@$(systemd-escape --path /srv/app).service"
    sed "s|/usr/local/bin/weft|$build/weft|" "$unit" > "$inst"
    out=$(systemd-analyze verify --man=no "$inst" 2>&1); rc=$?
    if [ $rc -ne 0 ] || [ -n "$out" ]; then fail verify "exit $rc: $out"; else ok verify; fi
fi

# 2. What the deployment relies on.
want=(
  '^User=weft$'                                  # a dedicated user
  '^EnvironmentFile=/etc/weft/worker.env$'       # WEFT_BROKER_URL, not argv
  '^ExecStart=/bin/sh -c .exec /usr/local/bin/weft run-worker '
  '^Restart=on-failure$'
  '^KillSignal=SIGTERM$'                         # drains
  '^KillMode=mixed$'                             # ...the worker only
  '^TimeoutStopSec=30min$'                       # time to drain
)
miss=
for re in "${want[@]}"; do grep -Eq "$re" "$unit" || miss="$miss $re"; done
if grep -Eq '^ExecStart=.*(--broker|amqps?://)' "$unit"; then miss="$miss (a broker URL in argv)"; fi
if [ -z "$miss" ]; then ok properties; else fail properties "missing:$miss"; fi

# 3. The command line an instance runs: the instance name, unescaped (%I),
# names the application, with its ":N" stripped; WEFT_WORKER_ARGS is split
# into options.  systemd's own escapes ($$, %%) are undone as systemd does,
# and `echo` stands in for weft.
line=$(sed -n 's/^ExecStart=//p' "$unit")
cmd=$(sed -e 's/\$\$/$/g' -e 's/%%/%/g' -e 's|/usr/local/bin/weft|echo|' -e 's/ %I$//' <<<"$line")
got1=$(WEFT_WORKER_ARGS="--concurrency 4 --queue q" eval "$cmd 'srv/app:2'")
got2=$(WEFT_WORKER_ARGS= eval "$cmd 'srv/my app'")
if [ "$got1" = "run-worker --application-path /srv/app --concurrency 4 --queue q" ] &&
   [ "$got2" = "run-worker --application-path /srv/my app" ]; then
    ok command_line
else
    fail command_line "got '$got1' and '$got2'"
fi

# 4. weft-fleet.service and its timer read cleanly too.
if command -v systemd-analyze >/dev/null; then
    sed "s|/usr/local/lib/weft/weft-fleet|$top/contrib/systemd/weft-fleet|" \
        "$top/contrib/systemd/weft-fleet.service" > "$tmp/weft-fleet.service"
    cp "$top/contrib/systemd/weft-fleet.timer" "$tmp/"
    out=$(systemd-analyze verify --man=no "$tmp/weft-fleet.service" "$tmp/weft-fleet.timer" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$out" ]; then fail fleet_units "exit $rc: $out"; else ok fleet_units; fi
fi

# 5. weft-fleet follows the queue: a systemctl that records what it is
# asked, and a queue length given as a command.
cat > "$tmp/systemctl" <<'SH'
#!/bin/sh
[ "$1" = is-active ] && exit 1
echo "$*" >> "$CALLS"
SH
chmod +x "$tmp/systemctl"
fleet() { # READY: the calls weft-fleet makes, on one line
    rm -f "$tmp/calls"
    CALLS="$tmp/calls" SYSTEMCTL="$tmp/systemctl" WEFT_FLEET_APP=/srv/app WEFT_FLEET_MAX=4 \
        WEFT_FLEET_PER_WORKER=10 WEFT_FLEET_LENGTH_CMD="echo $1" \
        "$top/contrib/systemd/weft-fleet" >/dev/null 2>&1 || echo "exit $?"
    [ -f "$tmp/calls" ] && tr '\n' ';' < "$tmp/calls"
}
u='weft-worker@srv-app'
busy=$(fleet 25) idle=$(fleet 0) broken=$(fleet oops)
if [ "$busy" = "start $u:1.service;start $u:2.service;start $u:3.service;" ] &&
   [ "$idle" = "start $u:1.service;stop --no-block $u:2.service;stop --no-block $u:3.service;stop --no-block $u:4.service;" ] &&
   [ "$broken" = "exit 1" ]; then
    ok fleet_follows_the_queue
else
    fail fleet_follows_the_queue "25 waiting: '$busy'; 0 waiting: '$idle'; no length: '$broken'"
fi

# 6. make install: only when asked, with the installed program's path.
dest="$tmp/root"
if ! make -s -C "$top" install BUILD="$build" DESTDIR="$dest" PREFIX=/usr >"$tmp/log" 2>&1; then
    fail install "make install failed: $(tail -n 5 "$tmp/log")"
elif [ -e "$dest/usr/lib/systemd/system/weft-worker@.service" ]; then
    fail install "installed without SYSTEMD=1"
elif ! make -s -C "$top" install BUILD="$build" DESTDIR="$dest" PREFIX=/usr SYSTEMD=1 \
        >"$tmp/log" 2>&1; then
    fail install "make install SYSTEMD=1 failed: $(tail -n 5 "$tmp/log")"
elif ! grep -q '^ExecStart=/bin/sh -c .exec /usr/bin/weft run-worker ' \
        "$dest/usr/lib/systemd/system/weft-worker@.service" 2>/dev/null; then
    fail install "no $dest/usr/lib/systemd/system/weft-worker@.service running /usr/bin/weft"
elif ! [ -x "$dest/usr/lib/weft/weft-fleet" ] || ! [ -e "$dest/usr/lib/systemd/system/weft-fleet.timer" ] ||
     ! grep -q '^ExecStart=/usr/lib/weft/weft-fleet$' "$dest/usr/lib/systemd/system/weft-fleet.service"; then
    fail install "weft-fleet, weft-fleet.service (running /usr/lib/weft/weft-fleet) and weft-fleet.timer not all installed"
else
    ok install
fi

echo "systemd: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
