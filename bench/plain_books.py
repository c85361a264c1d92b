"""The floor of bench/crawl_bench.py: a minimal plain Scrapy spider fetching the same pages and fields as
the project's ``books`` spider, run with ``scrapy runspider`` outside the project (Scrapy's default
settings), no validation, no database."""

from __future__ import annotations

import scrapy


class PlainBooks(scrapy.Spider):
    name = "plain_books"

    def __init__(self, start_url: str, **kwargs):
        super().__init__(**kwargs)
        self.start_url = start_url

    async def start(self):
        yield scrapy.Request(self.start_url)

    def parse(self, response):
        for href in response.css("ol.row article.product_pod h3 a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_book)
        if next_page := response.css("li.next > a::attr(href)").get():
            yield response.follow(next_page)

    def parse_book(self, response):
        table = {row.css("th::text").get(): row.css("td::text").get() for row in response.css("table.table-striped tr")}
        main = response.css("div.product_main")
        yield {
            "url": response.url, "upc": table.get("UPC"), "title": main.css("h1::text").get(),
            "category": response.css("ul.breadcrumb li:nth-child(3) a::text").get(),
            "price_excl_tax": table.get("Price (excl. tax)"), "price_incl_tax": table.get("Price (incl. tax)"),
            "tax": table.get("Tax"), "availability": table.get("Availability"),
            "rating": main.css("p.star-rating::attr(class)").get(), "review_count": table.get("Number of reviews"),
            "description": response.css("div#product_description + p::text").get(),
            "image_url": response.urljoin(response.css("#product_gallery img::attr(src)").get()),
        }
