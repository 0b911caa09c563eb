#!/usr/bin/env bash
# Makes (once) the Debian chroot a test server runs from, and prints its path.
#   make-chroot.sh mariadb-11.8 | mysql-9.7
# A chroot that is already complete is reused as it is. Several runs may ask
# for the same chroot at once: the first makes it, the others wait for it.
# Needs root, debootstrap and Debian's archive (the mirror apt already uses).
set -euo pipefail

kind=${1:?usage: make-chroot.sh mariadb-11.8|mysql-9.7}
extra=
case "$kind" in
  # rsync, iproute2 (ss) and procps: Galera's rsync state transfer checks its
  # daemon's port and pid with them.
  mariadb-11.8) suite=trixie; packages="mariadb-server-core mariadb-client-core galera-4 rsync iproute2 procps"; extra="wsrep_sst_rsync from mariadb-server" ;;
  mysql-9.7) suite=sid; packages="mysql-server-core mysql-client-core" ;;
  *) echo "make-chroot.sh: unknown server '$kind' (mariadb-11.8 or mysql-9.7)" >&2; exit 2 ;;
esac

base=${FAMILY_SYNC_CHROOTS:-/var/cache/family-sync/chroots}
root="$base/$kind"
# .complete holds what the chroot was made with: a chroot made with less gets
# the rest added, not remade.
recipe="$packages${extra:+ + $extra}"
complete() { [ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$recipe" ]; }
if complete; then echo "$root"; exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  echo "make-chroot.sh: making the $kind chroot needs root (debootstrap, chroot); run the tests as root, or leave $kind out with FAMILY_SYNC_TEST_SERVERS" >&2
  exit 2
fi
mkdir -p "$base"
exec 9>"$base/.$kind.lock"
flock 9
if complete; then echo "$root"; exit 0; fi
install_packages() {
  # A snapshot mirror's Release file may be past its Valid-Until date.
  chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false install -y -qq --no-install-recommends $packages >&2
  # Galera's rsync state transfer scripts come with mariadb-server, whose
  # install would start a server in the chroot: only those two files are taken.
  if [ -n "${extra:-}" ]; then
    chroot "$root" sh -c 'set -e; cd /tmp; rm -rf sst; mkdir -m 0777 sst; cd sst
      apt-get -o Acquire::Check-Valid-Until=false download -qq mariadb-server
      dpkg -x mariadb-server_*.deb x
      install -m 0755 x/usr/bin/wsrep_sst_common x/usr/bin/wsrep_sst_rsync /usr/bin/
      cd /tmp; rm -rf sst' >&2
  fi
  chroot "$root" apt-get clean >&2
  # The OS user a Galera node runs as (its rsync state transfer refuses root).
  chroot "$root" sh -c 'id mysql >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mysql' >&2
  echo "$recipe" >"$root/.complete"
}
if [ -f "$root/.complete" ]; then
  echo "adding packages to the $kind chroot in $root" >&2
  install_packages
  echo "$root"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi
# The mirror this machine's apt already uses, so that only Debian's archive is needed.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(http[^[:space:]]*\/debian\)\/*[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

rm -rf "$root"
echo "making the $kind chroot in $root from $mirror ($suite): about a minute" >&2
debootstrap --variant=minbase "$suite" "$root" "$mirror" >&2
install_packages
echo "$root"
