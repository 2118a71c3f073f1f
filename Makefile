# jobmatch: `make demo` and `make test` create .venv if missing, install, and run.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
# GPU machines: make install GPU=1 TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
GPU ?=
comma := ,
EXTRAS := dev,ray$(if $(GPU),$(comma)gpu)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install cython setuptools wheel
	$(PIP) install --no-build-isolation youtokentome==1.0.6
	$(PIP) install -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/jobmatch demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) runs .pytest_cache
