#!/bin/sh
# Install the Debian packages listed in deb-packages.txt that are missing.
# Runs apt-get only when something is missing; uses sudo when not root.
set -eu
cd "$(dirname "$0")/.."
missing=""
for pkg in $(sed -e 's/#.*//' deb-packages.txt); do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing Debian packages:$missing (no apt-get here: install them by hand)" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages:$missing"
$SUDO apt-get -o Acquire::Retries=3 update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -qq \
    --no-install-recommends $missing >/dev/null
