# The drill report's tests print the HTML report to PDF with a real headless
# Chromium and read it back with poppler (pdfinfo, pdftotext). Included by the
# Makefile; installed only when missing. The report's CSS names DejaVu, so
# its fonts come too when fontconfig has none.

.PHONY: deps-report

deps-report:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null || missing="$$missing poppler-utils"; \
	fc-list 2>/dev/null | grep -q DejaVu || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: deps-report
