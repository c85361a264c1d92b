"""The 15 Vitibrasil datasets: where each lives on the site and what it measures."""

from dataclasses import dataclass
from urllib.parse import urlencode

FIRST_YEAR = 1970  # every series on the site starts here


@dataclass(frozen=True)
class Dataset:
    name: str  # contract name used in storage and the API
    opcao: str  # tab, e.g. "opt_05"
    subopcao: str | None  # sub-tab, e.g. "subopt_01"; None for single-table tabs
    csv_name: str  # download/<csv_name>
    label: str  # table heading as on the site, without the year
    unit: str  # "L" (litres) or "kg"; trade values are always US$
    kind: str  # "volume" (one quantity per item) or "trade" (quantity and US$ value)

    @property
    def is_trade(self) -> bool:
        return self.kind == "trade"


def _volume(name, opcao, subopcao, csv_name, label, unit):
    return Dataset(name, opcao, subopcao, csv_name, label, unit, "volume")


def _trade(name, opcao, subopcao, csv_name, label):
    return Dataset(name, opcao, subopcao, csv_name, label, "kg", "trade")


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        _volume("production", "opt_02", None, "Producao.csv",
                "Produção de vinhos, sucos e derivados", "L"),
        _volume("processing_viniferas", "opt_03", "subopt_01", "ProcessaViniferas.csv",
                "Uvas viníferas processadas", "kg"),
        _volume("processing_american_hybrid", "opt_03", "subopt_02", "ProcessaAmericanas.csv",
                "Uvas americanas e híbridas processadas", "kg"),
        _volume("processing_table_grapes", "opt_03", "subopt_03", "ProcessaMesa.csv",
                "Uvas de mesa processadas", "kg"),
        _volume("processing_unclassified", "opt_03", "subopt_04", "ProcessaSemclass.csv",
                "Uvas sem classificação processadas", "kg"),
        _volume("commercialization", "opt_04", None, "Comercio.csv",
                "Comercialização de vinhos e derivados", "L"),
        _trade("import_table_wine", "opt_05", "subopt_01", "ImpVinhos.csv",
               "Importação de vinhos de mesa"),
        _trade("import_sparkling", "opt_05", "subopt_02", "ImpEspumantes.csv",
               "Importação de espumantes"),
        _trade("import_fresh_grapes", "opt_05", "subopt_03", "ImpFrescas.csv",
               "Importação de uvas frescas"),
        _trade("import_raisins", "opt_05", "subopt_04", "ImpPassas.csv",
               "Importação de uvas passas"),
        _trade("import_grape_juice", "opt_05", "subopt_05", "ImpSuco.csv",
               "Importação de suco de uva"),
        _trade("export_table_wine", "opt_06", "subopt_01", "ExpVinho.csv",
               "Exportação de vinhos de mesa"),
        _trade("export_sparkling", "opt_06", "subopt_02", "ExpEspumantes.csv",
               "Exportação de espumantes"),
        _trade("export_fresh_grapes", "opt_06", "subopt_03", "ExpUva.csv",
               "Exportação de uvas frescas"),
        _trade("export_grape_juice", "opt_06", "subopt_04", "ExpSuco.csv",
               "Exportação de suco de uva"),
    )
}


def page_url(base_url: str, dataset: str, year: int) -> str:
    d = DATASETS[dataset]
    query = {"opcao": d.opcao}
    if d.subopcao:
        query["subopcao"] = d.subopcao
    query["ano"] = year
    return f"{base_url.rstrip('/')}/index.php?{urlencode(query)}"


def csv_url(base_url: str, dataset: str) -> str:
    return f"{base_url.rstrip('/')}/download/{DATASETS[dataset].csv_name}"
