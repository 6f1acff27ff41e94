"""Product cards on every channel, and the product pages and images they link to.

A scripted assistant says a reply with cards (no model); the catalogue is an `InMemoryCatalogue`.
Checked: the native shape on `POST /chat` and the widget's socket, Rasa's generic template on the REST
webhook and on socket.io (absolute addresses), the OpenAPI schema, `GET /products/{sku}` (200 and the
404 page) and `GET /products/{sku}/image.svg` (valid SVG, the right silhouette and fill, caching).
"""

from __future__ import annotations

import json
import queue
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jinja2 import DictLoader, Environment

from bot import errors
from bot.config import Settings
from bot.products.cards import product_card
from bot.products.catalogue import Product
from bot.products.memory import InMemoryCatalogue
from bot.testing.fakes import ScriptedAssistant
from bot.types import Button, Card, Reply
from server.app import create_app
from server.product_cards import absolute_url, generic_template
from server.product_image import ColourTable, shape_of
from server.product_words import product_words
from server.testing import ServerThread

SVG = "{http://www.w3.org/2000/svg}"
SWEATER = Product(
    sku="KN-104",
    name="Fjell merino crew-neck",
    category="knitwear",
    kind="sweater",
    description="Extra-fine merino <knitted> in Portugal & finished by hand.",
    price_cents=14000,
    colours=("navy", "oat"),
    sizes=("S", "M", "L"),
    materials=("merino wool",),
    stock={"paris": {"S": 2, "M": 0}, "berlin": {"M": 1}, "online": {"L": 5}},
)
SCARF = Product(
    sku="AC-301",
    name='Lys silk scarf "<rose>" & co',
    category="accessories",
    kind="scarf",
    description="Silk twill.",
    price_cents=9550,
    colours=("forest green",),
    sizes=("one size",),
    stock={},
)
ODD = Product("XX-1", "Mystery piece", "accessories", "keyring", "?", 1000, colours=("unobtainium",))
SIMILAR = Button("Similar pieces", '/product_similar{"sku":"KN-104"}')
IN_BERLIN = Button("In Berlin?", '/product_availability{"sku":"KN-104","shop":"berlin"}')
CARDS = (product_card(SWEATER, [SIMILAR, IN_BERLIN]), product_card(SCARF))
SCRIPT: dict[str, list[Reply]] = {
    "sweaters": [Reply("Here are two ideas:", cards=CARDS)],
    "all of it": [
        Reply("Look:", buttons=(Button("More", "/more"),), image="https://x/y.png", custom={"k": 1}, cards=CARDS[:1])
    ],
    "hi": [Reply("Hello!")],
}


def card_json(card: Card) -> dict[str, Any]:
    return card.as_dict()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state"))
    app.state.assistant = ScriptedAssistant(SCRIPT)
    app.state.catalogue = InMemoryCatalogue([SWEATER, SCARF, ODD])
    return app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)  # not entered: the lifespan (real model) does not run


# -- the native shape: POST /chat and the widget's socket --------------------------------------------------
def test_chat_replies_carry_the_cards(client: TestClient) -> None:
    response = client.post("/chat", json={"sender": "u1", "message": "sweaters"})
    assert response.status_code == 200
    [reply] = response.json()["replies"]
    assert reply["text"] == "Here are two ideas:"
    assert reply["cards"] == [card_json(c) for c in CARDS]
    assert reply["cards"][0] == {
        "id": "KN-104",
        "title": "Fjell merino crew-neck",
        "subtitle": "€140 · navy, oat · S M L",
        "price": "€140",
        "image_url": "/products/KN-104/image.svg",
        "url": "/products/KN-104",
        "colours": ["navy", "oat"],
        "sizes": ["S", "M", "L"],
        "buttons": [
            {"title": "Similar pieces", "payload": '/product_similar{"sku":"KN-104"}'},
            {"title": "In Berlin?", "payload": '/product_availability{"sku":"KN-104","shop":"berlin"}'},
        ],
    }


def test_a_reply_without_cards_has_an_empty_list(client: TestClient) -> None:
    [reply] = client.post("/chat", json={"sender": "u1", "message": "hi"}).json()["replies"]
    assert reply["cards"] == []


def test_the_widget_socket_carries_the_cards(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "sender": "s1", "text": "sweaters", "id": "m1"})
        assert ws.receive_json() == {"type": "typing"}
        frame = ws.receive_json()
    assert frame["type"] == "replies"
    assert frame["replies"][0]["cards"] == [card_json(c) for c in CARDS]


def test_a_card_button_payload_reaches_the_bot_like_any_message(client: TestClient, app: FastAPI) -> None:
    client.post("/chat", json={"sender": "u1", "message": SIMILAR.payload, "metadata": {"display": SIMILAR.title}})
    assert app.state.assistant.messages[-1].text == '/product_similar{"sku":"KN-104"}'


def test_openapi_documents_the_cards(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    cards = schemas["ReplyOut"]["properties"]["cards"]
    assert cards["items"] == {"$ref": "#/components/schemas/CardOut"}
    assert cards["description"]
    card = schemas["CardOut"]
    assert set(card["properties"]) == set(card_json(CARDS[0]))
    assert set(card["required"]) == {"id", "title", "subtitle", "price", "image_url", "url"}
    undocumented = [name for name, field in card["properties"].items() if not field.get("description")]
    assert undocumented == []


# -- Rasa's REST channel --------------------------------------------------------------------------------
def element(card: Card, base: str, page_link: str = "View product") -> dict[str, Any]:
    page = f"{base}/products/{card.id}"
    buttons = [{"type": "postback", "title": b.title, "payload": b.payload} for b in card.buttons]
    return {
        "title": card.title,
        "subtitle": card.subtitle,
        "image_url": f"{page}/image.svg",
        "default_action": {"type": "web_url", "url": page},
        "buttons": [*buttons, {"type": "web_url", "title": page_link, "url": page}],
    }


def carousel(cards: tuple[Card, ...], base: str) -> dict[str, Any]:
    elements = [element(c, base) for c in cards]
    return {"type": "template", "payload": {"template_type": "generic", "elements": elements}}


def test_rest_webhook_adds_one_generic_template_with_absolute_addresses(client: TestClient) -> None:
    items = client.post("/webhooks/rest/webhook", json={"sender": "u1", "message": "sweaters"}).json()
    assert items == [
        {"recipient_id": "u1", "text": "Here are two ideas:"},
        {"recipient_id": "u1", "attachment": carousel(CARDS, "http://testserver")},
    ]


def test_rest_webhook_keeps_rasas_order_text_custom_image_then_cards(client: TestClient) -> None:
    items = client.post("/webhooks/rest/webhook", json={"sender": "u1", "message": "all of it"}).json()
    assert [sorted(set(item) - {"recipient_id"}) for item in items] == [
        ["buttons", "text"],
        ["custom"],
        ["image"],
        ["attachment"],
    ]


def test_addresses_are_made_absolute_under_the_apps_root_path(app: FastAPI) -> None:
    client = TestClient(app, root_path="/bot", base_url="https://shop.example")
    items = client.post("/bot/webhooks/rest/webhook", json={"sender": "u1", "message": "sweaters"}).json()
    assert items[1]["attachment"] == carousel(CARDS, "https://shop.example/bot")


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("http://h:8000/", "/products/KN-104", "http://h:8000/products/KN-104"),
        ("http://h/bot/", "/products/KN-104", "http://h/bot/products/KN-104"),
        ("http://h/bot", "products/KN-104", "http://h/bot/products/KN-104"),
        ("http://h/", "https://cdn.example/k.png", "https://cdn.example/k.png"),
        ("", "/products/KN-104", "/products/KN-104"),  # no base URL known: left site-relative
    ],
)
def test_absolute_url(base: str, url: str, expected: str) -> None:
    assert absolute_url(base, url) == expected


def test_the_page_button_title_comes_from_the_wording_file_and_empty_leaves_it_out() -> None:
    assert generic_template(CARDS[:1], "http://h/")["payload"]["elements"][0]["buttons"][-1] == {
        "type": "web_url",
        "title": str(product_words().page_link),
        "url": "http://h/products/KN-104",
    }
    quiet = generic_template(CARDS[:1], "http://h/", page_link="  ")["payload"]["elements"][0]
    assert [b["type"] for b in quiet["buttons"]] == ["postback", "postback"]
    assert quiet["default_action"] == {"type": "web_url", "url": "http://h/products/KN-104"}


def test_a_broken_wording_file_leaves_the_button_out_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise errors.TemplateError("server/templates/partials/product_words.html:3: unexpected '}'")

    monkeypatch.setattr("server.product_cards.page_link_title", broken)
    [only] = generic_template(CARDS[1:], "http://h/")["payload"]["elements"]
    assert only["buttons"] == [] and only["default_action"]["url"] == "http://h/products/AC-301"
    assert "without their product page button" in caplog.text


def test_a_wording_file_missing_a_name_is_reported_with_its_path() -> None:
    env = Environment(loader=DictLoader({"partials/product_words.html": '{% set page_link = "See it" %}'}))
    with pytest.raises(errors.TemplateError, match=r"product_words\.html: back_to_shop, .* not set — add a line"):
        product_words(env)


# -- Rasa's socket.io channel ------------------------------------------------------------------------------
@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    with ServerThread(app, lifespan=False) as url:
        yield url


def test_socketio_emits_the_cards_as_one_generic_template(served: str) -> None:
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = socketio.Client(reconnection=False)
    for name in ("session_confirm", "bot_uttered", "error"):
        client.on(name, lambda data=None, name=name: events.put((name, data)))
    client.connect(served, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)
    try:
        client.emit("session_request", {"session_id": "cards-1"})
        name, confirmed = events.get(timeout=10)
        assert (name, confirmed["session_id"]) == ("session_confirm", "cards-1")
        client.emit("user_uttered", {"message": "sweaters", "session_id": "cards-1"})
        got = [events.get(timeout=10) for _ in range(2)]
    finally:
        client.eio.disconnect(abort=True)
    assert got == [
        ("bot_uttered", {"text": "Here are two ideas:"}),
        ("bot_uttered", {"attachment": carousel(CARDS, served)}),
    ]


# -- the product page ------------------------------------------------------------------------------------
def test_product_page_shows_the_product(client: TestClient) -> None:
    response = client.get("/products/KN-104")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<h1 id="product-title">Fjell merino crew-neck</h1>' in html
    assert '<p class="product-price">€140</p>' in html
    assert "Extra-fine merino &lt;knitted&gt; in Portugal &amp; finished by hand." in html
    assert '<img class="product-photo" src="/products/KN-104/image.svg"' in html
    assert 'alt="Fjell merino crew-neck"' in html
    assert re.search(r"background: #1f2a44\" aria-hidden=\"true\"></span>navy</li>", html)
    assert "<dd>S M L</dd>" in html  # sizes in stock (M only in Berlin, L online)
    cells = dict(re.findall(r'<td data-location="(\w+)">(\d+)</td>', html))
    assert cells == {"paris": "2", "berlin": "1", "online": "5"}
    for shop in ("Paris shop", "Berlin shop", "London shop", "Online"):
        assert f'<th scope="col">{shop}</th>' in html
    assert 'href="/#products"' in html and str(product_words().back_to_shop) in html
    assert 'src="/static/widget.js"' in html  # customers can ask the assistant from the product page


def test_product_page_of_a_product_sold_out_everywhere_says_so(client: TestClient) -> None:
    html = client.get("/products/ac-301").text  # SKUs are case-insensitive
    assert str(product_words().none_in_stock) in html
    assert "&#34;&lt;rose&gt;&#34; &amp; co" in html


@pytest.mark.parametrize("sku", ["NOPE-1", "KN-1040"])
def test_unknown_product_is_the_shops_404_page(client: TestClient, sku: str) -> None:
    response = client.get(f"/products/{sku}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "We couldn&#39;t find this product" in response.text
    assert 'href="/#products"' in response.text


def test_without_a_catalogue_every_product_is_unknown(client: TestClient, app: FastAPI) -> None:
    app.state.catalogue = None
    assert client.get("/products/KN-104").status_code == 404
    assert client.get("/products/KN-104/image.svg").status_code == 404


def test_create_app_has_no_catalogue_until_the_lifespan_sets_one(tmp_path: Path) -> None:
    assert create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "s")).state.catalogue is None


# -- the product image -----------------------------------------------------------------------------------
def svg_of(client: TestClient, sku: str) -> ET.Element:
    response = client.get(f"/products/{sku}/image.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    return ET.fromstring(response.text)  # valid XML, or this raises


@pytest.mark.parametrize(
    ("sku", "title", "fill", "shape"),
    [
        ("KN-104", "Fjell merino crew-neck", "#1f2a44", "sweater"),  # navy
        ("AC-301", 'Lys silk scarf "<rose>" & co', "#2f4a36", "scarf"),  # forest green, a name to escape
        ("XX-1", "Mystery piece", "#a7a39c", "generic"),  # an unknown colour: the neutral grey
    ],
)
def test_image_is_valid_svg_named_and_filled_with_the_first_colour(
    client: TestClient, sku: str, title: str, fill: str, shape: str
) -> None:
    svg = svg_of(client, sku)
    assert svg.tag == f"{SVG}svg"
    assert svg.findtext(f"{SVG}title") == title
    group = svg.find(f"{SVG}g")
    assert group is not None
    assert (group.get("fill"), group.get("data-shape")) == (fill, shape)
    assert group.findall(f"{SVG}path")


def test_each_silhouette_is_drawn_differently(client: TestClient, app: FastAPI) -> None:
    kinds = ["coat", "sweater", "shirt", "trousers", "dress", "sneakers", "tote", "scarf", "keyring"]
    products = [Product(f"S-{i}", kind, "accessories", kind, "", 100, ("black",)) for i, kind in enumerate(kinds)]
    app.state.catalogue = InMemoryCatalogue(products)
    drawings = set()
    for product in products:
        group = svg_of(client, product.sku).find(f"{SVG}g")
        assert group is not None
        drawings.add("".join(ET.tostring(path, encoding="unicode") for path in group))
    assert len(drawings) == len(kinds)


@pytest.mark.parametrize(
    ("kind", "category", "shape"),
    [
        ("wool overcoat", "coats", "coat"),
        ("Bomber jacket", "coats", "coat"),
        ("cardigan", "knitwear", "sweater"),
        ("crew-neck", "knitwear", "sweater"),
        ("turtleneck", "knitwear", "sweater"),
        ("oxford shirt", "shirts", "shirt"),
        ("t-shirt", "shirts", "shirt"),
        ("blouse", "shirts", "shirt"),
        ("selvedge jeans", "trousers", "trousers"),
        ("chinos", "trousers", "trousers"),
        ("midi skirt", "dresses", "dress"),
        ("sneakers", "shoes", "shoe"),
        ("chelsea boots", "shoes", "shoe"),
        ("loafers", "shoes", "shoe"),
        ("tote", "accessories", "bag"),
        ("scarf", "accessories", "scarf"),
        ("belt", "accessories", "generic"),
        ("espadrille", "shoes", "shoe"),  # an unknown kind: its category's silhouette
        ("kimono", "coats", "coat"),
        ("anything", "unknown", "generic"),
    ],
)
def test_shape_of_a_product(kind: str, category: str, shape: str) -> None:
    assert shape_of(Product("S", "n", category, kind, "", 1)) == shape


def test_image_is_cacheable_and_answers_304_to_its_etag(client: TestClient) -> None:
    first = client.get("/products/KN-104/image.svg")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.headers["cache-control"] == "public, max-age=3600"
    again = client.get("/products/KN-104/image.svg", headers={"If-None-Match": f'"other", W/{etag}'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = client.get("/products/AC-301/image.svg", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_unknown_product_image_is_a_json_404(client: TestClient) -> None:
    response = client.get("/products/NOPE/image.svg")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_colour_table_matches_words_from_the_last_else_neutral() -> None:
    table = ColourTable.load()
    assert table.fill("Navy") == table.colours["navy"]
    assert table.fill("navy  stripe") == table.colours["navy"]
    assert table.fill("washed black") == table.colours["washed black"]
    assert table.fill("deep green") == table.colours["green"]
    assert table.fill("unobtainium") == table.neutral == "#a7a39c"
    assert table.fill(None) == table.neutral


def test_every_colour_in_the_table_is_a_hex_colour() -> None:
    data = json.loads(Path("server/static/colours.json").read_text(encoding="utf-8"))
    bad = {k: v for k, v in data["colours"].items() if not re.fullmatch(r"#[0-9a-f]{6}", v) or k != k.lower()}
    assert bad == {}


def test_a_bad_colour_file_is_reported_with_the_entry_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "colours.json"
    path.write_text(json.dumps({"colours": {"navy": "blue-ish"}}))
    with pytest.raises(errors.ConfigError, match=r"colours\.json: colours\.navy is 'blue-ish' — write a colour"):
        ColourTable.load(path)
    path.write_text('{"colours": {')
    with pytest.raises(errors.ConfigError, match=r"colours\.json:1: not valid JSON"):
        ColourTable.load(path)
