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

.PHONY: gen install uninstall deb test-install

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
