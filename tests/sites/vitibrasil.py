"""A local Vitibrasil built from one CSV edition of the fixtures.

Year pages are rendered like the real ones (fixtures/vitibrasil/html): the
same classes and single-quoted attributes, `td.tb_item` / `td.tb_subitem`
rows, `1.234.567` numbers, `-` for zero, `tfoot.tb_total`, the
`Ano: [1970-YYYY]` range (the dataset's last year in the edition) and the
`download/<Name>.csv` link. `download/<Name>.csv` serves the edition's bytes.
Markers the real pages were never seen showing (no fixture page for the
processing years 2019 and 2022) are rendered as `nd`.
"""

import html
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS, FIRST_YEAR, Dataset
from crawler.vitibrasil.observations import Observation, whole_units
from tests.crawler.helpers import dataset_for

BROKEN_CSV = b"<html><body><p>Erro ao gerar o arquivo.</p></body></html>\n"


@dataclass
class VitibrasilSite:
    edition_dir: Path
    missing_csv: set[str] = field(default_factory=set)  # dataset names whose CSV is 404
    broken_csv: set[str] = field(default_factory=set)  # dataset names whose CSV is garbage
    down: bool = False  # every request answers 503
    requests: Counter = field(default_factory=Counter)  # path?query -> count

    def __post_init__(self):
        self._observations: dict[str, list[Observation]] = {}
        self._lock = threading.Lock()

    def csv_bytes(self, dataset: str) -> bytes:
        return (self.edition_dir / DATASETS[dataset].csv_name).read_bytes()

    def observations(self, dataset: str) -> list[Observation]:
        with self._lock:
            if dataset not in self._observations:
                self._observations[dataset] = parse_csv(dataset, self.csv_bytes(dataset))
            return self._observations[dataset]

    def last_year(self, dataset: str) -> int:
        return max(o.year for o in self.observations(dataset))

    def page(self, dataset: str, year: int) -> str:
        spec = DATASETS[dataset]
        rows = [o for o in self.observations(dataset) if o.year == year]
        return _render(spec, year, self.last_year(dataset), rows)

    def respond(self, target: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path with its query."""
        self.requests[target] += 1
        if self.down:
            return 503, "text/html; charset=UTF-8", b"<h1>Service Unavailable</h1>"
        url = urlsplit(target)
        if url.path.startswith("/download/"):
            return self._download(url.path.removeprefix("/download/"))
        if url.path in ("/", "/index.php"):
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            spec = dataset_for(query.get("opcao", ""), query.get("subopcao"))
            if spec:
                year = self._year(spec.name, query.get("ano", ""))
                return 200, "text/html; charset=UTF-8", self.page(spec.name, year).encode()
        return 404, "text/html; charset=UTF-8", b"<h1>Not Found</h1>"

    def _download(self, csv_name: str) -> tuple[int, str, bytes]:
        spec = next((d for d in DATASETS.values() if d.csv_name == csv_name), None)
        if spec is None or spec.name in self.missing_csv:
            return 404, "text/html; charset=UTF-8", b"<h1>Not Found</h1>"
        if spec.name in self.broken_csv:
            return 200, "text/csv", BROKEN_CSV
        return 200, "text/csv", self.csv_bytes(spec.name)

    def _year(self, dataset: str, ano: str) -> int:
        # Like the site's year buttons: no year means the latest, others are clamped.
        last = self.last_year(dataset)
        return min(max(int(ano), FIRST_YEAR), last) if ano.isdigit() else last


def _number(value: Decimal | None) -> str:
    if value is None:
        return "nd"
    if value == 0:
        return "-"
    return f"{whole_units(value):,}".replace(",", ".")


def _total(values) -> Decimal:
    # The real totals add up the rounded figures the page shows.
    return sum((whole_units(v) for v in values if v is not None), Decimal(0))


def _render(spec: Dataset, year: int, last_year: int, rows: list[Observation]) -> str:
    if spec.is_trade:
        head = "<th>Países</th>\n<th>Quantidade (Kg)</th>\n<th>Valor (US$)</th>"
        body = "".join(_trade_row(o) for o in rows)
        totals = [_total(o.quantity for o in rows), _total(o.value_usd for o in rows)]
    else:
        first = "Cultivar" if spec.opcao == "opt_03" else "Produto"
        unit = "Kg" if spec.unit == "kg" else "L."
        head = f"<th>{first} </th>\n<th>Quantidade ({unit}) </th>"
        body = "".join(_volume_row(o) for o in rows)
        counted = [o for o in rows if o.is_category] or rows
        totals = [_total(o.quantity for o in counted)]
    total_cells = "".join(f"<td>\n{_number(t)}\n</td>\n" for t in totals)
    subopcao = f"<input type='hidden' name='subopcao' value='{spec.subopcao}'>" if spec.subopcao else ""
    return f"""<!-- versão 2.00 -->
<!DOCTYPE html>
<html lang="pt-BR">
<head>
  <meta charset="UTF-8">
  <title>Banco de dados de uva, vinho e derivados</title>
</head>
<body>
<table class='tb_base'>
<tr><td>&nbsp;</td><td class='col_center'>
<div class='div_content'>
<p class='subtitle_1'>Banco de dados de uva, vinho e derivados</p>
<table class='tb_base tb_header no_print'>
<tr><td>&nbsp;</td>
<td>
<form action='index.php'>
<p id='p_ano'>
<label class='lbl_pesq'>Ano: [{FIRST_YEAR}-{last_year}] </label> <br>
<input class='text_pesq' type='number' name='ano' value='' min='{FIRST_YEAR}' max='{last_year}' required>&nbsp;
<input class='subm_pesq' type='submit' value='Ok'>
<input type='hidden' name='opcao' value='{spec.opcao}'>
{subopcao}
</p>
</form>
</td></tr>
</table>
<div class='content_center'>
<p class='text_center'>{html.escape(spec.label)} [{year}] </p>
<table class='tb_base tb_dados'>
<thead>
<tr>
{head}
</tr>
</thead>
<tbody>
{body}</tbody>
<tfoot class='tb_total'>
<tr>
<td>
Total
</td>
{total_cells}</tr>
</tfoot>
</table>
<table class='tb_base tb_link no_print'>
<tr>
<td>
<a class='footer_content' href='download/{spec.csv_name}' target='_blank'>
<img src='figures/download.png' alt='' width='16' height='16'>
<span class='spn_small'>DOWNLOAD</span>
</a>
</td>
<td class='footer_right'>
<a class='footer_content' href='#_top'><span class='spn_small'>TOPO</span></a>
</td>
</tr>
</table>
</div>
</div>
</td><td>&nbsp;</td></tr>
</table>
</body>
</html>
"""


def _volume_row(o: Observation) -> str:
    css = "tb_item" if o.is_category else "tb_subitem"
    return (f"<tr>\n<td class='{css}'>\n{html.escape(o.item)}\n</td>\n"
            f"<td class='{css}'>\n{_number(o.quantity)}\n</td>\n</tr>\n")


def _trade_row(o: Observation) -> str:
    return (f"<tr>\n<td>\n{html.escape(o.item)}\n</td>\n"
            f"<td>\n{_number(o.quantity)}\n</td>\n<td>\n{_number(o.value_usd)}\n</td>\n</tr>\n")
