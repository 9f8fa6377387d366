#!/usr/bin/env bash
# Fetch Debian's nDPI source package (its labelled test captures) into a folder.
#
# Usage: tools/fetch_ndpi.sh [DATA_DIR]     (default: data)
#
# `apt-get source ndpi` needs a deb-src source. When apt knows none, this adds
# one for Debian bookworm (main), /etc/apt/sources.list.d/din-ndpi-src.sources,
# says so, and runs `apt-get update`; a deb-src line already present is used as
# it is. Only the upstream tarball is fetched (`apt-get source --tar-only`); it
# is unpacked into DATA_DIR/nDPI-<version>/ and that path written to the stamp
# DATA_DIR/ndpi-source.stamp: with the stamp and the tree present, nothing is
# fetched or unpacked again. Needs the network (a Debian mirror) and root (or
# sudo) for the apt source; run by `make data`, never by the tests.
set -euo pipefail

DATA_DIR=${1:-data}
STAMP="$DATA_DIR/ndpi-source.stamp"
SRC_LIST=/etc/apt/sources.list.d/din-ndpi-src.sources
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

if [ -f "$STAMP" ]; then
  tree=$(cat "$STAMP")
  if [ -d "$tree/tests/pcap" ] && [ -d "$tree/tests/result" ]; then
    echo "nDPI source already fetched: $tree (remove $STAMP to fetch again)"
    exit 0
  fi
fi

has_deb_src() {
  # One-line sources ("deb-src ...") or deb822 files ("Types: deb deb-src").
  grep -hsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list >/dev/null && return 0
  grep -hsiE '^[[:space:]]*Types:.*deb-src' /etc/apt/sources.list.d/*.sources >/dev/null
}

if ! has_deb_src; then
  echo "apt has no deb-src source: adding one for Debian bookworm in $SRC_LIST"
  $SUDO tee "$SRC_LIST" >/dev/null <<'EOF'
# Added by the DIN testbed's `make data` (tools/fetch_ndpi.sh): source packages
# for `apt-get source ndpi`. Remove this file to undo.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
elif ! apt-cache showsrc ndpi >/dev/null 2>&1 || [ -z "$(apt-cache showsrc ndpi 2>/dev/null)" ]; then
  echo "apt knows no source package ndpi yet: apt-get update"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi

mkdir -p "$DATA_DIR"
# Only the upstream tarball holds the captures: Debian's packaging (the debian
# tarball) is not needed, and not every mirror keeps it beside the orig one.
tarball=$(find "$DATA_DIR" -maxdepth 1 -name 'ndpi_*.orig.tar.*' | sort | tail -n 1)
if [ -z "$tarball" ]; then
  echo "fetching the nDPI source tarball into $DATA_DIR/ (about 127 MB)"
  (cd "$DATA_DIR" && apt-get source --tar-only -qq ndpi)
  tarball=$(find "$DATA_DIR" -maxdepth 1 -name 'ndpi_*.orig.tar.*' | sort | tail -n 1)
fi
if [ -z "$tarball" ]; then
  echo "fetch_ndpi: apt-get source --tar-only ndpi left no ndpi_*.orig.tar.* in $DATA_DIR" >&2
  exit 1
fi
# (head closes the pipe early: tar's SIGPIPE is expected there.)
top=$(tar -tf "$tarball" | head -n 1 | cut -d/ -f1 || true)
if [ -z "$top" ]; then
  echo "fetch_ndpi: $tarball: cannot list the tarball" >&2
  exit 1
fi
echo "unpacking $tarball"
tar -xf "$tarball" -C "$DATA_DIR"
tree="$DATA_DIR/$top"
if [ ! -d "$tree/tests/pcap" ] || [ ! -d "$tree/tests/result" ]; then
  echo "fetch_ndpi: $tarball has no $top/tests/pcap and $top/tests/result" >&2
  exit 1
fi
echo "$tree" >"$STAMP"
echo "nDPI source in $tree: $(find "$tree/tests/pcap" -maxdepth 1 -type f | wc -l) captures"
