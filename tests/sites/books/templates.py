"""Page templates (str.format strings) for the local books.toscrape.com copy.

Two sources, same slots: our own hand-written markup (`own_templates`), or the real
fixture pages turned into templates at runtime (`real_templates`), by replacing each
book-specific region of a real page with a slot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CREATED = "24th Jun 2016 09:30"
# A real product page with a description and six recently-viewed cards.
TEMPLATE_PRODUCT_ID = 990


@dataclass
class Card:
    tpl: str   # slots: href thumb title short_title rating price avail_code avail_icon avail_short basket
    form: str  # the "Add to basket" form shown when in stock


@dataclass
class Block:
    """A list of cards: pre + sep.join(cards) + post."""
    pre: str
    sep: str
    post: str
    card: Card


@dataclass
class Templates:
    product: str      # see PRODUCT_SLOTS
    description: str  # slot: description (raw, the real site marks it safe)
    recent: Block     # "Products you recently viewed"
    listing: str      # slots: root page_title breadcrumb sidebar heading results cards pager
    listed: Block     # the listing's <ol class="row"> content
    sidebar: str      # root-relative hrefs; rewritten per page directory
    created: str = CREATED  # product pages' <meta name="created"> unless known per book


STARS = "".join("\n                    <i class=\"icon-star\"></i>" for _ in range(5))

_OWN_CARD = """\
                        <li class="col-xs-6 col-sm-4 col-md-3 col-lg-3">
    <article class="product_pod">
            <div class="image_container">
                    <a href="{href}"><img src="{thumb}" alt="{title}" class="thumbnail"></a>
            </div>
                <p class="star-rating {rating}">""" + STARS + """
                </p>
            <h3><a href="{href}" title="{title}">{short_title}</a></h3>
            <div class="product_price">
        <p class="price_color">{price}</p>
<p class="{avail_code} availability">
    <i class="icon-{avail_icon}"></i>
        {avail_short}
</p>
    {basket}
            </div>
    </article>
</li>"""
_OWN_FORM = """<form>
        <button type="submit" class="btn btn-primary btn-block" data-loading-text="Adding...">Add to basket</button>
    </form>"""

_HEAD = """<!DOCTYPE html>
<html lang="en-us" class="no-js">
    <head>
        <title>
    {title} | Books to Scrape - Sandbox
</title>
        <meta http-equiv="content-type" content="text/html; charset=UTF-8" />
        <meta name="created" content="{created}" />
        <meta name="description" content="
    {description}
" />
        <link rel="stylesheet" type="text/css" href="{root}static/oscar/css/styles.css" />
    </head>
    <body id="default" class="default">
    <header class="header container-fluid">
        <div class="page_inner">
            <div class="row">
                <div class="col-sm-8 h1"><a href="{root}index.html">Books to Scrape</a><small> We love being scraped!</small>
</div>
            </div>
        </div>
    </header>
"""
_FOOT = """<footer class="footer container-fluid">
</footer>
        <script src="{root}static/oscar/js/oscar/ui.js" type="text/javascript" charset="utf-8"></script>
    </body>
</html>
"""
_WARNING = ('<div class="alert alert-warning" role="alert"><strong>Warning!</strong> This is a demo '
            'website for web scraping purposes. Prices and ratings here were randomly assigned and '
            'have no real meaning.</div>')

_OWN_PRODUCT = _HEAD.format(title="{title}", created="{created}", description="{meta_description}",
                            root="../../") + """\
        <div class="container-fluid page">
            <div class="page_inner">
<ul class="breadcrumb">
    <li>
        <a href="../../index.html">Home</a>
    </li>
        <li>
            <a href="../category/books_1/index.html">Books</a>
        </li>
        <li>
            <a href="{category_href}">{category}</a>
        </li>
        <li class="active">{title}</li>
</ul>
<div id="messages">
</div>
                <div class="content">
                    <div id="promotions">
                    </div>
                    <div id="content_inner">
<article class="product_page"><!-- Start of product page -->
    <div class="row">
        <div class="col-sm-6">
        <div id="product_gallery" class="carousel">
            <div class="thumbnail">
                <div class="carousel-inner">
                    <div class="item active">
                            <img src="{image_src}" alt="{title}" />
                    </div>
                </div>
            </div>
        </div>
        </div>
        <div class="col-sm-6 product_main">
            <h1>{title}</h1>
        <p class="price_color">{price}</p>
<p class="{avail_code} availability">
    <i class="icon-{avail_icon}"></i>
        {avail_message}
</p>
    <p class="star-rating {rating}">""" + STARS.replace("    <i", "<i") + """

        <!-- <small><a href="/catalogue/{slug_id}/reviews/">
                    {reviews_text}
        </a></small>
         -->&nbsp;
<!-- 
    <a id="write_review" href="/catalogue/{slug_id}/reviews/add/#addreview" class="btn btn-success btn-sm">
        Write a review
    </a>
 --></p>
            <hr/>
            """ + _WARNING + """
        </div><!-- /col-sm-6 -->
    </div><!-- /row -->
{description}    <div class="sub-header">
        <h2>Product Information</h2>
    </div>
    <table class="table table-striped">
        <tr>
            <th>UPC</th><td>{upc}</td>
        </tr>
        <tr>
            <th>Product Type</th><td>Books</td>
        </tr>
            <tr>
                <th>Price (excl. tax)</th><td>{price_excl}</td>
            </tr>
                <tr>
                    <th>Price (incl. tax)</th><td>{price_incl}</td>
                </tr>
                <tr>
                    <th>Tax</th><td>{tax}</td>
                </tr>
            <tr>
                <th>Availability</th>
                <td>{avail_message}</td>
            </tr>
            <tr>
                <th>Number of reviews</th>
                <td>{num_reviews}</td>
            </tr>
    </table>
        <section>
            <div id="reviews" class="sub-header">
            </div>
        </section>
{recently_viewed}</article><!-- End of product page -->
</div>
                </div>
            </div>
        </div>
""" + _FOOT.format(root="../../")

_OWN_DESCRIPTION = """\
        <div id="product_description" class="sub-header">
            <h2>Product Description</h2>
        </div>
        <p>{description}</p>
"""
_OWN_RECENT_PRE = """\
        <div class="sub-header">
            <h2>Products you recently viewed</h2>
        </div>
        <ul class="row">
"""

_OWN_LISTING = _HEAD.format(title="{page_title}", created=CREATED, description="",
                            root="{root}") + """\
<div class="container-fluid page">
    <div class="page_inner">
    <ul class="breadcrumb">
{breadcrumb}    </ul>
        <div class="row">
            <aside class="sidebar col-sm-4 col-md-3">
                <div id="promotions_left">
                </div>
{sidebar}            </aside>
            <div class="col-sm-8 col-md-9">
                <div class="page-header action">
                    <h1>{heading}</h1>
                </div>
<div id="messages">
</div>
    <form method="get" class="form-horizontal">
                    {results}
    </form>
        <section>
            """ + _WARNING + """
            <div>
                <ol class="row">
{cards}                </ol>
{pager}            </div>
        </section>
            </div>
        </div><!-- /row -->
    </div><!-- /page_inner -->
</div><!-- /container-fluid -->
""" + _FOOT


def _own_sidebar(categories: list[tuple[str, str]]) -> str:
    item = """                    <li>
                        <a href="{href}">
                                {name}
                        </a>
                        </li>
"""
    items = "".join(item.format(href=href, name=name) for name, href in categories)
    return ("        <div class=\"side_categories\">\n            <ul class=\"nav nav-list\">\n"
            "                    <li>\n                        <a href=\"catalogue/category/books_1/index.html\">\n"
            "                                Books\n                        </a>\n                        <ul>\n"
            + items + "                            </ul></li>\n            </ul>\n        </div>\n")


def own_templates(categories: list[tuple[str, str]]) -> Templates:
    """Our own markup; categories: (name, root-relative index href) in sidebar order."""
    card = Card(_OWN_CARD, _OWN_FORM)
    return Templates(
        product=_OWN_PRODUCT, description=_OWN_DESCRIPTION,
        recent=Block(_OWN_RECENT_PRE, "\n", "\n        </ul>\n", card),
        listing=_OWN_LISTING,
        listed=Block("", "\n", "\n", card), sidebar=_own_sidebar(categories),
    )


# --- templates from the real pages -----------------------------------------------

def _mark(name: str) -> str:
    """A slot marker that survives brace escaping; becomes {name} in the end."""
    return f"\x00{name}\x00"


def _finish(text: str) -> str:
    text = text.replace("{", "{{").replace("}", "}}")
    return re.sub("\x00(\\w+)\x00", r"{\1}", text)


def _sub(text: str, pattern: str, repl: str, count: int = 1, flags: int = 0) -> str:
    """re.sub that insists on exactly `count` matches, so template drift fails loudly."""
    out, n = re.subn(pattern, repl, text, flags=flags)
    if n != count:
        raise ValueError(f"real template: {pattern!r} matched {n} times, expected {count}")
    return out


def _cut(text: str, pattern: str, name: str) -> tuple[str, str]:
    """Replace the one region matching pattern by a slot; return (text, region)."""
    m = re.search(pattern, text, re.S)
    if not m:
        raise ValueError(f"real template: {pattern!r} not found")
    return text[:m.start()] + _mark(name) + text[m.end():], m.group(0)


def _card(raw: str) -> Card:
    m = _mark
    raw, form = _cut(raw, r"<form>.*?</form>", "basket")
    raw = _sub(raw, r'<a href="[^"]+"', f'<a href="{m("href")}"', 2)
    raw = _sub(raw, r'<img src="[^"]+" alt="[^"]*"', f'<img src="{m("thumb")}" alt="{m("title")}"')
    raw = _sub(raw, r'<p class="star-rating \w+">', f'<p class="star-rating {m("rating")}">')
    raw = _sub(raw, r'title="[^"]*">[^<]*</a>', f'title="{m("title")}">{m("short_title")}</a>')
    raw = _sub(raw, r'<p class="price_color">[^<]*</p>', f'<p class="price_color">{m("price")}</p>')
    raw = _sub(raw, r'<p class="instock availability">(\s*)<i class="icon-ok"></i>(\s*)In stock',
               f'<p class="{m("avail_code")} availability">\\1<i class="icon-{m("avail_icon")}"></i>'
               f'\\2{m("avail_short")}')
    return Card(_finish(raw), form)


def _block(region: str) -> Block:
    cards = list(re.finditer(r'<li class="col-xs-6.*?</li>', region, re.S))
    seps = {region[a.end():b.start()] for a, b in zip(cards, cards[1:])}
    if len(cards) < 2 or len(seps) != 1:
        raise ValueError("real template: card list not regular")
    return Block(region[:cards[0].start()], seps.pop(), region[cards[-1].end():], _card(cards[0].group(0)))


def _real_product(raw: str) -> tuple[str, str, Block]:
    m = _mark
    raw, recent = _cut(raw, r"    \n        <div class=\"sub-header\">\n            <h2>Products you "
                            r"recently viewed</h2>.*?        </ul>\n", "recently_viewed")
    raw, desc = _cut(raw, r'        <div id="product_description".*?</p>\n        \n', "description")
    desc = _finish(_sub(desc, r"<p>.*</p>", f"<p>{m('description')}</p>", flags=re.S))
    for pattern, repl in [
        (r"(<title>\s*).*?( \| Books to Scrape)", rf"\1{m('title')}\2"),
        (r'<meta name="created" content="[^"]*"', f'<meta name="created" content="{m("created")}"'),
        (r'(<meta name="description" content="\n    ).*?(\n" />)', rf"\1{m('meta_description')}\2"),
        (r'<a href="\.\./category/books/[^"]+">[^<]*</a>', f'<a href="{m("category_href")}">{m("category")}</a>'),
        (r'<li class="active">[^<]*</li>', f'<li class="active">{m("title")}</li>'),
        (r'<img src="[^"]+" alt="[^"]*" />', f'<img src="{m("image_src")}" alt="{m("title")}" />'),
        (r"<h1>[^<]*</h1>", f"<h1>{m('title')}</h1>"),
        (r'<p class="price_color">[^<]*</p>', f'<p class="price_color">{m("price")}</p>'),
        (r'<p class="instock availability">(\s*)<i class="icon-ok"></i>(\s*)In stock \(\d+ available\)',
         rf'<p class="{m("avail_code")} availability">\1<i class="icon-{m("avail_icon")}"></i>\2{m("avail_message")}'),
        (r'<p class="star-rating \w+">', f'<p class="star-rating {m("rating")}">'),
        (r"\d+ customer reviews?", m("reviews_text")),
        (r"(<th>UPC</th><td>)[^<]*", rf"\1{m('upc')}"),
        (r"(<th>Price \(excl\. tax\)</th><td>)[^<]*", rf"\1{m('price_excl')}"),
        (r"(<th>Price \(incl\. tax\)</th><td>)[^<]*", rf"\1{m('price_incl')}"),
        (r"(<th>Tax</th><td>)[^<]*", rf"\1{m('tax')}"),
        (r"(<th>Availability</th>\s*<td>)[^<]*", rf"\1{m('avail_message')}"),
        (r"(<th>Number of reviews</th>\s*<td>)[^<]*", rf"\1{m('num_reviews')}"),
    ]:
        raw = _sub(raw, pattern, repl, flags=re.S)
    raw = _sub(raw, r"/catalogue/[^/\"]+_\d+/reviews/", f"/catalogue/{m('slug_id')}/reviews/", 2)
    return _finish(raw), desc, _block(recent)


def _real_listing(raw: str) -> tuple[str, str, Block]:
    m = _mark
    raw, sidebar = _cut(raw, r'        <div class="side_categories">.*?\n        </div>\n', "sidebar")
    raw, cards = _cut(raw, r"(?<=<ol class=\"row\">\n).*(?=                </ol>)", "cards")
    raw, _ = _cut(raw, r"    <div>\n        <ul class=\"pager\">.*?</ul>\n    </div>\n", "pager")
    raw, _ = _cut(raw, r"(?<=<ul class=\"breadcrumb\">\n).*?(?=    </ul>)", "breadcrumb")
    raw = _sub(raw, r"(<title>\s*).*?( \| Books to Scrape)", rf"\1{m('page_title')}\2", flags=re.S)
    raw = _sub(raw, r"<h1>[^<]*</h1>", f"<h1>{m('heading')}</h1>")
    raw = _sub(raw, r"<strong>\d+</strong> results - showing <strong>\d+</strong> to <strong>\d+</strong>\.",
               m("results"))
    # Every remaining relative link is root-relative on index.html: prefix it per page.
    raw = re.sub(r'((?:href|src)=")(?!https?:|//|#)', rf"\1{m('root')}", raw)
    return _finish(raw), sidebar, _block(cards)


def real_templates(site_dir: Path) -> Templates:
    """Templates made from the real index.html and the real product page TEMPLATE_PRODUCT_ID."""
    site_dir = Path(site_dir)
    page = next(site_dir.glob(f"catalogue/*_{TEMPLATE_PRODUCT_ID}/index.html"))
    product, description, recent = _real_product(page.read_text(encoding="utf-8"))
    listing, sidebar, listed = _real_listing((site_dir / "index.html").read_text(encoding="utf-8"))
    return Templates(product=product, description=description, recent=recent,
                     listing=listing, listed=listed, sidebar=sidebar)
