"""The Prism-validated call sweep (prism_sweep.py) over a fixed sample of real API documents:
every tool of each is called through the gateway with schema-valid generated arguments, and
Prism, which validates every request against the document, must reject none of them.

Part of the default gateway run (about 7 minutes). Needs the APIs.guru directory
(compile/tests/fixtures/openapi/fetch-real-specs.sh, which tests/run.sh runs first). Set
PRISM_SWEEP_DOCS to a comma-separated list of paths (relative to that directory) to sweep other
documents. Counts, time and peak memory are printed (`-s`) and kept in the README."""

from __future__ import annotations

import os

import pytest

import prism_sweep

DOCS = [d for d in os.environ.get("PRISM_SWEEP_DOCS", "").split(",") if d] or prism_sweep.SAMPLE


@pytest.fixture(scope="module")
def results():
    missing = [d for d in DOCS if not (prism_sweep.DIRECTORY / d).is_file()]
    if missing:
        pytest.fail(f"missing documents {missing}: run compile/tests/fixtures/openapi/fetch-real-specs.sh", pytrace=False)
    results = prism_sweep.sweep([prism_sweep.DIRECTORY / d for d in DOCS])
    print(prism_sweep.summary(results))
    return {r.doc.removeprefix(str(prism_sweep.DIRECTORY) + "/"): r for r in results}


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("doc", DOCS)
def test_prism_accepts_every_request(results, doc):
    r = results[doc]
    assert not r.error, r.error
    assert r.tools > 0
    counts = r.counts()
    problems = [f"{o.kind}: {o.tool}: {o.detail}" for o in r.outcomes if o.kind in ("rejected", "gateway-error", "ok-no-request")]
    assert not problems, f"{doc}: {counts}\n" + "\n".join(problems[:40])
    # Most tools get a request through; the rest are listed generator limits.
    assert counts.get("ok", 0) + counts.get("mock-error", 0) >= 0.9 * r.tools, counts
