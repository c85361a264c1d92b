"""Parsing layer for Embrapa's Vitibrasil grape and wine statistics.

The CSV downloads and the year pages are two renderings of the same tables;
`csv_parser.parse_csv` and `page_parser.parse_page` turn either into the same
`Observation` rows (see `observations` for how markers and labels are stored).
"""
