# Installing repli like any other tool (FHS places), and the Debian package.
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, completions, man pages
#   make uninstall [PREFIX=…] [DESTDIR=]
#   make deb                                      dist/repli_VERSION_amd64.deb (nfpm)
# The completions and man pages are generated from the commands themselves
# (cobra, cobra/doc) by the binary just built, into bin/share; never committed.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
DATADIR := $(PREFIX)/share
MANDIR  := $(DATADIR)/man/man1
GEN     := bin/share

.PHONY: gen install uninstall deb deb-path test-install test-deb

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
