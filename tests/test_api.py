"""The public surface: Optax's signatures, complete docstrings, a README that runs."""

import inspect
import pathlib
import re
import warnings

import optax
import optax.contrib
import pytest

import optjax
import optjax.training

ROOT = pathlib.Path(__file__).resolve().parent.parent
PUBLIC_FUNCTIONS = sorted(
    name for name in optjax.__all__ if inspect.isfunction(getattr(optjax, name))
)


def _optax_counterpart(name):
    """Optax's function of the same name, from the core or from ``optax.contrib``."""
    for module in (optax, optax.contrib):
        # Optax's deprecated top-level aliases (optax.dpsgd...) warn on access.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            candidate = getattr(module, name, None)
        if inspect.isfunction(candidate):
            return candidate
    return None


SHARED_WITH_OPTAX = [name for name in PUBLIC_FUNCTIONS if _optax_counterpart(name) is not None]

# Every Optax core alias (lbfgs belongs to the modern-optimizers issue).
OPTAX_ALIASES = """adabelief adadelta adafactor adagrad adam adamax adamaxw adamw adan amsgrad
fromage lamb lars lion nadam nadamw noisy_sgd novograd optimistic_gradient_descent
optimistic_adam_v2 polyak_sgd radam rmsprop rprop sgd sign_sgd signum sm3 yogi""".split()


def _parameters(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_every_optax_alias_and_scale_by_primitive_exists():
    wanted = OPTAX_ALIASES + [
        n
        for n in dir(optax)
        if n.startswith("scale_by_") and "linesearch" not in n and n != "scale_by_lbfgs"
    ]
    assert not [n for n in wanted if not hasattr(optjax, n)]


@pytest.mark.parametrize("name", SHARED_WITH_OPTAX)
def test_signature_matches_optax(name):
    """Same argument names, order, kinds and defaults; extras are keyword-only."""
    ours = _parameters(getattr(optjax, name))
    theirs = _parameters(_optax_counterpart(name))
    ours_shared = [p for p in ours if p[0] in {t[0] for t in theirs}]
    assert [p[0] for p in ours_shared] == [t[0] for t in theirs], name
    for (p_name, p_kind, p_default), (_, t_kind, t_default) in zip(ours_shared, theirs):
        assert p_kind == t_kind, f"{name}({p_name}): kind {p_kind} vs Optax {t_kind}"
        if inspect.isfunction(t_default) or inspect.isclass(t_default):
            continue  # e.g. adafactor's dtype_momentum=jnp.float32, a decay-rate function
        if hasattr(t_default, "init") and hasattr(t_default, "update"):
            # A default transform (lbfgs's linesearch, sophia's Hutchinson
            # estimator) is a fresh object that never compares equal.
            assert hasattr(p_default, "init") and hasattr(p_default, "update"), name
            continue
        assert p_default == t_default or (
            p_default is inspect.Parameter.empty and t_default is inspect.Parameter.empty
        ), f"{name}({p_name}): default {p_default!r} vs Optax {t_default!r}"
    extras = [p for p in ours if p[0] not in {t[0] for t in theirs}]
    assert all(kind is inspect.Parameter.KEYWORD_ONLY for _, kind, _ in extras), extras


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_docstring_has_summary_math_args_returns_and_example(name):
    fn = getattr(optjax, name)
    doc = inspect.getdoc(fn) or ""
    summary = doc.splitlines()[0] if doc else ""
    assert summary.endswith("."), f"{name}: one-line summary missing"
    assert ".. math::" in doc, f"{name}: no update rule in math"
    assert "Returns:" in doc, f"{name}: no Returns section"
    if inspect.signature(fn).parameters:
        assert "Args:" in doc, f"{name}: no Args section"
    assert "Examples:" in doc and ">>>" in doc, f"{name}: no executed example"


# The modern optimizers (issue 5), in Optax's contrib or not in Optax at all.
MODERN_OPTIMIZERS = """muon adopt ademamix simplified_ademamix schedule_free_adamw
schedule_free_sgd prodigy dadapt_adamw sophia sam lbfgs soap shampoo mars_adamw mars_lion
cautious acprop cocob dog dowg dpsgd galore madgrad mechanize momo momo_adam
optimistic_adam""".split()


@pytest.mark.parametrize("name", OPTAX_ALIASES + MODERN_OPTIMIZERS)
def test_optimizer_docstring_cites_its_paper(name):
    doc = inspect.getdoc(getattr(optjax, name))
    assert "References:" in doc and re.search(r"https?://", doc), name


def _python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert first_block.splitlines()[0].startswith("make demo")
    assert first_block.splitlines()[1].startswith("make test")


def test_readme_python_examples_run(capsys):
    namespace = {}
    blocks = _python_blocks(ROOT / "README.md")
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert "final loss" in capsys.readouterr().out


def _needs_usage_docs(obj):
    """Functions and classes defined in optjax, less state NamedTuples and protocols
    (which document their fields) and type aliases such as ``Any``."""
    if not getattr(obj, "__module__", "").startswith("optjax"):
        return False
    if inspect.isfunction(obj):
        return True
    return (
        inspect.isclass(obj)
        and not issubclass(obj, tuple)
        and not getattr(obj, "_is_protocol", False)
    )


NAMESPACED = [
    (module, name)
    for module in (
        optjax.losses,
        optjax.metrics,
        optjax.data,
        optjax.schedules,
        optjax.training,
        optjax.tree,
        optjax.projections,
        optjax.second_order,
        optjax.perturbations,
        optjax.assignment,
        optjax.microbatching,
        optjax.experimental.aggregating,
    )
    for name in module.__all__
    if _needs_usage_docs(getattr(module, name))
]


@pytest.mark.parametrize(
    "module, name", NAMESPACED, ids=[f"{m.__name__}.{n}" for m, n in NAMESPACED]
)
def test_namespaced_functions_have_summary_args_and_example(module, name):
    obj = getattr(module, name)
    doc = inspect.getdoc(obj) or ""
    assert doc.splitlines()[0].endswith("."), f"{name}: one-line summary missing"
    if inspect.isfunction(obj):
        assert "Returns:" in doc or "Yields:" in doc, f"{name}: no Returns section"
    assert "Examples:" in doc and ">>>" in doc, f"{name}: no executed example"


def test_readme_optimizer_table_lists_every_optimizer_with_paper_and_optax_counterpart():
    readme = (ROOT / "README.md").read_text()
    for name in OPTAX_ALIASES + MODERN_OPTIMIZERS:
        row = re.search(rf"^\| `{name}` \| \[[^]]+\]\(https?://[^)]+\) \| (.+) \|$", readme, re.M)
        assert row, f"README optimizer table has no row for {name}"
        counterpart = row.group(1)
        if hasattr(optax.contrib, name):
            assert counterpart == f"`optax.contrib.{name}`", name
        elif hasattr(optax, name):
            assert counterpart == f"`optax.{name}`", name
        else:
            assert counterpart == "not in Optax", name
