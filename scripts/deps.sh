#!/usr/bin/env bash
# Install the Debian packages edpgate builds and tests with.  Idempotent and
# quiet: when everything is present it prints nothing and touches nothing.
set -euo pipefail

pkgs=(
	# build
	make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libnftnl-dev libmnl-dev libc-ares-dev linux-libc-dev
	# the shared store's client: etcd's JSON gateway over HTTP(S)
	libcurl4-openssl-dev libjson-c-dev
	# tests
	libcmocka-dev libclang-rt-14-dev iproute2 nftables dnsmasq-base chrony
	openssl socat tcpdump python3-scapy util-linux procps jq
	mandoc bash-completion systemd
	# fleet tests: a real etcd cluster and a real Prometheus
	etcd-server etcd-client prometheus
	# Digi's Cloud Connector, built from source by test_cloud_connector.sh
	# and make demo: its TLS transport and the lab patch it is built with
	libssl-dev patch
	# bench (ethtool: GRO for the live generator) and its report
	ethtool gnuplot-nox
	# the Debian package (make deb) and its test
	debhelper dpkg-dev fakeroot lintian file
)
# The arm64 cross-build (make ARCH=arm64) links against Debian's arm64
# libraries (multiarch) and runs its unit tests under qemu-user.
cross=()
if [ "$(dpkg --print-architecture)" = amd64 ]; then
	cross=(crossbuild-essential-arm64 qemu-user-static libc6:arm64
		libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64 libnftnl-dev:arm64
		libmnl-dev:arm64 libc-ares-dev:arm64 libcmocka-dev:arm64
		libjson-c-dev:arm64 libcurl4-openssl-dev:arm64)
	pkgs+=("${cross[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'sudo bash scripts/deps.sh'" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The :arm64 packages need arm64 among dpkg's architectures (then the
# package lists must be read again).
if [ ${#cross[@]} -ne 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
# A fresh machine has no package lists yet; update once, quietly.
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
