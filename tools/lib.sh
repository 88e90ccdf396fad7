# Shared by tools/check, tools/demo and bench/: installs what is missing on
# Debian 12 (as root) and builds the tree out of source under build/.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything the build, the tests and the demo use, by Debian package name.
PERFWATCH_PACKAGES="build-essential autoconf automake pkg-config
 libmicrohttpd-dev libcurl4-gnutls-dev libssh2-1-dev libpq-dev libsqlite3-dev libjansson-dev libyajl-dev
 libsystemd-dev libinih-dev zlib1g-dev libhttp-parser-dev golang-go mandoc curl jq sqlite3 python3
 systemd util-linux iproute2 postgresql-15 postgresql-client-15 python3-botocore python3-locust
 clang libclang-rt-14-dev"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# install_missing [EXTRA PACKAGES...]: apt-get installs only what is absent.
install_missing() {
        local missing="" p
        for p in $PERFWATCH_PACKAGES "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                        missing="$missing $p"
        done
        [ -z "$missing" ] && return 0
        if [ "$(id -u)" != 0 ]; then
                echo "missing Debian packages:$missing (run as root, or apt-get install them)" >&2
                return 1
        fi
        say "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# build DIR [CONFIGURE FLAGS...]: configure (once) and make in TOP/DIR.
build() {
        local dir=$TOP/$1; shift
        [ -x "$TOP/configure" ] || (cd "$TOP" && autoreconf -fi >/dev/null 2>&1) || {
                (cd "$TOP" && autoreconf -fi); return 1; }
        mkdir -p "$dir"
        if [ ! -f "$dir/Makefile" ]; then
                (cd "$dir" && "$TOP/configure" --prefix=/usr --sysconfdir=/etc \
                        --localstatedir=/var "$@" >configure.out 2>&1) ||
                        { cat "$dir/configure.out"; return 1; }
        fi
        make -C "$dir" -j"$(nproc)" >/dev/null || make -C "$dir"
}
