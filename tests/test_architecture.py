"""The package's layering (docs/ARCHITECTURE.md): its parts import each other in one direction only,
and no module reaches for another's private names."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "faltung"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), package, ast.parse(path.read_text())


def _imports(package, tree):
    """(module imported, names imported from it) for every import, lazy ones in functions included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[:len(package) - (node.level - 1)])
            yield ".".join(base + ([node.module] if node.module else [])), [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("faltung"):
            yield node.module, [a.name for a in node.names]


def _part(module):
    """The top-level part of the package a module belongs to: faltung.models.saving -> models."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_parts_of_the_package_import_each_other_in_one_direction():
    edges = {}
    for module, package, tree in _modules():
        for target, names in _imports(package, tree):
            targets = [target] if target != "faltung" else [f"faltung.{n}" for n in names]
            for t in targets:
                a, b = _part(module), _part(t)
                if a and b and a != b:
                    edges.setdefault(a, set()).add(b)

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,))) for n in edges.get(start, ()))
    cycles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if reaches(b, a)})
    assert cycles == [], f"import cycles between parts of faltung: {cycles}"


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for module, package, tree in _modules():
        for target, names in _imports(package, tree):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != module:
                offenders.append(f"{module} imports {private} from {target}")
    assert offenders == []


def test_every_module_imports():
    """Each module imports on its own (lazy namespaces such as keras.activations included)."""
    import importlib
    import pkgutil

    import faltung
    failed = {}
    for info in pkgutil.walk_packages(faltung.__path__, "faltung."):
        if info.name != "faltung.__main__":  # that one runs the command
            try:
                importlib.import_module(info.name)
            except ImportError as err:  # an optional extra this machine lacks is fine; faltung's own names not
                if "faltung" in str(err):
                    failed[info.name] = str(err)
    assert failed == {}
