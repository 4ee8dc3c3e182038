#!/usr/bin/env bash
# The real services the tests talk to, started if they are not running (CI gets the machine as
# the last session left it), and the browser the observer test drives, installed if missing.
# Each line says what it could not do; the tests that need a missing service then fail and name it.
set -uo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  for _ in $(seq 1 50); do
    listening "$1" && return 0
    sleep 0.2
  done
  return 1
}

if ! listening 5432; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_for_port 5432 || echo "services: PostgreSQL is not listening on 127.0.0.1:5432"
fi

if ! listening 4222; then
  echo "services: starting NATS with JetStream"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  wait_for_port 4222 || echo "services: NATS is not listening on 127.0.0.1:4222"
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "services: installing Debian's chromium for the observer's browser test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } ||
    echo "services: could not install chromium"
fi
exit 0
