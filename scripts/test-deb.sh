#!/usr/bin/env bash
# make deb, then check the package with Debian's own tools: its control
# fields, every file it must carry in its FHS place (dpkg-deb -c), and, from
# the unpacked tree (dpkg-deb -x), that its repli runs, names its commit and
# plans a bundled runbook, and that man renders its compressed pages.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "test-deb: $*" >&2; exit 1; }

out=$(make -s deb 2>&1) || fail "make deb failed:
$out"
deb=$(make -s deb-path)
[ -f "$deb" ] || fail "make deb did not write $deb"

info=$(dpkg-deb -f "$deb" Package Version Architecture Depends)
grep -qx 'Package: repli' <<<"$info" || fail "Package field: $info"
grep -qx 'Architecture: amd64' <<<"$info" || fail "Architecture field: $info"
grep -q '^Depends: libc6' <<<"$info" || fail "Depends field: $info"
version=$(dpkg-deb -f "$deb" Version)
[[ "$deb" == "dist/repli_${version}_amd64.deb" ]] || fail "file $deb does not carry the package version $version"

listing=$(dpkg-deb -c "$deb")
list=$(awk '{print $6}' <<<"$listing")
for f in ./usr/bin/repli \
         ./usr/share/bash-completion/completions/repli \
         ./usr/share/zsh/vendor-completions/_repli \
         ./usr/share/fish/vendor_completions.d/repli.fish \
         ./usr/share/man/man1/repli.1.gz ./usr/share/man/man1/repli-demo.1.gz ./usr/share/man/man1/repli-run.1.gz \
         ./usr/share/repli/runbooks/annual-pra-test.yaml \
         ./usr/share/doc/repli/README.md; do
  grep -qxF "$f" <<<"$list" || fail "the package lacks $f; it has:
$list"
done
for rb in runbooks/examples/*.yaml; do
  grep -qxF "./usr/share/repli/runbooks/$(basename "$rb")" <<<"$list" || fail "the package lacks the bundled runbook $rb"
done
grep -q '^-rwxr-xr-x root/root .* ./usr/bin/repli$' <<<"$listing" || fail "usr/bin/repli is not root-owned mode 0755"

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
dpkg-deb -x "$deb" "$tree"
repli="$tree/usr/bin/repli"
"$repli" --version | grep -qF "$(git rev-parse HEAD)" || fail "the packaged repli does not name commit $(git rev-parse HEAD): $("$repli" --version)"
grep -q simulated <<<"$("$repli" demo --help)" || fail "the packaged repli demo --help: $("$repli" demo --help 2>&1)"
"$repli" plan "$tree/usr/share/repli/runbooks/annual-pra-test.yaml" --config /dev/null >/dev/null || fail "the packaged repli cannot plan its own runbook"
page=$(MANWIDTH=80 man -l "$tree/usr/share/man/man1/repli-demo.1.gz" 2>&1) || fail "man -l repli-demo.1.gz: $page"
grep -Eq 'repli-demo +- ' <<<"$page" || fail "man repli-demo does not render:
$page"
echo "test-deb: ok ($deb)"
