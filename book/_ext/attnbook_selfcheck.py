"""Sphinx extension for the end of every chapter: a "Key takeaways" box and self-check questions the page grades.

Two MyST directives, usable in any page of the book (a new chapter needs nothing else):

``{takeaways}``
    A box titled "Key takeaways" holding its content (usually a short bullet list)::

        ```{takeaways}
        - Attention weights are non-negative and sum to one.
        ```

``{selfcheck}``
    One question. The content is the question (Markdown, math allowed); a bullet list at its end makes it a
    choice question, otherwise the reader types a number. Options:

    ``:answer:``
        choice: the number of the right option, counted from 1; number question: the right value (from the
        prose's own maths).
    ``:glue:``
        number question: the name of a value the chapter glued (``attnbook.book.glue``), used instead of
        ``:answer:`` so the answer is the chapter's computation.
    ``:tolerance:``
        number question: the largest accepted distance from the answer (default 0: exact).
    ``:hint:``
        shown after a wrong answer (Markdown).
    ``:explain:``
        shown after a right answer (Markdown).

    Example::

        ```{selfcheck}
        :answer: 2
        :hint: The softmax of a row is positive and sums to one.
        :explain: Every weight is $e^{s}$ divided by a positive sum.

        Can an attention weight be negative?

        - Yes, when the score is negative.
        - No, never.
        ```

The page needs no server and no network: the answer rides in the form's ``data-`` attributes and
``_static/attnbook-selfcheck.js`` (added only to pages with a question) checks it. The markup is native form
controls (radio buttons or a text field, a submit button), grouped and labelled for assistive technology, with
the verdict in a polite live region; colours come from the theme's variables, so dark mode follows.
"""

from __future__ import annotations

import math
from html import escape

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

SCRIPT = "attnbook-selfcheck.js"
FORM_CLASS = "attnbook-selfcheck"


# --- nodes -------------------------------------------------------------------------------------------------
class selfcheck(nodes.General, nodes.Element):  # noqa: N801 (docutils names nodes in lower case)
    """The form: ``kind`` ("choice" or "number"), ``answer`` (str), ``tolerance`` (float), ``ident``."""


class selfcheck_question(nodes.General, nodes.Element):  # noqa: N801
    """The question's text (block content)."""


class selfcheck_options(nodes.General, nodes.Element):  # noqa: N801
    """The group of radio buttons of a choice question."""


class selfcheck_option(nodes.General, nodes.TextElement):  # noqa: N801
    """One choice (inline content): ``index`` counted from 1."""


class selfcheck_number(nodes.General, nodes.Element):  # noqa: N801
    """The text field of a number question."""


class selfcheck_feedback(nodes.General, nodes.Element):  # noqa: N801
    """The live region; holds the hint and the explanation, hidden until the reader checks an answer."""


class selfcheck_note(nodes.General, nodes.Element):  # noqa: N801
    """A hint (``role="hint"``) or an explanation (``role="explain"``)."""


def _ids(node: nodes.Element) -> tuple[str, str]:
    ident = node["ident"]
    return ident, f"{ident}-question"


def visit_selfcheck(self, node):
    ident, question = _ids(node)
    attrs = {
        "class": FORM_CLASS,
        "id": ident,
        "data-kind": node["kind"],
        "data-answer": node["answer"],
        "data-tolerance": repr(float(node["tolerance"])),
        "aria-labelledby": question,
        "novalidate": "novalidate",
    }
    self.body.append("<form " + " ".join(f'{k}="{escape(str(v))}"' for k, v in attrs.items()) + ">\n")
    self.body.append(f'<p class="selfcheck-label">Self-check {node["number"]}</p>\n')


def depart_selfcheck(self, node):
    self.body.append("</form>\n")


def visit_question(self, node):
    _, question = _ids(node.parent)
    self.body.append(f'<div class="selfcheck-question" id="{question}">\n')


def depart_div(self, node):
    self.body.append("</div>\n")


def visit_options(self, node):
    _, question = _ids(node.parent)
    self.body.append(f'<div class="selfcheck-options" role="radiogroup" aria-labelledby="{question}">\n')


def visit_option(self, node):
    ident, _ = _ids(node.parent.parent)
    i = node["index"]
    # An option made of maths has no text name until MathJax runs (and axe, like some screen readers, may not see
    # MathJax's hidden copy): name the radio button with the option's source text.
    spoken = node.get("spoken")
    named = f' aria-label="{escape(spoken, quote=True)}"' if spoken else ""
    self.body.append(
        f'<div class="selfcheck-option"><input type="radio" id="{ident}-{i}" name="{ident}" value="{i}"{named}>'
        f'<label for="{ident}-{i}">'
    )


def depart_option(self, node):
    self.body.append("</label></div>\n")


def visit_number(self, node):
    ident, question = _ids(node.parent)
    tol = float(node.parent["tolerance"])
    within = f" (within ±{_plain(tol)})" if tol > 0 else ""
    self.body.append(
        f'<div class="selfcheck-number"><label for="{ident}-value">Your answer{within}</label> '
        f'<input type="text" inputmode="decimal" autocomplete="off" spellcheck="false" id="{ident}-value" '
        f'name="{ident}" aria-describedby="{question}"></div>\n'
    )
    raise nodes.SkipNode


def visit_feedback(self, node):
    self.body.append(
        '<button type="submit" class="selfcheck-check">Check</button>\n'
        '<div class="selfcheck-feedback" role="status" aria-live="polite">'
        '<p class="selfcheck-verdict"></p>\n'
    )


def visit_note(self, node):
    self.body.append(f'<div class="selfcheck-{node["role"]}" hidden>\n')


def _skip(self, node):
    raise nodes.SkipNode


def _plain(x: float) -> str:
    return f"{x:.10g}"


# --- directives --------------------------------------------------------------------------------------------
class TakeawaysDirective(SphinxDirective):
    """A "Key takeaways" box: an admonition with a fixed title and the class ``attnbook-takeaways``."""

    has_content = True

    def run(self):
        box = nodes.admonition(classes=["attnbook-takeaways"])
        box += nodes.title(text="Key takeaways")
        self.set_source_info(box)
        self.state.nested_parse(self.content, self.content_offset, box)
        return [box]


class SelfCheckDirective(SphinxDirective):
    """A self-check question, graded in the page (see the module docstring)."""

    has_content = True
    option_spec = {
        "answer": directives.unchanged_required,
        "glue": directives.unchanged_required,
        "tolerance": directives.unchanged_required,
        "hint": directives.unchanged_required,
        "explain": directives.unchanged_required,
    }

    def run(self):
        if not self.content:
            raise self.error("selfcheck: the question is missing (write it as the directive's content)")
        body = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, body)
        children = list(body.children)
        options = None
        if children and isinstance(children[-1], (nodes.bullet_list, nodes.enumerated_list)):
            options = children.pop()
        if not children:
            raise self.error("selfcheck: the question is missing (text before the list of choices)")

        serial = self.env.new_serialno("attnbook-selfcheck")
        node = selfcheck(
            ident=f"selfcheck-{self.env.docname.replace('/', '-')}-{serial + 1}", number=serial + 1
        )
        self.set_source_info(node)
        question = selfcheck_question()
        question.extend(children)
        node += question
        if options is not None:
            node["kind"], node["tolerance"] = "choice", 0.0
            node["answer"] = str(self._choice_answer(len(options.children)))
            group = selfcheck_options()
            for i, item in enumerate(options.children, start=1):
                group += self._option(item, i)
            node += group
        else:
            node["kind"] = "number"
            node["answer"] = _plain(self._number_answer())
            node["tolerance"] = self._tolerance()
            node += selfcheck_number()
        feedback = selfcheck_feedback()
        for role in ("hint", "explain"):
            if role in self.options:
                note = selfcheck_note(role=role)
                note.extend(self.parse_text_to_nodes(self.options[role], offset=self.content_offset))
                feedback += note
        node += feedback
        return [node]

    def _choice_answer(self, n: int) -> int:
        if "glue" in self.options or "tolerance" in self.options:
            raise self.error("selfcheck: :glue: and :tolerance: belong to number questions, not choices")
        if n < 2:
            raise self.error(f"selfcheck: a choice question needs at least 2 choices, got {n}")
        text = self.options.get("answer", "")
        try:
            answer = int(text)
        except ValueError:
            raise self.error(
                f"selfcheck: :answer: must be the number of the right choice (1..{n}), got {text!r}"
            ) from None
        if not 1 <= answer <= n:
            raise self.error(f"selfcheck: :answer: must be between 1 and {n}, got {answer}")
        return answer

    def _option(self, item: nodes.Node, index: int) -> selfcheck_option:
        if len(item.children) != 1 or not isinstance(item.children[0], nodes.paragraph):
            raise self.error(f"selfcheck: choice {index} must be one paragraph (it becomes a label)")
        option = selfcheck_option(index=index)
        option.extend(item.children[0].children)
        if any(isinstance(n, nodes.math) for n in item.children[0].findall()):
            option["spoken"] = " ".join(item.children[0].astext().split())
        return option

    def _number_answer(self) -> float:
        has_answer, has_glue = "answer" in self.options, "glue" in self.options
        if has_answer == has_glue:
            raise self.error("selfcheck: a number question needs exactly one of :answer: and :glue:")
        if has_glue:
            key = self.options["glue"].strip()
            try:
                from myst_nb.ext.glue.utils import RetrievalError, retrieve_glue_data
            except ImportError:  # pragma: no cover - the book always builds with myst-nb
                raise self.error("selfcheck: :glue: needs myst-nb") from None
            try:
                text = retrieve_glue_data(self.state.document, key).data.get("text/plain", "")
            except RetrievalError as exc:
                raise self.error(f"selfcheck: :glue: {exc}") from None
            label = f":glue: {key}"
        else:
            text, label = self.options["answer"], ":answer:"
        try:
            value = float(str(text).strip().strip("'\""))
        except ValueError:
            raise self.error(f"selfcheck: {label} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise self.error(f"selfcheck: {label} must be finite, got {text!r}")
        return value

    def _tolerance(self) -> float:
        text = self.options.get("tolerance", "0")
        try:
            tol = float(text)
        except ValueError:
            raise self.error(f"selfcheck: :tolerance: must be a number, got {text!r}") from None
        if not (math.isfinite(tol) and tol >= 0):
            raise self.error(f"selfcheck: :tolerance: must be finite and >= 0, got {text!r}")
        return tol


# --- assets ------------------------------------------------------------------------------------------------
def _add_script(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """The grading script, only on pages that ask a question."""
    if doctree is not None and any(True for _ in doctree.findall(selfcheck)):
        app.add_js_file(SCRIPT, loading_method="defer")


def setup(app: Sphinx) -> dict:
    html = {
        selfcheck: (visit_selfcheck, depart_selfcheck),
        selfcheck_question: (visit_question, depart_div),
        selfcheck_options: (visit_options, depart_div),
        selfcheck_option: (visit_option, depart_option),
        selfcheck_number: (visit_number, None),
        selfcheck_feedback: (visit_feedback, depart_div),
        selfcheck_note: (visit_note, depart_div),
    }
    for node, (visit, depart) in html.items():
        # Other builders (text, LaTeX, ...) leave self-checks out: they are interactive.
        app.add_node(
            node, html=(visit, depart), **{b: (_skip, None) for b in ("latex", "text", "man", "texinfo")}
        )
    app.add_directive("selfcheck", SelfCheckDirective)
    app.add_directive("takeaways", TakeawaysDirective)
    app.connect("html-page-context", _add_script)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
