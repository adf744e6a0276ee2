"""The spec's JSON Schema with the installed plugins' own options (``ddbench schema``).

:class:`~ddbench.spec.model.Spec` knows the shapes every spec may take (grid shorthands,
the three ways to list a probe or a hypothesis) but not which plugins are installed.
:func:`plugin_spec_model` builds, from the registry, a subclass of ``Spec`` whose
plugin sections are discriminated unions over the registered names, each carrying
that plugin's ``Config`` model:

* ``dataset``: one variant per dataset (``name`` the discriminator, ``options`` its Config);
* ``model``: one variant per family (``family``, ``config`` its Config, ``grid`` axes
  typed as lists of that option's values);
* ``probes`` / ``hypotheses``: items are a registered name, ``{name: Config-or-null}``
  with one key, or ``{name: <name>, params: Config}`` (discriminated on ``name``).

It is a real Pydantic model (``plugin_spec_model().model_validate(data)`` checks a spec
with it); ``Spec`` stays the model a run is made from, so hashes never depend on it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from .limits import reject_bool_numbers
from .model import DatasetSpec, ModelSpec, Spec

_FORBID = ConfigDict(extra="forbid")


class _NoOptions(BaseModel):
    """A plugin without options."""

    model_config = _FORBID


def options_model(plugin: Any) -> type[BaseModel]:
    """The Pydantic model of a plugin's options (as ``validate`` checks them)."""
    return getattr(plugin, "Config", None) or getattr(plugin, "Params", None) or _NoOptions


def _ident(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _one_of(variants: list[Any], discriminator: str) -> Any:
    if len(variants) == 1:
        return variants[0]
    return Annotated[Union[tuple(variants)], Field(discriminator=discriminator)]  # noqa: UP007


def _strict_except(model: type[BaseModel], discriminator: str) -> dict[str, Any]:
    """The spec's true/false-is-no-number check on every field but the discriminator (pydantic
    refuses a before-validator there; a ``Literal`` name takes no boolean anyway)."""
    fields = [f for f in model.model_fields if f != discriminator]
    return {"_no_bool_numbers": field_validator(*fields, mode="before")(classmethod(reject_bool_numbers))}


def _datasets(reg: Any) -> Any:
    variants = []
    for name, plugin in reg.items():
        desc = getattr(plugin, "description", "") or f"the {name} dataset"
        variants.append(create_model(
            f"DatasetSpec_{_ident(name)}", __base__=DatasetSpec, __doc__=desc,
            __validators__=_strict_except(DatasetSpec, "name"),
            name=(Literal[name], Field(description=desc)),
            options=(options_model(plugin), Field(default_factory=dict, description=f"options of {name}")),
        ))
    return _one_of(variants, "name")


def _grid_model(family: str, config: type[BaseModel]) -> type[BaseModel]:
    axes: dict[str, Any] = {}
    for key, info in config.model_fields.items():
        if key == "width":
            continue
        item = Annotated[tuple([info.annotation, *info.metadata])] if info.metadata else info.annotation
        axes[key] = (Optional[Annotated[list[item], Field(min_length=1)]],
                     Field(default=None, description=f"grid axis over {family}'s option {key}: its values"))
    return create_model(f"Grid_{_ident(family)}", __config__=_FORBID, **axes)


def _families(reg: Any) -> Any:
    variants = []
    for name, plugin in reg.items():
        config = options_model(plugin)
        desc = getattr(plugin, "description", "") or f"the {name} family"
        variants.append(create_model(
            f"ModelSpec_{_ident(name)}", __base__=ModelSpec, __doc__=desc,
            __validators__={"_grid": field_validator("grid")(classmethod(lambda cls, v: v)),
                            **_strict_except(ModelSpec, "family")},
            family=(Literal[name], Field(description=desc)),
            config=(config, Field(default_factory=dict, description=f"options of {name}")),
            grid=(_grid_model(name, config), Field(default_factory=dict, description="extra grid axes over options")),
        ))
    return _one_of(variants, "family")


def _entries(reg: Any, what: str) -> Any:
    """One list item of ``probes:`` or ``hypotheses:``: a name, ``{name: Config}`` or ``{name, params}``."""
    names = reg.names()
    short, full = [], []
    for name, plugin in reg.items():
        config = options_model(plugin)
        desc = getattr(plugin, "description", "") or f"the {name} {what}"
        short.append(create_model(f"{what}Short_{_ident(name)}", __config__=_FORBID, __doc__=desc,
                                  options=(Optional[config], Field(alias=name, description=desc))))
        full.append(create_model(f"{what}_{_ident(name)}", __config__=_FORBID, __doc__=desc,
                                 name=(Literal[name], Field(description=desc)),
                                 params=(config, Field(default_factory=dict))))
    if not names:
        return Literal[()]
    return Union[Literal[tuple(names)], Union[tuple(short)], _one_of(full, "name")]  # noqa: UP007


def plugin_spec_model() -> type[Spec]:
    """``Spec`` with every plugin section typed by the registered plugins' Config models."""
    from .. import registry

    probe, hypothesis = _entries(registry.probes, "Probe"), _entries(registry.hypotheses, "Hypothesis")
    return create_model(
        "Spec", __base__=Spec, __doc__=Spec.__doc__,
        # the forms are the union members themselves here: no normalisation before them
        __validators__={
            "_probes_v": field_validator("probes", mode="before")(classmethod(lambda cls, v: [] if v is None else v)),
            "_hyps_v": field_validator("hypotheses", mode="before")(classmethod(lambda cls, v: [] if v is None else v)),
            # Spec itself refuses a plugin listed twice; a JSON Schema cannot say it, so this model does not
            "_unique_names": field_validator("probes", "hypotheses")(classmethod(lambda cls, v: v)),
        },
        dataset=(_datasets(registry.datasets), ...),
        model=(_families(registry.families), ...),
        probes=(list[probe], Field(default_factory=list, description="probes measured on every trained cell")),
        hypotheses=(list[hypothesis], Field(default_factory=list, description="hypotheses tested on the finished grid")),
    )


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema ``ddbench schema`` prints (input forms, plugin options included)."""
    schema = plugin_spec_model().model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
