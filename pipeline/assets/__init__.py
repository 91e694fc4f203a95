"""Files shipped with xxgk: page templates and the example scorecard."""

from importlib import resources


def asset_text(name: str) -> str:
    """The text of a shipped file (works from a wheel or a checkout alike)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def html_environment():
    """A Jinja environment over the shipped page templates, escaping as HTML."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FunctionLoader(asset_text), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)
