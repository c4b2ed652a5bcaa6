"""Publishing: the GitHub Pages workflow builds with the README's command and deploys the built folder; the
offline zip (`nox -s dist`) opens from disk with its figures working."""

from __future__ import annotations

import sys
import zipfile

import pytest
import yaml
from _bokeh import REPO, allowed_prefixes, book_root, figure_pages, open_page, wait_for_book_page
from _numbers import check_figure, payload_figures

sys.path.insert(0, str(REPO / "scripts"))
from dist import make_dist  # noqa: E402

WORKFLOW = REPO / ".github" / "workflows" / "pages.yml"


def test_pages_workflow_builds_with_the_readme_command_and_deploys_the_built_folder():
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = wf["jobs"]["build"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "nox -s build" in runs and "pip install nox" in runs
    assert "touch book/_build/html/.nojekyll" in runs
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert upload["with"]["path"] == "book/_build/html"
    cached = [s for s in steps if s.get("uses", "").startswith("actions/cache")]
    assert (
        cached
        and ".cache/runs" in cached[0]["with"]["path"]
        and ".jupyter_cache" in cached[0]["with"]["path"]
    )
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in wf["jobs"]["deploy"]["steps"])
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"


def test_dist_refuses_what_is_not_a_built_book(tmp_path):
    with pytest.raises(ValueError, match="html"):
        make_dist(tmp_path, tmp_path / "out", "1.0")
    (tmp_path / "index.html").write_text("<html></html>")
    with pytest.raises(ValueError, match="version"):
        make_dist(tmp_path, tmp_path / "out", "")


@pytest.mark.browser
def test_the_offline_zip_opens_from_disk_with_working_figures(tmp_path, chromium):
    root = book_root()
    zipped = make_dist(root, tmp_path, "test")
    assert make_dist(root, tmp_path / "again", "test").read_bytes() == zipped.read_bytes()  # reproducible
    with zipfile.ZipFile(zipped) as zf:
        zf.extractall(tmp_path / "unzipped")
    site = tmp_path / "unzipped" / "attnbook-book-test"
    assert (site / "READ-ME.txt").is_file() and not (site / ".doctrees").exists()
    rel = figure_pages(site)[0]
    with open_page(chromium, (site / rel).as_uri(), allowed_prefixes("file", None)) as (page, report):
        facts = wait_for_book_page(page, report)
        assert facts["figures"] >= 1
        for fig in payload_figures(page)[:1]:
            assert not check_figure(page, fig["doc"], fig["name"], fig["tag"])["mismatches"]
        problems = report.problems()
    assert not problems, report.describe()
