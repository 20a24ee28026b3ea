#!/usr/bin/env bash
# Builds the image deploy/Dockerfile is built on in tests, in place of node:24-slim, which no
# registry this machine reaches can serve: Debian bookworm's minimal base system (debootstrap,
# from deb.debian.org), the Node binary given (CI's pinned Node 24 from the npm registry), npm
# (pinned), and the `node` user (uid 1000) that node's images have and the Dockerfile runs as.
# The machine's trust roots go in too (NODE_EXTRA_CA_CERTS), so npm inside the build reaches
# the registry the way the machine does. Does nothing when the image exists.
#   usage: node-base-image.sh <path to node binary>    (DEBIAN_MIRROR overrides deb.debian.org)
set -euo pipefail
NODE_BINARY="$1"
TAG=localhost/meridian-node-base:24   # test: TEST_NODE_BASE_IMAGE in testkit
SUITE=bookworm
NPM_VERSION=11.6.2
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

"$NODE_BINARY" --version | grep -q '^v24\.' || { echo "$NODE_BINARY is not Node 24"; exit 1; }
# What the image holds, as a label: a machine kept across a version bump rebuilds it.
BUILT_FROM="node $("$NODE_BINARY" --version), npm ${NPM_VERSION}, debian ${SUITE}"
if podman image exists "$TAG"; then
  [ "$(podman image inspect --format '{{index .Labels "built-from"}}' "$TAG")" = "$BUILT_FROM" ] && { echo "$TAG exists ($BUILT_FROM)"; exit 0; }
  podman rmi --force "$TAG" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; exit 1; }
install -m 0755 "$NODE_BINARY" "$root/usr/local/bin/node"
(cd "$work" && npm pack --silent "npm@${NPM_VERSION}" >/dev/null)
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-${NPM_VERSION}.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/sh --create-home node
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/certs/meridian-build-ca.crt"
  ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/meridian-build-ca.crt')
else
  ca_env=()
fi
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "${ca_env[@]}" --change "LABEL built-from=\"$BUILT_FROM\"" --change 'CMD ["node"]' - "$TAG" >/dev/null
echo "$TAG built ($BUILT_FROM)"
