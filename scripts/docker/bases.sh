#!/usr/bin/env bash
# Local base images for the Dockerfile where no registry can be reached (our machines):
#   verity-base/debian:<suite>-slim   debootstrap minbase + CA certificates  (for debian:<suite>-slim)
#   verity-base/rust:<ver>-<suite>    the same + gcc/make + this machine's Rust toolchain
#                                     (for rust:<ver>-<suite>)
# Made once (kept while the images exist). Packages come from the Debian mirror apt already uses,
# read from apt's own sources here; this machine's CA certificates are copied in, so apt, cargo,
# pip and npm inside the build trust what they trust here.
# Prints the two image names as `BUILD_IMAGE=... RUNTIME_IMAGE=...` on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${DEBIAN_SUITE:-bookworm}
work=.cache/docker/rootfs
say() { echo "    [bases] $*" >&2; }

mirror() {
  # The first Debian archive URI apt uses for $suite (deb822 .sources or one-line sources.list).
  local m
  m=$(awk -v s="$suite" '
      /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==s) {print u; exit}}
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$m" ] || m=$(awk -v s="$suite" '$1=="deb" && $3==s {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$m" ] || { echo "no Debian mirror for $suite in apt's sources" >&2; exit 1; }
  echo "$m"
}

rootfs() { # rootfs DIR EXTRA_PACKAGES
  local dir=$1 include=$2
  rm -rf "$dir"; mkdir -p "$dir"
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  say "debootstrap --variant=minbase $suite ($(mirror)) + $include"
  debootstrap --variant=minbase --include="$include" "$suite" "$dir" "$(mirror)" >"$dir.log" 2>&1 \
    || { tail -20 "$dir.log" >&2; exit 1; }
  # This machine's extra CA certificates (the registries are reached through them).
  cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$dir" update-ca-certificates >/dev/null 2>&1
  # As Debian's -slim images: no docs, man pages or locales, now or in later installs.
  cat >"$dir/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
         "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
         "$dir"/var/log/*.log "$dir"/debootstrap
}

have() { docker image inspect "$1" >/dev/null 2>&1; }

rust_ver=$(rustc --version | awk '{print $2}')
rust_tag=${rust_ver%.*}
slim=verity-base/debian:$suite-slim
rust=verity-base/rust:$rust_tag-$suite

if have "$slim"; then say "$slim: present"; else
  rootfs "$work/slim" ca-certificates
  tar -C "$work/slim" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$slim" >/dev/null
  rm -rf "$work/slim"
  say "$slim: made ($(docker image inspect -f '{{.Size}}' "$slim" | awk '{printf "%.0f MB", $1/1e6}'))"
fi

if have "$rust"; then say "$rust: present"; else
  rootfs "$work/rust" ca-certificates,gcc,libc6-dev,make,pkg-config,git
  tc=$(rustc --print sysroot)
  say "copying this machine's Rust toolchain $rust_ver ($tc, without its docs)"
  dest=$work/rust/usr/local/rustup/toolchains/$rust_ver-x86_64-unknown-linux-gnu
  mkdir -p "$dest" "$work/rust/usr/local/cargo/bin"
  (cd "$tc" && tar -c --exclude=./share/doc .) | tar -C "$dest" -x
  for b in "$dest"/bin/*; do ln -s "/usr/local/rustup/toolchains/$rust_ver-x86_64-unknown-linux-gnu/bin/$(basename "$b")" "$work/rust/usr/local/cargo/bin/"; done
  tar -C "$work/rust" -c . | docker import \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'CMD ["bash"]' - "$rust" >/dev/null
  rm -rf "$work/rust"
  say "$rust: made ($(docker image inspect -f '{{.Size}}' "$rust" | awk '{printf "%.0f MB", $1/1e6}'))"
fi
echo "BUILD_IMAGE=$rust RUNTIME_IMAGE=$slim"
