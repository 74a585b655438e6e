"""The layers hold: read from the source with ``ast``, so a shortcut fails here, not in review.

1. No module imports another module's private names: not ``from .routes import _live``,
   nor ``routes._live`` through an imported module.
2. The transport layers (:data:`TOP`: the ASGI app, HTTP pages and API, the WebSocket
   endpoint, the archive routes, the QR route, metrics and the middleware) reach storage
   only through the service layer: they import nothing from ``live.store`` (type-only
   imports of its protocols under ``TYPE_CHECKING`` aside) nor a database driver.
3. Outside ``live/store/`` nothing reads the attribute ``store`` of anything but ``self``:
   the store is handed to each service once, by the wiring (:mod:`live.services`), so
   ``live.store.get_session(...)`` from a route, the way the layers used to be broken,
   cannot come back.
4. The copy commands (:data:`CLI_COPIES`: ``live backup``, ``export`` and ``import`` in
   :mod:`live.backup`, ``live copy-to`` in :mod:`live.pgcopy`) reach the databases only
   through the store's public surface: the narrow :class:`live.store.Copies` and
   :class:`live.store.Imports` protocols and :func:`live.store.copy_to`. No SQL, no driver,
   not the whole ``Store``, and no engine module (``live.store.sqlite*``,
   ``live.store.postgres*``): the commands own the file format and what they print; how
   each engine stores a copy is the store's.
5. Database drivers and SQL are found only under ``live/store/``, except where
   :data:`OUTSIDE_THE_STORE` says why.

Each rule is also run on a small source that breaks it, so none of them can pass by
checking nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "live"
TOP = {
    "live.app",
    "live.routes",
    "live.websocket",
    "live.archive_http",
    "live.board_http",
    "live.qr",
    "live.metrics",
    "live.middleware",
    "live.chain_http",
    "live.schedule_http",
    "live.stream_http",
    "live.photos_http",
}
DRIVERS = {"sqlite3", "aiosqlite", "asyncpg"}
CLI_COPIES = ("live.backup", "live.pgcopy")
ENGINES = ("sqlite", "postgres")
"""How the store's engine modules are named: ``live.store.sqlite_copies``, ``live.store.postgres``..."""
SQL = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "PRAGMA ", "CREATE ")
"""How SQL starts in this code base (upper-case keywords; prose such as "Delete the file" is not)."""
OUTSIDE_THE_STORE = {
    "live.demo": "reset() reads the demo's mark in a file it may delete, under its own exclusive "
    "lock; opening it as a store would migrate it and take that lock",
}
"""Modules allowed a driver or SQL outside ``live/store/``, and why."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module an ``from ... import`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def type_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:``."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


Import = tuple[ast.AST, str, str | None, str | None]
"""``(node, module imported from, name or None, the name it is bound to)``."""


def imports(module: str, tree: ast.Module, is_package: bool) -> Iterator[Import]:
    """Every import in ``tree``: ``import x`` gives no name, ``from x import y`` gives ``y``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, None, alias.asname
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, node, is_package)
            for alias in node.names:
                yield node, source, alias.name, alias.asname or alias.name


def private_imports(module: str, tree: ast.Module, is_package: bool = False) -> list[str]:
    """Private names ``module`` takes from another live module, by import or attribute."""
    found, bound = [], {}
    for _, source, name, as_name in imports(module, tree, is_package):
        if name is None or as_name is None or not source.startswith("live") or source == module:
            continue
        if name.startswith("_") and not name.startswith("__"):
            found.append(f"{module}: from {source} import {name}")
        bound[as_name] = f"{source}.{name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{module}: {node.value.id}.{node.attr} ({bound[node.value.id]})")
    return found


def storage_imports(module: str, tree: ast.Module) -> list[str]:
    """What a transport layer imports from the store or a database driver."""
    skip = type_only(tree)
    found = []
    for node, source, name, _ in imports(module, tree, False):
        if id(node) in skip:
            continue
        whole = source if name is None else f"{source}.{name}"
        if whole == "live.store" or whole.startswith("live.store.") or source.split(".")[0] in DRIVERS:
            found.append(f"{module}: imports {whole}")
    return found


def store_reads(module: str, tree: ast.Module) -> list[str]:
    """Every ``x.store`` whose ``x`` is not ``self``: a layer reaching past the services."""
    return [
        f"{module}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "store"
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]


def drivers_and_sql(module: str, tree: ast.Module) -> list[str]:
    """The database drivers ``module`` imports and the SQL it holds (f-strings included)."""
    found = [
        f"{module}: imports {source}"
        for _, source, _, _ in imports(module, tree, False)
        if source.split(".")[0] in DRIVERS
    ]
    found += [
        f"{module}:{node.lineno}: SQL {node.value[:30]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.lstrip().startswith(SQL)
    ]
    return found


def engine_module(source: str, name: str | None) -> bool:
    """Whether ``from source import name`` (or ``import source``) reaches one engine's module."""
    if source.startswith("live.store."):
        return source.removeprefix("live.store.").startswith(ENGINES)
    return (
        source == "live.store"
        and name is not None
        and name.startswith(ENGINES)
        and (PACKAGE / "store" / f"{name}.py").is_file()
    )


def copies_reach(module: str, tree: ast.Module) -> list[str]:
    """What a copy command uses besides the store's public surface: the whole Store, an engine
    module, a driver, SQL."""
    found = [
        f"{module}: imports {source if name is None else f'{source}.{name}'}"
        for _, source, name, _ in imports(module, tree, False)
        if (source == "live.store" and name == "Store") or engine_module(source, name)
    ]
    return found + drivers_and_sql(module, tree)


ALL = modules()


def test_the_layers_are_there() -> None:
    """The rules below look at real modules, not at nothing."""
    assert not TOP - set(ALL), TOP - set(ALL)
    assert not {"live.services", "live.sessions", "live.store", *CLI_COPIES, *OUTSIDE_THE_STORE} - set(ALL)
    assert drivers_and_sql("live.store.sqlite", ALL["live.store.sqlite"])
    assert drivers_and_sql("live.store.postgres_copies", ALL["live.store.postgres_copies"])


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        hit
        for name, tree in ALL.items()
        for hit in private_imports(name, tree, (PACKAGE.parent / name.replace(".", "/")).is_dir())
    ]
    assert found == []


@pytest.mark.parametrize("name", sorted(TOP))
def test_transport_layers_do_not_import_the_store(name: str) -> None:
    assert storage_imports(name, ALL[name]) == []


def test_nothing_outside_the_store_reaches_another_objects_store() -> None:
    found = [
        hit
        for name, tree in ALL.items()
        if not name.startswith("live.store")
        for hit in store_reads(name, tree)
    ]
    assert found == []


@pytest.mark.parametrize("name", CLI_COPIES)
def test_the_copy_commands_reach_the_databases_only_through_the_store(name: str) -> None:
    assert copies_reach(name, ALL[name]) == []


def test_drivers_and_sql_only_in_the_store() -> None:
    found = {
        name: hits
        for name, tree in ALL.items()
        if not name.startswith("live.store") and (hits := drivers_and_sql(name, tree))
    }
    assert set(found) == set(OUTSIDE_THE_STORE), found  # and each exception is still needed


BROKEN = {
    "private import": (
        "live.archive_http",
        "from .routes import _live, services\nfrom . import routes\nx = routes._role\n",
        private_imports,
        ["from live.routes import _live", "routes._role"],
    ),
    "store import": (
        "live.routes",
        "from typing import TYPE_CHECKING\nfrom .store import Store\nimport asyncpg\n"
        "if TYPE_CHECKING:\n    from .store import Catalog\n",
        storage_imports,
        ["imports live.store.Store", "imports asyncpg"],
    ),
    "store read": (
        "live.routes",
        "async def f(request):\n    return await services(request).store.get_session(1)\n"
        "class S:\n    def g(self):\n        return self.store\n",
        store_reads,
        ["services(request).store"],
    ),
    "copies past the protocol": (
        "live.backup",
        "import sqlite3\nfrom .store import Store\nQ = 'SELECT * FROM events'\n",
        copies_reach,
        ["imports live.store.Store", "imports sqlite3", "SQL 'SELECT * FROM events'"],
    ),
    "copy-to past the store": (
        "live.pgcopy",
        "from .store.postgres import where\nfrom .store import copy_to, sqlite_copies, sqlite_file\n"
        "import asyncpg\nq = f'INSERT INTO {table} VALUES ($1)'\nhelp_ = 'Delete nothing'\n",
        copies_reach,
        [
            "imports live.store.postgres.where",
            "imports live.store.sqlite_copies",
            "imports asyncpg",
            "SQL 'INSERT INTO '",
        ],
    ),
    "SQL outside the store": (
        "live.routes",
        "import aiosqlite\nfrom asyncpg import Connection\nQ = 'PRAGMA user_version'\n",
        drivers_and_sql,
        ["imports aiosqlite", "imports asyncpg", "SQL 'PRAGMA user_version'"],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_rule_catches_what_it_forbids(case: str) -> None:
    """The code as it was (archive_http took routes' ``_live``; routes read ``live.store``)."""
    module, source, rule, expected = BROKEN[case]
    found = rule(module, ast.parse(source))
    assert len(found) == len(expected), found
    for hit, want in zip(found, expected, strict=True):
        assert want in hit, (hit, want)
