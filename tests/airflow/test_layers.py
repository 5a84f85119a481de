"""The layers of DESIGN.md, read from the package's source (AST: fast, no Airflow runtime needed).

Code outside ``client/`` takes the client's names from its public face, the package
``airflow_provider_segmentation.client``, never from a module inside it; the emulator (the other side of
the wire) imports neither the client nor the hook; the hook module gives the rest of the package only
``SegmentationHook`` and ``config_from_connection``; no module takes another module's private
(leading-underscore) name. Each failure names the file, the line and the fix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import airflow_provider_segmentation.client as client_face  # Airflow-free; its names load lazily

PACKAGE = "airflow_provider_segmentation"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
CLIENT = f"{PACKAGE}.client"
HOOKS = f"{PACKAGE}.hooks"
HOOK_MODULE = f"{HOOKS}.segmentation"
HOOK_NAMES = {"SegmentationHook", "config_from_connection"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def in_subpackage(path: Path, subpackage: str) -> bool:
    return path.relative_to(ROOT).parts[0] == subpackage


def imports(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """Every import in ``path`` (also inside functions and ``TYPE_CHECKING``) as (line, module, name):
    ``import a.b`` gives (line, "a.b", None), ``from a import b, c`` gives (line, "a", "b") and (line,
    "a", "c"). A relative import is resolved against the importing module's package."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*anchor, module] if module else anchor)
            for alias in node.names:
                yield node.lineno, module, alias.name


def dotted(module: str, name: str | None) -> str:
    """What an import reaches: ``a.b`` for ``import a.b``, ``a.b`` for ``from a import b``."""
    return f"{module}.{name}" if name else module


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT.parent)}:{line}"


def report(violations: list[str]) -> str:
    return f"{len(violations)} import(s) break the layers:\n" + "\n".join(violations)


def test_outside_client_only_the_client_face_is_imported() -> None:
    """``airflow_provider_segmentation.client.<module>`` is the client's inside: only ``client/`` reads it."""
    public = set(client_face._HOMES)
    violations = []
    for path in package_modules():
        if in_subpackage(path, "client"):
            continue
        for line, module, name in imports(path):
            if module.startswith(f"{CLIENT}."):
                violations.append(
                    f"{where(path, line)}: imports {dotted(module, name)} from inside the client; fix: "
                    f"`from {CLIENT} import {name or '<name>'}` (a public name is listed in _HOMES of "
                    "client/__init__.py)"
                )
            elif module == CLIENT and name is not None and name not in public:
                violations.append(
                    f"{where(path, line)}: imports {name!r} from {CLIENT}, which is not one of its public "
                    f"names (_HOMES); fix: add it to _HOMES and __all__ in client/__init__.py, or do not use "
                    "it outside client/"
                )
    assert violations == [], report(violations)


def test_the_emulator_imports_neither_the_client_nor_the_hook() -> None:
    """The emulator is the other side of the wire: it speaks AEP's format from ``models`` and ``pql``."""
    violations = [
        f"{where(path, line)}: the emulator imports {dotted(module, name)}; fix: use "
        f"{PACKAGE}.models / {PACKAGE}.pql, or move the shared code below both (DESIGN.md, layers)"
        for path in package_modules()
        if in_subpackage(path, "emulator")
        for line, module, name in imports(path)
        if any(
            dotted(module, name) == layer or dotted(module, name).startswith(f"{layer}.")
            for layer in (CLIENT, HOOKS)
        )
    ]
    assert violations == [], report(violations)


def test_outside_hooks_only_the_hook_and_its_connection_reader_come_from_the_hook_module() -> None:
    violations = []
    for path in package_modules():
        if in_subpackage(path, "hooks"):
            continue
        for line, module, name in imports(path):
            if (module == HOOK_MODULE and name not in HOOK_NAMES) or dotted(module, name) == HOOK_MODULE:
                violations.append(
                    f"{where(path, line)}: imports {dotted(module, name)}; fix: take only SegmentationHook "
                    f"or config_from_connection from {HOOK_MODULE}, and every client name from {CLIENT}"
                )
    assert violations == [], report(violations)


def test_no_module_takes_another_modules_private_name() -> None:
    violations = [
        f"{where(path, line)}: imports the private name {name} from {module}; fix: make it public in "
        f"{module} (drop the leading underscore) or use it only inside {module}"
        for path in package_modules()
        for line, module, name in imports(path)
        if (module == PACKAGE or module.startswith(f"{PACKAGE}."))
        and name is not None
        and name.startswith("_")
        and not (name.startswith("__") and name.endswith("__"))
    ]
    assert violations == [], report(violations)


def test_the_client_face_lists_each_name_once_and_every_name_resolves() -> None:
    """``__all__`` is ``_HOMES``'s keys: a name added to one and not the other is either unlisted for
    ``from ... import *`` and the docs, or listed and unloadable."""
    exported = list(client_face.__all__)
    homes = set(client_face._HOMES)
    duplicates = sorted({name for name in exported if exported.count(name) > 1})
    assert duplicates == [], f"client/__init__.py: __all__ lists {duplicates} twice; fix: list each once"
    assert set(exported) == homes, (
        f"client/__init__.py: __all__ and _HOMES differ; fix: in __all__ add "
        f"{sorted(homes - set(exported))} and remove {sorted(set(exported) - homes)}"
    )
    unresolved = []
    for name in sorted(homes):
        try:
            getattr(client_face, name)
        except (AttributeError, ImportError) as exc:
            unresolved.append(f"{name} (from {CLIENT}.{client_face._HOMES[name]}): {exc}")
    assert unresolved == [], (
        "client/__init__.py: these _HOMES entries do not load; fix the module named for each:\n"
        + "\n".join(unresolved)
    )


def test_the_client_face_exports_every_error_of_the_client() -> None:
    """Operators, sensors and triggers take every error from the client's face, never from its modules."""
    from airflow_provider_segmentation.client import errors

    hierarchy = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.AEPError)
    }
    assert hierarchy <= set(client_face.__all__), (
        f"client/__init__.py: add {sorted(hierarchy - set(client_face.__all__))} to _HOMES and __all__"
    )
    assert all(getattr(client_face, name) is getattr(errors, name) for name in hierarchy)
