"""The price models the project serves: what each predicts and what an instance gives.

Light on purpose (no numpy, no scikit-learn): the API lists the models and
checks instances with it before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

TRADE_DATASETS = ("import_table_wine", "import_sparkling", "import_fresh_grapes", "import_raisins",
                  "import_grape_juice", "export_table_wine", "export_sparkling", "export_fresh_grapes",
                  "export_grape_juice")
NAIVE_RULES = ("last_price", "mean_3", "median_3")
DRIVERS = ("quantity_kg", "production", "processing", "commercialization")
HORIZONS = (1, 2, 3)


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    unit: str
    source: str                          # the crawler whose data it is trained on (data_versions scope)
    needs: tuple[tuple[str, ...], ...]   # each instance has exactly one of these field sets ...
    optional: tuple[str, ...] = ()       # ... plus any of these


MODELS = {m.name: m for m in (
    Model("wine_price",
          "Price (US$/kg) of a row of a Vitibrasil trade dataset: the observation for a year with data,"
          " a forecast 1 to 3 years past the data, or a scenario given the target year's drivers.",
          "US$/kg", "vitibrasil", (("dataset", "country", "year"),), DRIVERS),
    Model("book_price", "Price (GBP) of a book from what its page shows.", "GBP", "books",
          (("book_id",), ("category", "rating", "availability", "review_count", "description_length"))),
)}


def instance_errors(name: str, instances: list[dict]) -> dict[str, list[str]]:
    """Per instance, a message when its fields are not one of the model's field sets (plus optional ones)."""
    model, errors = MODELS[name], {}
    for i, instance in enumerate(instances):
        given = set(instance) - set(model.optional)
        if not any(given == set(needs) for needs in model.needs):
            wanted = " or ".join("{" + ", ".join(needs) + "}" for needs in model.needs)
            extra = f" (optionally with {', '.join(model.optional)})" if model.optional else ""
            errors[f"instances[{i}]"] = [f"{name} takes {wanted}{extra}; got {{{', '.join(sorted(instance))}}}."]
    return errors
