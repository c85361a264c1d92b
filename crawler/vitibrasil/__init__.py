"""Parsing layer for Embrapa's Vitibrasil grape and wine statistics.

The CSV downloads and the year pages are two renderings of the same tables;
`csv_parser.parse_csv` and `page_parser.parse_page` turn either into the same
`Observation` rows (see `observations` for how markers and labels are stored).
"""

from crawler.vitibrasil.datasets import DATASETS, Dataset, csv_url, page_url, unit
from crawler.vitibrasil.observations import Observation, ParseError

__all__ = ["DATASETS", "Dataset", "Observation", "ParseError", "csv_url", "page_url", "unit"]
