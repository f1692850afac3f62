# The tools the bundled hybrid-restore runbook and its tests use: age (the
# backup's encryption) and sqlite3 (the restore and its queries). Installed
# only when missing. Included by the Makefile.

.PHONY: deps-hybrid

deps-hybrid:
	@missing=""; \
	command -v age >/dev/null && command -v age-keygen >/dev/null || missing="$$missing age"; \
	command -v sqlite3 >/dev/null || missing="$$missing sqlite3"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "missing packages:$$missing (apt-get install --no-install-recommends$$missing, as root); the hybrid-restore tests will skip"; \
	    [ "$${CI:-}" != true ]; \
	  else \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	fi

test: deps-hybrid
