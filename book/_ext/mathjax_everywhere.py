"""Load MathJax on every page, not only on pages whose body has a formula.

The navigation bar of every page shows chapter titles, and one of them holds a formula
("the choice of $y_f$"); without MathJax a page such as References would show it as raw
``\\(y_f\\)``.  Sphinx adds its JavaScript everywhere under the "always" assets policy.
"""


def setup(app):
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
