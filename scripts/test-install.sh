#!/usr/bin/env bash
# make install into a temporary DESTDIR: the binary, the three completions and
# the man pages land in their FHS places, the binary names its commit, man
# renders the pages, and make uninstall takes every file back.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "test-install: $*" >&2; exit 1; }

make -s install DESTDIR="$dest" PREFIX=/usr >/dev/null
for f in usr/bin/repli \
         usr/share/bash-completion/completions/repli \
         usr/share/zsh/site-functions/_repli \
         usr/share/fish/vendor_completions.d/repli.fish \
         usr/share/man/man1/repli.1 usr/share/man/man1/repli-run.1 usr/share/man/man1/repli-validate.1; do
  [ -s "$dest/$f" ] || fail "make install did not install $f"
done
[ -x "$dest/usr/bin/repli" ] || fail "usr/bin/repli is not executable"
grep -q '__start_repli' "$dest/usr/share/bash-completion/completions/repli" || fail "the bash completion is not repli's"
grep -q '#compdef repli' "$dest/usr/share/zsh/site-functions/_repli" || fail "the zsh completion is not repli's"
grep -q 'complete -c repli' "$dest/usr/share/fish/vendor_completions.d/repli.fish" || fail "the fish completion is not repli's"

commit=$(git rev-parse HEAD)
"$dest/usr/bin/repli" --version | grep -qF "$commit" || fail "repli --version does not name commit $commit: $("$dest/usr/bin/repli" --version)"

page=$(MANWIDTH=80 man -l "$dest/usr/share/man/man1/repli-run.1" 2>&1) || fail "man -l repli-run.1 failed: $page"
grep -Eq 'repli-run +- Run a runbook' <<<"$page" || fail "man repli-run does not render its NAME section:
$page"
grep -q -- '--auto-approve' <<<"$page" || fail "man repli-run does not list the flags"
MANPATH="$dest/usr/share/man" man -w repli >/dev/null 2>&1 || fail "man does not find repli under $dest/usr/share/man"

make -s uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test-install: ok"
