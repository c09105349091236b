# Two front doors: `make demo` and `make test`. Each sets up .venv/ itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/monitor ingest
	$(BIN)/monitor status
	$(BIN)/monitor calibrate
	$(BIN)/monitor scan || test $$? -eq 1
	$(BIN)/monitor alerts list
	@echo "alert e-mails (.eml) are in $(CURDIR)/outbox/:"; ls -1 outbox/ 2>/dev/null | tail -n 5
	$(BIN)/monitor report --out report.html --force
	@echo "the report (open it in a browser, or print it): $(CURDIR)/report.html"
	@echo "the inbox: echo demo-password | $(BIN)/monitor users add demo --role finance; export MONITOR_WEB_SECRET=\$$(openssl rand -hex 32); $(BIN)/monitor serve  # then open http://127.0.0.1:8080/ and sign in as demo; the e-mails carry answer links when that secret is set before the scan (docs/web.md)"

# The tests' files (ledgers, outboxes, a venv: 200-350 MB) go to memory where /dev/shm is
# writable with 2 GB free (a container's is often 64 MB): DuckDB syncs every commit to disk,
# and on a shared disk the workers sat waiting for it (fresh clone: 443 -> 367 s, same CPU).
TEST_TMPDIR := $(shell test -w /dev/shm && test "$$(df -Pk /dev/shm | awk 'NR == 2 {print $$4}')" -gt 2000000 2>/dev/null && echo /dev/shm || echo $${TMPDIR:-/tmp})

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	# Three workers on two cores: many tests wait on a child process, a server or a signal.
	# loadgroup: the Spark tests share one worker and its JVM (tests/conftest.py schedules it).
	TMPDIR=$(TEST_TMPDIR) $(BIN)/python -m pytest -n 3 --dist loadgroup -rs

clean:
	rm -rf $(VENV) demo/monitor.duckdb demo/outbox monitor.duckdb outbox report.html
