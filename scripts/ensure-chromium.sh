#!/usr/bin/env bash
# Best effort: install Debian's Chromium (and a CJK font, so the Chinese labels render) for the
# browser tests: the HTML report and the Airflow UI are checked in headless Chromium. Nothing
# happens when they are installed or when we cannot install packages; the browser tests then
# fail and say how to install them (or set DW_SKIP_BROWSER_TESTS=1 to skip them on purpose).
set -u
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing ${need[*]} (Debian) for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -qq "${need[@]}" || (apt-get update -qq && apt-get install -y -qq "${need[@]}")) \
    >/dev/null 2>&1 || echo "    could not install ${need[*]}; the browser tests will say so"
else
  echo "==> ${need[*]} missing and cannot be installed here (needs root and apt-get);"
  echo "    the browser tests will fail: install them, or set DW_SKIP_BROWSER_TESTS=1"
fi
exit 0
