#!/usr/bin/env bash
# Best effort: make a compose binary available so the test suite can validate docker-compose.yml
# (`docker compose config` needs no Docker engine). Debian ships docker-compose; nothing happens
# when one is already installed or when we cannot install packages.
set -u
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing docker-compose (Debian) to validate docker-compose.yml"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) \
    >/dev/null 2>&1 || echo "    could not install docker-compose; its test will be skipped"
fi
exit 0
