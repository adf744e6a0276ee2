"""One registration mechanism for every kind of plugin.

Datasets, model families, probes and hypotheses (what a spec names), and trainers and
executors (how and where bundles train), all register the same way: a decorator in the
module that defines them, or an entry point in an installed package (groups
``ddbench.datasets``, ``ddbench.families``, ``ddbench.probes``, ``ddbench.hypotheses``,
``ddbench.trainers``, ``ddbench.executors``). Built-ins and entry points are loaded lazily, on
first lookup, so ``ddbench --help`` stays fast and a broken third-party plugin only breaks the
commands that need it.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownPluginError(KeyError):
    """A name that no registered plugin of this kind has."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        hint = difflib.get_close_matches(name, known, n=1)
        msg = f"unknown {kind} {name!r}; allowed: {', '.join(known) or '(none registered)'}"
        if hint:
            msg += f" (did you mean {hint[0]!r}?)"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class Registry(Generic[T]):
    """Name -> plugin table for one kind, filled by decorator and entry points."""

    def __init__(self, kind: str, group: str, builtin_modules: tuple[str, ...]):
        self.kind = kind
        self.group = group
        self._builtin_modules = builtin_modules
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loaded = False

    def register(self, name: str | None = None, *, version: str = "1") -> Callable[[T], T]:
        """Decorator: ``@families.register("mlp", version="1")``.

        Sets ``plugin_name`` and ``plugin_version`` on the object; both go into
        leaderboards so results say which implementation produced them.
        """

        def decorate(obj: T) -> T:
            key = name or getattr(obj, "plugin_name", None) or obj.__name__  # type: ignore[attr-defined]
            obj.plugin_name = key  # type: ignore[attr-defined]
            obj.plugin_version = version  # type: ignore[attr-defined]
            origin = getattr(obj, "__module__", "?")
            if key in self._items and self._origin.get(key) != origin:
                raise ValueError(
                    f"{self.kind} {key!r} is registered twice: by {self._origin[key]} and by {origin}"
                )
            self._items[key] = obj
            self._origin[key] = origin
            return obj

        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtin_modules:
            try:
                importlib.import_module(module)
            except ImportError as exc:  # an optional dependency missing: only its plugins are lost
                warnings.warn(f"built-in {self.kind} plugins of {module} are unavailable: {exc}")
        for ep in entry_points(group=self.group):
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                warnings.warn(f"could not load {self.kind} plugin {ep.name!r} ({ep.value}): {exc}")
                continue
            if ep.name not in self._items:
                # registered by its own module? (a name inherited from a registered base class does not count)
                if "plugin_name" not in getattr(obj, "__dict__", {}):
                    self.register(ep.name, version=getattr(obj, "plugin_version", "1"))(obj)
                else:
                    self._items[ep.name] = obj
                    self._origin[ep.name] = ep.value

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownPluginError(self.kind, name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        for key in sorted(self._items):
            yield key, self._items[key]

    def origin(self, name: str) -> str:
        self._load()
        return self._origin.get(name, "?")


datasets: Registry[Any] = Registry("dataset", "ddbench.datasets", ("ddbench.data.mnist1d", "ddbench.data.digits", "ddbench.data.mnist5k", "ddbench.data.tfds", "ddbench.data.synthetic", "ddbench.data.npz"))
families: Registry[Any] = Registry("family", "ddbench.families", ("ddbench.families.mlp", "ddbench.families.cnn5", "ddbench.families.resnet", "ddbench.families.cnn1d", "ddbench.families.deep_linear", "ddbench.families.random_features"))
probes: Registry[Any] = Registry("probe", "ddbench.probes", ("ddbench.probes.basic", "ddbench.probes.class_activation", "ddbench.probes.smoothness", "ddbench.probes.low_rank", "ddbench.probes.redundancy",))
hypotheses: Registry[Any] = Registry("hypothesis", "ddbench.hypotheses", ("ddbench.hypotheses.double_descent", "ddbench.hypotheses.class_activation", "ddbench.hypotheses.smoothness", "ddbench.hypotheses.norm_capacity", "ddbench.hypotheses.low_rank", "ddbench.hypotheses.redundancy",))

trainers: Registry[Any] = Registry("trainer", "ddbench.trainers", ("ddbench.train.keras_fit", "ddbench.train.stateless", "ddbench.train.closed_form"))
executors: Registry[Any] = Registry("executor", "ddbench.executors", ("ddbench.execute.local", "ddbench.execute.ray_executor"))

#: the kinds a spec names, each with its contract checks in ``ddbench plugin test``
ALL = {"datasets": datasets, "families": families, "probes": probes, "hypotheses": hypotheses}
#: every kind, as ``ddbench list`` shows them: those of :data:`ALL`, and how and where bundles train
KINDS = {**ALL, "trainers": trainers, "executors": executors}
