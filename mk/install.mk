# Installing repli like any other tool (FHS places), and the Debian package.
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, completions, man pages
#   make uninstall [PREFIX=…] [DESTDIR=]
#   make deb                                      dist/repli_VERSION_amd64.deb (nfpm)
#   make dist                                     dist/repli_VERSION_linux_amd64.tar.gz (a release archive)
# The completions and man pages are generated from the commands themselves
# (cobra, cobra/doc) by the binary just built, into bin/share; never committed.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
DATADIR := $(PREFIX)/share
MANDIR  := $(DATADIR)/man/man1
GEN     := bin/share

.PHONY: gen install uninstall deb deb-path dist test-install test-deb test-dist

gen: build
	@rm -rf $(GEN) && mkdir -p $(GEN)/completions $(GEN)/man
	./$(BIN) completion bash > $(GEN)/completions/repli.bash
	./$(BIN) completion zsh  > $(GEN)/completions/_repli
	./$(BIN) completion fish > $(GEN)/completions/repli.fish
	./$(BIN) __gen-man $(GEN)/man

install: gen
	install -Dm755 $(BIN) $(DESTDIR)$(BINDIR)/repli
	install -Dm644 $(GEN)/completions/repli.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/repli
	install -Dm644 $(GEN)/completions/_repli $(DESTDIR)$(DATADIR)/zsh/site-functions/_repli
	install -Dm644 $(GEN)/completions/repli.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/repli.fish
	install -d $(DESTDIR)$(MANDIR)
	install -m644 $(GEN)/man/*.1 $(DESTDIR)$(MANDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/repli \
	  $(DESTDIR)$(DATADIR)/bash-completion/completions/repli \
	  $(DESTDIR)$(DATADIR)/zsh/site-functions/_repli \
	  $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/repli.fish \
	  $(DESTDIR)$(MANDIR)/repli.1 $(DESTDIR)$(MANDIR)/repli-*.1

# make install into a temporary DESTDIR, checked file by file (scripts/test-install.sh).
test-install:
	@scripts/test-install.sh

test: test-install

# The Debian version: tag v1.2.3 gives 1.2.3, three commits on 1.2.3+3+gabc1234;
# an untagged tree gives 0.0.0~git<commit> (+dirty), which sorts before any release.
DEB_VERSION ?= $(shell echo '$(VERSION)' | sed -E -e 's/^v([0-9])/\1/' -e t -e 's/^/0.0.0~git/' | tr - '+')
NFPM := bin/nfpm

# nfpm, at the version tools/go.mod pins.
$(NFPM): tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(NFPM) github.com/goreleaser/nfpm/v2/cmd/nfpm

deb: gen $(NFPM)
	@rm -rf bin/share/man-gz && mkdir -p bin/share/man-gz dist
	@for f in $(GEN)/man/*.1; do gzip -9n < "$$f" > bin/share/man-gz/$$(basename "$$f").gz; done
	@rm -f dist/repli_$(DEB_VERSION)_amd64.deb
	DEB_VERSION=$(DEB_VERSION) $(NFPM) package --config packaging/nfpm.yaml --packager deb --target dist/
	@ls -l dist/repli_$(DEB_VERSION)_amd64.deb

deb-path:
	@echo dist/repli_$(DEB_VERSION)_amd64.deb

# make deb, then the package's contents checked with dpkg-deb (scripts/test-deb.sh).
test-deb:
	@scripts/test-deb.sh

test: test-deb

# A release archive: what make install puts under a prefix, with the README
# and the bundled runbooks, in one directory named after the version.
DIST_NAME = repli_$(DEB_VERSION)_linux_amd64
dist: gen
	@rm -rf bin/dist-stage && mkdir -p dist bin/dist-stage
	@$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/bin/dist-stage/$(DIST_NAME) PREFIX= >/dev/null
	@mkdir -p bin/dist-stage/$(DIST_NAME)/share/repli && cp -r runbooks/examples bin/dist-stage/$(DIST_NAME)/share/repli/runbooks
	@rm -f bin/dist-stage/$(DIST_NAME)/share/repli/runbooks/*.go
	@cp README.md bin/dist-stage/$(DIST_NAME)/
	@tar -C bin/dist-stage -czf dist/$(DIST_NAME).tar.gz --owner=0 --group=0 --sort=name $(DIST_NAME)
	@ls -l dist/$(DIST_NAME).tar.gz

# make dist, then the archive's contents checked and its repli run.
test-dist: dist
	@set -e; t=$$(mktemp -d); trap 'rm -rf "$$t"' EXIT; \
	tar -C "$$t" -xzf dist/$(DIST_NAME).tar.gz; d="$$t/$(DIST_NAME)"; \
	for f in bin/repli share/bash-completion/completions/repli share/man/man1/repli.1 share/repli/runbooks/annual-pra-test.yaml README.md; do \
	  test -s "$$d/$$f" || { echo "test-dist: $$f is missing from the archive"; exit 1; }; done; \
	"$$d/bin/repli" validate "$$d/share/repli/runbooks/annual-pra-test.yaml" >/dev/null; \
	echo "test-dist: ok (dist/$(DIST_NAME).tar.gz)"

test: test-dist
