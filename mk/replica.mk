# Litestream, the sidecar that replicates the audit trail to the other site
# (internal/replica). Included by the Makefile.
#   make deps-replica   install bin/tools/litestream when it is missing
#
# Cold (empty module and build caches) the install takes about 1m45s on two
# cores and fetches ~110 modules (1.3 GB of module cache): Litestream links
# the SDKs of every store it can write to. Warm it is a no-op.
# GOTOOLCHAIN=local: Litestream's go.mod names a newer patch toolchain than
# the one repli builds with; the local one builds it, and nothing is fetched
# from outside the module proxy.

LITESTREAM_VERSION := v0.5.18
LITESTREAM         := bin/tools/litestream

.PHONY: deps-replica

# Installed when missing, or when it is not the pinned version.
deps-replica:
	@if ! $(LITESTREAM) version 2>/dev/null | grep -qx '$(LITESTREAM_VERSION)'; then \
	  echo "installing litestream $(LITESTREAM_VERSION) into bin/tools (cold: about two minutes)"; \
	  mkdir -p bin/tools && \
	  GOBIN=$(CURDIR)/bin/tools GOTOOLCHAIN=local $(GO) install github.com/benbjohnson/litestream/cmd/litestream@$(LITESTREAM_VERSION); \
	fi

# The replica tests run the real litestream against real directories and a
# real sshd.
test: deps-replica
test: export REPLI_LITESTREAM := $(CURDIR)/$(LITESTREAM)
